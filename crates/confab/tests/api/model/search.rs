//! Search (SPEC §7) against the model: every message on any branch of a chat the caller
//! may see, and every such chat's name, whose words hold the searched word (or a word
//! starting with the prefix) is found, on every page, and nothing else is.

use rand::seq::SliceRandom as _;
use rand::Rng as _;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;

use confab::domain::search::text::tokens;

use super::{Run, Step};
use crate::support::Auth;

/// Page size of the walk (small, so cursors are exercised).
const PAGE: usize = 7;

/// Whether `text` holds `word` (or, for a prefix, a word starting with it).
fn holds(text: &str, word: &str, prefix: bool) -> bool {
    tokens(text).iter().any(|t| {
        if prefix {
            t.text.starts_with(word)
        } else {
            t.text == word
        }
    })
}

impl Run<'_> {
    /// A word some message or chat name holds (or, rarely, one nothing holds).
    fn word_to_search(&mut self) -> String {
        let mut texts: Vec<String> = Vec::new();
        for chat in &self.model.chats {
            texts.push(chat.name.clone());
            texts.extend(chat.tree.messages.values().map(|m| m.data.text.clone()));
        }
        let words: Vec<String> = texts
            .iter()
            .flat_map(|t| tokens(t).into_iter().map(|t| t.text))
            .collect();
        match words.choose(&mut self.rng) {
            Some(word) if self.rng.gen_bool(0.9) => word.clone(),
            _ => "zzzabsent".to_owned(),
        }
    }

    pub(super) async fn search(&mut self) -> Step {
        let mut word = self.word_to_search();
        let prefix = word.chars().count() > 3 && word.is_ascii() && self.rng.gen_bool(0.3);
        if prefix {
            // Three letters are a head (one list), longer prefixes are expanded.
            let keep = self.rng.gen_range(3..=word.len().min(6));
            word.truncate(keep);
        }
        let user_api = !self.model.users.is_empty() && self.rng.gen_bool(0.5);
        let (base, auth, visible): (String, Auth, Vec<usize>) = if user_api {
            let u = self.user().ok_or("no user")?;
            let visible = (0..self.model.chats.len())
                .filter(|c| self.model.chats[*c].owner == Some(u))
                .collect();
            let user = &self.model.users[u];
            (
                format!("/api/users/{}/search", user.id),
                user.auth.clone(),
                visible,
            )
        } else {
            let tenant = usize::from(self.rng.gen_bool(0.3));
            let visible = (0..self.model.chats.len())
                .filter(|c| self.model.chats[*c].tenant == tenant)
                .collect();
            (
                "/api/v1/search".to_owned(),
                self.model.keys[tenant].clone(),
                visible,
            )
        };
        // Expected: message id → (actor, chat name); chat names hit, as a multiset.
        let mut messages: BTreeMap<i64, (&'static str, String)> = BTreeMap::new();
        let mut names: Vec<String> = Vec::new();
        for c in visible {
            let chat = &self.model.chats[c];
            for (id, message) in &chat.tree.messages {
                if holds(&message.data.text, &word, prefix) {
                    messages.insert(*id, (message.actor, chat.name.clone()));
                }
            }
            if holds(&chat.name, &word, prefix) {
                names.push(chat.name.clone());
            }
        }
        let q = if prefix { format!("{word}*") } else { word };
        let (found_messages, mut found_names) =
            self.walk_search(&base, &q, &auth, user_api).await?;
        names.sort();
        found_names.sort();
        ensure!(
            found_messages == messages,
            "search {q:?} found messages {found_messages:?}, model {messages:?}"
        );
        ensure!(
            found_names == names,
            "search {q:?} found chat names {found_names:?}, model {names:?}"
        );
        Ok(())
    }

    /// Every page of a search, following cursors: the message hits and the name hits.
    async fn walk_search(
        &mut self,
        base: &str,
        q: &str,
        auth: &Auth,
        user_api: bool,
    ) -> Result<(BTreeMap<i64, (&'static str, String)>, Vec<String>), String> {
        let list = if user_api { "results" } else { "data" };
        let mut messages = BTreeMap::new();
        let mut names = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..1_000 {
            let mut path = format!("{base}?limit={PAGE}&q={}", encode(q));
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, body) = self.call(Method::GET, &path, auth, None).await;
            ensure!(status == StatusCode::OK, "{path}: {status} {body}");
            let hits = body[list].as_array().cloned().unwrap_or_default();
            ensure!(hits.len() <= PAGE, "page over {PAGE}: {body}");
            for hit in &hits {
                let name = hit["chat_name"].as_str().ok_or(format!("hit {hit}"))?;
                match hit["message_id"].as_i64() {
                    Some(id) => {
                        let actor =
                            crate::support::tree::actor(hit["actor"].as_str().unwrap_or_default())
                                .ok_or(format!("actor of {hit}"))?;
                        let before = messages.insert(id, (actor, name.to_owned()));
                        ensure!(before.is_none(), "message {id} found twice: {body}");
                    }
                    None => {
                        ensure!(hit["actor"] == Value::Null, "name hit with actor: {hit}");
                        names.push(name.to_owned());
                    }
                }
            }
            match body["next_cursor"].as_str() {
                Some(next) => {
                    ensure!(hits.len() == PAGE, "a short page with a cursor: {body}");
                    cursor = Some(next.to_owned());
                }
                None => return Ok((messages, names)),
            }
        }
        Err(format!("search {q:?} never ends"))
    }
}

/// `q` for a query string (the model's words are letters and digits, but a prefix has a
/// `*`).
fn encode(q: &str) -> String {
    q.replace('*', "%2A")
}
