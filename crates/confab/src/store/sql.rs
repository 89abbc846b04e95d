//! The SQL store, written once for every engine.
//!
//! Every statement uses `$N` placeholders, `RETURNING` and row-value comparisons, which
//! SQLite and PostgreSQL both understand, and only INTEGER/BIGINT, TEXT and BLOB/BYTEA
//! columns, which both decode the same way. [`impl_sql_store!`] pastes the one
//! implementation for a concrete engine; each engine supplies how a transaction begins.

use anyhow::Context as _;
use uuid::Uuid;

use super::records::*;
use super::{StoreError, StoreResult};
use crate::domain::{Actor, Timestamp};

/// The columns of a chat, in [`ChatRow`] order.
macro_rules! chat_columns {
    () => {
        "id, uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at"
    };
}
pub(crate) use chat_columns;

/// Picks the statement for a [`ChatRef`]: `$1`, `$2` identify the chat, further
/// parameters start at `$3`. Both forms are literals, so no SQL is built per request.
macro_rules! by_chat_ref {
    ($chat:expr, $before:expr, $after:expr) => {
        match $chat {
            ChatRef::User { .. } => concat!($before, "id = $1 AND user_id = $2", $after),
            ChatRef::Tenant { .. } => concat!($before, "uuid = $1 AND tenant_id = $2", $after),
        }
    };
}
pub(crate) use by_chat_ref;

/// Binds a [`ChatRef`]'s two identifying parameters.
macro_rules! bind_chat_ref {
    ($query:expr, $chat:expr) => {
        match $chat {
            ChatRef::User { user_id, chat_id } => $query.bind(*chat_id).bind(*user_id),
            ChatRef::Tenant {
                tenant_id,
                chat_uuid,
            } => $query
                .bind(chat_uuid.hyphenated().to_string())
                .bind(tenant_id.hyphenated().to_string()),
        }
    };
}
pub(crate) use bind_chat_ref;

pub(crate) fn parse_uuid(text: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(text)
        .with_context(|| format!("corrupt uuid {text:?} in the database"))
        .map_err(StoreError::Other)
}

pub(crate) fn parse_actor(text: &str) -> StoreResult<Actor> {
    Actor::parse(text)
        .with_context(|| format!("corrupt actor {text:?} in the database"))
        .map_err(StoreError::Other)
}

#[derive(sqlx::FromRow)]
pub(crate) struct TenantRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

