//! Organising chats and their lifecycle (SPEC §9): `PATCH` of flags and tags, the trash
//! (its lists, restore, purge) and share links, through both APIs.

use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::state::random_name;
use super::{Run, Step};
use crate::support::Auth;

impl Run<'_> {
    /// A `PATCH` of some of name, archived, pinned and tags, through either API.
    pub(super) async fn organise(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let mut body = serde_json::Map::new();
        if self.rng.gen_bool(0.4) {
            body.insert("name".into(), json!(random_name(&mut self.rng)));
        }
        if self.rng.gen_bool(0.3) {
            body.insert("archived".into(), json!(self.rng.gen_bool(0.5)));
        }
        if self.rng.gen_bool(0.3) {
            body.insert("pinned".into(), json!(self.rng.gen_bool(0.5)));
        }
        if body.is_empty() || self.rng.gen_bool(0.3) {
            let tags: Vec<&str> = ["work", "Work", "q3"]
                .into_iter()
                .filter(|_| self.rng.gen_bool(0.5))
                .collect();
            body.insert("tags".into(), json!(tags));
        }
        let Some(target) = self.target(c, "") else {
            return Ok(());
        };
        let (status, answer) = self
            .call(Method::PATCH, &target.path, &target.auth, Some(json!(body)))
            .await;
        if !target.allowed {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "patch of another's chat: {status} {answer}"
            );
            return Ok(());
        }
        let chat = &mut self.model.chats[c];
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            chat.name = name.to_owned();
        }
        if let Some(archived) = body.get("archived").and_then(Value::as_bool) {
            chat.archived = archived;
        }
        if let Some(pinned) = body.get("pinned").and_then(Value::as_bool) {
            chat.pinned = pinned;
        }
        if let Some(tags) = body.get("tags").and_then(Value::as_array) {
            chat.tags = tags
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect();
        }
        let shown = if target.user_api {
            &answer["chat"]
        } else {
            &answer
        };
        ensure!(
            status == StatusCode::OK
                && shown["name"] == json!(chat.name)
                && shown["archived"] == json!(chat.archived)
                && shown["pinned"] == json!(chat.pinned)
                && shown["tags"] == json!(chat.tags)
                && shown["current_message_id"] == json!(chat.tree.current),
            "patch {body:?}: {status} {answer}, model {chat:?}"
        );
        Ok(())
    }

    /// Brings a chat back from the trash through either API: whole, as it went.
    pub(super) async fn restore(&mut self) -> Step {
        if self.model.trash.is_empty() {
            return Ok(());
        }
        let t = self.rng.gen_range(0..self.model.trash.len());
        let chat = self.model.trash[t].clone();
        let (path, auth, allowed, user_api) = match (chat.owner, chat.id, self.rng.gen_bool(0.5)) {
            (Some(owner), Some(id), true) => {
                let u = self.user().unwrap_or(owner);
                let user = &self.model.users[u];
                (
                    format!("/api/users/{}/chats/{id}/restore", user.id),
                    user.auth.clone(),
                    u == owner,
                    true,
                )
            }
            _ => {
                let tenant = usize::from(self.rng.gen_bool(0.2));
                (
                    format!("/api/v1/chats/{}/restore", chat.uuid),
                    self.model.keys[tenant].clone(),
                    tenant == chat.tenant,
                    false,
                )
            }
        };
        let (status, body) = self.call(Method::POST, &path, &auth, Some(json!({}))).await;
        if !allowed {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "restore of another's chat: {status} {body}"
            );
            return Ok(());
        }
        let shown = if user_api { &body["chat"] } else { &body };
        ensure!(
            status == StatusCode::OK
                && shown["name"] == json!(chat.name)
                && shown["current_message_id"] == json!(chat.tree.current),
            "restore: {status} {body}, model {chat:?}"
        );
        let chat = self.model.trash.remove(t);
        self.model.gone.retain(|(_, uuid)| *uuid != chat.uuid);
        self.model
            .gone_messages
            .retain(|id| !chat.tree.messages.contains_key(id));
        // The model keeps chats in creation order (uuids are random, ids may be unknown
        // for tenant chats: the position before the first chat created after it).
        let at = self
            .model
            .chats
            .iter()
            .position(|c| c.born > chat.born)
            .unwrap_or(self.model.chats.len());
        self.model.chats.insert(at, chat);
        Ok(())
    }

    /// Deletes a chat of the trash for good.
    pub(super) async fn purge(&mut self) -> Step {
        if self.model.trash.is_empty() {
            return Ok(());
        }
        let t = self.rng.gen_range(0..self.model.trash.len());
        let chat = self.model.trash[t].clone();
        if let (Some(owner), Some(id), true) = (chat.owner, chat.id, self.rng.gen_bool(0.5)) {
            let u = self.user().unwrap_or(owner);
            let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
            let path = format!("/api/users/{user_id}/trash/{id}");
            let (status, body) = self.call(Method::DELETE, &path, &auth, None).await;
            if u != owner {
                ensure!(
                    status == StatusCode::NOT_FOUND,
                    "purge of another's chat: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK && body == json!(true),
                "user purge: {status} {body}"
            );
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.2));
            let path = format!("/api/v1/trash/{}", chat.uuid);
            let key = self.model.keys[tenant].clone();
            let (status, body) = self.call(Method::DELETE, &path, &key, None).await;
            if tenant != chat.tenant {
                ensure!(
                    status == StatusCode::NOT_FOUND,
                    "purge in another tenant: {status} {body}"
                );
                return Ok(());
            }
            ensure!(
                status == StatusCode::OK && body["success"] == true,
                "purge: {status} {body}"
            );
        }
        self.model.trash.remove(t);
        Ok(())
    }

    /// The trash as a user and as a tenant sees it: exactly the model's trashed chats.
    pub(super) async fn list_trash(&mut self) -> Step {
        if let Some(u) = self.user() {
            let (user_id, auth) = (self.model.users[u].id, self.model.users[u].auth.clone());
            let (status, body) = self
                .call(
                    Method::GET,
                    &format!("/api/users/{user_id}/trash"),
                    &auth,
                    None,
                )
                .await;
            ensure!(status == StatusCode::OK, "user trash: {status} {body}");
            let mut got: Vec<Value> = body["chats"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .iter()
                .map(|c| json!([c["uuid"], c["trashed_at"].is_string()]))
                .collect();
            let mut want: Vec<Value> = self
                .model
                .trash
                .iter()
                .filter(|c| c.owner == Some(u))
                .map(|c| json!([c.uuid, true]))
                .collect();
            // Chats trashed by one bulk delete share their moment: compare as sets.
            got.sort_by_key(Value::to_string);
            want.sort_by_key(Value::to_string);
            ensure!(
                got == want,
                "user {u}'s trash:\n got  {got:?}\n want {want:?}"
            );
        }
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let (status, body) = self
            .call(Method::GET, "/api/v1/trash?limit=100", &key, None)
            .await;
        ensure!(status == StatusCode::OK, "tenant trash: {status} {body}");
        let got: Vec<Value> = body["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| c["id"].clone())
            .collect();
        // Newest chat first, as the tenant's chat list.
        let mut trashed: Vec<_> = self
            .model
            .trash
            .iter()
            .filter(|c| c.tenant == tenant)
            .collect();
        trashed.sort_by_key(|c| std::cmp::Reverse(c.born));
        let want: Vec<Value> = trashed.iter().map(|c| json!(c.uuid)).collect();
        ensure!(
            got == want,
            "tenant {tenant} trash:\n got  {got:?}\n want {want:?}"
        );
        Ok(())
    }

    /// Shares a chat through either API; the public read shows its name and active path;
    /// then the link is revoked (so no chat nears the cap of 20) and reads 404.
    pub(super) async fn share(&mut self) -> Step {
        let Some(c) = self.live_chat() else {
            return Ok(());
        };
        let Some(target) = self.target(c, "/share") else {
            return Ok(());
        };
        let (status, body) = self
            .call(Method::POST, &target.path, &target.auth, Some(json!({})))
            .await;
        if !target.allowed {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "share of another's chat: {status} {body}"
            );
            return Ok(());
        }
        let created = if target.user_api {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        ensure!(status == created, "share: {status} {body}");
        let id = body["share_id"].as_str().unwrap_or_default().to_owned();
        let (status, shared) = self
            .call(Method::GET, &format!("/api/shared/{id}"), &Auth::None, None)
            .await;
        let chat = &self.model.chats[c];
        let texts: Vec<Value> = shared["chatMessages"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| m["message"].clone())
            .collect();
        let want: Vec<Value> = chat
            .tree
            .path()
            .iter()
            .filter_map(|id| chat.tree.messages.get(id))
            .map(|m| json!(m.data.text))
            .collect();
        ensure!(
            status == StatusCode::OK
                && shared["chat"] == json!({"name": chat.name, "model": chat.model})
                && texts == want,
            "shared chat: {status} {shared}, model {chat:?}"
        );
        let path = format!("{}/{id}", target.path);
        let (status, body) = self.call(Method::DELETE, &path, &target.auth, None).await;
        ensure!(status == StatusCode::OK, "revoke: {status} {body}");
        let (status, _) = self
            .call(Method::GET, &format!("/api/shared/{id}"), &Auth::None, None)
            .await;
        ensure!(
            status == StatusCode::NOT_FOUND,
            "a revoked share reads {status}"
        );
        Ok(())
    }
}
