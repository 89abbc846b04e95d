//! The message-posting input both APIs accept: one message or a batch
//! `{"messages":[...]}`. A message is spelled either `{"message","actor"}` or
//! `{"content","role"}`, in both forms; one message mixing the two spellings is refused.
//! (Its documented schema is `http::message_body`.)

use serde::Deserialize;

use super::error::ChatError;
use crate::config::Limits;
use crate::domain::{code_blocks, Actor, MessageText};
use crate::store::{NewMessage, Under};

/// What a message post's body holds, as sent: the forms and spellings are told apart
/// when it is parsed (below), so a mixed or partial body gets a precise refusal.
#[derive(Deserialize)]
pub struct MessagesInput {
    // A single message's fields, in either spelling (no `flatten`: it would buffer the body).
    message: Option<String>,
    actor: Option<String>,
    content: Option<String>,
    role: Option<String>,
    /// A batch, stored atomically in order.
    messages: Option<Vec<SpelledMessage>>,
    /// Where the (first) message goes in the tree; the current leaf when absent or null.
    parent_id: Option<i64>,
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

/// What the caller posted, validated, with code files extracted.
pub(super) struct ParsedMessages {
    pub messages: Vec<NewMessage>,
    /// Whether the caller used the batch form (decides the response shape).
    pub batch: bool,
    /// Where the first message goes.
    pub under: Under,
}

impl MessagesInput {
    pub(super) fn parse(self, limits: &Limits) -> Result<ParsedMessages, ChatError> {
        let under = match self.parent_id {
            None => Under::Current,
            Some(id) if id > 0 => Under::Message(id),
            Some(_) => return Err(ChatError::invalid("parent_id must be a positive integer")),
        };
        let single = SpelledMessage {
            message: self.message,
            actor: self.actor,
            content: self.content,
            role: self.role,
        };
        let single = single.resolve().map_err(ChatError::invalid)?;
        match (single, self.messages) {
            (Some((text, actor)), None) => Ok(ParsedMessages {
                messages: vec![new_message(text, &actor, limits, None)?],
                batch: false,
                under,
            }),
            (None, Some(items)) => {
                if items.is_empty() {
                    return Err(ChatError::invalid("messages must not be empty"));
                }
                if items.len() > limits.max_batch_messages {
                    return Err(ChatError::invalid(format!(
                        "a batch holds at most {} messages",
                        limits.max_batch_messages
                    )));
                }
                let messages = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| match item.resolve() {
                        Ok(Some((text, actor))) => new_message(text, &actor, limits, Some(i)),
                        Ok(None) => Err(ChatError::invalid(format!(
                            "messages[{i}]: missing field `content`"
                        ))),
                        Err(why) => Err(ChatError::invalid(format!("messages[{i}]: {why}"))),
                    })
                    .collect::<Result<_, _>>()?;
                Ok(ParsedMessages {
                    messages,
                    batch: true,
                    under,
                })
            }
            (None, None) => Err(ChatError::invalid(
                "expected {\"message\", \"actor\"} or {\"messages\": [{\"content\", \"role\"}]}",
            )),
            (Some(_), Some(_)) => Err(ChatError::invalid(
                "send either one message or {\"messages\": [...]}, not both",
            )),
        }
    }
}

/// An edit's body: the new text, as `message` or `content`.
#[derive(Deserialize)]
pub struct EditInput {
    message: Option<String>,
    content: Option<String>,
}

impl EditInput {
    pub(super) fn parse(self, limits: &Limits) -> Result<MessageText, ChatError> {
        let text = match (self.message, self.content) {
            (Some(text), None) | (None, Some(text)) => text,
            (None, None) => return Err(ChatError::invalid("missing field `message`")),
            (Some(_), Some(_)) => {
                return Err(ChatError::invalid("send `message` or `content`, not both"))
            }
        };
        if text.trim().is_empty() {
            return Err(ChatError::invalid("message must not be blank"));
        }
        Ok(MessageText::parse(text, limits.max_message_bytes)?)
    }
}

/// A branch switch's body: `{"message_id": X}`.
#[derive(Deserialize)]
pub struct SwitchInput {
    message_id: Option<i64>,
}

impl SwitchInput {
    pub(super) fn parse(self) -> Result<i64, ChatError> {
        self.message_id
            .filter(|id| *id > 0)
            .ok_or_else(|| ChatError::invalid("message_id must be a positive integer"))
    }
}

fn new_message(
    text: String,
    actor: &str,
    limits: &Limits,
    index: Option<usize>,
) -> Result<NewMessage, ChatError> {
    let at = |e: crate::domain::ValueError| match index {
        Some(i) => ChatError::invalid(format!("messages[{i}]: {e}")),
        None => ChatError::invalid(e.0),
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
