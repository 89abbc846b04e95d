//! The operations of SPEC §6 on both APIs: edit (a new sibling that becomes the current
//! leaf), branch switch (to the newest leaf of a subtree, answering the new path) and
//! reading the whole tree.

use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::{message_text, Content};
use super::{Run, Step};
use crate::support::tree::Node;
use crate::support::user_error;

/// The tenant API's page size when a request gives no `limit`.
const DEFAULT_PAGE: usize = 20;

impl Run<'_> {
    /// A message id for an edit or a switch on chat `c`: mostly one of its own, else one
    /// that is not (another chat's, another user's or tenant's, deleted, never used).
    fn message_to_name(&mut self, c: usize) -> i64 {
        match self.own_message(c) {
            Some(id) if self.rng.gen_bool(0.8) => id,
            _ => self.foreign_message(c),
        }
    }

    pub(super) async fn edit(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let mid = self.message_to_name(c);
        let Some(mut target) = self.target(c, "/messages/") else {
            return Ok(());
        };
        // Rarely an id that is no positive integer (only where the chat may be seen: the
        // order of the checks is not the point).
        let malformed = target.allowed && self.rng.gen_bool(0.05);
        if malformed {
            target
                .path
                .push_str(["0", "abc", "-2"][self.rng.gen_range(0..3)]);
        } else {
            target.path.push_str(&mid.to_string());
        }
        let original = self.model.chats[c].tree.get(mid).cloned();
        let blank = target.allowed && !malformed && original.is_some() && self.rng.gen_bool(0.1);
        let n = self.next();
        let (text, files) = message_text(&mut self.rng, n);
        let field = if self.rng.gen_bool(0.8) {
            "message"
        } else {
            "content"
        };
        let mut body = json!({});
        if blank {
            if self.rng.gen_bool(0.5) {
                body[field] = json!(" \n ");
            }
        } else {
            body[field] = json!(text);
        }
        let (status, answer) = self
            .call(Method::PATCH, &target.path, &target.auth, Some(body))
            .await;
        if malformed {
            return Self::bad_request(&target, status, &answer, "invalid_message_id");
        }
        if !target.allowed {
            return Self::chat_not_found(&target, status, &answer, "edit");
        }
        let Some(original) = original else {
            if target.user_api {
                ensure!(
                    (status, &answer)
                        == (StatusCode::NOT_FOUND, &user_error(404, "Message not found")),
                    "edit of message {mid}, not in the chat: {status} {answer}"
                );
            } else {
                ensure!(
                    status == StatusCode::NOT_FOUND
                        && answer["error"]["code"] == "message_not_found",
                    "tenant edit of message {mid}, not in the chat: {status} {answer}"
                );
            }
            return Ok(());
        };
        if blank {
            return Self::bad_request(&target, status, &answer, "validation_error");
        }
        ensure!(status == StatusCode::OK, "edit: {status} {answer}");
        let shown = if target.user_api {
            &answer["chatMessage"]
        } else {
            &answer["data"]
        };
        let id = self.fresh_message_id(shown)?;
        self.learn_chat_id(c, shown)?;
        // A sibling of the original: same parent, same actor, the new text's files.
        let edited = Node {
            parent: original.parent,
            actor: original.actor,
            data: Content {
                text,
                files: if original.actor == "assistant" {
                    files
                } else {
                    Vec::new()
                },
            },
        };
        self.model.chats[c].tree.add(id, edited.clone());
        self.check_message(shown, id, &edited, &self.model.chats[c], true)
    }

    pub(super) async fn switch(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let x = self.message_to_name(c);
        let Some(mut target) = self.target(c, "/current") else {
            return Ok(());
        };
        // The tenant API answers a first page: the default size, or a given `limit`.
        let mut limit = DEFAULT_PAGE;
        if !target.user_api && self.rng.gen_bool(0.5) {
            limit = self.rng.gen_range(1..=4);
            target.path.push_str(&format!("?limit={limit}"));
        }
        let malformed = target.allowed && self.rng.gen_bool(0.05);
        let body = if malformed {
            [
                json!({}),
                json!({"message_id": "1"}),
                json!({"message_id": -1}),
            ][self.rng.gen_range(0..3)]
            .clone()
        } else {
            json!({ "message_id": x })
        };
        let (status, answer) = self
            .call(Method::PUT, &target.path, &target.auth, Some(body))
            .await;
        if malformed {
            return Self::bad_request(&target, status, &answer, "validation_error");
        }
        if !target.allowed {
            return Self::chat_not_found(&target, status, &answer, "switch");
        }
        let Some(leaf) = self.model.chats[c].tree.newest_leaf(x) else {
            return Self::bad_request(&target, status, &answer, "invalid_message_id");
        };
        ensure!(status == StatusCode::OK, "switch to {x}: {status} {answer}");
        self.model.chats[c].tree.current = Some(leaf);
        let chat = &self.model.chats[c];
        if target.user_api {
            let path = answer["chatMessages"]
                .as_array()
                .ok_or(format!("no chatMessages in {answer}"))?;
            self.check_path(path, chat)
        } else {
            self.check_first_page(&answer, limit, chat)
        }
    }

    pub(super) async fn tree(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let Some(target) = self.target(c, "/tree") else {
            return Ok(());
        };
        let (status, answer) = self
            .call(Method::GET, &target.path, &target.auth, None)
            .await;
        if !target.allowed {
            return Self::chat_not_found(&target, status, &answer, "tree");
        }
        ensure!(status == StatusCode::OK, "tree: {status} {answer}");
        let messages: &Value = if target.user_api {
            &answer["chatMessages"]
        } else {
            &answer["data"]
        };
        self.check_tree(&answer, messages, &self.model.chats[c])
    }
}
