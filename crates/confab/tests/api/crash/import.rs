//! Imports through kills (SPEC §10). Every round a ChatGPT export of fresh conversations
//! (each a question with two answers, one of them current) is imported into a tenant of
//! its own while the node dies. After the restart every imported chat is whole (all four
//! messages, both branches, the right current leaf), an acknowledged import has every
//! conversation, and importing the file again completes it without a duplicate.

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeMap;

use super::api::{send, Api};

/// Conversations in each round's file.
const CONVERSATIONS: usize = 40;
/// Messages each conversation becomes: a question, two answers, a follow-up.
const MESSAGES: usize = 4;

pub struct Importer {
    key: String,
    round: Option<(usize, bool)>,
    /// Chats found after restarts, and imports acknowledged.
    pub found_whole: u64,
    pub acknowledged: u64,
}

/// A round's file: conversations `crash-{round}-{i}`.
fn export_file(round: usize) -> Value {
    let conversations: Vec<Value> = (0..CONVERSATIONS)
        .map(|i| {
            let node = |id: &str, parent: Option<&str>, children: &[&str], role: &str, text: String, at: f64| {
                json!({"id": id, "parent": parent, "children": children, "message": {
                    "id": id, "author": {"role": role}, "create_time": at,
                    "content": {"content_type": "text", "parts": [text]},
                    "metadata": {"model_slug": "gpt-crash"}}})
            };
            let at = 1_700_000_000.0 + (round * 1000 + i) as f64;
            json!({
                "id": format!("crash-{round}-{i}"),
                "title": format!("crash {round} {i}"),
                "create_time": at,
                "update_time": at + 9.0,
                "current_node": "d",
                "mapping": {
                    "root": {"id": "root", "parent": null, "children": ["a"], "message": null},
                    "a": node("a", Some("root"), &["b", "c"], "user", format!("question {i}"), at + 1.0),
                    "b": node("b", Some("a"), &[], "assistant", format!("first answer {i}"), at + 2.0),
                    "c": node("c", Some("a"), &["d"], "assistant", format!("second answer {i}"), at + 3.0),
                    "d": node("d", Some("c"), &[], "user", format!("thanks {i}"), at + 4.0),
                },
            })
        })
        .collect();
    Value::Array(conversations)
}

impl Importer {
    pub fn new(key: String) -> Importer {
        Importer {
            key,
            round: None,
            found_whole: 0,
            acknowledged: 0,
        }
    }

    fn api(&self) -> Api {
        Api::Tenant {
            key: self.key.clone(),
        }
    }

    /// While the node may die: this round's import.
    pub async fn run(mut self, client: reqwest::Client, base: String, round: usize) -> Importer {
        let answer = send(
            &client,
            &base,
            &self.api(),
            reqwest::Method::POST,
            "/api/v1/import?format=chatgpt",
            Some(export_file(round)),
        )
        .await;
        let acked = matches!(&answer, Some((StatusCode::OK, body))
            if body["chats_imported"] == json!(CONVERSATIONS) && body["errors"] == json!([]));
        self.acknowledged += u64::from(acked);
        self.round = Some((round, acked));
        self
    }

    /// After the restart: every chat of the tenant whole; the round's import complete
    /// if acknowledged; then the file again, which must store exactly what is missing.
    pub async fn verify(&mut self, client: &reqwest::Client, base: &str) -> Vec<String> {
        let Some((round, acked)) = self.round.take() else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let chats = self.export(client, base, &mut problems).await;
        let of_round = chats
            .keys()
            .filter(|source| source.starts_with(&format!("chatgpt:crash-{round}-")))
            .count();
        if acked && of_round != CONVERSATIONS {
            problems.push(format!(
                "import of round {round} was acknowledged, {of_round} of {CONVERSATIONS} chats found"
            ));
        }
        let again = send(
            client,
            base,
            &self.api(),
            reqwest::Method::POST,
            "/api/v1/import?format=chatgpt",
            Some(export_file(round)),
        )
        .await;
        let want = json!({"chats_imported": CONVERSATIONS - of_round,
                          "messages_imported": (CONVERSATIONS - of_round) * MESSAGES,
                          "skipped_duplicates": of_round, "errors": []});
        match again {
            Some((StatusCode::OK, body)) if body == want => {}
            other => problems.push(format!(
                "re-import of round {round}: {other:?}, want {want}"
            )),
        }
        let chats = self.export(client, base, &mut problems).await;
        if chats.len() != round * CONVERSATIONS {
            problems.push(format!(
                "after {round} rounds the tenant has {} imported chats",
                chats.len()
            ));
        }
        self.found_whole = chats.len() as u64;
        problems
    }

    /// The tenant's chats by source id, each checked whole.
    async fn export(
        &self,
        client: &reqwest::Client,
        base: &str,
        problems: &mut Vec<String>,
    ) -> BTreeMap<String, Value> {
        let response = client
            .get(format!("{base}/api/v1/export"))
            .header("x-api-key", &self.key)
            .send()
            .await
            .expect("export sent");
        assert_eq!(response.status(), StatusCode::OK, "export after restart");
        let text = response.text().await.expect("export read");
        let mut chats = BTreeMap::new();
        for line in text.lines() {
            let chat: Value = serde_json::from_str(line).expect("export line");
            let source = chat["source_id"].as_str().unwrap_or_default().to_owned();
            if let Some(problem) = whole(&chat) {
                problems.push(format!("imported chat {source}: {problem}"));
            }
            if chats.insert(source.clone(), chat).is_some() {
                problems.push(format!("{source} imported twice"));
            }
        }
        chats
    }
}

/// Why an imported chat is not whole, if it is not: four messages, the two answers
/// siblings, the follow-up current under the second.
fn whole(chat: &Value) -> Option<String> {
    let messages = chat["messages"].as_array()?;
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["message"].as_str().unwrap_or_default())
        .collect();
    if messages.len() != MESSAGES {
        return Some(format!("{} messages: {texts:?}", messages.len()));
    }
    let (question, first, second, thanks) =
        (&messages[0], &messages[1], &messages[2], &messages[3]);
    let shape_ok = question["parent_id"].is_null()
        && first["parent_id"] == question["id"]
        && second["parent_id"] == question["id"]
        && thanks["parent_id"] == second["id"]
        && chat["chat"]["current_message_id"] == thanks["id"]
        && texts[0].starts_with("question ")
        && texts[3].starts_with("thanks ");
    (!shape_ok).then(|| format!("wrong shape: {chat}"))
}
