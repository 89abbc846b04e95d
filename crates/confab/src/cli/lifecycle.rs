//! `confab user delete` and `confab tenant set`: erasure and retention from the command
//! line (SPEC §9).

use serde_json::json;

use super::{open, user_id_by_email, TenantArg};
use crate::config::DatabaseArgs;
use crate::domain::Email;
use crate::store::StoreError;

/// Erases the tenant's user with this email and everything of theirs; prints the counts.
/// Running servers read the erasure from the database and close the sockets.
pub async fn delete_user(
    email: &str,
    tenant: Option<TenantArg>,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    let email = Email::parse(email).map_err(|e| anyhow::anyhow!(e.0))?;
    let store = open(database).await?;
    let tenant_id = tenant
        .unwrap_or(TenantArg::Default)
        .resolve(store.as_ref())
        .await?;
    let user_id = user_id_by_email(store.as_ref(), tenant_id, &email).await?;
    let erased = match store.erase_user(tenant_id, user_id).await {
        Err(StoreError::NotFound) => {
            anyhow::bail!("no user {} in tenant {tenant_id}", email.as_str())
        }
        other => other?,
    };
    println!(
        "{}",
        json!({
            "user_id": user_id,
            "chats": erased.chats.len(),
            "messages": erased.messages,
            "files": erased.files,
            "shares": erased.shares,
            "sessions": erased.sessions.len(),
        })
    );
    Ok(())
}

/// What `tenant set --retention-days` takes: days (0: keep forever) or `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionArg(pub Option<i64>);

impl std::str::FromStr for RetentionArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "default" {
            return Ok(RetentionArg(None));
        }
        match text.parse::<u32>() {
            Ok(days) if days <= 36_500 => Ok(RetentionArg(Some(i64::from(days)))),
            _ => Err("expected days (0 to 36500; 0 keeps chats forever) or `default`".into()),
        }
    }
}

/// Sets a tenant's own retention; prints it.
pub async fn set_tenant(
    tenant: TenantArg,
    retention: RetentionArg,
    database: &DatabaseArgs,
) -> anyhow::Result<()> {
    let store = open(database).await?;
    let tenant_id = tenant.resolve(store.as_ref()).await?;
    store.set_tenant_retention(tenant_id, retention.0).await?;
    println!(
        "{}",
        json!({"tenant_id": tenant_id, "retention_days": retention.0})
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_is_days_or_default() {
        assert_eq!("30".parse(), Ok(RetentionArg(Some(30))));
        assert_eq!("0".parse(), Ok(RetentionArg(Some(0))));
        assert_eq!("default".parse(), Ok(RetentionArg(None)));
        for bad in ["-1", "", "36501", "forever"] {
            assert!(bad.parse::<RetentionArg>().is_err(), "{bad:?}");
        }
    }
}
