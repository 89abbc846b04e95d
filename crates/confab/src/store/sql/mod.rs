//! The SQL store, written once for both engines.
//!
//! Every statement uses `$N` placeholders, `RETURNING` and row-value comparisons, which
//! SQLite and PostgreSQL both understand, and only INTEGER/BIGINT, TEXT and BLOB/BYTEA
//! columns, which both decode the same way. [`Sql<DB>`] holds an engine's pools; its
//! methods are generic over the engine and split by concern:
//!
//! * `accounts.rs`: tenants, API keys, users, sessions, revoked credentials;
//! * `chats.rs`: creating, reading, listing, renaming and deleting chats;
//! * `messages.rs`: appending, reading and delete-last;
//! * `tree.rs`: the message tree: placing appends, the active path, edits, switches;
//! * `search.rs`: search documents written with every change, the search statement, and
//!   indexing rows older than search;
//! * `replies.rs`: generated replies: started, persisted as they grow, ended;
//! * `paged.rs`: [`PagedReads`](super::PagedReads), long lists page by page;
//! * `store_impl.rs`: [`Store`](super::Store), once for both engines, calling the above;
//! * `rows.rs`: the rows statements return, and their records.
//!
//! What an engine does its own way is its [`SqlEngine`] implementation, in
//! `store/sqlite/` and `store/postgres.rs`.
//!
//! Rust does not carry a trait's where-clauses to the code that uses the trait (only
//! bounds on `Self` travel), so [`SqlEngine`] cannot hold the sqlx capabilities the SQL
//! needs (`i64: Encode<DB>` and the like): each generic `impl` block states them, the
//! same list each time (executors, arguments, the column types above).

mod accounts;
pub(crate) mod append;
mod chats;
mod import;
pub(crate) mod lifecycle;
mod messages;
mod organise;
pub(crate) use organise::{tenant_chats_query, ListOf, CHAT_STAMP_COLUMNS};
mod paged;
pub(crate) use paged::FINGERPRINT_SQL;
mod replies;
pub(crate) mod rows;
mod search;
pub(crate) mod search_query;
mod store_impl;
mod tree;

use sqlx::{Database, Pool, Transaction};
use std::future::Future;
use uuid::Uuid;

use super::quota::StorageQuotas;
use super::records::{
    AfterSession, ApiKeyRecord, Appended, ChatRecord, ChatRef, ChatVersion, NewMessage,
    ReadAfterSession, Under, UserRecord,
};
use super::search::{SearchHit, SearchRequest, SearchScope};
use super::StoreResult;
use crate::domain::search::Query;
use crate::domain::Timestamp;
use crate::store::{ChatsFingerprint, ChatsPageStamp, TenantChatsPage};

/// How an engine's search index finds a band's matches (`SqlEngine::SEARCH_INDEX`).
pub enum SearchIndex {
    /// The index walks its lists newest first and stops at the band (FTS5): a band is
    /// one statement of `$1`-`$10`.
    NewestFirst,
    /// The index returns matches in no useful order (PostgreSQL's GIN), so the newest
    /// 500 of a common word would read every match's row: a band of messages is read
    /// in windows of ids, newest first (the first
    /// [`SearchRequest::first_window`] wide). Band statements also take the window's
    /// lowest id as `$11` and [`SearchExpression::check`] as `$12`; term counts take
    /// the check as `$6`.
    Unordered {
        /// Run once a window has found under a quarter of what it was to find: keeps the
        /// planner from walking the primary key through the next, wider windows
        /// checking every row, which its estimates of phrases choose (784 ms for 160,000
        /// rows holding 9 matches), so they intersect the index with the window.
        sparse: &'static str,
        /// Undoes `sparse` once the band is read.
        dense: &'static str,
        /// How long a whole search may take (each statement is also bounded by the
        /// session's `SEARCH_SESSION_SQL`): the windows of a band are several statements.
        time_limit: std::time::Duration,
        /// Bounds the next statement by the time left (`$1`, milliseconds as text).
        time_left: &'static str,
    },
}

impl SearchIndex {
    /// Whether band statements take `$11` and `$12`, and term counts `$6`.
    pub(crate) const fn is_unordered(&self) -> bool {
        matches!(self, SearchIndex::Unordered { .. })
    }
}

