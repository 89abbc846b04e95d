//! SPEC §8 in the model: a generated reply (`stream: false`, the double's `echo` model,
//! which answers the user message's text word for word) is a user message and an
//! assistant reply under it, with the reply's code files, `complete`, its model named.

use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::{message_text, Content};
use super::{Run, Step};
use crate::support::tree::Node;

impl Run<'_> {
    pub(super) async fn generate(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let Some(target) = self.target(c, "/generate") else {
            return Ok(());
        };
        let n = self.next();
        let (text, files) = message_text(&mut self.rng, n);
        let mut body = json!({"message": {"content": text, "role": "user"}, "model": "echo",
                              "stream": false});
        // Under a message of the chat, or one of another chat (refused), or the leaf.
        let parent = match self.rng.gen_range(0..10) {
            0..=1 => self.own_message(c),
            2 if target.allowed => Some(self.foreign_message(c)),
            _ => None,
        };
        let foreign = parent.is_some_and(|id| !self.model.chats[c].tree.contains(id));
        if let Some(id) = parent {
            body["parent_id"] = json!(id);
        }
        let (status, answer) = self
            .call(Method::POST, &target.path, &target.auth, Some(body))
            .await;
        if !target.allowed {
            return Self::chat_not_found(&target, status, &answer, "generate");
        }
        if foreign {
            return Self::bad_request(&target, status, &answer, "invalid_parent_id");
        }
        ensure!(status == StatusCode::CREATED, "generate: {status} {answer}");
        let shown: Value = if target.user_api {
            answer["chatMessage"].clone()
        } else {
            answer["data"].clone()
        };
        ensure!(
            shown["status"] == "complete" && shown["model"] == "echo",
            "a generated reply is complete and names its model: {shown}"
        );
        // The user message is the reply's parent: its id comes before the reply's.
        let user_id = self.fresh_message_id(&json!({"id": shown["parent_id"]}))?;
        let reply_id = self.fresh_message_id(&shown)?;
        self.learn_chat_id(c, &shown)?;
        let under = parent.or(self.model.chats[c].tree.current);
        let tree = &mut self.model.chats[c].tree;
        tree.add(
            user_id,
            Node {
                parent: under,
                actor: "user",
                data: Content {
                    text: text.clone(),
                    files: Vec::new(),
                },
            },
        );
        let reply = Node {
            parent: Some(user_id),
            actor: "assistant",
            data: Content { text, files },
        };
        tree.add(reply_id, reply.clone());
        self.check_message(&shown, reply_id, &reply, &self.model.chats[c], true)
    }
}
