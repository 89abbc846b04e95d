//! The message-posting body both APIs accept: one `{"message","actor"}` or a batch
//! `{"messages":[{"content","role"}...]}` (batch items may also say `message`/`actor`).

use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::AppState;
use crate::config::Limits;
use crate::domain::{code_blocks, Actor, MessageText};
use crate::events::ChatEvent;
use crate::store::{Appended, ChatRef, NewMessage};

/// What a message post's body holds, as sent: the two forms are told apart in
/// [`PostMessagesBody::parse`], so a mixed or partial body gets a precise 400.
#[derive(Deserialize)]
pub struct PostMessagesBody {
    /// Text of a single message.
    message: Option<String>,
    /// Author of a single message: `user`, `assistant` or `system`.
    actor: Option<String>,
    /// A batch, stored atomically in order.
    messages: Option<Vec<BatchItem>>,
}

#[derive(Deserialize)]
pub struct BatchItem {
    #[serde(alias = "message")]
    content: String,
    #[serde(alias = "actor")]
    role: String,
}

/// The documented body of a message post: one message, or a batch.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PostMessages {
    Single(SingleMessage),
    Batch(MessageBatch),
}

/// One message.
#[derive(Deserialize, ToSchema)]
pub struct SingleMessage {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub message: String,
    pub actor: Actor,
}

/// A batch, stored atomically in order (at most `--max-batch-messages`, default 100).
#[derive(Deserialize, ToSchema)]
pub struct MessageBatch {
    #[schema(min_items = 1, max_items = 100)]
    pub messages: Vec<MessageBatchItem>,
}

/// One message of a batch (`message`/`actor` are accepted as aliases).
#[derive(Deserialize, ToSchema)]
pub struct MessageBatchItem {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub content: String,
    pub role: Actor,
}

/// What the caller posted, validated, with code files extracted.
pub struct ParsedMessages {
    pub messages: Vec<NewMessage>,
    /// Whether the caller used the batch form (decides the response shape).
    pub batch: bool,
}

impl PostMessagesBody {
    pub fn parse(self, limits: &Limits) -> Result<ParsedMessages, ApiError> {
        match (self.message, self.actor, self.messages) {
            (Some(message), Some(actor), None) => Ok(ParsedMessages {
                messages: vec![new_message(message, &actor, limits, None)?],
                batch: false,
            }),
            (None, None, Some(items)) => {
                if items.is_empty() {
                    return Err(ApiError::validation("messages must not be empty"));
                }
                if items.len() > limits.max_batch_messages {
                    return Err(ApiError::validation(format!(
                        "a batch holds at most {} messages",
                        limits.max_batch_messages
                    )));
                }
                let messages = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| new_message(item.content, &item.role, limits, Some(i)))
                    .collect::<Result<_, _>>()?;
                Ok(ParsedMessages {
                    messages,
                    batch: true,
                })
            }
            (Some(_), None, None) => Err(ApiError::validation("missing field `actor`")),
            (None, Some(_), None) => Err(ApiError::validation("missing field `message`")),
            (None, None, None) => Err(ApiError::validation(
                "expected {\"message\", \"actor\"} or {\"messages\": [{\"content\", \"role\"}]}",
            )),
            _ => Err(ApiError::validation(
                "send either {\"message\", \"actor\"} or {\"messages\": [...]}, not both",
            )),
        }
    }
}

fn new_message(
    text: String,
    actor: &str,
    limits: &Limits,
    index: Option<usize>,
) -> Result<NewMessage, ApiError> {
    let at = |e: crate::domain::ValueError| match index {
        Some(i) => ApiError::validation(format!("messages[{i}]: {e}")),
        None => ApiError::validation(e.0),
    };
    let actor = Actor::parse(actor).map_err(at)?;
    let text = MessageText::parse(text, limits.max_message_bytes).map_err(at)?;
    let files = if actor == Actor::Assistant {
        code_blocks::extract(text.as_str())
    } else {
        Vec::new()
    };
    Ok(NewMessage { actor, text, files })
}

/// Posting for either API: validate, append atomically, publish the change. Returns what
/// was stored and whether the caller used the batch form (which decides the body shape).
pub async fn append_and_publish(
    state: &AppState,
    chat: &ChatRef,
    body: PostMessagesBody,
) -> Result<(Appended, bool), ApiError> {
    let parsed = body.parse(&state.config.limits)?;
    let appended = state.store.append_messages(chat, parsed.messages).await?;
    state
        .events
        .publish(ChatEvent::messages_created(
            &appended.chat,
            &appended.messages,
        ))
        .await;
    Ok((appended, parsed.batch))
}