/// A parsed query as an engine's statements take it.
pub struct SearchExpression {
    /// What the engine's index looks up (`$1`).
    pub lookup: String,
    /// Where `lookup` finds more than the query matches ([`SearchIndex::Unordered`]
    /// only), the exact expression checked on each row it finds.
    pub check: Option<String>,
}

/// A database engine the SQL store runs on: how its transactions begin, and the
/// operations it runs its own way (SQLite shares commits between appends and answers the
/// per-request lookups, the session or API key, a chat's version, a user's chats
/// fingerprint, a resumer's check of a reply, and the tenant's chat list without sqlx;
/// PostgreSQL runs them like everything else).
pub trait SqlEngine: Database {
    /// The engine's name, for logs and `/healthz`.
    const ENGINE: &'static str;
    /// The statement a write transaction begins with on the writer pool (`None`: `BEGIN`).
    const BEGIN_WRITE: Option<&'static str>;
    /// The statement a read transaction begins with on the reader pool (`None`: `BEGIN`).
    const BEGIN_READ: Option<&'static str>;
    /// What the engine keeps beside its pools.
    type Extras: Send + Sync + 'static;

    /// The message INSERT, returning the id: `$1` chat, `$2` actor, `$3` text, `$4` time,
    /// `$5` parent, and `$6` the search document if [`Self::SEARCH_DOCUMENT_IN_INSERT`].
    const INSERT_MESSAGE_SQL: &'static str;
    /// Whether the message INSERT stores the search document itself.
    const SEARCH_DOCUMENT_IN_INSERT: bool;
    /// Stores a message's search document (`$1` message id, `$2` document).
    const INDEX_MESSAGE_SQL: &'static str;
    /// Removes a message's search document before it is stored again (`$1` message id),
    /// where storing does not replace it.
    const UNINDEX_MESSAGE_SQL: Option<&'static str>;
    /// Stores a chat name's search document (`$1` chat id, `$2` document), replacing the
    /// one of its former name.
    const INDEX_CHAT_NAME_SQL: &'static str;
    /// Reads (and, where rows lock, locks) the backfill's progress row.
    const BACKFILL_PROGRESS_SQL: &'static str;
    /// What a search's read transaction runs first (PostgreSQL: bound its time, so a
    /// statement past it fails with [`StoreError::TimedOut`](super::StoreError), and
    /// plan each statement for its values).
    const SEARCH_SESSION_SQL: &'static [&'static str];
    /// A band's messages and chat names for a search, each as `(id, text)`, newest
    /// first; their parameters are in `store/sqlite/search.rs`.
    const MESSAGE_BAND_SQL: &'static str;
    const NAME_BAND_SQL: &'static str;
    /// How the engine's index finds a band's matches.
    const SEARCH_INDEX: SearchIndex;
    /// How many messages in the scope match one term, up to a cap (`$1` the term's
    /// expression, `$2`–`$4` tenant, user, chat, `$5` the cap).
    const TERM_COUNT_SQL: &'static str;

    /// How a statement tests that an id is in a list given as text (`1,2,3`) in `$1`.
    const IN_ID_LIST: &'static str;

    /// A text of `tenant`'s, as a search document in the form the engine's index takes.
    fn search_document(text: &str, tenant: Uuid) -> String;
    /// A parsed query in the engine's query syntax, within `scope` where the engine's
    /// index holds it.
    fn search_expression(query: &Query, scope: &SearchScope) -> SearchExpression;

    /// How many rows a statement changed (sqlx has no trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The condition "the chat's `tags` hold the tag bound as `$param`".
    fn has_tag_sql(param: usize) -> String;
    /// What a sweeper's write transaction runs first: `Some` returns 1 or 0, whether this
    /// transaction may sweep (PostgreSQL: a transaction-scoped advisory lock, so nodes
    /// sweeping one database take turns); `None` where the writer is exclusive anyway.
    const SWEEP_LOCK_SQL: Option<&'static str>;
    /// What ends a `SELECT` that must lock the rows it reads until the transaction ends
    /// (PostgreSQL: ` FOR UPDATE`, which also holds off rows that would reference them;
    /// SQLite: nothing, its one writer is exclusive).
    const FOR_UPDATE: &'static str;

    /// Appends the messages (and their files) atomically, in order.
    fn append_messages(
        store: &SqlStore<Self>,
        chat: ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
    ) -> impl Future<Output = StoreResult<Appended>> + Send;

    /// The user of a live session.
    fn session_user(
        store: &SqlStore<Self>,
        token_hash: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Option<UserRecord>>> + Send;

    /// One page of search hits (the shared SQL of `search.rs`, called with the engine's
    /// own types, which carry the capabilities it needs).
    fn search(
        store: &SqlStore<Self>,
        request: &SearchRequest,
    ) -> impl Future<Output = StoreResult<Vec<SearchHit>>> + Send;

    /// A chat's id and version.
    fn chat_version(
        store: &SqlStore<Self>,
        chat: &ChatRef,
    ) -> impl Future<Output = StoreResult<ChatVersion>> + Send;

    /// [`Store::session_user_and`](crate::store::Store::session_user_and).
    fn session_user_and(
        store: &SqlStore<Self>,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> impl Future<Output = StoreResult<Option<(UserRecord, ReadAfterSession)>>> + Send;

    /// The fingerprint of a user's chats.
    fn chats_fingerprint(
        store: &SqlStore<Self>,
        user_id: i64,
    ) -> impl Future<Output = StoreResult<ChatsFingerprint>> + Send;

    /// A page of a tenant's chats (see [`Sql::list_tenant_chats`]).
    fn list_tenant_chats(
        store: &SqlStore<Self>,
        tenant_id: Uuid,
        page: &TenantChatsPage<'_>,
    ) -> impl Future<Output = StoreResult<Vec<ChatRecord>>> + Send;

    /// An API key by its public prefix.
    fn find_api_key(
        store: &SqlStore<Self>,
        prefix: &str,
    ) -> impl Future<Output = StoreResult<Option<ApiKeyRecord>>> + Send;

    /// [`Store::api_key_and_chats_stamp`](crate::store::Store::api_key_and_chats_stamp).
    fn api_key_and_chats_stamp(
        store: &SqlStore<Self>,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> impl Future<Output = StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>>> + Send;

    /// Whether message `message_id` of the caller's chat is being generated.
    fn reply_running(
        store: &SqlStore<Self>,
        chat: &ChatRef,
        message_id: i64,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// The store on one engine: the shared SQL on the engine's pools, and what the engine
/// keeps beside them.
pub struct SqlStore<DB: SqlEngine> {
    pub(crate) sql: Sql<DB>,
    pub(crate) extras: DB::Extras,
}

impl<DB: SqlEngine> SqlStore<DB> {
    /// A store on these pools (one and the same for PostgreSQL), without quotas.
    pub(crate) fn new(writer: Pool<DB>, reader: Pool<DB>, extras: DB::Extras) -> Self {
        SqlStore {
            sql: Sql {
                writer,
                reader,
                quotas: StorageQuotas::OFF,
            },
            extras,
        }
    }

    /// The store with `quotas` enforced on its writes.
    pub fn with_quotas(mut self, quotas: StorageQuotas) -> Self {
        self.sql.quotas = quotas;
        self
    }
}

/// An engine's pools and the quotas its writes enforce. Its methods are the SQL both
/// engines share, one file per concern.
pub(crate) struct Sql<DB: SqlEngine> {
    pub(crate) writer: Pool<DB>,
    pub(crate) reader: Pool<DB>,
    pub(crate) quotas: StorageQuotas,
}

impl<DB: SqlEngine> Sql<DB> {
    /// A write transaction on the writer pool.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, DB>> {
        Ok(begin(&self.writer, DB::BEGIN_WRITE).await?)
    }

    /// A read transaction (one snapshot) on the reader pool.
    pub(crate) async fn begin_read(&self) -> StoreResult<Transaction<'static, DB>> {
        Ok(begin(&self.reader, DB::BEGIN_READ).await?)
    }
}

async fn begin<DB: Database>(
    pool: &Pool<DB>,
    statement: Option<&'static str>,
) -> sqlx::Result<Transaction<'static, DB>> {
    match statement {
        Some(statement) => pool.begin_with(statement).await,
        None => pool.begin().await,
    }
}

/// A value bound to a statement built at run time, for either driver.
pub(crate) enum Bound {
    Text(String),
    Int(i64),
}

/// A [`ChatRef`]'s two identifying values, `$1` and `$2` of a [`by_ref`] statement.
pub(crate) fn chat_ref_values(chat: &ChatRef) -> [Bound; 2] {
    match chat {
        ChatRef::User { user_id, chat_id } => [Bound::Int(*chat_id), Bound::Int(*user_id)],
        ChatRef::Tenant {
            tenant_id,
            chat_uuid,
        } => [
            Bound::Text(chat_uuid.hyphenated().to_string()),
            Bound::Text(tenant_id.hyphenated().to_string()),
        ],
    }
}

/// Picks the statement for a [`ChatRef`]: `by_user` names the chat with
/// `id = $1 AND user_id = $2`, `by_tenant` with `uuid = $1 AND tenant_id = $2`, both
/// `AND trashed_at IS NULL`: a trashed chat is no route's but the trash's (bind them
/// with `bind_chat`); further parameters start at `$3`. Both are literals, so no SQL is
/// built per request.
pub(crate) fn by_ref(
    chat: &ChatRef,
    by_user: &'static str,
    by_tenant: &'static str,
) -> &'static str {
    match chat {
        ChatRef::User { .. } => by_user,
        ChatRef::Tenant { .. } => by_tenant,
    }
}

