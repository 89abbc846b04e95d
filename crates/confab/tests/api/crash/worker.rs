//! The workers: each owns a few chats and runs random operations on them one at a time
//! (appends under the current leaf or a named parent, edits, branch switches,
//! delete-last, chat deletes, bulk deletes, chat creation), keeping an exact model of
//! every acknowledged tree and of the one request in flight.

use rand::rngs::StdRng;
use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::api::{files_in, ids_of, message_text, messages_of, send, Api, ChatTree, Said};
use super::CHATS_PER_WORKER;
use crate::support::tree::{reported_deleted, Node};

/// What the request in flight at the kill would have done, had it landed.
#[derive(Debug, Clone)]
pub enum Pending {
    /// These messages, chained under `parent` (the current leaf if `None`), whole.
    Append {
        parent: Option<i64>,
        batch: Vec<(&'static str, String)>,
    },
    /// A new sibling of message `of` with this text, as the current leaf.
    Edit { of: i64, text: String },
    /// The current leaf moved to the newest leaf under this message.
    Switch(i64),
    /// Delete-last on the active path as the acknowledged tree has it.
    DeleteLast,
    /// The chat deleted (for a bulk delete: all of `Chat::bulk_peers` with it).
    DeleteChat,
}

#[derive(Debug, Clone)]
pub struct Chat {
    /// The integer id (user API) or uuid (tenant API) in routes.
    pub route_id: String,
    /// Every acknowledged message and the acknowledged current leaf.
    pub tree: ChatTree,
    pub pending: Option<Pending>,
    /// Route ids of the other chats named in the same unacknowledged bulk delete.
    pub bulk_peers: Vec<String>,
}

pub struct Worker {
    pub index: usize,
    pub api: Api,
    pub chats: Vec<Chat>,
    pub rng: StdRng,
    pub seq: u64,
    /// Acknowledged writes: appended messages, edits, switches, delete-lasts, chat
    /// creations and deletions.
    pub acknowledged: u64,
    /// Of those, edits and branch switches.
    pub edits: u64,
    pub switches: u64,
    /// Chats whose deletion was acknowledged (must stay gone).
    pub deleted: Vec<String>,
    /// Requests in flight at a kill, and how many of them turned out to have landed.
    pub in_flight: u64,
    pub landed: u64,
    pub errors: Vec<String>,
}

/// A message the model expects, from its parent, actor and text.
pub fn said(parent: Option<i64>, actor: &'static str, text: &str) -> Node<Said> {
    Node {
        parent,
        actor,
        data: Said {
            text: text.to_owned(),
            files: files_in(text, actor),
        },
    }
}

impl Worker {
    pub fn new(index: usize, api: Api, rng: StdRng) -> Worker {
        Worker {
            index,
            api,
            chats: Vec::new(),
            rng,
            seq: 0,
            acknowledged: 0,
            edits: 0,
            switches: 0,
            deleted: Vec::new(),
            in_flight: 0,
            landed: 0,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, what: String) {
        self.errors.push(format!("worker {}: {what}", self.index));
    }

    fn tag(&mut self) -> String {
        self.seq += 1;
        format!("w{}-m{}", self.index, self.seq)
    }

    /// A random message of the chat among those `fit` accepts.
    fn pick(&mut self, chat: usize, fit: impl Fn(&Node<Said>) -> bool) -> Option<i64> {
        let ids: Vec<i64> = self.chats[chat]
            .tree
            .messages
            .iter()
            .filter(|(_, m)| fit(m))
            .map(|(id, _)| *id)
            .collect();
        (!ids.is_empty()).then(|| ids[self.rng.gen_range(0..ids.len())])
    }

    /// Runs random operations until a request's outcome is unknown (the server is gone)
    /// or an answer contradicts the model.
    pub async fn run(mut self, client: reqwest::Client, base: String) -> Worker {
        for _ in 0..100_000 {
            let live = self.chats.len();
            if live < CHATS_PER_WORKER && (live == 0 || self.rng.gen_bool(0.3)) {
                if !self.create_chat(&client, &base).await {
                    return self;
                }
                continue;
            }
            let chat = self.rng.gen_range(0..live);
            let roll = self.rng.gen_range(0..100);
            let went_on = match roll {
                0..=34 => self.append(&client, &base, chat, 1).await,
                35..=49 => {
                    let n = self.rng.gen_range(2..=4);
                    self.append(&client, &base, chat, n).await
                }
                50..=69 => self.delete_last(&client, &base, chat).await,
                70..=79 => self.edit(&client, &base, chat).await,
                80..=89 => self.switch(&client, &base, chat).await,
                _ => self.delete_chat(&client, &base, chat).await,
            };
            if !went_on || !self.errors.is_empty() {
                return self;
            }
        }
        self
    }

    async fn create_chat(&mut self, client: &reqwest::Client, base: &str) -> bool {
        let body = json!({"name": format!("w{} chat {}", self.index, self.seq), "model": "m"});
        self.seq += 1;
        let api = self.api.clone();
        let Some((status, body)) = send(
            client,
            base,
            &api,
            Method::POST,
            &api.chats_path(),
            Some(body),
        )
        .await
        else {
            return false; // an unknown chat may exist: it is nobody's concern
        };
        if status != api.created() {
            self.fail(format!("create chat: {status} {body}"));
            return false;
        }
        let route_id = match api {
            Api::User { .. } => body["chat"]["id"].as_i64().map(|id| id.to_string()),
            Api::Tenant { .. } => body["id"].as_str().map(str::to_owned),
        };
        let Some(route_id) = route_id else {
            self.fail(format!("create chat: no id in {body}"));
            return false;
        };
        self.acknowledged += 1;
        self.chats.push(Chat {
            route_id,
            tree: ChatTree::default(),
            pending: None,
            bulk_peers: Vec::new(),
        });
        true
    }

    async fn append(
        &mut self,
        client: &reqwest::Client,
        base: &str,
        chat: usize,
        count: usize,
    ) -> bool {
        let mut batch = Vec::new();
        for _ in 0..count {
            let actor =
                ["user", "user", "assistant", "assistant", "system"][self.rng.gen_range(0..5)];
            let tag = self.tag();
            let text = message_text(&mut self.rng, &tag);
            batch.push((actor, text));
        }
        let mut body = if count == 1 && self.rng.gen_bool(0.8) {
            json!({"message": batch[0].1, "actor": batch[0].0})
        } else {
            json!({"messages": batch.iter().map(|(a, t)| json!({"content": t, "role": a})).collect::<Vec<_>>()})
        };
        // Sometimes under a named parent: another reply to an earlier message.
        let parent = if self.rng.gen_bool(0.2) {
            self.pick(chat, |_| true)
        } else {
            None
        };
        if let Some(parent) = parent {
            body["parent_id"] = json!(parent);
        }
        let api = self.api.clone();
        let path = format!("{}/messages", api.chat_path(&self.chats[chat].route_id));
        self.chats[chat].pending = Some(Pending::Append {
            parent,
            batch: batch.clone(),
        });
        let Some((status, body)) = send(client, base, &api, Method::POST, &path, Some(body)).await
        else {
            return false;
        };
        if status != api.created() {
            self.fail(format!("append to {path}: {status} {body}"));
            return false;
        }
        let returned = messages_of(&api, &body).unwrap_or_default();
        if returned.len() != batch.len() {
            self.fail(format!(
                "append to {path}: {} sent, answer {body}",
                batch.len()
            ));
            return false;
        }
        let tree = &mut self.chats[chat].tree;
        let mut under = parent.or(tree.current);
        for ((actor, text), message) in batch.into_iter().zip(returned) {
            let Some(id) = message["id"].as_i64() else {
                self.errors.push(format!("append: no id in {message}"));
                return false;
            };
            if message["parent_id"].as_i64() != under {
                self.errors.push(format!(
                    "append to {path}: {message} should follow {under:?}"
                ));
                return false;
            }
            tree.add(id, said(under, actor, &text));
            under = Some(id);
            self.acknowledged += 1;
        }
        self.chats[chat].pending = None;
        true
    }

    /// Edits a message that has a parent: an edited first message would make a second
    /// root, and delete-last may then leave a chat with messages but no current leaf
    /// (the contract allows it; the model test covers it). Here every chat keeps one root,
    /// so its current leaf is null exactly while it is empty.
    async fn edit(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let Some(of) = self.pick(chat, |m| m.parent.is_some()) else {
            return true;
        };
        let tag = self.tag();
        let text = message_text(&mut self.rng, &tag);
        let api = self.api.clone();
        let path = format!(
            "{}/messages/{of}",
            api.chat_path(&self.chats[chat].route_id)
        );
        self.chats[chat].pending = Some(Pending::Edit {
            of,
            text: text.clone(),
        });
        let body = json!({ "message": text });
        let Some((status, body)) = send(client, base, &api, Method::PATCH, &path, Some(body)).await
        else {
            return false;
        };
        let tree = &mut self.chats[chat].tree;
        let Some(original) = tree.get(of).cloned() else {
            self.fail(format!("edit {path}: the model lost {of}"));
            return false;
        };
        let shown = api.edited(&body);
        let expected = said(original.parent, original.actor, &text);
        let id = shown["id"].as_i64();
        let matches = shown["parent_id"].as_i64() == expected.parent
            && shown["actor"] == json!(expected.actor)
            && shown["message"] == json!(text)
            && shown["files"].as_array().map(Vec::len) == Some(expected.data.files);
        let (Some(id), true, StatusCode::OK) = (id, matches, status) else {
            self.fail(format!("edit {path}: {status} {body}, want {expected:?}"));
            return false;
        };
        tree.add(id, expected);
        self.chats[chat].pending = None;
        self.acknowledged += 1;
        self.edits += 1;
        true
    }

    async fn switch(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let Some(to) = self.pick(chat, |_| true) else {
            return true;
        };
        let api = self.api.clone();
        // The tenant API answers a page of the path: the largest one.
        let page = match api {
            Api::User { .. } => "",
            Api::Tenant { .. } => "?limit=100",
        };
        let path = format!(
            "{}/current{page}",
            api.chat_path(&self.chats[chat].route_id)
        );
        self.chats[chat].pending = Some(Pending::Switch(to));
        let body = json!({ "message_id": to });
        let Some((status, body)) = send(client, base, &api, Method::PUT, &path, Some(body)).await
        else {
            return false;
        };
        let tree = &mut self.chats[chat].tree;
        let leaf = tree.newest_leaf(to);
        let want = tree.path_to(leaf).unwrap_or_default();
        // The user API answers the whole path, the tenant API its first page.
        let page = match api {
            Api::User { .. } => &want[..],
            Api::Tenant { .. } => &want[..want.len().min(100)],
        };
        let shown = body[api.list_key()].as_array().map(|list| ids_of(list));
        let fits = shown == Some(Ok(page.to_vec()))
            && body["next_cursor"].is_string() == (page.len() < want.len());
        if status != StatusCode::OK || !fits {
            self.fail(format!(
                "switch {path} to {to}: {status} {body}, want {want:?}"
            ));
            return false;
        }
        tree.current = leaf;
        self.chats[chat].pending = None;
        self.acknowledged += 1;
        self.switches += 1;
        true
    }

    async fn delete_last(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let api = self.api.clone();
        let path = format!(
            "{}/messages/last",
            api.chat_path(&self.chats[chat].route_id)
        );
        let plan = self.chats[chat].tree.plan_delete_last();
        self.chats[chat].pending = Some(Pending::DeleteLast);
        let Some((status, body)) = send(client, base, &api, Method::DELETE, &path, None).await
        else {
            return false;
        };
        let planned = plan.as_ref().map(|p| p.ids());
        let expected = if plan.is_some() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        };
        if status != expected {
            self.fail(format!(
                "delete-last {path}: {status} {body}, planned {planned:?}"
            ));
            return false;
        }
        let chat = &mut self.chats[chat];
        if let Some(plan) = plan {
            if reported_deleted(&body) != plan.ids() {
                let what = format!("delete-last {path}: answer {body}, planned {planned:?}");
                self.fail(what);
                return false;
            }
            chat.tree.delete_last(&plan);
        }
        chat.pending = None;
        self.acknowledged += 1;
        true
    }

