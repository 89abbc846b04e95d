//! The documented body of a message post (OpenAPI only): one message or a batch, each
//! message spelled `{"message","actor"}` or `{"content","role"}`. The body is read and
//! checked by [`crate::chats::input::MessagesInput`].

use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::Actor;

/// The documented body of a message post: one message, or a batch.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PostMessages {
    Single(SingleMessage),
    Batch(MessageBatch),
}

/// One message, in either spelling (both are accepted in both forms).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum SingleMessage {
    MessageActor(MessageActor),
    ContentRole(ContentRole),
}

/// A message spelled `{"message","actor"}`.
#[derive(Deserialize, ToSchema)]
pub struct MessageActor {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub message: String,
    pub actor: Actor,
    /// The message it follows; the chat's current leaf when absent.
    #[schema(minimum = 1)]
    pub parent_id: Option<i64>,
}

/// A message spelled `{"content","role"}`.
#[derive(Deserialize, ToSchema)]
pub struct ContentRole {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub content: String,
    pub role: Actor,
    /// The message it follows; the chat's current leaf when absent.
    #[schema(minimum = 1)]
    pub parent_id: Option<i64>,
}

/// A batch, stored atomically in order (at most `--max-batch-messages`, default 100).
#[derive(Deserialize, ToSchema)]
pub struct MessageBatch {
    #[schema(min_items = 1, max_items = 100)]
    pub messages: Vec<SingleMessage>,
    /// The message the first one follows (each further one follows the one before); the
    /// chat's current leaf when absent. Only read at the top level.
    #[schema(minimum = 1)]
    pub parent_id: Option<i64>,
}

/// An edit: the new text of the message (`content` is accepted too).
#[derive(Deserialize, ToSchema)]
pub struct EditMessage {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub message: String,
}

/// A branch switch: the message whose newest leaf becomes current.
#[derive(Deserialize, ToSchema)]
pub struct SwitchBranch {
    #[schema(minimum = 1)]
    pub message_id: i64,
}

/// A generate request (read and checked by [`crate::chats::generate::GenerateInput`]).
#[derive(Deserialize, ToSchema)]
pub struct GenerateReply {
    /// A user message to append first; the reply answers it. Absent: regenerate, a new
    /// reply under `parent_id` (default: the current leaf, which must be a user message).
    pub message: Option<GenerateUserMessage>,
    /// The message the user message (or, without one, the reply) goes under.
    #[schema(minimum = 1)]
    pub parent_id: Option<i64>,
    /// The model; default: the chat's, then the server's `--llm-default-model`.
    #[schema(max_length = 255)]
    pub model: Option<String>,
    /// A system prompt sent first (not stored).
    pub system: Option<String>,
    #[schema(minimum = 0, maximum = 2)]
    pub temperature: Option<f64>,
    #[schema(minimum = 1, maximum = 1_000_000)]
    pub max_tokens: Option<u32>,
    /// `true` (default): answer `text/event-stream`; `false`: wait and answer the final
    /// message (201), or 502 when the reply failed.
    pub stream: Option<bool>,
}

/// The user message of a generate request.
#[derive(Deserialize, ToSchema)]
pub struct GenerateUserMessage {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub content: String,
    /// Only `user`.
    #[schema(example = "user")]
    pub role: Option<String>,
}
