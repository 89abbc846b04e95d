//! What the store reads and writes, independent of the engine.

use uuid::Uuid;

use crate::domain::code_blocks::CodeFile;
use crate::domain::{
    Actor, ChatName, MessageText, Metadata, ModelName, ReplyStatus, StreamMarks, Tags, Timestamp,
};

#[derive(Debug, Clone)]
pub struct TenantRecord {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    /// The tenant's own retention in days (`None`: the server's; 0: keep forever).
    pub retention_days: Option<i64>,
}

/// An API key as stored: its secret only as a hash.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub tenant_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub secret_hash: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub tenant_id: Uuid,
    pub email: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A user with the password hash, only for login.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: UserRecord,
    pub password_hash: String,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: Vec<u8>,
    pub user_id: i64,
    pub expires_at: Timestamp,
}

/// Which chat a request means, as the caller named it. The store resolves it inside the
/// same transaction as the work, so a chat that is not the caller's is simply not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChatRef {
    /// User API: a chat id owned by this user.
    User { user_id: i64, chat_id: i64 },
    /// Tenant API: a chat uuid within this tenant.
    Tenant { tenant_id: Uuid, chat_uuid: Uuid },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChatRecord {
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: Uuid,
    pub user_id: Option<i64>,
    pub name: String,
    pub model: String,
    pub metadata: Option<crate::domain::Metadata>,
    /// Bumped by every change to the chat; orders its live events.
    pub version: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The leaf of the active branch; `None` while the chat has no messages.
    pub current_message_id: Option<i64>,
    /// Whether any message of the chat ever had a sibling (until then every message is
    /// its parent's only child).
    pub branched: bool,
    pub archived: bool,
    pub pinned: bool,
    pub tags: Tags,
    /// When the chat was moved to the trash; `None` for a live chat.
    pub trashed_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct NewChat {
    pub tenant_id: Uuid,
    pub user_id: Option<i64>,
    pub name: ChatName,
    pub model: ModelName,
    pub metadata: Option<crate::domain::Metadata>,
}

/// A chat's identity and version: together they name one exact state of its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::FromRow)]
pub struct ChatVersion {
    pub id: i64,
    pub version: i64,
}

/// What a request reads right after its session, in the same snapshot: where the engine
/// can, one read of the database instead of two (see [`Store::session_user_and`]).
///
/// [`Store::session_user_and`]: crate::store::Store::session_user_and
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterSession {
    /// The version of the session user's chat with this id.
    ChatVersion(i64),
    /// The session user's chats fingerprint.
    ChatsFingerprint,
    /// Whether message `message_id` of the session user's chat `chat_id` is being
    /// generated.
    ReplyRunning { chat_id: i64, message_id: i64 },
}

/// What [`AfterSession`] asked for: the version, or the chat's error (not the user's:
/// not found), or the fingerprint, or whether the reply runs.
#[derive(Debug)]
pub enum ReadAfterSession {
    ChatVersion(Result<ChatVersion, crate::store::StoreError>),
    ChatsFingerprint(crate::store::ChatsFingerprint),
    ReplyRunning(bool),
}

/// Which page of a tenant's chats a listing reads: its live chats that pass `filter`
/// (with `trash`: its trashed chats, unfiltered), newest first (`created_at`, then `id`),
/// strictly after `after` when given, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct TenantChatsPage<'a> {
    pub filter: &'a crate::domain::ChatFilter,
    pub trash: bool,
    pub after: Option<ChatCursor>,
    pub limit: u32,
}

/// Position after which a tenant chat listing continues (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatCursor {
    pub created_at: Timestamp,
    pub id: i64,
}

/// Position after which a message page continues (oldest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    pub created_at: Timestamp,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRecord {
    pub id: i64,
    pub chat_id: i64,
    pub actor: Actor,
    pub message: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The message this one follows; `None` for a chat's first messages.
    pub parent_id: Option<i64>,
    pub siblings: Siblings,
    pub files: Vec<FileRecord>,
    /// How a generated reply stands; `None` for a posted message (always complete).
    pub reply: Option<Box<ReplyInfo>>,
}

impl MessageRecord {
    /// `Complete` unless this is a generated reply that is not.
    pub fn status(&self) -> ReplyStatus {
        self.reply
            .as_ref()
            .map_or(ReplyStatus::Complete, |r| r.status)
    }
}

/// A generated reply's state beside its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyInfo {
    pub status: ReplyStatus,
    pub model: Option<String>,
    pub usage: Option<Usage>,
    pub error: Option<ReplyError>,
}

/// Tokens the provider reported for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Why a reply failed or was interrupted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyError {
    pub code: String,
    pub message: String,
}

/// A reply being started: the model asked for, and the node that produces it.
#[derive(Debug, Clone)]
pub struct NewReply {
    pub model: String,
    pub node: String,
}

/// How a reply ends: its final state and text (`None`: the text persisted so far, for a
/// reply whose producer is gone). Its code files are extracted from the text.
#[derive(Debug, Clone)]
pub struct ReplyEnd {
    pub status: ReplyStatus,
    pub text: Option<(MessageText, StreamMarks)>,
    pub usage: Option<Usage>,
    pub error: Option<ReplyError>,
}

/// A running reply as a resumer reads it: its text and marks persisted so far.
#[derive(Debug, Clone)]
pub struct ReplyProgress {
    pub message: MessageRecord,
    pub marks: StreamMarks,
}

/// The children of a message's parent (for a first message: the chat's first messages).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Siblings {
    /// The message is its parent's only child (no list kept: the common case).
    #[default]
    OnlyChild,
    /// Every child of the parent, its own id included, oldest first.
    Of(std::sync::Arc<[i64]>),
}

