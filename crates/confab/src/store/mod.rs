//! Storage: one trait, one implementation per database engine.
//!
//! Handlers hold an `Arc<dyn Store>` and never see SQL. Every method that changes a chat
//! runs in one transaction and returns the chat as it is after the change (its `version`
//! orders live events).

pub mod copy;
mod group_commit;
pub mod keyset;
mod paged;
mod paged_sql;
mod point_reads;
pub mod postgres;
mod records;
mod sql;
pub mod sqlite;

use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

use crate::domain::{ChatName, Email, OrderBy, Timestamp};
pub use keyset::ChatKey;
pub use paged::*;
pub use records::*;

/// What can go wrong in the store, in the terms the API layer needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or is not visible to the caller.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (e.g. an email already taken).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// Anything else: logged, answered as an opaque 500.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            other => StoreError::Other(other.into()),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait Store: PagedReads + Send + Sync + 'static {
    /// The engine's name, for logs and `/healthz`.
    fn engine(&self) -> &'static str;
    /// A cheap round trip, for `/healthz`.
    async fn ping(&self) -> StoreResult<()>;

    // Tenants and API keys.
    async fn default_tenant(&self) -> StoreResult<TenantRecord>;
    async fn create_tenant(&self, name: &str) -> StoreResult<TenantRecord>;
    async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord>;
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord>;
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>>;
    async fn revoke_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<ApiKeyRecord>;
    async fn touch_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<()>;

    // Users and sessions.
    async fn create_user(
        &self,
        tenant_id: Uuid,
        email: &Email,
        password_hash: &str,
    ) -> StoreResult<UserRecord>;
    async fn user_credentials(
        &self,
        tenant_id: Uuid,
        email: &Email,
    ) -> StoreResult<Option<Credentials>>;
    async fn get_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<UserRecord>;
    async fn create_session(&self, session: NewSession) -> StoreResult<()>;
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>>;
    async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()>;

    // Chats.
    async fn create_chat(&self, chat: NewChat) -> StoreResult<ChatRecord>;
    async fn get_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;
    async fn list_user_chats(&self, user_id: i64, order: &OrderBy) -> StoreResult<Vec<ChatRecord>>;
    /// Newest first (`created_at`, then `id`), strictly after `after` when given.
    async fn list_tenant_chats(
        &self,
        tenant_id: Uuid,
        after: Option<ChatCursor>,
        limit: u32,
    ) -> StoreResult<Vec<ChatRecord>>;
    async fn rename_chat(&self, chat: &ChatRef, name: &ChatName) -> StoreResult<ChatRecord>;
    /// Deletes the chat with its messages and files; returns the chat as it was.
    async fn delete_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;
    /// Deletes those of `chat_ids` that belong to the user; returns the deleted chats.
    async fn delete_user_chats(
        &self,
        user_id: i64,
        chat_ids: &[i64],
    ) -> StoreResult<Vec<ChatRecord>>;

    // Messages and files.
    /// Appends the messages (and their files) atomically, in order.
    async fn append_messages(
        &self,
        chat: &ChatRef,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended>;
    /// All messages in chronological order, each with its files.
    async fn list_messages(&self, chat: &ChatRef) -> StoreResult<Vec<MessageRecord>> {
        Ok(self.list_messages_versioned(chat).await?.1)
    }
    /// [`Store::list_messages`] with the chat's version read in the same snapshot.
    async fn list_messages_versioned(
        &self,
        chat: &ChatRef,
    ) -> StoreResult<(ChatVersion, Vec<MessageRecord>)>;
    /// The chat's internal id and current version: one indexed row, for validating
    /// cached reads (every change to a chat bumps its version).
    async fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion>;
    /// Chronological page of messages with ids after `after_id`, each with its files.
    async fn page_messages(
        &self,
        chat: &ChatRef,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>>;
    async fn message_count(&self, chat_id: i64) -> StoreResult<i64>;
    async fn list_files(&self, chat: &ChatRef) -> StoreResult<Vec<FileRecord>>;
    /// SPEC §2 delete-last, in one transaction.
    async fn delete_last(&self, chat: &ChatRef) -> StoreResult<DeleteLastOutcome>;
}

/// The database engines, told apart by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a database URL names: `sqlite:`, `postgres://` or `postgresql://`.
    pub fn of_url(url: &str) -> anyhow::Result<Engine> {
        if url.starts_with("sqlite:") {
            Ok(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Engine::Postgres)
        } else {
            anyhow::bail!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://USER@HOST/DB",
                redact_url(url)
            )
        }
    }
}

/// Opens the store a database URL names, creating and migrating it as needed.
pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match Engine::of_url(url)? {
        Engine::Sqlite => Arc::new(sqlite::SqliteStore::connect(url, pool_size).await?),
        Engine::Postgres => Arc::new(postgres::PostgresStore::connect(url, pool_size).await?),
    })
}

/// A URL with any password replaced, for logs and errors: the one in the user info
/// (`postgres://user:***@host/db`) and a `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut redacted = match base.find("://") {
        Some(scheme_end) => {
            let rest = &base[scheme_end + 3..];
            let authority_end = rest.find('/').unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            match authority.rfind('@') {
                Some(at) => match authority[..at].split_once(':') {
                    Some((user, _)) => {
                        format!("{}{user}:***{}", &base[..scheme_end + 3], &rest[at..])
                    }
                    None => base.to_owned(),
                },
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&pairs.join("&"));
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_are_told_apart_by_scheme() {
        assert_eq!(
            Engine::of_url("sqlite://confab.db").ok(),
            Some(Engine::Sqlite)
        );
        assert_eq!(Engine::of_url("sqlite::memory:").ok(), Some(Engine::Sqlite));
        assert_eq!(
            Engine::of_url("postgres://u@h/db").ok(),
            Some(Engine::Postgres)
        );
        assert_eq!(
            Engine::of_url("postgresql://u@h/db").ok(),
            Some(Engine::Postgres)
        );
        let error = Engine::of_url("mysql://root:hunter2@h/db")
            .err()
            .map(|e| e.to_string());
        assert!(
            error.as_deref().is_some_and(|e| !e.contains("hunter2")),
            "{error:?}"
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db.example:5432/confab"),
            "postgres://app:***@db.example:5432/confab"
        );
        assert_eq!(
            redact_url("postgres://app@db/confab?sslmode=require&password=s3cret"),
            "postgres://app@db/confab?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("redis://:p%40ss@cache:6379/0"),
            "redis://:***@cache:6379/0"
        );
        assert_eq!(
            redact_url("sqlite://data/confab.db"),
            "sqlite://data/confab.db"
        );
        assert_eq!(
            redact_url("postgres://app@db/confab?application_name=a@b"),
            "postgres://app@db/confab?application_name=a@b"
        );
    }
}
