//! Generate a reply (SPEC §8): append the user message (if any) and the reply row, and
//! produce the reply in a task of its own (`reply_task.rs`), which reads the history
//! (`history.rs`), calls the provider and outlives the request that started it.

use serde::Deserialize;

use super::error::ChatError;
use super::history::History;
use super::reply_task::{self, Job};
use super::Chats;
use crate::config::Limits;
use crate::domain::{Actor, MessageText, ModelName};
use crate::llm::Request;
use crate::store::{ChatRecord, ChatRef, MessageRecord, NewMessage, NewReply, Under};
use crate::views::frames;

/// Highest `max_tokens` a request may ask for.
const MAX_TOKENS_CAP: u32 = 1_000_000;

/// The body of a generate request, as sent (documented in `http::generate_body`).
#[derive(Deserialize)]
pub struct GenerateInput {
    pub message: Option<UserTurnInput>,
    pub parent_id: Option<i64>,
    pub model: Option<String>,
    pub system: Option<String>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
    pub stream: Option<bool>,
}

/// The user message to append before the reply.
#[derive(Deserialize)]
pub struct UserTurnInput {
    pub content: String,
    pub role: Option<String>,
}

/// A generate request, checked.
struct Generate {
    user: Option<NewMessage>,
    under: Under,
    model: Option<String>,
    system: Option<String>,
    temperature: Option<f64>,
    max_tokens: Option<u32>,
}

impl GenerateInput {
    /// Whether the caller wants the reply streamed (the default).
    pub fn streams(&self) -> bool {
        self.stream.unwrap_or(true)
    }

    fn parse(self, limits: &Limits) -> Result<Generate, ChatError> {
        let user = match self.message {
            Some(turn) => {
                if turn.role.as_deref().is_some_and(|role| role != "user") {
                    return Err(ChatError::invalid("message.role must be \"user\""));
                }
                Some(NewMessage {
                    actor: Actor::User,
                    text: MessageText::parse(turn.content, limits.max_message_bytes)?,
                    files: Vec::new(),
                })
            }
            None => None,
        };
        let under = match self.parent_id {
            Some(id) if id > 0 => Under::Message(id),
            Some(_) => return Err(ChatError::invalid("parent_id must be a positive integer")),
            None => Under::Current,
        };
        let model = match self.model.filter(|m| !m.is_empty()) {
            Some(model) => Some(ModelName::parse(&model)?.as_str().to_owned()),
            None => None,
        };
        if let Some(system) = &self.system {
            if system.len() > limits.max_message_bytes {
                return Err(ChatError::invalid(format!(
                    "system must be at most {} bytes",
                    limits.max_message_bytes
                )));
            }
        }
        if let Some(t) = self.temperature {
            if !(0.0..=2.0).contains(&t) {
                return Err(ChatError::invalid("temperature must be between 0 and 2"));
            }
        }
        if let Some(n) = self.max_tokens {
            if n == 0 || n > MAX_TOKENS_CAP {
                return Err(ChatError::invalid(format!(
                    "max_tokens must be between 1 and {MAX_TOKENS_CAP}"
                )));
            }
        }
        Ok(Generate {
            user,
            under,
            model,
            system: self.system.filter(|s| !s.is_empty()),
            temperature: self.temperature,
            max_tokens: self.max_tokens,
        })
    }
}

/// A reply that has started: the messages appended (the user's, if any, then the reply).
pub struct Started {
    pub chat: ChatRecord,
    pub messages: Vec<MessageRecord>,
    /// The reply's id (the last of `messages`).
    pub reply_id: i64,
}

impl Chats {
    /// Starts a reply; it is generated in the background and published as it grows.
    pub async fn generate(
        &self,
        chat: &ChatRef,
        input: GenerateInput,
    ) -> Result<Started, ChatError> {
        let llm = self.llm.clone().ok_or(ChatError::LlmNotConfigured)?;
        let input = input.parse(&self.limits)?;
        let slot = llm.slot().ok_or(ChatError::TooManyGenerations)?;
        let current = self.store.get_chat(chat).await?;
        let model = input
            .model
            .or_else(|| Some(current.model.clone()).filter(|m| !m.is_empty()))
            .or_else(|| llm.default_model.clone())
            .ok_or_else(|| {
                ChatError::invalid(
                    "no model: name one (model), give the chat one, or start the server \
                     with --llm-default-model",
                )
            })?;
        let flusher = self.flusher.clone().ok_or(ChatError::LlmNotConfigured)?;
        let node = self.events.node_id().to_owned();
        let appended = self
            .store
            .start_reply(
                chat,
                input.under,
                input.user,
                NewReply {
                    model: model.clone(),
                    node,
                },
            )
            .await?;
        let (reply_id, parent) = appended
            .messages
            .last()
            .map(|reply| (reply.id, reply.parent_id))
            .ok_or_else(|| ChatError::invalid("no reply was started"))?;
        // From the commit on, nothing may stop the reply's task from starting (a dropped
        // request would leave the reply `generating`): no await until it is spawned.
        let stop = self.events.streams().produce(reply_id);
        let request = Request {
            model,
            messages: Vec::new(),
            temperature: input.temperature,
            max_tokens: input.max_tokens,
        };
        let budget = llm.context_tokens;
        tokio::spawn(reply_task::run(Job {
            store: self.store.clone(),
            events: self.events.clone(),
            flusher,
            created: frames::messages_created(&appended.chat, &appended.messages),
            llm,
            chat: appended.chat.clone(),
            message_id: reply_id,
            history: History {
                chat: *chat,
                parent,
                system: input.system,
                budget,
            },
            request,
            max_bytes: self.limits.max_message_bytes,
            stop,
            slot,
        }));
        Ok(Started {
            chat: appended.chat,
            messages: appended.messages,
            reply_id,
        })
    }
}