impl Siblings {
    /// The sibling ids of message `id`, its own included.
    pub fn ids(&self, id: i64) -> std::borrow::Cow<'_, [i64]> {
        match self {
            Siblings::OnlyChild => std::borrow::Cow::Owned(vec![id]),
            Siblings::Of(ids) => std::borrow::Cow::Borrowed(ids),
        }
    }
}

/// A branch switch: the chat after it, whether the current leaf moved, and the active
/// path as it is then (oldest first, with files and siblings).
#[derive(Debug, Clone)]
pub struct Switched {
    pub chat: ChatRecord,
    pub moved: bool,
    pub path: Vec<MessageRecord>,
}

/// Where appended messages go in the chat's tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Under {
    /// Under the current leaf (a first message when the chat is empty).
    #[default]
    Current,
    /// Under this message, which must be one of the chat's.
    Message(i64),
    /// As a first message beside the existing ones (an edit of a first message).
    Root,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: i64,
    pub title: String,
    pub text: String,
    pub language: String,
    pub extension: String,
    pub user_id: Option<i64>,
    pub chat_id: i64,
    pub message_id: i64,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// API keys revoked, sessions revoked or expired, and chats erased, in a window of time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevokedCredentials {
    pub api_keys: Vec<Uuid>,
    /// Session token hashes (ended with their user's erasure too).
    pub sessions: Vec<Vec<u8>>,
    /// Chats erased with their user.
    pub erased_chats: Vec<ErasedChat>,
}

/// A chat erased with its user, as the revocation watcher learns of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedChat {
    pub id: i64,
    pub uuid: Uuid,
    /// Its version when erased.
    pub version: i64,
}

/// A message to append, with the code files already extracted from it.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub actor: Actor,
    pub text: MessageText,
    pub files: Vec<CodeFile>,
}

#[derive(Debug, Clone)]
pub struct Appended {
    pub chat: ChatRecord,
    pub messages: Vec<MessageRecord>,
}

/// The result of delete-last. Messages are listed without their files.
#[derive(Debug, Clone)]
pub enum DeleteLastOutcome {
    /// The chat has no messages; nothing changed.
    NoMessages,
    Deleted {
        chat: Box<ChatRecord>,
        /// The trailing `user` messages, oldest first.
        trailing: Vec<MessageRecord>,
        /// The last two messages before them: (`L[-2]`, `L[-1]`).
        exchange: Option<Box<(MessageRecord, MessageRecord)>>,
        /// Every message deleted: those above and the subtrees under them.
        removed: Vec<i64>,
    },
}

impl DeleteLastOutcome {
    /// Ids of every deleted message.
    pub fn deleted_ids(&self) -> Vec<i64> {
        match self {
            DeleteLastOutcome::NoMessages => Vec::new(),
            DeleteLastOutcome::Deleted { removed, .. } => removed.clone(),
        }
    }
}

/// A share link being created: its random id and the public answer it serves.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub id: String,
    pub snapshot: String,
}

/// What erasing a user deleted.
#[derive(Debug, Clone)]
pub struct ErasedUser {
    /// Their chats as they were (trashed ones too).
    pub chats: Vec<ChatRecord>,
    pub messages: i64,
    pub files: i64,
    pub shares: i64,
    /// Their sessions' token hashes.
    pub sessions: Vec<Vec<u8>>,
}

/// One batch of the sweeper's deletes.
#[derive(Debug, Clone)]
pub enum SweepBatch {
    /// Chats trashed before this moment.
    Trash {
        trashed_before: Timestamp,
        limit: u32,
    },
    /// A tenant's chats (trashed or not) last changed before this moment.
    Idle {
        tenant_id: Uuid,
        idle_before: Timestamp,
        limit: u32,
    },
}

/// A conversation to import (SPEC §10), validated: its messages each after their
/// parent, each no earlier than its parent.
#[derive(Debug, Clone)]
pub struct ImportChat {
    pub tenant_id: Uuid,
    pub user_id: Option<i64>,
    /// `<format>:<id>`: unique per tenant.
    pub source_id: String,
    /// Kept when no chat has it yet (confab exports); a new one otherwise.
    pub uuid: Option<Uuid>,
    pub name: ChatName,
    pub model: ModelName,
    pub metadata: Option<Metadata>,
    pub archived: bool,
    pub pinned: bool,
    pub tags: Tags,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub messages: Vec<ImportMessage>,
    /// The index of the active leaf in `messages`.
    pub current: Option<usize>,
}

/// One message of an [`ImportChat`].
#[derive(Debug, Clone)]
pub struct ImportMessage {
    /// The index of its parent in the chat's `messages` (smaller than its own).
    pub parent: Option<usize>,
    pub actor: Actor,
    pub text: MessageText,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// A generated reply's state (its model alone marks an imported assistant message).
    pub reply: Option<ReplyInfo>,
    /// Each file with its `(created_at, updated_at)`.
    pub files: Vec<(CodeFile, Timestamp, Timestamp)>,
}

/// What importing one conversation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    Stored {
        chat_id: i64,
        messages: usize,
    },
    /// The tenant has a chat from that source (or, for a confab export, that uuid).
    Duplicate,
}

/// Which chats an export reads next.
#[derive(Debug, Clone)]
pub struct ExportPage {
    pub tenant_id: Uuid,
    /// One user's chats only.
    pub user_id: Option<i64>,
    /// Chats changed at or after this only.
    pub since: Option<Timestamp>,
    /// The last chat id of the previous page (0 first).
    pub after: i64,
    pub limit: u32,
}
