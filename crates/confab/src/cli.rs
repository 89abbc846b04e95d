//! The command line (SPEC §5, §9): `serve`, `migrate`, `user create`, `user delete`,
//! `tenant create`, `tenant list`, `tenant set`, `key create`, `key list`, `key revoke`,
//! `copy`, `export`, `import`. Machine-readable results
//! go to stdout as JSON lines (one per result); logs go to stderr.

mod lifecycle;
mod portability;
mod tenant_arg;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use serde_json::json;
use std::io::Read as _;
use uuid::Uuid;

use crate::auth::{api_key, password};
use crate::config::{Config, DatabaseArgs};
use crate::domain::{Email, Password, Timestamp};
use crate::store::{self, ApiKeyRecord, NewApiKey, Store, StoreError};
pub use tenant_arg::TenantArg;

#[derive(Parser)]
#[command(
    name = "confab",
    version,
    about = "A fast, self-hostable chat-history server for AI assistants"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The part of `serve --help` about logs, which no flag covers.
const SERVE_LOGGING_HELP: &str = "Logging:\n  \
    CONFAB_LOG=FILTER  which logs to write, e.g. `warn` or `info,confab=debug,sqlx=warn` \
    (tracing's EnvFilter syntax; default `info`; RUST_LOG is read when CONFAB_LOG is unset)\n  \
    Logs go to stderr, coloured only when stderr is a terminal and NO_COLOR is unset.";