/// A chat's id and version, for a [`ChatRef`] (`$1`, `$2` as [`by_ref`] says).
pub(crate) fn chat_version_sql(chat: &ChatRef) -> &'static str {
    by_ref(
        chat,
        "SELECT id, version FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
        "SELECT id, version FROM chats WHERE uuid = $1 AND tenant_id = $2 AND trashed_at IS NULL",
    )
}

/// How many messages `$3` of a chat the caller may see ([`by_ref`]) are being generated:
/// 1 or 0. One indexed row each way: a resumer's whole check when the node's log of the
/// reply already holds what it asks for.
pub(crate) fn reply_running_sql(chat: &ChatRef) -> &'static str {
    by_ref(
        chat,
        "SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id \
         WHERE c.id = $1 AND c.user_id = $2 AND c.trashed_at IS NULL \
         AND m.id = $3 AND m.status = 'generating'",
        "SELECT count(*) FROM messages m JOIN chats c ON c.id = m.chat_id \
         WHERE c.uuid = $1 AND c.tenant_id = $2 AND c.trashed_at IS NULL \
         AND m.id = $3 AND m.status = 'generating'",
    )
}

/// An API key by its public prefix (`$1`), the columns of `rows::ApiKeyRow` in order.
pub(crate) const API_KEY_SQL: &str =
    "SELECT id, tenant_id, name, prefix, secret_hash, created_at, last_used_at, revoked_at \
     FROM api_keys WHERE prefix = $1";

/// A statement reading the user of a live session (`$1` token hash, `$2` now): the
/// columns of `rows::UserRow`, then `$columns` (each led by a comma) from what `$joins`
/// adds, then `$tail`. One place says what a live session is.
macro_rules! session_user_sql {
    ($columns:literal, $joins:literal, $tail:literal) => {
        concat!(
            "SELECT u.id, u.tenant_id, u.email, u.created_at, u.updated_at",
            $columns,
            " FROM sessions s JOIN users u ON u.id = s.user_id",
            $joins,
            " WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
            $tail
        )
    };
}
pub(crate) use session_user_sql;

/// The user of a live session (`$1` token hash, `$2` now).
pub(crate) const SESSION_USER_SQL: &str = session_user_sql!("", "", "");

/// Gives a tenant's message bytes back when messages or chats are deleted
/// (`$1` tenant id, `$2` bytes).
pub(crate) const RELEASE_TENANT_BYTES_SQL: &str =
    "UPDATE tenants SET message_bytes = message_bytes - $2 WHERE id = $1";

/// Recognises a uniqueness violation on either engine.
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.kind() == sqlx::error::ErrorKind::UniqueViolation)
}