    async fn delete_chat(&mut self, client: &reqwest::Client, base: &str, chat: usize) -> bool {
        let api = self.api.clone();
        let bulk =
            matches!(api, Api::User { .. }) && self.chats.len() >= 2 && self.rng.gen_bool(0.5);
        let targets: Vec<usize> = if bulk {
            let other = (chat + 1) % self.chats.len();
            vec![chat, other]
        } else {
            vec![chat]
        };
        let names: Vec<String> = targets
            .iter()
            .map(|&i| self.chats[i].route_id.clone())
            .collect();
        for &i in &targets {
            self.chats[i].pending = Some(Pending::DeleteChat);
            self.chats[i].bulk_peers = names
                .iter()
                .filter(|n| **n != self.chats[i].route_id)
                .cloned()
                .collect();
        }
        let answer = if bulk {
            let ids: Vec<i64> = names.iter().filter_map(|n| n.parse().ok()).collect();
            send(
                client,
                base,
                &api,
                Method::DELETE,
                &api.chats_path(),
                Some(json!({"chat_ids": ids})),
            )
            .await
        } else {
            send(
                client,
                base,
                &api,
                Method::DELETE,
                &api.chat_path(&names[0]),
                None,
            )
            .await
        };
        let Some((status, body)) = answer else {
            return false;
        };
        if status != StatusCode::OK {
            self.fail(format!("delete chats {names:?}: {status} {body}"));
            return false;
        }
        self.chats.retain(|c| !names.contains(&c.route_id));
        self.acknowledged += names.len() as u64;
        self.deleted.extend(names);
        true
    }
}