impl TenantRow {
    pub fn into_record(self) -> StoreResult<TenantRecord> {
        Ok(TenantRecord {
            id: parse_uuid(&self.id)?,
            name: self.name,
            created_at: Timestamp(self.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ApiKeyRow {
    pub fn into_record(self) -> StoreResult<ApiKeyRecord> {
        Ok(ApiKeyRecord {
            id: parse_uuid(&self.id)?,
            tenant_id: parse_uuid(&self.tenant_id)?,
            name: self.name,
            prefix: self.prefix,
            secret_hash: self.secret_hash,
            created_at: Timestamp(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp),
            revoked_at: self.revoked_at.map(Timestamp),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    pub id: i64,
    pub tenant_id: String,
    pub email: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    pub fn into_record(self) -> StoreResult<UserRecord> {
        Ok(UserRecord {
            id: self.id,
            tenant_id: parse_uuid(&self.tenant_id)?,
            email: self.email,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub password_hash: String,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChatRow {
    pub id: i64,
    pub uuid: String,
    pub tenant_id: String,
    pub user_id: Option<i64>,
    pub name: String,
    pub model: String,
    pub metadata: Option<String>,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl ChatRow {
    pub fn into_record(self) -> StoreResult<ChatRecord> {
        let metadata = match self.metadata {
            Some(text) => Some(
                crate::domain::Metadata::from_stored(text)
                    .context("corrupt chat metadata in the database")
                    .map_err(StoreError::Other)?,
            ),
            None => None,
        };
        Ok(ChatRecord {
            id: self.id,
            uuid: parse_uuid(&self.uuid)?,
            tenant_id: parse_uuid(&self.tenant_id)?,
            user_id: self.user_id,
            name: self.name,
            model: self.model,
            metadata,
            version: self.version,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        })
    }
}

/// A chat with its usage counters (see [`super::quota`]).
#[derive(sqlx::FromRow)]
pub(crate) struct ChatUsageRow {
    #[sqlx(flatten)]
    pub chat: ChatRow,
    pub message_count: i64,
    pub message_bytes: i64,
}

/// Gives a tenant's message bytes back when messages or chats are deleted
/// (`$1` tenant id, `$2` bytes).
pub(crate) const RELEASE_TENANT_BYTES_SQL: &str =
    "UPDATE tenants SET message_bytes = message_bytes - $2 WHERE id = $1";

pub(crate) fn chats(rows: Vec<ChatRow>) -> StoreResult<Vec<ChatRecord>> {
    rows.into_iter().map(ChatRow::into_record).collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct MessageRow {
    pub id: i64,
    pub chat_id: i64,
    pub actor: String,
    pub message: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl MessageRow {
    pub fn into_record(self) -> StoreResult<MessageRecord> {
        Ok(MessageRecord {
            id: self.id,
            chat_id: self.chat_id,
            actor: parse_actor(&self.actor)?,
            message: self.message,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            files: Vec::new(),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct FileRow {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub language: String,
    pub extension: String,
    pub user_id: Option<i64>,
    pub chat_id: i64,
    pub message_id: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl FileRow {
    pub fn into_record(self) -> FileRecord {
        FileRecord {
            id: self.id,
            title: self.title,
            text: self.text,
            language: self.language,
            extension: self.extension,
            user_id: self.user_id,
            chat_id: self.chat_id,
            message_id: self.message_id,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        }
    }
}

/// The user of a live session (`$1` token hash, `$2` now).
pub(crate) const SESSION_USER_SQL: &str =
    "SELECT u.id, u.tenant_id, u.email, u.created_at, u.updated_at \
     FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2";

/// A chat's id and version, for a [`ChatRef`] (`$1`, `$2` as [`bind_chat_ref!`] binds).
pub(crate) fn chat_version_sql(chat: &ChatRef) -> &'static str {
    by_chat_ref!(chat, "SELECT id, version FROM chats WHERE ", "")
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, chat_id, actor, message, created_at, updated_at";
pub(crate) const FILE_COLUMNS: &str =
    "id, title, text, language, extension, user_id, chat_id, message_id, created_at, updated_at";

/// Attaches files (any order) to their messages; files whose message is not in the list
/// are dropped. Keeps the messages' order.
pub(crate) fn attach_files(
    rows: Vec<MessageRow>,
    files: Vec<FileRow>,
) -> StoreResult<Vec<MessageRecord>> {
    let mut messages = rows
        .into_iter()
        .map(MessageRow::into_record)
        .collect::<StoreResult<Vec<_>>>()?;
    let position: std::collections::HashMap<i64, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    for file in files {
        if let Some(&i) = position.get(&file.message_id) {
            messages[i].files.push(file.into_record());
        }
    }
    Ok(messages)
}

/// Recognises a uniqueness violation on either engine.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}

/// Implements [`super::Store`] for `$store`, whose engine is `$db`. The type must have
/// `writer()`/`reader()` pools and `begin_write()`/`begin_read()` transactions.
macro_rules! impl_sql_store {
    ($store:ty, $db:ty, $engine:literal) => {
        impl $store {
            /// The store with `quotas` enforced on its writes.
            pub fn with_quotas(mut self, quotas: $crate::config::StorageQuotas) -> Self {
                self.quotas = quotas;
                self
            }

            /// Creates the default tenant (sign-up's) unless there is one. The partial
            /// unique index allows only one, so nodes starting at once race harmlessly.
            async fn ensure_default_tenant(&self) -> anyhow::Result<()> {
                use anyhow::Context as _;
                sqlx::query(
                    "INSERT INTO tenants (id, name, is_default, created_at) VALUES ($1, 'default', 1, $2) \
                     ON CONFLICT DO NOTHING",
                )
                .bind(Uuid::new_v4().hyphenated().to_string())
                .bind(Timestamp::now().micros())
                .execute(self.writer())
                .await
                .context("cannot create the default tenant")?;
                Ok(())
            }

            /// [`Store::session_user`] through sqlx.
            pub(crate) async fn session_user_sqlx(
                &self,
                token_hash: &[u8],
                now: Timestamp,
            ) -> StoreResult<Option<UserRecord>> {
                sqlx::query_as::<$db, UserRow>(SESSION_USER_SQL)
                    .bind(token_hash)
                    .bind(now.micros())
                    .fetch_optional(self.reader())
                    .await?
                    .map(UserRow::into_record)
                    .transpose()
            }

            /// [`Store::chat_version`] through sqlx.
            pub(crate) async fn chat_version_sqlx(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
                Ok(bind_chat_ref!(sqlx::query_as::<$db, ChatVersion>(chat_version_sql(chat)), chat)
                    .fetch_one(self.reader())
                    .await?)
            }
            /// Appends messages and their files on `conn`, which the caller has inside a
            /// transaction (or savepoint) and commits.
            pub(crate) async fn append_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat: ChatRef,
                messages: Vec<NewMessage>,
                quotas: $crate::config::StorageQuotas,
            ) -> StoreResult<Appended> {
                use $crate::store::quota::{self, QuotaExceeded};
                let now = Timestamp::now();
                let chat = &chat;
                let added = i64::try_from(messages.len()).unwrap_or(i64::MAX);
                let bytes = quota::text_bytes(messages.iter().map(|m| m.text.as_str()));
                // The version bump takes the chat's row lock and moves its counters, so
                // the count checked here already includes every earlier append.
                let sql = by_chat_ref!(
                    chat,
                    "UPDATE chats SET version = version + 1, updated_at = $3, \
                     message_count = message_count + $4, message_bytes = message_bytes + $5 WHERE ",
                    concat!(" RETURNING ", chat_columns!(), ", message_count, message_bytes")
                );
                let bumped = bind_chat_ref!(sqlx::query_as::<$db, ChatUsageRow>(sql), chat)
                    .bind(now.micros())
                    .bind(added)
                    .bind(bytes)
                    .fetch_one(&mut *conn)
                    .await?;
                quota::within(quotas.max_messages_per_chat, bumped.message_count, QuotaExceeded::MessagesPerChat)?;
                let chat = bumped.chat.into_record()?;
                // Chronological order is (created_at, id): never stamp a message earlier
                // than the chat's newest one, even if the clock stepped back.
                let newest: Option<i64> = sqlx::query_scalar::<$db, i64>(
                    "SELECT created_at FROM messages WHERE chat_id = $1 \
                     ORDER BY created_at DESC, id DESC LIMIT 1",
                )
                .bind(chat.id)
                .fetch_optional(&mut *conn)
                .await?;
                let stamp = now.micros().max(newest.unwrap_or(i64::MIN));
                let mut stored = Vec::with_capacity(messages.len());
                for message in messages {
                    let id: i64 = sqlx::query_scalar::<$db, i64>(
                        "INSERT INTO messages (chat_id, actor, message, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) RETURNING id",
                    )
                    .bind(chat.id)
                    .bind(message.actor.as_str())
                    .bind(message.text.as_str())
                    .bind(stamp)
                    .fetch_one(&mut *conn)
                    .await?;
                    let mut files = Vec::with_capacity(message.files.len());
                    for file in message.files {
                        let file_id: i64 = sqlx::query_scalar::<$db, i64>(
                            "INSERT INTO files (message_id, chat_id, user_id, title, text, language, extension, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
                        )
                        .bind(id)
                        .bind(chat.id)
                        .bind(chat.user_id)
                        .bind(&file.title)
                        .bind(&file.text)
                        .bind(&file.language)
                        .bind(&file.extension)
                        .bind(stamp)
                        .fetch_one(&mut *conn)
                        .await?;
                        files.push(FileRecord {
                            id: file_id,
                            title: file.title,
                            text: file.text,
                            language: file.language,
                            extension: file.extension,
                            user_id: chat.user_id,
                            chat_id: chat.id,
                            message_id: id,
                            created_at: Timestamp(stamp),
                            updated_at: Timestamp(stamp),
                        });
                    }
                    stored.push(MessageRecord {
                        id,
                        chat_id: chat.id,
                        actor: message.actor,
                        message: message.text.into_string(),
                        created_at: Timestamp(stamp),
                        updated_at: Timestamp(stamp),
                        files,
                    });
                }
                // Last, so the tenant's row lock (PostgreSQL) is held only until the commit.
                let tenant_bytes: i64 = sqlx::query_scalar::<$db, i64>(
                    "UPDATE tenants SET message_bytes = message_bytes + $2 WHERE id = $1 RETURNING message_bytes",
                )
                .bind(chat.tenant_id.hyphenated().to_string())
                .bind(bytes)
                .fetch_one(&mut *conn)
                .await?;
                quota::within(quotas.max_tenant_message_bytes, tenant_bytes, QuotaExceeded::TenantMessageBytes)?;
                Ok(Appended {
                    chat,
                    messages: stored,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            fn engine(&self) -> &'static str {
                $engine
            }

            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(self.reader()).await?;
                Ok(())
            }

            async fn default_tenant(&self) -> StoreResult<TenantRecord> {
                sqlx::query_as::<$db, TenantRow>(
                    "SELECT id, name, created_at FROM tenants WHERE is_default = 1",
                )
                .fetch_one(self.reader())
                .await?
                .into_record()
            }

            async fn create_tenant(&self, name: &str) -> StoreResult<TenantRecord> {
                let id = Uuid::new_v4();
                sqlx::query_as::<$db, TenantRow>(
                    "INSERT INTO tenants (id, name, is_default, created_at) VALUES ($1, $2, 0, $3) \
                     RETURNING id, name, created_at",
                )
                .bind(id.hyphenated().to_string())
                .bind(name)
                .bind(Timestamp::now().micros())
                .fetch_one(self.writer())
                .await?
                .into_record()
            }

            async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord> {
                sqlx::query_as::<$db, TenantRow>(
                    "SELECT id, name, created_at FROM tenants WHERE id = $1",
                )
                .bind(id.hyphenated().to_string())
                .fetch_one(self.reader())
                .await?
                .into_record()
            }

            async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
                sqlx::query_as::<$db, TenantRow>(
                    "SELECT id, name, created_at FROM tenants ORDER BY created_at, id",
                )
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(TenantRow::into_record)
                .collect()
            }

            async fn list_api_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
                sqlx::query_as::<$db, ApiKeyRow>(
                    "SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id",
                )
                .bind(tenant_id.hyphenated().to_string())
                .fetch_all(self.reader())
                .await?
                .into_iter()
                .map(ApiKeyRow::into_record)
                .collect()
            }

            async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord> {
                sqlx::query_as::<$db, ApiKeyRow>(
                    "INSERT INTO api_keys (id, tenant_id, name, prefix, secret_hash, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
                )
                .bind(Uuid::new_v4().hyphenated().to_string())
                .bind(key.tenant_id.hyphenated().to_string())
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(&key.secret_hash)
                .bind(Timestamp::now().micros())
                .fetch_one(self.writer())
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("api key prefix taken")
                    } else if matches!(&e, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::ForeignKeyViolation) {
                        StoreError::NotFound
                    } else {
                        e.into()
                    }
                })?
                .into_record()
            }

            async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
                sqlx::query_as::<$db, ApiKeyRow>("SELECT * FROM api_keys WHERE prefix = $1")
                    .bind(prefix)
                    .fetch_optional(self.reader())
                    .await?
                    .map(ApiKeyRow::into_record)
                    .transpose()
            }

            async fn revoke_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<ApiKeyRecord> {
                sqlx::query_as::<$db, ApiKeyRow>(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1 RETURNING *",
                )
                .bind(id.hyphenated().to_string())
                .bind(at.micros())
                .fetch_one(self.writer())
                .await?
                .into_record()
            }

            async fn touch_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
                sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
                    .bind(id.hyphenated().to_string())
                    .bind(at.micros())
                    .execute(self.writer())
                    .await?;
                Ok(())
            }

            async fn create_user(
                &self,
                tenant_id: Uuid,
                email: &Email,
                password_hash: &str,
            ) -> StoreResult<UserRecord> {
                let now = Timestamp::now().micros();
                sqlx::query_as::<$db, UserRow>(
                    "INSERT INTO users (tenant_id, email, email_lower, password_hash, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $5) \
                     RETURNING id, tenant_id, email, created_at, updated_at",
                )
                .bind(tenant_id.hyphenated().to_string())
                .bind(email.as_str())
                .bind(email.normalized())
                .bind(password_hash)
                .bind(now)
                .fetch_one(self.writer())
                .await
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("email already registered")
                    } else {
                        e.into()
                    }
                })?
                .into_record()
            }

            async fn user_credentials(
                &self,
                tenant_id: Uuid,
                email: &Email,
            ) -> StoreResult<Option<Credentials>> {
                let row = sqlx::query_as::<$db, CredentialsRow>(
                    "SELECT id, tenant_id, email, created_at, updated_at, password_hash FROM users \
                     WHERE tenant_id = $1 AND email_lower = $2",
                )
                .bind(tenant_id.hyphenated().to_string())
                .bind(email.normalized())
                .fetch_optional(self.reader())
                .await?;
                row.map(|row| {
                    Ok(Credentials {
                        user: row.user.into_record()?,
                        password_hash: row.password_hash,
                    })
                })
                .transpose()
            }

            async fn get_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<UserRecord> {
                sqlx::query_as::<$db, UserRow>(
                    "SELECT id, tenant_id, email, created_at, updated_at FROM users \
                     WHERE id = $1 AND tenant_id = $2",
                )
                .bind(user_id)
                .bind(tenant_id.hyphenated().to_string())
                .fetch_one(self.reader())
                .await?
                .into_record()
            }

            async fn create_session(&self, session: NewSession) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(&session.token_hash)
                .bind(session.user_id)
                .bind(Timestamp::now().micros())
                .bind(session.expires_at.micros())
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn session_user(
                &self,
                token_hash: &[u8],
                now: Timestamp,
            ) -> StoreResult<Option<UserRecord>> {
                self.session_user_point(token_hash, now).await
            }

            async fn revoked_between(
                &self,
                since: Timestamp,
                until: Timestamp,
            ) -> StoreResult<$crate::store::RevokedCredentials> {
                $crate::store::revocations::revoked_between(self.reader(), since, until).await
            }

            async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
                )
                .bind(token_hash)
                .bind(at.micros())
                .execute(self.writer())
                .await?;
                Ok(())
            }

            async fn create_chat(&self, chat: NewChat) -> StoreResult<ChatRecord> {
                let now = Timestamp::now().micros();
                // Stored as the client wrote it (validated): numbers keep every digit.
                let metadata = chat.metadata.as_ref().map(crate::domain::Metadata::as_str);
                let mut tx = self.begin_write().await?;
                let limit = self.quotas.max_chats_per_user;
                if let (Some(user_id), true) = (chat.user_id, limit > 0) {
                    use $crate::store::quota::{self, QuotaExceeded};
                    // A no-op update takes the user's row lock (PostgreSQL; SQLite's one
                    // writer is exclusive anyway), so creations for one user count in turn.
                    sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    let owned: i64 = sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM chats WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    quota::within(limit, owned.saturating_add(1), QuotaExceeded::ChatsPerUser)?;
                }
                let created = sqlx::query_as::<$db, ChatRow>(concat!(
                    "INSERT INTO chats (uuid, tenant_id, user_id, name, model, metadata, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING ",
                    chat_columns!()
                ))
                .bind(Uuid::new_v4().hyphenated().to_string())
                .bind(chat.tenant_id.hyphenated().to_string())
                .bind(chat.user_id)
                .bind(chat.name.as_str())
                .bind(chat.model.as_str())
                .bind(metadata)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?
                .into_record()?;
                tx.commit().await?;
                Ok(created)
            }

            async fn get_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
                let sql = by_chat_ref!(chat, concat!("SELECT ", chat_columns!(), " FROM chats WHERE "), "");
                bind_chat_ref!(sqlx::query_as::<$db, ChatRow>(sql), chat)
                    .fetch_one(self.reader())
                    .await?
                    .into_record()
            }

            async fn list_user_chats(
                &self,
                user_id: i64,
                order: &OrderBy,
            ) -> StoreResult<Vec<ChatRecord>> {
                let sql = format!(
                    concat!("SELECT ", chat_columns!(), " FROM chats WHERE user_id = $1 ORDER BY {}"),
                    order.to_sql()
                );
                chats(
                    sqlx::query_as::<$db, ChatRow>(&sql)
                        .bind(user_id)
                        .fetch_all(self.reader())
                        .await?,
                )
            }

            async fn list_tenant_chats(
                &self,
                tenant_id: Uuid,
                after: Option<ChatCursor>,
                limit: u32,
            ) -> StoreResult<Vec<ChatRecord>> {
                let tenant = tenant_id.hyphenated().to_string();
                let rows = match after {
                    None => {
                        sqlx::query_as::<$db, ChatRow>(concat!(
                            "SELECT ", chat_columns!(), " FROM chats WHERE tenant_id = $1 \
                             ORDER BY created_at DESC, id DESC LIMIT $2"
                        ))
                        .bind(tenant)
                        .bind(i64::from(limit))
                        .fetch_all(self.reader())
                        .await?
                    }
                    Some(cursor) => {
                        sqlx::query_as::<$db, ChatRow>(concat!(
                            "SELECT ", chat_columns!(), " FROM chats WHERE tenant_id = $1 \
                             AND (created_at, id) < ($3, $4) \
                             ORDER BY created_at DESC, id DESC LIMIT $2"
                        ))
                        .bind(tenant)
                        .bind(i64::from(limit))
                        .bind(cursor.created_at.micros())
                        .bind(cursor.id)
                        .fetch_all(self.reader())
                        .await?
                    }
                };
                chats(rows)
            }

            async fn rename_chat(&self, chat: &ChatRef, name: &ChatName) -> StoreResult<ChatRecord> {
                let sql = by_chat_ref!(
                    chat,
                    "UPDATE chats SET name = $3, version = version + 1, updated_at = $4 WHERE ",
                    concat!(" RETURNING ", chat_columns!())
                );
                bind_chat_ref!(sqlx::query_as::<$db, ChatRow>(sql), chat)
                    .bind(name.as_str())
                    .bind(Timestamp::now().micros())
                    .fetch_one(self.writer())
                    .await?
                    .into_record()
            }

            async fn delete_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
                let sql = by_chat_ref!(
                    chat,
                    "DELETE FROM chats WHERE ",
                    concat!(" RETURNING ", chat_columns!(), ", message_count, message_bytes")
                );
                let mut tx = self.begin_write().await?;
                let deleted = bind_chat_ref!(sqlx::query_as::<$db, ChatUsageRow>(sql), chat)
                    .fetch_one(&mut *tx)
                    .await?;
                sqlx::query(RELEASE_TENANT_BYTES_SQL)
                    .bind(deleted.chat.tenant_id.as_str())
                    .bind(deleted.message_bytes)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                deleted.chat.into_record()
            }

            async fn delete_user_chats(
                &self,
                user_id: i64,
                chat_ids: &[i64],
            ) -> StoreResult<Vec<ChatRecord>> {
                if chat_ids.is_empty() {
                    return Ok(Vec::new());
                }
                let placeholders = (0..chat_ids.len())
                    .map(|i| format!("${}", i + 2))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    concat!("DELETE FROM chats WHERE user_id = $1 AND id IN ({}) RETURNING ", chat_columns!(), ", message_count, message_bytes"),
                    placeholders
                );
                let mut query = sqlx::query_as::<$db, ChatUsageRow>(&sql).bind(user_id);
                for id in chat_ids {
                    query = query.bind(*id);
                }
                let mut tx = self.begin_write().await?;
                let rows = query.fetch_all(&mut *tx).await?;
                // A user's chats are all in the user's tenant; summed per tenant anyway.
                let mut released = std::collections::BTreeMap::<&str, i64>::new();
                for row in &rows {
                    let bytes = released.entry(row.chat.tenant_id.as_str()).or_default();
                    *bytes = bytes.saturating_add(row.message_bytes);
                }
                for (tenant_id, bytes) in released {
                    sqlx::query(RELEASE_TENANT_BYTES_SQL)
                        .bind(tenant_id)
                        .bind(bytes)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                chats(rows.into_iter().map(|row| row.chat).collect())
            }

            async fn append_messages(
                &self,
                chat: &ChatRef,
                messages: Vec<NewMessage>,
            ) -> StoreResult<Appended> {
                self.append_atomically(*chat, messages).await
            }

            async fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
                self.chat_version_point(chat).await
            }

            async fn list_messages_versioned(
                &self,
                chat: &ChatRef,
            ) -> StoreResult<(ChatVersion, Vec<MessageRecord>)> {
                // One snapshot, three statements, however many messages and files.
                let mut tx = self.begin_read().await?;
                let version = bind_chat_ref!(sqlx::query_as::<$db, ChatVersion>(chat_version_sql(chat)), chat)
                    .fetch_one(&mut *tx)
                    .await?;
                let chat_id = version.id;
                let rows = sqlx::query_as::<$db, MessageRow>(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 ORDER BY created_at, id"
                ))
                .bind(chat_id)
                .fetch_all(&mut *tx)
                .await?;
                let files = sqlx::query_as::<$db, FileRow>(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE chat_id = $1 ORDER BY message_id, id"
                ))
                .bind(chat_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok((version, attach_files(rows, files)?))
            }

            async fn page_messages(
                &self,
                chat: &ChatRef,
                after: Option<MessageCursor>,
                limit: u32,
            ) -> StoreResult<Vec<MessageRecord>> {
                let mut tx = self.begin_read().await?;
                let chat_id = resolve_chat!($db, &mut *tx, chat);
                let (after_at, after_id) = after
                    .map(|c| (c.created_at.micros(), c.id))
                    .unwrap_or((i64::MIN, i64::MIN));
                let rows = sqlx::query_as::<$db, MessageRow>(&format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 \
                     AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4"
                ))
                .bind(chat_id)
                .bind(after_at)
                .bind(after_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
                let files = files_of_page!($db, &mut *tx, chat_id, rows);
                tx.commit().await?;
                attach_files(rows, files)
            }

            async fn message_count(&self, chat_id: i64) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<$db, i64>("SELECT COUNT(*) FROM messages WHERE chat_id = $1")
                    .bind(chat_id)
                    .fetch_one(self.reader())
                    .await?)
            }

            async fn list_files(&self, chat: &ChatRef) -> StoreResult<Vec<FileRecord>> {
                let mut tx = self.begin_read().await?;
                let chat_id = resolve_chat!($db, &mut *tx, chat);
                let files = sqlx::query_as::<$db, FileRow>(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE chat_id = $1 ORDER BY message_id, id"
                ))
                .bind(chat_id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(files.into_iter().map(FileRow::into_record).collect())
            }

            async fn delete_last(&self, chat: &ChatRef) -> StoreResult<DeleteLastOutcome> {
                use futures_util::TryStreamExt as _;
                let mut tx = self.begin_write().await?;
                // Bumping the version first takes the chat's row lock on engines with
                // row locks, so concurrent delete-last and append on one chat serialise.
                let chat = bump_chat!($db, &mut *tx, chat, Timestamp::now());
                let mut planner = Planner::new();
                let mut newest_first = Vec::new();
                let newest_first_sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE chat_id = $1 \
                     ORDER BY created_at DESC, id DESC"
                );
                {
                    let mut rows = sqlx::query_as::<$db, MessageRow>(&newest_first_sql)
                    .bind(chat.id)
                    .fetch(&mut *tx);
                    while planner.wants_more() {
                        match rows.try_next().await? {
                            Some(row) => {
                                planner.push(parse_actor(&row.actor)?);
                                newest_first.push(row);
                            }
                            None => break,
                        }
                    }
                }
                let plan = planner.finish();
                let total = plan.total();
                let trailing = match plan {
                    DeleteLastPlan::NoMessages => {
                        tx.rollback().await?;
                        return Ok(DeleteLastOutcome::NoMessages);
                    }
                    DeleteLastPlan::TrailingOnly { trailing } | DeleteLastPlan::Exchange { trailing } => trailing,
                };
                if total > 0 {
                    // The plan always removes the newest `total` messages: delete from the
                    // oldest of them onwards.
                    let oldest = &newest_first[total - 1];
                    let removed = sqlx::query(
                        "DELETE FROM messages WHERE chat_id = $1 AND (created_at, id) >= ($2, $3)",
                    )
                    .bind(chat.id)
                    .bind(oldest.created_at)
                    .bind(oldest.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    let bytes = $crate::store::quota::text_bytes(
                        newest_first[..total].iter().map(|row| row.message.as_str()),
                    );
                    sqlx::query(
                        "UPDATE chats SET message_count = message_count - $2, \
                         message_bytes = message_bytes - $3 WHERE id = $1",
                    )
                    .bind(chat.id)
                    .bind(i64::try_from(removed).unwrap_or(i64::MAX))
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(RELEASE_TENANT_BYTES_SQL)
                        .bind(chat.tenant_id.hyphenated().to_string())
                        .bind(bytes)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                let mut records = newest_first
                    .into_iter()
                    .take(total)
                    .map(MessageRow::into_record)
                    .collect::<StoreResult<Vec<_>>>()?;
                let exchange = if matches!(plan, DeleteLastPlan::Exchange { .. }) {
                    let before_last = records.pop();
                    let last = records.pop();
                    before_last.zip(last).map(Box::new)
                } else {
                    None
                };
                records.truncate(trailing);
                records.reverse();
                Ok(DeleteLastOutcome::Deleted {
                    chat,
                    trailing: records,
                    exchange,
                })
            }
        }
    };
}
pub(crate) use impl_sql_store;

/// Bumps a chat's version inside a write transaction and returns it; `NotFound` when the
/// reference names no chat of the caller's.
macro_rules! bump_chat {
    ($db:ty, $tx:expr, $chat:expr, $now:expr) => {{
        let sql = by_chat_ref!(
            $chat,
            "UPDATE chats SET version = version + 1, updated_at = $3 WHERE ",
            concat!(" RETURNING ", chat_columns!())
        );
        bind_chat_ref!(sqlx::query_as::<$db, ChatRow>(sql), $chat)
            .bind($now.micros())
            .fetch_one($tx)
            .await?
            .into_record()?
    }};
}
pub(crate) use bump_chat;

/// The files of a page of a chat's messages (`rows`, in id order): one range read.
macro_rules! files_of_page {
    ($db:ty, $conn:expr, $chat_id:expr, $rows:expr) => {
        match ($rows.first(), $rows.last()) {
            (Some(first), Some(last)) => {
                sqlx::query_as::<$db, FileRow>(&format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE chat_id = $1 \
                     AND message_id BETWEEN $2 AND $3 ORDER BY message_id, id"
                ))
                .bind($chat_id)
                .bind(first.id.min(last.id))
                .bind(first.id.max(last.id))
                .fetch_all($conn)
                .await?
            }
            _ => Vec::new(),
        }
    };
}
pub(crate) use files_of_page;

/// The internal id of a chat the caller may see, or `NotFound`.
macro_rules! resolve_chat {
    ($db:ty, $tx:expr, $chat:expr) => {{
        let sql = by_chat_ref!($chat, "SELECT id FROM chats WHERE ", "");
        bind_chat_ref!(sqlx::query_scalar::<$db, i64>(sql), $chat)
            .fetch_one($tx)
            .await?
    }};
}
pub(crate) use resolve_chat;
