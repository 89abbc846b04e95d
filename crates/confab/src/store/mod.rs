//! Storage: one trait, its SQL written once for both database engines.
//!
//! Handlers hold an `Arc<dyn Store>` and never see SQL. Every method that changes a chat
//! runs in one transaction and returns the chat as it is after the change (its `version`
//! orders live events). `sql/` holds the SQL by concern, `sqlite/` and `postgres.rs` what
//! each engine does its own way, `schema.rs` the tables as `confab copy` moves them.

pub mod keyset;
mod paged;
pub mod postgres;
pub mod quota;
mod records;
pub mod schema;
pub mod search;
mod sql;
pub mod sqlite;

use async_trait::async_trait;
use std::sync::Arc;
use uuid::Uuid;

use crate::domain::{ChatChanges, Email, MessageText, OrderBy, Timestamp};
pub use keyset::ChatKey;
pub use paged::*;
pub use records::*;
pub use search::{SearchHit, SearchRequest, SearchScope};
pub use sql::lifecycle::MAX_SHARES_PER_CHAT;
pub use sql::{SqlEngine, SqlStore};

/// What can go wrong in the store, in the terms the API layer needs.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or is not visible to the caller.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (e.g. an email already taken).
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// A message the request names in its path is not one of the chat's.
    #[error("message not found")]
    MessageNotFound,
    /// A message the request names in its body (the named field) is not one of the
    /// chat's.
    #[error("{0} is not a message of this chat")]
    NotInChat(&'static str),
    /// A reply was asked for under the current leaf, which is not a `user` message.
    #[error("the message to answer is not a user message")]
    NotAUserMessage,
    /// A storage quota would be exceeded; nothing was written.
    #[error("quota exceeded: {0}")]
    QuotaExceeded(#[from] quota::QuotaExceeded),
    /// The database is locked by another writer past the busy timeout (SQLite), or a
    /// lock or serialization conflict (PostgreSQL): worth retrying shortly.
    #[error("the database is busy")]
    Busy,
    /// A statement ran past the time limit its transaction set (PostgreSQL's
    /// `statement_timeout`, which searches set).
    #[error("the statement ran past its time limit")]
    TimedOut,
    /// Anything else: logged, answered as an opaque 500.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => StoreError::NotFound,
            ref busy if is_busy(busy) => StoreError::Busy,
            sqlx::Error::Database(ref database) if database.code().as_deref() == Some("57014") => {
                StoreError::TimedOut
            }
            other => StoreError::Other(other.into()),
        }
    }
}

/// Lock contention rather than a fault: SQLite's `SQLITE_BUSY` / `SQLITE_LOCKED` (any
/// extended code), PostgreSQL's lock timeout, deadlock and serialization failure, and a
/// pool that had no connection free in time.
pub(crate) fn is_busy(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(database) => match database.code() {
            // PostgreSQL: a five-character SQLSTATE.
            Some(code) if code.len() == 5 => matches!(&*code, "55P03" | "40P01" | "40001"),
            // SQLite: the primary result code is the low byte of the extended one.
            Some(code) => code
                .parse::<i32>()
                .is_ok_and(|sqlite| matches!(sqlite & 0xff, SQLITE_BUSY | SQLITE_LOCKED)),
            None => false,
        },
        _ => false,
    }
}

