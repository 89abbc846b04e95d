//! Operations on users and chats (SPEC §2/§3): sign-up, creating, renaming, deleting and
//! listing chats through both APIs, and poking what is gone.

use rand::seq::SliceRandom as _;
use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::{random_name, Chat, User};
use super::{Run, Step};
use crate::support::{user_error, Auth};

impl Run<'_> {
    pub(super) async fn sign_up(&mut self) -> Step {
        let duplicate = !self.model.users.is_empty() && self.rng.gen_bool(0.2);
        let email = if duplicate {
            let u = self.user().unwrap_or_default();
            self.model.users[u].email.to_uppercase()
        } else {
            self.model.emails += 1;
            format!("user{}@example.com", self.model.emails)
        };
        let response = self
            .app
            .client
            .post(self.app.url("/api/auth/sign-up"))
            .json(&json!({"email": email, "password": "correct horse battery"}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        self.log.push(format!("sign-up {email}"));
        let status = response.status();
        let cookie = crate::support::session_cookie(&response);
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        if duplicate {
            ensure!(
                status == StatusCode::CONFLICT,
                "duplicate sign-up: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::CREATED, "sign-up: {status} {body}");
        let id = body["user"]["id"]
            .as_i64()
            .ok_or(format!("no user id: {body}"))?;
        ensure!(
            self.model.users.iter().all(|u| u.id < id),
            "user id {id} does not grow"
        );
        ensure!(body["user"]["email"] == json!(email), "email in {body}");
        self.model.users.push(User {
            id,
            email,
            auth: Auth::Cookie(cookie.ok_or("no session cookie")?),
        });
        Ok(())
    }

    pub(super) async fn create_user_chat(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let valid = self.rng.gen_bool(0.9);
        let name = if valid {
            random_name(&mut self.rng)
        } else {
            "   ".to_owned()
        };
        let model_name = format!("model-{}", self.rng.gen_range(0..3));
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/api/users/{user_id}/chats"),
                &auth,
                Some(json!({"name": format!(" {name} "), "model": model_name})),
            )
            .await;
        if !valid {
            ensure!(
                status == StatusCode::BAD_REQUEST,
                "blank name: {status} {body}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "create chat: {status} {body}");
        let chat = &body["chat"];
        ensure!(
            chat["name"] == json!(name) && chat["model"] == json!(model_name),
            "chat view {chat}"
        );
        ensure!(chat["neptun_user_id"] == json!(user_id), "owner in {chat}");
        ensure!(
            chat["current_message_id"] == Value::Null,
            "a new chat has no current leaf: {chat}"
        );
        let id = chat["id"].as_i64().ok_or(format!("no id in {chat}"))?;
        ensure!(
            self.model.chats.iter().all(|c| c.id.is_none_or(|k| k < id)),
            "chat id {id} does not grow"
        );
        let uuid = chat["uuid"]
            .as_str()
            .ok_or(format!("no uuid in {chat}"))?
            .to_owned();
        let mut chat = Chat::new(Some(id), uuid, 0, Some(u));
        self.model.born += 1;
        chat.born = self.model.born;
        chat.name = name;
        chat.model = model_name;
        self.model.chats.push(chat);
        Ok(())
    }

    pub(super) async fn create_tenant_chat(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let owner = if tenant == 0 && self.rng.gen_bool(0.5) {
            self.user()
        } else {
            None
        };
        let stranger = self.rng.gen_bool(0.1);
        let name = random_name(&mut self.rng);
        let mut body = json!({"name": name, "model": "m"});
        if let Some(u) = owner {
            body["user_id"] = json!(self.model.users[u].id);
        }
        if stranger {
            // A user of another tenant (or nobody) cannot own the chat.
            body["user_id"] = json!(i64::from(i32::MAX));
        }
        let key = self.model.keys[tenant].clone();
        let (status, answer) = self
            .call(Method::POST, "/api/v1/chats", &key, Some(body))
            .await;
        if stranger {
            ensure!(
                status == StatusCode::NOT_FOUND && answer["error"]["code"] == "user_not_found",
                "stranger owner: {status} {answer}"
            );
            return Ok(());
        }
        ensure!(
            status == StatusCode::CREATED,
            "tenant create: {status} {answer}"
        );
        let owner_id = owner.map(|u| self.model.users[u].id);
        ensure!(
            answer["name"] == json!(name)
                && answer["model"] == "m"
                && answer["user_id"] == json!(owner_id)
                && answer["current_message_id"] == Value::Null,
            "tenant chat view {answer}"
        );
        let uuid = answer["id"]
            .as_str()
            .ok_or(format!("no uuid in {answer}"))?
            .to_owned();
        let mut chat = Chat::new(None, uuid, tenant, owner);
        self.model.born += 1;
        chat.born = self.model.born;
        chat.name = name;
        chat.model = "m".to_owned();
        self.model.chats.push(chat);
        if let Some(u) = owner {
            // The owner's list shows the chat with its integer id; learn it there.
            self.list_user_chats_of(u, "id:asc").await?;
        }
        Ok(())
    }

    /// Moves deleted chats to the trash, remembering their ids and their messages' ids.
    pub(super) fn bury(&mut self, chats: Vec<Chat>) {
        for chat in chats {
            self.model
                .gone_messages
                .extend(chat.tree.messages.keys().copied());
            self.model.gone.push((chat.id, chat.uuid.clone()));
            self.model.trash.push(chat);
        }
    }

    pub(super) async fn delete_chat(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        if self.rng.gen_bool(0.5) {
            let Some(u) = self.user() else { return Ok(()) };
            let Some((path, mine)) = self.user_route(u, c, "") else {
                return Ok(());
            };
            let auth = self.model.users[u].auth.clone();
            // The model's chats have no live connections, so checking them first
            // changes nothing.
            let check = if self.rng.gen_bool(0.5) {
                "?check_connections=true"
            } else {
                ""
            };
            let path = format!("{path}{check}");
            let (status, body) = self.call(Method::DELETE, &path, &auth, None).await;
            if !mine {
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "delete of another's chat: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK && body == json!(true),
                "delete chat: {status} {body}"
            );
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.3));
            let key = self.model.keys[tenant].clone();
            let path = format!("/api/v1/chats/{}", self.model.chats[c].uuid);
            let (status, body) = self.call(Method::DELETE, &path, &key, None).await;
            if tenant != self.model.chats[c].tenant {
                ensure!(
                    status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                    "delete in another tenant: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK
                    && body["success"] == true
                    && body["message"] == "Chat deleted successfully"
                    && body["deleted_at"].is_string(),
                "tenant delete: {status} {body}"
            );
        }
        let chat = self.model.chats.remove(c);
        self.bury(vec![chat]);
        Ok(())
    }

    pub(super) async fn bulk_delete(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let mut ids: Vec<i64> = self
            .model
            .chats
            .iter()
            .filter_map(|c| c.id)
            .chain(self.model.gone.iter().filter_map(|(id, _)| *id))
            .filter(|_| self.rng.gen_bool(0.3))
            .collect();
        ids.push(i64::from(i32::MAX));
        ids.shuffle(&mut self.rng);
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        let (status, body) = self
            .call(
                Method::DELETE,
                &format!("/api/users/{user_id}/chats"),
                &auth,
                Some(json!({"chat_ids": ids})),
            )
            .await;
        ensure!(
            status == StatusCode::OK && body == json!(true),
            "bulk delete: {status} {body}"
        );
        let (gone, kept): (Vec<Chat>, Vec<Chat>) = std::mem::take(&mut self.model.chats)
            .into_iter()
            .partition(|c| c.owner == Some(u) && c.id.is_some_and(|id| ids.contains(&id)));
        self.model.chats = kept;
        self.bury(gone);
        Ok(())
    }

    pub(super) async fn list_user_chats_of(&mut self, u: usize, order: &str) -> Step {
        let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
        // Which chats the list keeps: not archived (the default), archived, or all; and
        // optionally one tag.
        let archived = ["", "&archived=true", "&archived=all"][self.rng.gen_range(0..3)];
        let tag = ["", "", "work", "q3"][self.rng.gen_range(0..4)];
        let tag_query = if tag.is_empty() {
            String::new()
        } else {
            format!("&tag={tag}")
        };
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/users/{user_id}/chats?order_by={order}{archived}{tag_query}"),
                &auth,
                None,
            )
            .await;
        ensure!(status == StatusCode::OK, "list chats: {status} {body}");
        let listed = body["chats"].as_array().cloned().unwrap_or_default();
        // Learn integer ids of chats created through the tenant API.
        for shown in &listed {
            if let Some(chat) = self
                .model
                .chats
                .iter_mut()
                .find(|c| shown["uuid"] == json!(c.uuid))
            {
                if chat.id.is_none() {
                    chat.id = shown["id"].as_i64();
                }
            }
        }
        let mut mine: Vec<&Chat> = self
            .model
            .chats
            .iter()
            .filter(|c| c.owner == Some(u))
            .filter(|c| match archived {
                "" => !c.archived,
                "&archived=true" => c.archived,
                _ => true,
            })
            .filter(|c| tag.is_empty() || c.tags.iter().any(|t| t == tag))
            .collect();
        match order {
            "id:asc" => mine.sort_by_key(|c| c.id),
            "id:desc" => mine.sort_by_key(|c| std::cmp::Reverse(c.id)),
            "name:asc,id:asc" => mine.sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id))),
            _ => mine.sort_by(|a, b| (&b.name, b.id).cmp(&(&a.name, a.id))),
        }
        let want: Vec<Value> = mine
            .iter()
            .map(|c| json!({"id": c.id, "uuid": c.uuid, "name": c.name, "model": c.model, "neptun_user_id": user_id, "current_message_id": c.tree.current, "archived": c.archived, "pinned": c.pinned, "tags": c.tags}))
            .collect();
        let got: Vec<Value> = listed
            .iter()
            .map(|c| json!({"id": c["id"], "uuid": c["uuid"], "name": c["name"], "model": c["model"], "neptun_user_id": c["neptun_user_id"], "current_message_id": c["current_message_id"], "archived": c["archived"], "pinned": c["pinned"], "tags": c["tags"]}))
            .collect();
        ensure!(
            got == want,
            "chats of user {user_id} by {order}:\n got  {got:?}\n want {want:?}"
        );
        Ok(())
    }

    pub(super) async fn list_user_chats(&mut self) -> Step {
        let Some(u) = self.user() else { return Ok(()) };
        let order =
            ["id:asc", "id:desc", "name:asc,id:asc", "name:desc,id:desc"][self.rng.gen_range(0..4)];
        self.list_user_chats_of(u, order).await
    }

    pub(super) async fn get_tenant_chat(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let chat = self.model.chats[c].clone();
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/chats/{}", chat.uuid),
                &key,
                None,
            )
            .await;
        if tenant != chat.tenant {
            ensure!(
                status == StatusCode::NOT_FOUND && body["error"]["code"] == "chat_not_found",
                "another tenant's chat: {status} {body}"
            );
            return Ok(());
        }
        let owner = chat.owner.map(|u| self.model.users[u].id);
        // `message_count` counts the whole tree, not only the active path.
        ensure!(
            status == StatusCode::OK
                && body["id"] == json!(chat.uuid)
                && body["name"] == json!(chat.name)
                && body["model"] == json!(chat.model)
                && body["user_id"] == json!(owner)
                && body["message_count"] == json!(chat.tree.len())
                && body["current_message_id"] == json!(chat.tree.current)
                && body["active_connections"] == json!(0),
            "get chat: {status} {body}, model {chat:?}"
        );
        Ok(())
    }

    pub(super) async fn list_tenant_chats(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let limit = self.rng.gen_range(1..=5);
        let archived = ["false", "true", "all"][self.rng.gen_range(0..3)];
        let mut listed: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/chats?limit={limit}&archived={archived}&cursor={c}"),
                None => format!("/api/v1/chats?limit={limit}&archived={archived}"),
            };
            let (status, body) = self.call(Method::GET, &path, &key, None).await;
            ensure!(status == StatusCode::OK, "tenant chats: {status} {body}");
            listed.extend(body["data"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            ensure!(
                listed.len() <= self.model.chats.len() + 1,
                "pages never end"
            );
        }
        // Newest first: the reverse of creation order, which the model's list keeps.
        let want: Vec<Value> = self
            .model
            .chats
            .iter()
            .rev()
            .filter(|c| c.tenant == tenant)
            .filter(|c| match archived {
                "false" => !c.archived,
                "true" => c.archived,
                _ => true,
            })
            .map(|c| {
                json!([
                    c.uuid,
                    c.name,
                    c.owner.map(|u| self.model.users[u].id),
                    c.tree.current
                ])
            })
            .collect();
        let got: Vec<Value> = listed
            .iter()
            .map(|c| json!([c["id"], c["name"], c["user_id"], c["current_message_id"]]))
            .collect();
        ensure!(
            got == want,
            "tenant {tenant} chats:\n got  {got:?}\n want {want:?}"
        );
        Ok(())
    }

    /// Calls on deleted chats, and on other users' ids, are 404s.
    pub(super) async fn poke_the_gone(&mut self) -> Step {
        if let Some(i) =
            (!self.model.gone.is_empty()).then(|| self.rng.gen_range(0..self.model.gone.len()))
        {
            let (id, uuid) = self.model.gone[i].clone();
            let key = self.model.keys[0].clone();
            let suffix = ["/messages", "/tree"][self.rng.gen_range(0..2)];
            let (status, _) = self
                .call(
                    Method::GET,
                    &format!("/api/v1/chats/{uuid}{suffix}"),
                    &key,
                    None,
                )
                .await;
            ensure!(
                status == StatusCode::NOT_FOUND,
                "deleted chat {uuid} answers {status} on {suffix}"
            );
            if let (Some(id), Some(u)) = (id, self.user()) {
                let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
                let (status, body) = self
                    .call(
                        Method::GET,
                        &format!("/api/users/{user_id}/chats/{id}{suffix}"),
                        &auth,
                        None,
                    )
                    .await;
                ensure!(
                    (status, &body) == (StatusCode::NOT_FOUND, &user_error(404, "Chat not found")),
                    "deleted chat {id} on {suffix}: {status} {body}"
                );
            }
        }
        if self.model.users.len() >= 2 {
            let (a, b) = (self.model.users[0].auth.clone(), self.model.users[1].id);
            let (status, _) = self
                .call(Method::GET, &format!("/api/users/{b}/chats"), &a, None)
                .await;
            ensure!(
                status == StatusCode::NOT_FOUND,
                "another user's chat list answers {status}"
            );
        }
        Ok(())
    }
}
