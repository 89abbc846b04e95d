//! How the command line names a tenant: its id, or `default` for the default tenant
//! (the one that sign-up and the user API put users and chats in).

use std::str::FromStr;
use uuid::Uuid;

use crate::store::{Store, StoreError};

/// The word that names the default tenant wherever a tenant id is asked for.
pub const DEFAULT_TENANT: &str = "default";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantArg {
    Default,
    Id(Uuid),
}

impl FromStr for TenantArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == DEFAULT_TENANT {
            return Ok(TenantArg::Default);
        }
        Uuid::parse_str(text)
            .map(TenantArg::Id)
            .map_err(|_| format!("expected a tenant id (UUID) or `{DEFAULT_TENANT}`"))
    }
}

impl TenantArg {
    /// The id of the tenant named, which must exist.
    pub async fn resolve(self, store: &dyn Store) -> anyhow::Result<Uuid> {
        match self {
            TenantArg::Default => Ok(store.default_tenant().await?.id),
            TenantArg::Id(id) => match store.get_tenant(id).await {
                Ok(tenant) => Ok(tenant.id),
                Err(StoreError::NotFound) => anyhow::bail!("no tenant {id}"),
                Err(other) => Err(other.into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_or_uuid_and_nothing_else() {
        assert_eq!("default".parse(), Ok(TenantArg::Default));
        let id = Uuid::new_v4();
        assert_eq!(id.to_string().parse(), Ok(TenantArg::Id(id)));
        for bad in ["", "Default", "acme", "default "] {
            assert!(bad.parse::<TenantArg>().is_err(), "{bad:?}");
        }
    }
}