#[derive(Subcommand)]
pub enum Command {
    // Boxed: the server's configuration is by far the largest variant.
    /// Run the HTTP/WebSocket server.
    #[command(after_help = SERVE_LOGGING_HELP)]
    Serve(Box<Config>),
    /// Create or upgrade the database schema, then exit (serve also does this at start).
    Migrate(DatabaseArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Copy a whole installation into a new, empty database (e.g. SQLite to
    /// PostgreSQL), keeping every id, uuid and timestamp. Stop the servers first.
    Copy {
        /// The database to copy from (read only; must be migrated by this version).
        #[arg(long)]
        from: String,
        /// The database to copy into: created/migrated if needed, must hold no data.
        #[arg(long)]
        to: String,
    },
    /// Write a tenant's chats (or one user's) to stdout as NDJSON, one chat per line with
    /// its whole message tree and files (the format `import --format confab` reads).
    Export {
        /// The tenant: its id, or `default`.
        #[arg(long, default_value = "default")]
        tenant: TenantArg,
        /// Only this user's chats.
        #[arg(long)]
        user_email: Option<String>,
        /// Only chats changed at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Import a ChatGPT export (conversations.json, or the ZIP with its shards), an Open
    /// WebUI export or a confab export; prints {"chats_imported","messages_imported",
    /// "skipped_duplicates","errors"}. Conversations already imported are skipped.
    Import {
        /// The tenant: its id, or `default`.
        #[arg(long, default_value = "default")]
        tenant: TenantArg,
        /// The user who owns the imported chats (tenant chats without one otherwise).
        #[arg(long)]
        user_email: Option<String>,
        /// `chatgpt`, `openwebui` or `confab`.
        #[arg(long)]
        format: String,
        /// Store nothing; print what would be imported.
        #[arg(long)]
        dry_run: bool,
        /// The export file.
        file: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        limits: crate::config::Limits,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; reads the password from stdin (first line).
    Create {
        /// The user's email address, which they log in with.
        #[arg(long)]
        email: String,
        /// Tenant to create the user in: its id, or `default` (the default when omitted).
        #[arg(long)]
        tenant: Option<TenantArg>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Erase a user and everything of theirs (sessions, chats, trash, messages, files,
    /// shares) in one transaction; prints the counts. Running servers close the user's
    /// sockets, and those on their chats, within a revocation poll.
    Delete {
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// The user's tenant: its id, or `default` (the default when omitted).
        #[arg(long)]
        tenant: Option<TenantArg>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and its first API key; prints {"tenant_id","api_key"} once.
    Create {
        /// The tenant's display name (need not be unique).
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List every tenant, one JSON line each: {"tenant_id","name","default"}. The
    /// default tenant holds the users and chats of the user API.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Set a tenant's own settings; prints {"tenant_id","retention_days"}.
    Set {
        /// The tenant: its id, or `default`.
        tenant: TenantArg,
        /// Days after its last change a chat of this tenant is deleted (0: kept forever;
        /// `default`: the server's `--retention-days`).
        #[arg(long)]
        retention_days: lifecycle::RetentionArg,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key for a tenant; prints {"key_id","api_key"} once.
    Create {
        /// The tenant the key acts for: its id, or `default` for the default tenant.
        #[arg(long)]
        tenant: TenantArg,
        /// A label for the key.
        #[arg(long, default_value = "default")]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List a tenant's API keys, revoked ones too, one JSON line each:
    /// {"key_id","name","prefix","created_at","last_used_at","revoked_at"}. Secrets are
    /// never shown (only their hashes are stored).
    List {
        /// The tenant whose keys to list: its id, or `default` for the default tenant.
        #[arg(long)]
        tenant: TenantArg,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke an API key; its next request gets 401.
    Revoke {
        /// The key's id, as printed by `key create` or `key list`.
        key_id: Uuid,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    store::connect(&database.database_url, 1).await
}

/// The id of the tenant's user with this email; an error naming both when there is none.
async fn user_id_by_email(
    store: &dyn Store,
    tenant_id: Uuid,
    email: &Email,
) -> anyhow::Result<i64> {
    match store.user_credentials(tenant_id, email).await? {
        Some(found) => Ok(found.user.id),
        None => anyhow::bail!("no user {} in tenant {tenant_id}", email.as_str()),
    }
}

/// Creates an API key for a tenant; returns (key id, the secret key).
pub async fn issue_key(
    store: &dyn Store,
    tenant_id: Uuid,
    name: &str,
) -> anyhow::Result<(Uuid, String)> {
    let generated = api_key::generate();
    let record = store
        .create_api_key(NewApiKey {
            tenant_id,
            name: name.to_owned(),
            prefix: generated.prefix.clone(),
            secret_hash: generated.hash.clone(),
        })
        .await
        .map_err(|e| match e {
            StoreError::NotFound => anyhow::anyhow!("no tenant {tenant_id}"),
            other => anyhow::anyhow!(other),
        })?;
    Ok((record.id, generated.key))
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => {
            crate::config::origin::refuse_renamed_variable().map_err(anyhow::Error::msg)?;
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("cannot listen on {}", config.listen))?;
            crate::app::serve(listener, *config, crate::app::shutdown_signal()).await
        }
        Command::Migrate(database) => {
            let store = open(&database).await?;
            tracing::info!(engine = store.engine(), "schema is up to date");
            println!("{}", json!({"migrated": true, "engine": store.engine()}));
            Ok(())
        }
        Command::User(UserCommand::Create {
            email,
            tenant,
            database,
        }) => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!(e.0))?;
            let mut input = String::new();
            std::io::stdin()
                .read_to_string(&mut input)
                .context("cannot read the password from stdin")?;
            let line = input.lines().next().unwrap_or_default();
            let password = Password::parse_new(line).map_err(|e| anyhow::anyhow!(e.0))?;
            let store = open(&database).await?;
            let tenant_id = tenant
                .unwrap_or(TenantArg::Default)
                .resolve(store.as_ref())
                .await?;
            let hash = password::hash(password).await?;
            let user = store
                .create_user(tenant_id, &email, &hash)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        anyhow::anyhow!("email {} is already registered", email.as_str())
                    }
                    other => anyhow::anyhow!(other),
                })?;
            println!(
                "{}",
                json!({"user_id": user.id, "email": user.email, "tenant_id": tenant_id})
            );
            Ok(())
        }
        Command::User(UserCommand::Delete {
            email,
            tenant,
            database,
        }) => lifecycle::delete_user(&email, tenant, &database).await,
        Command::Tenant(TenantCommand::Set {
            tenant,
            retention_days,
            database,
        }) => lifecycle::set_tenant(tenant, retention_days, &database).await,
        Command::Tenant(TenantCommand::Create { name, database }) => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "tenant name must not be empty");
            let store = open(&database).await?;
            let tenant = store.create_tenant(name).await?;
            let (_, key) = issue_key(store.as_ref(), tenant.id, "default").await?;
            println!("{}", json!({"tenant_id": tenant.id, "api_key": key}));
            Ok(())
        }
        Command::Key(KeyCommand::Create {
            tenant,
            name,
            database,
        }) => {
            let store = open(&database).await?;
            let tenant = tenant.resolve(store.as_ref()).await?;
            let (key_id, key) = issue_key(store.as_ref(), tenant, &name).await?;
            println!("{}", json!({"key_id": key_id, "api_key": key}));
            Ok(())
        }
        Command::Tenant(TenantCommand::List { database }) => {
            let store = open(&database).await?;
            let default_id = store.default_tenant().await?.id;
            for tenant in store.list_tenants().await? {
                println!(
                    "{}",
                    json!({"tenant_id": tenant.id, "name": tenant.name, "default": tenant.id == default_id, "retention_days": tenant.retention_days})
                );
            }
            Ok(())
        }
        Command::Key(KeyCommand::List { tenant, database }) => {
            let store = open(&database).await?;
            let tenant = tenant.resolve(store.as_ref()).await?;
            for key in store.list_api_keys(tenant).await? {
                println!("{}", key_line(&key));
            }
            Ok(())
        }
        Command::Export {
            tenant,
            user_email,
            since,
            database,
        } => portability::export(tenant, user_email.as_deref(), since.as_deref(), &database).await,
        Command::Import {
            tenant,
            user_email,
            format,
            dry_run,
            file,
            database,
            limits,
        } => {
            portability::import(
                portability::ImportArgs {
                    tenant,
                    user_email: user_email.as_deref(),
                    format: &format,
                    path: &file,
                    dry_run,
                },
                &database,
                limits,
            )
            .await
        }
        Command::Copy { from, to } => {
            let report = crate::copy::copy(&from, &to).await?;
            let rows: serde_json::Map<String, serde_json::Value> = report
                .rows
                .iter()
                .map(|(table, rows)| ((*table).to_owned(), json!(rows)))
                .collect();
            println!("{}", json!({"copied": rows}));
            Ok(())
        }
        Command::Key(KeyCommand::Revoke { key_id, database }) => {
            let store = open(&database).await?;
            let record = store
                .revoke_api_key(key_id, Timestamp::now())
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!("no API key {key_id}"),
                    other => anyhow::anyhow!(other),
                })?;
            println!(
                "{}",
                json!({"key_id": record.id, "revoked_at": record.revoked_at})
            );
            Ok(())
        }
    }
}

/// One line of `key list`: everything about a key but its secret's hash.
fn key_line(key: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "key_id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "created_at": key.created_at,
        "last_used_at": key.last_used_at,
        "revoked_at": key.revoked_at,
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every subcommand and every argument says what it is for in `--help`.
    #[test]
    fn every_command_and_argument_has_help() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            if command.get_about().is_none() {
                missing.push(path.clone());
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:?}");
    }
}
