//! `confab export` and `confab import` (SPEC §10): the same NDJSON and importers as the
//! HTTP routes, on the database directly.

use std::io::Write as _;
use std::sync::Arc;

use super::{open, user_id_by_email, TenantArg};
use crate::chats::import::ImportTarget;
use crate::chats::Chats;
use crate::config::{DatabaseArgs, Limits};
use crate::domain::{Email, Timestamp};
use crate::events::local::LocalHub;
use crate::http::export_all::ExportPages;
use crate::http::streamed::Pages as _;
use crate::portability::ImportFormat;
use crate::store::{ExportPage, Store};

/// The tenant, and the user of it that `--user-email` names.
async fn tenant_and_user(
    store: &dyn Store,
    tenant: TenantArg,
    email: Option<&str>,
) -> anyhow::Result<(uuid::Uuid, Option<i64>)> {
    let tenant_id = tenant.resolve(store).await?;
    let Some(email) = email else {
        return Ok((tenant_id, None));
    };
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!(e.0))?;
    let user_id = user_id_by_email(store, tenant_id, &email).await?;
    Ok((tenant_id, Some(user_id)))
}

/// Writes the tenant's (or the user's) live chats to stdout, one NDJSON line each.
pub async fn export(
    tenant: TenantArg,
    user_email: Option<&str>,
    since: Option<&str>,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    let since = since
        .map(|text| {
            Timestamp::parse_rfc3339(text).ok_or_else(|| {
                anyhow::anyhow!("--since must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z")
            })
        })
        .transpose()?;
    let store = open(database).await?;
    let (tenant_id, user_id) = tenant_and_user(store.as_ref(), tenant, user_email).await?;
    let mut pages = ExportPages::new(
        store,
        ExportPage {
            tenant_id,
            user_id,
            since,
            after: 0,
            limit: 0,
        },
    );
    let stdout = std::io::stdout();
    let mut out = Vec::new();
    loop {
        out.clear();
        let more = pages.next(&mut out).await?;
        let mut lock = stdout.lock();
        lock.write_all(&out)?;
        lock.flush()?;
        if !more {
            return Ok(());
        }
    }
}

/// What `confab import` names.
pub struct ImportArgs<'a> {
    pub tenant: TenantArg,
    pub user_email: Option<&'a str>,
    pub format: &'a str,
    pub path: &'a std::path::Path,
    pub dry_run: bool,
}

/// Imports a file; prints the report as one JSON line. Exit status 1 when the file is
/// refused whole (nothing stored).
pub async fn import(
    args: ImportArgs<'_>,
    database: &DatabaseArgs,
    limits: Limits,
) -> anyhow::Result<()> {
    let ImportArgs {
        tenant,
        user_email,
        format,
        path,
        dry_run,
    } = args;
    let format = ImportFormat::parse(format)
        .ok_or_else(|| anyhow::anyhow!("--format must be chatgpt, openwebui or confab"))?;
    let file = std::fs::File::open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let store = open(database).await?;
    let (tenant_id, user_id) = tenant_and_user(store.as_ref(), tenant, user_email).await?;
    // Nothing listens on this process's events: the hub only satisfies the use cases.
    let chats = Chats::new(store, Arc::new(LocalHub::new(1)), limits);
    let slot = chats.import_slot().map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = chats
        .import_file(
            file,
            format,
            ImportTarget {
                tenant_id,
                user_id,
                dry_run,
            },
            slot,
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
