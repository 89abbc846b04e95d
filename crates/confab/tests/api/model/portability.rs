//! Export and import (SPEC §10) against the model: an export (a tenant's, one user's of
//! it, or a user's own) must hold exactly the model's live chats there, each with its
//! whole tree and current leaf; importing it back into its tenant must store nothing.

use rand::Rng as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::BTreeSet;

use super::state::Chat;
use super::{Run, Step};
use crate::support::Auth;

impl Run<'_> {
    /// Exports through one of the three ways and compares every line with the model.
    pub(super) async fn export(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let user = self.user();
        let (path, auth, owner) = match (self.rng.gen_range(0..3), user) {
            (0, Some(u)) => {
                let user = &self.model.users[u];
                (
                    format!("/api/users/{}/export", user.id),
                    user.auth.clone(),
                    Some(u),
                )
            }
            // Users live in the default tenant: the other tenant cannot name them (404).
            (1, Some(u)) => (
                format!("/api/v1/export?user_id={}", self.model.users[u].id),
                self.model.keys[tenant].clone(),
                Some(u),
            ),
            _ => (
                "/api/v1/export".to_owned(),
                self.model.keys[tenant].clone(),
                None,
            ),
        };
        let (status, lines) = self.export_lines(&path, &auth).await?;
        if path.contains("user_id=") && tenant == 1 {
            ensure!(
                status == StatusCode::NOT_FOUND,
                "{path} with another tenant's key: {status}"
            );
            return Ok(());
        }
        ensure!(status == StatusCode::OK, "{path}: {status} {lines:?}");
        let tenant = if path.starts_with("/api/users/") {
            0
        } else {
            tenant
        };
        let want: BTreeSet<String> = self
            .model
            .chats
            .iter()
            .filter(|c| c.tenant == tenant && (owner.is_none() || c.owner == owner))
            .map(|c| c.uuid.clone())
            .collect();
        let got: BTreeSet<String> = lines
            .iter()
            .map(|line| line["chat"]["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        ensure!(
            got == want && got.len() == lines.len(),
            "{path}:\n got  {got:?}\n want {want:?}"
        );
        for line in &lines {
            let uuid = line["chat"]["id"].as_str().unwrap_or_default();
            let Some(chat) = self.model.chats.iter().find(|c| c.uuid == uuid) else {
                return Err(format!("{path}: unknown chat {uuid}"));
            };
            same_chat(line, chat).map_err(|e| format!("{path}: chat {uuid}: {e}"))?;
        }
        Ok(())
    }

    /// Exports a tenant and imports the file back into it: every chat is already there.
    pub(super) async fn reimport(&mut self) -> Step {
        let tenant = usize::from(self.rng.gen_bool(0.3));
        let key = self.model.keys[tenant].clone();
        let (status, lines) = self.export_lines("/api/v1/export", &key).await?;
        ensure!(status == StatusCode::OK, "export: {status}");
        let body: String = lines.iter().map(|line| format!("{line}\n")).collect();
        self.log.push(format!(
            "POST /api/v1/import?format=confab ({} chats)",
            lines.len()
        ));
        let response = key
            .apply(
                self.app
                    .client
                    .post(self.app.url("/api/v1/import?format=confab")),
            )
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let report: Value = response.json().await.map_err(|e| e.to_string())?;
        ensure!(
            status == StatusCode::OK
                && report
                    == json!({"chats_imported": 0, "messages_imported": 0,
                              "skipped_duplicates": lines.len(), "errors": []}),
            "re-import into the same tenant: {status} {report}"
        );
        Ok(())
    }

    /// An export's status and its lines, each parsed.
    async fn export_lines(
        &mut self,
        path: &str,
        auth: &Auth,
    ) -> Result<(StatusCode, Vec<Value>), String> {
        self.log.push(format!("GET {path}"));
        let response = auth
            .apply(self.app.client.get(self.app.url(path)))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if status != StatusCode::OK {
            return Ok((status, Vec::new()));
        }
        let lines = text
            .lines()
            .map(|line| serde_json::from_str(line).map_err(|e| format!("{path}: {e}: {line}")))
            .collect::<Result<Vec<Value>, String>>()?;
        Ok((status, lines))
    }
}

/// One exported line against the model's chat: flags, every message with its parent,
/// actor, text and files, and the current leaf.
fn same_chat(line: &Value, chat: &Chat) -> Result<(), String> {
    let shown = &line["chat"];
    ensure!(
        shown["archived"] == chat.archived
            && shown["pinned"] == chat.pinned
            && shown["tags"] == json!(chat.tags)
            && shown["current_message_id"] == json!(chat.tree.current),
        "chat fields {shown}"
    );
    let messages = line["messages"].as_array().cloned().unwrap_or_default();
    ensure!(
        messages.len() == chat.tree.len(),
        "{} messages, model {}",
        messages.len(),
        chat.tree.len()
    );
    for message in &messages {
        let id = message["id"].as_i64().unwrap_or_default();
        let Some(node) = chat.tree.get(id) else {
            return Err(format!("message {id} is not in the model"));
        };
        let files: Vec<Value> = node
            .data
            .files
            .iter()
            .map(|(title, language, extension)| json!([title, language, extension]))
            .collect();
        let shown_files: Vec<Value> = message["files"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| json!([f["title"], f["language"], f["extension"]]))
            .collect();
        ensure!(
            message["parent_id"] == json!(node.parent)
                && message["actor"] == node.actor
                && message["message"] == node.data.text.as_str()
                && shown_files == files,
            "message {id}: {message}"
        );
    }
    Ok(())
}
