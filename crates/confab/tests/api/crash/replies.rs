//! Generated replies through kills (SPEC §8): one client generates replies one after the
//! other in a chat of its own, reading each reply's stream, while the node is killed.
//! After each restart no reply is left `generating`; a reply whose stream ended
//! `message.completed` is stored complete with all of its text; a reply cut by the kill
//! is `interrupted` (or `complete`, if it ended unseen) with a prefix of its text; and
//! every reply whose `message.created` arrived is there, under its user message.

use reqwest::Method;
use serde_json::json;

use super::api::{send, Api};
use crate::generate::{SseEvent, SseReader};

/// Each reply: 40 deltas 4 ms apart (the double's `count` model), so kills find some
/// mid-way.
const MODEL: &str = "count-40-4";

fn full_text() -> String {
    (1..=40).map(|i| format!("w{i} ")).collect()
}

struct Reply {
    id: i64,
    user_message: i64,
    /// The stream said `message.completed`.
    completed: bool,
}

pub struct Generator {
    api: Api,
    chat_path: String,
    replies: Vec<Reply>,
    pub generated: u64,
    pub cut: u64,
    /// Answers that were wrong while the node lived.
    pub errors: Vec<String>,
}

impl Generator {
    pub async fn new(client: &reqwest::Client, base: &str, api: Api) -> Generator {
        let (status, body) = send(
            client,
            base,
            &api,
            Method::POST,
            &api.chats_path(),
            Some(json!({"name": "replies", "model": MODEL})),
        )
        .await
        .expect("create the replies chat");
        assert!(status.is_success(), "{body}");
        let id = body["chat"]["id"].as_i64().expect("chat id").to_string();
        let chat_path = api.chat_path(&id);
        Generator {
            api,
            chat_path,
            replies: Vec::new(),
            generated: 0,
            cut: 0,
            errors: Vec::new(),
        }
    }

    /// Generates replies one after the other until the node dies.
    pub async fn run(mut self, client: reqwest::Client, base: String) -> Generator {
        loop {
            let Api::User { cookie, .. } = &self.api else {
                return self;
            };
            let sent = client
                .post(format!("{base}{}/generate", self.chat_path))
                .header("cookie", cookie)
                .json(&json!({"message": {"content": "count"}}))
                .send()
                .await;
            let Ok(response) = sent else { return self };
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                self.errors
                    .push(format!("generate answered {status}: {body}"));
                return self;
            }
            let mut events = SseReader::new(response);
            let mut reply: Option<Reply> = None;
            let mut user_message = None;
            loop {
                let Some(SseEvent { event, data, .. }) = events.next().await else {
                    match reply.take() {
                        // Cut by the kill.
                        Some(reply) => {
                            self.cut += 1;
                            self.replies.push(reply);
                            return self;
                        }
                        // The stream ended after its end event: the next reply.
                        None => break,
                    }
                };
                match event.as_str() {
                    "message.created" if data["actor"] == "user" => {
                        user_message = data["id"].as_i64();
                    }
                    "message.created" => {
                        reply = Some(Reply {
                            id: data["id"].as_i64().unwrap_or(0),
                            user_message: user_message.unwrap_or(0),
                            completed: false,
                        });
                    }
                    "message.completed" | "message.failed" => {
                        if let Some(mut done) = reply.take() {
                            done.completed = event == "message.completed";
                            self.generated += 1;
                            self.replies.push(done);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// What is wrong with the stored replies after a restart.
    pub async fn verify(&self, client: &reqwest::Client, base: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let Some((status, tree)) = send(
            client,
            base,
            &self.api,
            Method::GET,
            &format!("{}/tree", self.chat_path),
            None,
        )
        .await
        else {
            return vec!["the replies chat could not be read".to_owned()];
        };
        if !status.is_success() {
            return vec![format!("reading the replies chat: {status} {tree}")];
        }
        let messages = tree["chatMessages"].as_array().cloned().unwrap_or_default();
        let full = full_text();
        for message in &messages {
            if message["status"] == "generating" {
                problems.push(format!(
                    "reply {} is still generating after a restart",
                    message["id"]
                ));
            }
        }
        for reply in &self.replies {
            let Some(stored) = messages.iter().find(|m| m["id"] == json!(reply.id)) else {
                problems.push(format!("reply {} was announced and is gone", reply.id));
                continue;
            };
            if stored["parent_id"] != json!(reply.user_message) {
                problems.push(format!(
                    "reply {} is not under its user message: {stored}",
                    reply.id
                ));
            }
            let text = stored["message"].as_str().unwrap_or("");
            let status = stored["status"].as_str().unwrap_or("");
            if reply.completed {
                if status != "complete" || text != full {
                    problems.push(format!(
                        "completed reply {} stored as {status}: {text:?}",
                        reply.id
                    ));
                }
            } else if !(status == "interrupted" || status == "complete") || !full.starts_with(text)
            {
                problems.push(format!(
                    "cut reply {} stored as {status}: {text:?}",
                    reply.id
                ));
            }
        }
        problems
    }
}
