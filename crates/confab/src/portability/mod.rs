//! Export and import formats (SPEC §10): other apps' exports read into [`Conversation`]s,
//! and confab's own NDJSON both ways.
//!
//! This layer only reads and writes formats: it knows nothing of the store or of HTTP.
//! Each importer turns one conversation of its format into a [`Conversation`]: a tree of
//! messages in plain values, parents before children. `chats::import` validates it
//! against the server's limits and stores it in one transaction.

pub mod chatgpt;
pub mod confab;
pub mod openwebui;
mod probe;
pub mod reader;
mod tree_walk;
mod zip_limits;

use crate::domain::{Actor, Timestamp};
use uuid::Uuid;

/// The formats `confab import` and `POST /api/v1/import` read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// ChatGPT's data export: `conversations.json`, the ZIP, or `conversations-NNN.json`
    /// shards in the ZIP.
    ChatGpt,
    /// Open WebUI's chat export: a JSON array of chats (or one chat).
    OpenWebUi,
    /// confab's own NDJSON export.
    Confab,
}

impl ImportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "chatgpt" => Some(ImportFormat::ChatGpt),
            "openwebui" => Some(ImportFormat::OpenWebUi),
            "confab" => Some(ImportFormat::Confab),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ImportFormat::ChatGpt => "chatgpt",
            ImportFormat::OpenWebUi => "openwebui",
            ImportFormat::Confab => "confab",
        }
    }
}

/// One conversation of an export, read but not yet validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// What makes an import idempotent: `"<format>:<the source's id>"` (a confab export
    /// keeps the `source_id` its chat was imported with).
    pub source_id: String,
    /// confab exports only: the chat's uuid, kept when no chat has it yet.
    pub uuid: Option<Uuid>,
    pub title: Option<String>,
    pub model: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub archived: bool,
    pub pinned: bool,
    pub tags: Vec<String>,
    /// confab exports only: the tenant's metadata object, as JSON text.
    pub metadata: Option<String>,
    /// Every message kept, each parent before its children.
    pub messages: Vec<ConversationMessage>,
    /// The index in `messages` of the active branch's leaf; `None` when there are no
    /// messages.
    pub current: Option<usize>,
}

/// One message of a [`Conversation`].
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationMessage {
    /// The index in the conversation's `messages` of its parent (always smaller than
    /// its own); `None` for a first message.
    pub parent: Option<usize>,
    pub actor: Actor,
    pub text: String,
    /// Missing times are filled in from the parent (or the conversation) on import, so
    /// the order holds.
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// The model that wrote it (assistant messages).
    pub model: Option<String>,
    /// confab exports only: the files as they were. `None`: the code blocks of an
    /// assistant message become its files, as when it is posted.
    pub files: Option<Vec<ConversationFile>>,
    /// confab exports only: a generated reply's state.
    pub reply: Option<ReplyState>,
}

/// A file of a message, as a confab export has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationFile {
    pub title: String,
    pub text: String,
    pub language: String,
    pub extension: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A generated reply's state, as a confab export has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyState {
    /// `complete`, `stopped`, `failed` or `interrupted` (one exported while
    /// `generating` is imported `interrupted`: nothing generates it any more).
    pub status: String,
    pub usage: Option<(i64, i64)>,
    pub error: Option<(String, String)>,
}

/// A conversation that cannot be imported: reported, never fatal to the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationError {
    /// The source's id for it, or `"#N"` (its position in the file, from 0) when it has
    /// none.
    pub source_id: String,
    pub message: String,
}

impl ConversationError {
    pub fn new(source_id: impl Into<String>, message: impl Into<String>) -> Self {
        ConversationError {
            source_id: source_id.into(),
            message: message.into(),
        }
    }
}

/// Seconds since the epoch (a float, as ChatGPT and Open WebUI write them) to a
/// timestamp; `None` for a missing, non-finite or out-of-range value. Values above
/// 10^11 are taken for milliseconds (some Open WebUI versions write those).
pub fn epoch_seconds(value: &serde_json::Value) -> Option<Timestamp> {
    let seconds = value.as_f64().filter(|s| s.is_finite() && *s >= 0.0)?;
    let seconds = if seconds > 1e11 {
        seconds / 1000.0
    } else {
        seconds
    };
    if seconds > 253_402_300_799.0 {
        return None; // after 9999-12-31
    }
    Some(Timestamp((seconds * 1_000_000.0).round() as i64))
}
