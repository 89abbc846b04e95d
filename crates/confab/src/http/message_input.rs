//! The message-posting body both APIs accept: one message or a batch
//! `{"messages":[...]}`. A message is spelled either `{"message","actor"}` or
//! `{"content","role"}`, in both forms; one message mixing the two spellings is a 400.

use serde::Deserialize;
use utoipa::ToSchema;

use super::error::ApiError;
use super::AppState;
use crate::config::Limits;
use crate::domain::{code_blocks, Actor, MessageText};
use crate::events::ChatEvent;
use crate::store::{Appended, ChatRef, NewMessage};

/// What a message post's body holds, as sent: the forms and spellings are told apart
/// in [`PostMessagesBody::parse`], so a mixed or partial body gets a precise 400.
#[derive(Deserialize)]
pub struct PostMessagesBody {
    // A single message's fields, in either spelling (no `flatten`: it would buffer the body).
    message: Option<String>,
    actor: Option<String>,
    content: Option<String>,
    role: Option<String>,
    /// A batch, stored atomically in order.
    messages: Option<Vec<SpelledMessage>>,
}

/// One message's fields in either spelling, as sent.
#[derive(Deserialize)]
pub struct SpelledMessage {
    message: Option<String>,
    actor: Option<String>,
    content: Option<String>,
    role: Option<String>,
}

impl SpelledMessage {
    /// `(text, actor)`, `None` when no field is there, or why the fields do not make one
    /// message.
    fn resolve(self) -> Result<Option<(String, String)>, &'static str> {
        match (self.message, self.actor, self.content, self.role) {
            (None, None, None, None) => Ok(None),
            (Some(text), Some(actor), None, None) | (None, None, Some(text), Some(actor)) => {
                Ok(Some((text, actor)))
            }
            (message, actor, content, role)
                if (message.is_some() || actor.is_some()) && (content.is_some() || role.is_some()) =>
            {
                Err("spell a message either {\"message\", \"actor\"} or {\"content\", \"role\"}, not a mix")
            }
            (Some(_), None, ..) => Err("missing field `actor`"),
            (None, Some(_), ..) => Err("missing field `message`"),
            (.., Some(_), None) => Err("missing field `role`"),
            (.., None, Some(_)) => Err("missing field `content`"),
            // Every other combination was matched above.
            _ => Err("missing field `content`"),
        }
    }
}

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
}

/// A message spelled `{"content","role"}`.
#[derive(Deserialize, ToSchema)]
pub struct ContentRole {
    /// The text (not empty, no NUL characters).
    #[schema(min_length = 1, pattern = r"^[^\u0000]+$")]
    pub content: String,
    pub role: Actor,
}

/// A batch, stored atomically in order (at most `--max-batch-messages`, default 100).
#[derive(Deserialize, ToSchema)]
pub struct MessageBatch {
    #[schema(min_items = 1, max_items = 100)]
    pub messages: Vec<SingleMessage>,
}

/// What the caller posted, validated, with code files extracted.
pub struct ParsedMessages {
    pub messages: Vec<NewMessage>,
    /// Whether the caller used the batch form (decides the response shape).
    pub batch: bool,
}

impl PostMessagesBody {
    pub fn parse(self, limits: &Limits) -> Result<ParsedMessages, ApiError> {
        let single = SpelledMessage {
            message: self.message,
            actor: self.actor,
            content: self.content,
            role: self.role,
        };
        let single = single.resolve().map_err(ApiError::validation)?;
        match (single, self.messages) {
            (Some((text, actor)), None) => Ok(ParsedMessages {
                messages: vec![new_message(text, &actor, limits, None)?],
                batch: false,
            }),
            (None, Some(items)) => {
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
                    .map(|(i, item)| match item.resolve() {
                        Ok(Some((text, actor))) => new_message(text, &actor, limits, Some(i)),
                        Ok(None) => Err(ApiError::validation(format!(
                            "messages[{i}]: missing field `content`"
                        ))),
                        Err(why) => Err(ApiError::validation(format!("messages[{i}]: {why}"))),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(ParsedMessages {
                    messages,
                    batch: true,
                })
            }
            (None, None) => Err(ApiError::validation(
                "expected {\"message\", \"actor\"} or {\"messages\": [{\"content\", \"role\"}]}",
            )),
            (Some(_), Some(_)) => Err(ApiError::validation(
                "send either one message or {\"messages\": [...]}, not both",
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
