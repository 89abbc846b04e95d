//! Seeding through the real API.

use anyhow::Context as _;
use serde_json::{json, Value};
use std::net::SocketAddr;

use crate::load::{request, Connection};

/// A signed-in user of the server under test.
pub struct Client {
    pub connection: Connection,
    pub cookie: String,
    pub user_id: i64,
}

impl Client {
    pub async fn sign_up(address: SocketAddr, email: &str) -> anyhow::Result<Self> {
        Self::sign_up_in(address, email, None).await
    }

    /// Signs up in a given tenant (`None`: the default tenant).
    pub async fn sign_up_in(
        address: SocketAddr,
        email: &str,
        tenant: Option<&str>,
    ) -> anyhow::Result<Self> {
        let mut connection = Connection::open(address).await?;
        let mut body = json!({"email": email, "password": "benchmark password"});
        if let Some(tenant) = tenant {
            body["tenant_id"] = json!(tenant);
        }
        let (status, headers, bytes) = connection
            .send_full(request("POST", "/api/auth/sign-up", None, Some(&body)))
            .await?;
        anyhow::ensure!(status.as_u16() == 201, "sign-up answered {status}");
        let cookie = headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_owned();
        let user: Value = serde_json::from_slice(&bytes)?;
        let user_id = user["user"]["id"].as_i64().context("no user id")?;
        Ok(Client {
            connection,
            cookie,
            user_id,
        })
    }

    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let (status, bytes) = self
            .connection
            .send(request(method, path, Some(&self.cookie), body))
            .await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status.as_u16(), value))
    }

    pub async fn create_chat(&mut self, name: &str) -> anyhow::Result<i64> {
        let path = format!("/api/users/{}/chats", self.user_id);
        let (status, body) = self
            .call(
                "POST",
                &path,
                Some(&json!({"name": name, "model": "bench"})),
            )
            .await?;
        anyhow::ensure!(status == 200, "create chat answered {status}: {body}");
        body["chat"]["id"].as_i64().context("no chat id")
    }

    /// Posts `messages` as batches of at most 100.
    pub async fn post_batch(
        &mut self,
        chat: i64,
        messages: &[(String, &str)],
    ) -> anyhow::Result<()> {
        let path = format!("/api/users/{}/chats/{chat}/messages", self.user_id);
        for chunk in messages.chunks(100) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|(text, role)| json!({"content": text, "role": role}))
                .collect();
            let (status, body) = self
                .call("POST", &path, Some(&json!({"messages": items})))
                .await?;
            anyhow::ensure!(status == 200, "post answered {status}: {body}");
        }
        Ok(())
    }
}

/// Messages of about `size` bytes, alternating user/assistant; every `code_every`-th one
/// (always an assistant message) carries a code block that becomes a file.
pub fn conversation(count: usize, size: usize, code_every: usize) -> Vec<(String, &'static str)> {
    (0..count)
        .map(|i| {
            let role = if i % 2 == 0 { "user" } else { "assistant" };
            let code = role == "assistant" && code_every > 0 && i % code_every == code_every - 1;
            let mut text = format!("Message {i}: ");
            if code {
                text.push_str("here is the code:\n```python\ndef answer():\n    return 42\n```\n");
            }
            while text.len() < size {
                text.push_str("lorem ipsum dolor sit amet ");
            }
            if !code {
                text.truncate(size); // ASCII only, so any byte index is a char boundary
            }
            (text, role)
        })
        .collect()
}