const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

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
    /// Every tenant, oldest first (the default tenant among them).
    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    /// A tenant's API keys (revoked ones too), oldest first.
    async fn list_api_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ApiKeyRecord>>;
    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord>;
    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>>;
    /// [`Store::find_api_key`], then the stamp of a page of the key's tenant's chat list
    /// (what a cached page of [`Store::list_tenant_chats`] is checked against), in one
    /// snapshot: a cached page's per-request reads (on SQLite one read transaction).
    async fn api_key_and_chats_stamp(
        &self,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>>;
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
    /// [`Store::session_user`], then what `then` asks of that user, in one snapshot: the
    /// per-request reads of a cached list (on SQLite one read transaction, whose locks
    /// are most of a point read's cost).
    async fn session_user_and(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>>;
    async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()>;
    /// API keys revoked after `since` (by any node or the CLI), and sessions revoked
    /// after `since` or expiring in (`since`, `until`]: what the revocation watcher
    /// polls for. Two indexed range scans.
    async fn revoked_between(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<RevokedCredentials>;

    // Chats.
    async fn create_chat(&self, chat: NewChat) -> StoreResult<ChatRecord>;
    async fn get_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;
    async fn list_user_chats(&self, user_id: i64, order: &OrderBy) -> StoreResult<Vec<ChatRecord>>;
    /// The `page` of the tenant's chats (see [`TenantChatsPage`]).
    async fn list_tenant_chats(
        &self,
        tenant_id: Uuid,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Vec<ChatRecord>>;
    /// Sets the fields `changes` gives (a `PATCH`), bumping the version.
    async fn update_chat(&self, chat: &ChatRef, changes: &ChatChanges) -> StoreResult<ChatRecord>;
    /// Deletes the chat with its messages and files; returns the chat as it was.
    async fn delete_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;
    /// Deletes those of `chat_ids` that belong to the user; returns the deleted chats.
    async fn delete_user_chats(
        &self,
        user_id: i64,
        chat_ids: &[i64],
    ) -> StoreResult<Vec<ChatRecord>>;

    // The trash (SPEC §9): a trashed chat is no other method's.
    /// Moves those of the chats that are live and the caller's to the trash, ending their
    /// running replies `stopped`; returns them.
    async fn trash_chats(&self, chats: &[ChatRef]) -> StoreResult<Vec<ChatRecord>>;
    /// A user's trash, most recently trashed first.
    async fn list_user_trash(&self, user_id: i64) -> StoreResult<Vec<ChatRecord>>;
    /// Brings a chat of the caller's trash back; `NotFound` unless the trash holds it.
    async fn restore_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;
    /// Deletes a chat of the caller's trash for good; `NotFound` unless the trash holds it.
    async fn purge_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord>;

    // Share links, erasure, sweeps (SPEC §9).
    /// Stores a share of a live chat of the caller's (`Conflict` past the per-chat cap).
    async fn create_share(&self, chat: &ChatRef, share: &NewShare) -> StoreResult<()>;
    /// A share's snapshot while its chat is live.
    async fn shared(&self, share_id: &str) -> StoreResult<Option<String>>;
    /// Deletes a share of the caller's chat; `NotFound` unless the chat has it.
    async fn revoke_share(&self, chat: &ChatRef, share_id: &str) -> StoreResult<()>;
    /// Deletes a user of the tenant with everything of theirs, in one transaction.
    async fn erase_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<ErasedUser>;
    /// One batch of the sweeper; `None` when another node is sweeping.
    async fn sweep_batch(&self, batch: &SweepBatch) -> StoreResult<Option<Vec<ChatRecord>>>;
    /// Sets a tenant's own retention in days (`None`: the server's).
    async fn set_tenant_retention(&self, tenant_id: Uuid, days: Option<i64>) -> StoreResult<()>;

    // Import and export (SPEC §10).
    /// Whether the tenant has a chat from `source_id` (or with that uuid).
    async fn imported(
        &self,
        tenant_id: Uuid,
        source_id: &str,
        uuid: Option<Uuid>,
    ) -> StoreResult<bool>;
    /// Stores one imported conversation in one transaction.
    async fn import_chat(&self, chat: &ImportChat) -> StoreResult<ImportOutcome>;
    /// An export's next page of chats, with their source ids.
    async fn export_page(
        &self,
        page: &ExportPage,
    ) -> StoreResult<Vec<(ChatRecord, Option<String>)>>;

    // Messages and files.
    /// Appends the messages (and their files) atomically, in order: the first `under`
    /// the given place of the tree, each further one under the one before. The last
    /// becomes the current leaf. `NotInChat("parent_id")` for a parent of another chat.
    async fn append_messages(
        &self,
        chat: &ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended>;
    /// Edit: a new sibling of `message_id` (same parent and actor, this text, code files
    /// extracted again) that becomes the current leaf. `MessageNotFound` unless the
    /// message is the chat's.
    async fn edit_message(
        &self,
        chat: &ChatRef,
        message_id: i64,
        text: MessageText,
    ) -> StoreResult<Appended>;
    /// Moves the current leaf to the newest leaf under `message_id`, and reads the new
    /// active path in the same transaction. `NotInChat("message_id")` unless the
    /// message is the chat's.
    async fn switch_branch(&self, chat: &ChatRef, message_id: i64) -> StoreResult<Switched>;
    /// Every message of the chat, with the chat (its current leaf) from the same snapshot.
    async fn list_tree(&self, chat: &ChatRef) -> StoreResult<(ChatRecord, Vec<MessageRecord>)>;
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
    /// Whether message `message_id` of the caller's chat is being generated: one indexed
    /// row, for a resumer this node's log already serves.
    async fn reply_running(&self, chat: &ChatRef, message_id: i64) -> StoreResult<bool>;
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

    // Generated replies (SPEC §8).
    /// Appends the user message (if any) and the reply, `generating` and empty.
    /// `NotAUserMessage` when a regenerate's current leaf is not a user message.
    async fn start_reply(
        &self,
        chat: &ChatRef,
        under: Under,
        user: Option<NewMessage>,
        reply: NewReply,
    ) -> StoreResult<Appended>;
    /// Persists running replies' text so far (`(id, text, stored marks)`), in one
    /// transaction; answers those no longer generating.
    async fn flush_replies(&self, replies: &[(i64, &str, String)]) -> StoreResult<Vec<i64>>;
    /// Ends a reply (bumping the chat's version); `None` if it already ended or is gone.
    async fn finish_reply(
        &self,
        message_id: i64,
        end: ReplyEnd,
    ) -> StoreResult<Option<(ChatRecord, MessageRecord)>>;
    /// A message of the caller's chat with the marks of its persisted deltas.
    async fn reply_progress(
        &self,
        chat: &ChatRef,
        message_id: i64,
    ) -> StoreResult<(ChatRecord, ReplyProgress)>;
    /// Running replies: `(message id, producing node)`.
    async fn running_replies(&self) -> StoreResult<Vec<(i64, Option<String>)>>;
    /// Whether the chat has a reply being generated.
    async fn chat_generating(&self, chat_id: i64) -> StoreResult<bool>;

    /// One page of search hits, best first (SPEC §7).
    async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>>;
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

/// Opens the store a database URL names, creating and migrating it as needed; no
/// storage quotas (tools).
pub async fn connect(url: &str, pool_size: u32) -> anyhow::Result<Arc<dyn Store>> {
    open(
        url,
        pool_size,
        quota::StorageQuotas::OFF,
        sqlite::DEFAULT_BUSY_TIMEOUT,
    )
    .await
}

/// [`connect`] as the server opens it: with the storage quotas its writes enforce, and
/// SQLite's busy timeout (how long a write waits for another connection's lock before it
/// fails as [`StoreError::Busy`]).
pub async fn open(
    url: &str,
    pool_size: u32,
    quotas: quota::StorageQuotas,
    sqlite_busy_timeout: std::time::Duration,
) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match Engine::of_url(url)? {
        Engine::Sqlite => Arc::new(
            sqlite::SqliteStore::connect_with(url, pool_size, sqlite_busy_timeout)
                .await?
                .with_quotas(quotas),
        ),
        Engine::Postgres => Arc::new(
            postgres::PostgresStore::connect(url, pool_size)
                .await?
                .with_quotas(quotas),
        ),
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

    /// A database error with just a code, as either engine reports it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl std::fmt::Display for Coded {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "code {}", self.0)
        }
    }

    impl std::error::Error for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<std::borrow::Cow<'_, str>> {
            Some(self.0.into())
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    #[test]
    fn lock_contention_is_busy_and_nothing_else_is() {
        let busy = |code| is_busy(&sqlx::Error::Database(Box::new(Coded(code))));
        // SQLite: BUSY, LOCKED and their extended codes (BUSY_SNAPSHOT, LOCKED_SHAREDCACHE).
        for code in ["5", "6", "517", "262"] {
            assert!(busy(code), "{code}");
        }
        // PostgreSQL: lock timeout, deadlock, serialization failure.
        for code in ["55P03", "40P01", "40001"] {
            assert!(busy(code), "{code}");
        }
        // Constraint violations, I/O errors, unique violations: not busy.
        for code in ["19", "2067", "10", "23505", "42P01"] {
            assert!(!busy(code), "{code}");
        }
        assert!(is_busy(&sqlx::Error::PoolTimedOut));
        assert!(!is_busy(&sqlx::Error::RowNotFound));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Busy
        ));
    }

    #[test]
    fn a_statement_past_its_time_limit_is_timed_out() {
        let from = |code| StoreError::from(sqlx::Error::Database(Box::new(Coded(code))));
        assert!(matches!(from("57014"), StoreError::TimedOut));
        assert!(matches!(from("23505"), StoreError::Other(_)));
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
