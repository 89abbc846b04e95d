//! Operations on messages (SPEC §2/§3 over the tree of §6): posting under the current
//! leaf or a named parent, delete-last on the active path, listing the path and its files.

use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::{message_text, Content, FileSpec};
use super::{Run, Step};
use crate::support::tree::Node;
use crate::support::user_error;

/// Which `parent_id` a post names.
#[derive(Debug, Clone, Copy)]
enum Parent {
    /// None: the message goes under the current leaf.
    Absent,
    /// `"parent_id": null`: the same.
    Null,
    /// A message of this chat.
    Own(i64),
    /// An id that is not a message of this chat: 400.
    Foreign(i64),
    /// Not a positive integer: 400.
    Malformed(i64),
}

impl Run<'_> {
    /// An id that is no message of chat `c`: another chat's (maybe another user's or
    /// tenant's), a deleted one, or one never used.
    pub(super) fn foreign_message(&mut self, c: usize) -> i64 {
        let mut ids: Vec<i64> = self
            .model
            .chats
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != c)
            .flat_map(|(_, chat)| chat.tree.messages.keys().copied())
            .chain(self.model.gone_messages.iter().copied())
            .collect();
        ids.push(i64::from(i32::MAX));
        ids[self.rng.gen_range(0..ids.len())]
    }

    /// A message of chat `c`, if it has any.
    pub(super) fn own_message(&mut self, c: usize) -> Option<i64> {
        let ids: Vec<i64> = self.model.chats[c].tree.messages.keys().copied().collect();
        (!ids.is_empty()).then(|| ids[self.rng.gen_range(0..ids.len())])
    }

    fn pick_parent(&mut self, c: usize, allowed: bool) -> Parent {
        match self.rng.gen_range(0..20) {
            0..=9 => Parent::Absent,
            10..=11 => Parent::Null,
            12..=16 => self.own_message(c).map_or(Parent::Absent, Parent::Own),
            17..=18 => Parent::Foreign(self.foreign_message(c)),
            // Only where the chat may be seen: which check comes first is not the point.
            _ if allowed => Parent::Malformed([0, -3][self.rng.gen_range(0..2)]),
            _ => Parent::Absent,
        }
    }

    pub(super) async fn post_messages(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let count = if self.rng.gen_bool(0.6) {
            1
        } else {
            self.rng.gen_range(2..=4)
        };
        let invalid = self.rng.gen_bool(0.1);
        let mut batch: Vec<(&'static str, String, Vec<FileSpec>)> = Vec::new();
        for i in 0..count {
            let actor =
                ["user", "user", "assistant", "assistant", "system"][self.rng.gen_range(0..5)];
            let n = self.next();
            let (text, files) = message_text(&mut self.rng, n);
            let actor = if invalid && i == count - 1 {
                "robot"
            } else {
                actor
            };
            batch.push((
                actor,
                text,
                if actor == "assistant" { files } else { vec![] },
            ));
        }
        let single = count == 1 && self.rng.gen_bool(0.7);
        // Through the user API as some user, or the tenant API with some tenant's key.
        let Some(target) = self.target(c, "/messages") else {
            return Ok(());
        };
        let parent = self.pick_parent(c, target.allowed);
        let mut body = if single {
            json!({"message": batch[0].1, "actor": batch[0].0})
        } else {
            json!({"messages": batch.iter().map(|(a, t, _)| json!({"content": t, "role": a})).collect::<Vec<_>>()})
        };
        match parent {
            Parent::Absent => {}
            Parent::Null => body["parent_id"] = Value::Null,
            Parent::Own(id) | Parent::Foreign(id) | Parent::Malformed(id) => {
                body["parent_id"] = json!(id);
            }
        }
        let (status, answer) = self
            .call(Method::POST, &target.path, &target.auth, Some(body))
            .await;
        // The body is validated before the chat is looked up: a bad body is a 400 on any
        // chat id, which tells nothing about whose chat it is.
        if invalid {
            ensure!(
                status == StatusCode::BAD_REQUEST,
                "invalid actor: {status} {answer}"
            );
            return Ok(());
        }
        if !target.allowed {
            // A parent outside the chat does not matter: the chat is not theirs.
            return Self::chat_not_found(&target, status, &answer, "post");
        }
        match parent {
            Parent::Malformed(_) => {
                return Self::bad_request(&target, status, &answer, "validation_error");
            }
            Parent::Foreign(_) => {
                Self::bad_request(&target, status, &answer, "invalid_parent_id")?;
                if target.user_api {
                    ensure!(
                        answer["data"]["message"]
                            .as_str()
                            .is_some_and(|m| m.contains("parent_id")),
                        "a refused parent_id is named: {answer}"
                    );
                }
                return Ok(());
            }
            Parent::Absent | Parent::Null | Parent::Own(_) => {}
        }
        let returned: Vec<Value> = match (target.user_api, single) {
            (true, true) => {
                ensure!(status == StatusCode::OK, "user post: {status} {answer}");
                vec![answer["chatMessage"].clone()]
            }
            (true, false) => {
                ensure!(status == StatusCode::OK, "user batch: {status} {answer}");
                answer["chatMessages"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            }
            (false, _) => {
                ensure!(
                    status == StatusCode::CREATED,
                    "tenant post: {status} {answer}"
                );
                answer["data"].as_array().cloned().unwrap_or_default()
            }
        };
        ensure!(
            returned.len() == batch.len(),
            "{} posted, {} returned: {answer}",
            batch.len(),
            returned.len()
        );
        // The first message goes under the named parent or the current leaf; the rest
        // of a batch chain on; the last one becomes the current leaf.
        let mut under = match parent {
            Parent::Own(id) => Some(id),
            _ => self.model.chats[c].tree.current,
        };
        let mut added = Vec::new();
        for ((actor, text, files), shown) in batch.into_iter().zip(&returned) {
            let id = self.fresh_message_id(shown)?;
            self.learn_chat_id(c, shown)?;
            let message = Node {
                parent: under,
                actor,
                data: Content { text, files },
            };
            under = Some(id);
            self.model.chats[c].tree.add(id, message);
            added.push(id);
        }
        self.check_list(&returned, &added, &self.model.chats[c])?;
        Ok(())
    }

    pub(super) async fn delete_last(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let Some(target) = self.target(c, "/messages/last") else {
            return Ok(());
        };
        let (status, body) = self
            .call(Method::DELETE, &target.path, &target.auth, None)
            .await;
        if !target.allowed {
            return Self::chat_not_found(&target, status, &body, "delete-last");
        }
        // The bodies show the messages as they were before the delete.
        let chat = self.model.chats[c].clone();
        let Some(plan) = chat.tree.plan_delete_last() else {
            // An empty active path has no last exchange, even if other branches remain.
            if target.user_api {
                ensure!(
                    status == StatusCode::BAD_REQUEST
                        && body
                            == json!({"statusCode":400,"statusMessage":"Bad Request.","data":"No messages found, for chat."}),
                    "delete-last on an empty path: {status} {body}"
                );
            } else {
                ensure!(
                    status == StatusCode::BAD_REQUEST && body["error"]["code"] == "no_messages",
                    "tenant delete-last, empty path: {status} {body}"
                );
            }
            return Ok(());
        };
        ensure!(status == StatusCode::OK, "delete-last: {status} {body}");
        let trailing_ids = plan.trailing.clone();
        let keys: Vec<&str> = body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        match &plan.exchange {
            Some((user_side, assistant_side)) => {
                let mut want = vec!["maybeAssistantMessageToDelete", "maybeUserMessageToDelete"];
                if !plan.trailing.is_empty() {
                    want.extend(["deletedSuccessfully", "failedToDelete"]);
                    ensure!(
                        body["deletedSuccessfully"] == json!(trailing_ids)
                            && body["failedToDelete"] == json!([]),
                        "trailing ids in {body}"
                    );
                }
                let mut got = keys.clone();
                got.sort_unstable();
                want.sort_unstable();
                ensure!(
                    got == want,
                    "delete-last keys {got:?}, want {want:?}: {body}"
                );
                for (key, id) in [
                    ("maybeUserMessageToDelete", user_side),
                    ("maybeAssistantMessageToDelete", assistant_side),
                ] {
                    let expected = chat.tree.get(*id).ok_or("the model lost a message")?;
                    self.check_message(&body[key], *id, expected, &chat, false)?;
                }
            }
            None => {
                ensure!(
                    body == json!({"deletedSuccessfully": trailing_ids, "failedToDelete": []}),
                    "delete-last without an exchange: {body}, want trailing {trailing_ids:?}"
                );
            }
        }
        let gone = self.model.chats[c].tree.delete_last(&plan);
        self.model.gone_messages.extend(gone);
        Ok(())
    }

    pub(super) async fn list_messages(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let chat = self.model.chats[c].clone();
        if self.rng.gen_bool(0.5) {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "/messages") else {
                return Ok(());
            };
            let auth = self.model.users[u].auth.clone();
            let (status, body) = self.call(Method::GET, &path, &auth, None).await;
            if !mine {
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "another's messages: {status} {body}"
                );
                return Ok(());
            }
            ensure!(status == StatusCode::OK, "list messages: {status} {body}");
            let listed = body["chatMessages"].as_array().cloned().unwrap_or_default();
            return self.check_path(&listed, &chat);
        }
        let tenant = usize::from(self.rng.gen_bool(0.2));
        let key = self.model.keys[tenant].clone();
        let limit = self.rng.gen_range(1..=4);
        let mut listed = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..=chat.tree.path().len() {
            let path = match &after {
                Some(a) => format!(
                    "/api/v1/chats/{}/messages?limit={limit}&after={a}",
                    chat.uuid
                ),
                None => format!("/api/v1/chats/{}/messages?limit={limit}", chat.uuid),
            };
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            if tenant != chat.tenant {
                ensure!(
                    status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                    "another tenant's messages: {status} {body}"
                );
                return Ok(());
            }
            ensure!(status == StatusCode::OK, "page: {status} {body}");
            let page = body["data"].as_array().cloned().unwrap_or_default();
            ensure!(page.len() <= limit, "page longer than {limit}: {body}");
            listed.extend(page);
            match body["next_cursor"].as_str() {
                Some(next) => after = Some(next.to_owned()),
                None => return self.check_path(&listed, &chat),
            }
        }
        Err(format!("pages of {} never end", chat.uuid))
    }

    /// The files route lists the files of the active path's messages.
    pub(super) async fn list_files(&mut self) -> Step {
        let (Some(u), Some(c)) = (self.user(), self.live_chat()) else {
            return Ok(());
        };
        let Some((path, mine)) = self.user_route(u, c, "/files") else {
            return Ok(());
        };
        let auth = self.model.users[u].auth.clone();
        let (status, body) = self.call(Method::GET, &path, &auth, None).await;
        if !mine {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "another's files: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "files: {status} {body}");
        let chat = &self.model.chats[c];
        let want: Vec<Value> = chat
            .tree
            .path()
            .into_iter()
            .filter_map(|id| chat.tree.get(id).map(|m| (id, &m.data.files)))
            .flat_map(|(id, files)| files.iter().map(move |(t, l, e)| json!([id, t, l, e])))
            .collect();
        let got: Vec<Value> = body["chatFiles"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                json!([
                    f["chat_conversation_message_id"],
                    f["title"],
                    f["language"],
                    f["extension"]
                ])
            })
            .collect();
        ensure!(
            got == want,
            "files of chat {:?}:\n got  {got:?}\n want {want:?}",
            chat.id
        );
        Ok(())
    }
}
