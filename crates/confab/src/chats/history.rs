//! The history a reply is generated from: the active path up to the reply's parent, as
//! OpenAI `messages`, the system prompt first, the oldest left out to fit the budget.

use super::error::ChatError;
use crate::domain::Actor;
use crate::llm::{tokens, Turn};
use crate::store::{ChatRef, MessageRecord, Store};

/// What to read the history of.
pub(super) struct History {
    pub chat: ChatRef,
    /// The reply's parent: the history ends with it.
    pub parent: Option<i64>,
    pub system: Option<String>,
    /// `--llm-context-tokens`.
    pub budget: usize,
}

impl History {
    pub async fn turns(self, store: &dyn Store) -> Result<Vec<Turn>, ChatError> {
        let (_, tree) = store.list_tree(&self.chat).await?;
        let by_id: std::collections::HashMap<i64, &MessageRecord> =
            tree.iter().map(|m| (m.id, m)).collect();
        let mut path = Vec::new();
        let mut next = self.parent;
        while let Some(id) = next {
            let Some(message) = by_id.get(&id) else { break };
            path.push(*message);
            next = message.parent_id;
        }
        path.reverse();
        let texts: Vec<String> = path.iter().map(|m| m.message.clone()).collect();
        let roles: Vec<&'static str> = path.iter().map(|m| role_of(m.actor)).collect();
        let (system, budget) = (self.system, self.budget);
        // Counting tokens is CPU work on long histories: off the async executor.
        tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let fixed = system.as_deref().map_or(0, tokens::count);
            let drop = tokens::oldest_to_drop(&refs, fixed, budget);
            let mut turns = Vec::with_capacity(texts.len() + 1 - drop);
            if let Some(system) = system {
                turns.push(Turn {
                    role: "system",
                    content: system,
                });
            }
            for (content, role) in texts.into_iter().zip(roles).skip(drop) {
                turns.push(Turn { role, content });
            }
            turns
        })
        .await
        .map_err(|error| ChatError::invalid(format!("counting tokens failed: {error}")))
    }
}

/// The OpenAI role of a message's actor.
fn role_of(actor: Actor) -> &'static str {
    match actor {
        Actor::User => "user",
        Actor::Assistant => "assistant",
        Actor::System => "system",
    }
}
