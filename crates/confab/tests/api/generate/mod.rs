//! Generated replies (SPEC §8), against the OpenAI-compatible test double: streaming and
//! not, both APIs, regenerate, the history sent, resume, stop, the 409 rule, the
//! concurrency cap, replies of lost nodes, and every upstream failure.

mod failures;
mod flows;
mod nodes;
mod resume;

use futures_util::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

use crate::support::llm_double::LlmDouble;
use crate::support::{Auth, Backend, TestApp, TestUser};
use crate::tenant_support::PATIENCE;

/// A server configured with the double as its provider.
pub async fn app_with_double(
    backend: Backend,
    tweak: impl FnOnce(&mut confab::config::Config),
) -> (TestApp, LlmDouble) {
    let double = LlmDouble::start().await;
    let base = double.base_url();
    let app = TestApp::spawn_with(backend, |config| {
        config.llm.llm_base_url = Some(base);
        config.llm.llm_timeout_seconds = 2;
        tweak(config);
    })
    .await;
    (app, double)
}

/// One user with one chat (model `echo`), and the chat's path.
pub struct UserChat {
    pub user: TestUser,
    pub id: i64,
    pub path: String,
}

pub async fn user_chat(app: &TestApp, email: &str) -> UserChat {
    let user = app.sign_up(email).await;
    let id = app.create_chat(&user, "generated").await;
    let path = format!("/api/users/{}/chats/{id}", user.id);
    UserChat { user, id, path }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// An open event stream, read event by event.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped); `None` when the stream ends.
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".to_owned(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                let mut any = false;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                        any = true;
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                        any = true;
                    }
                }
                if !any {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(event);
            }
            let next = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("timed out waiting for an event");
            match next {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Events until `count` deltas have come (the messages created before them too).
    pub async fn until_deltas(&mut self, count: usize) -> Vec<SseEvent> {
        let mut events: Vec<SseEvent> = Vec::new();
        while events.iter().filter(|e| e.event == "message.delta").count() < count {
            events.push(self.next().await.expect("an event"));
        }
        events
    }

    /// Every event up to and including the end event (`message.completed` or
    /// `message.failed`), or until the stream ends.
    pub async fn until_end(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            let end = event.event == "message.completed" || event.event == "message.failed";
            events.push(event);
            if end {
                break;
            }
        }
        events
    }
}

/// POSTs a generate request and opens its event stream.
pub async fn generate_sse(app: &TestApp, path: &str, auth: &Auth, body: Value) -> SseReader {
    let response = auth
        .apply(
            app.client
                .post(app.url(&format!("{path}/generate")))
                .json(&body),
        )
        .send()
        .await
        .expect("sent");
    SseReader::new(response)
}

/// Opens a resume stream with `Last-Event-ID` (when given).
pub async fn resume_sse(
    app: &TestApp,
    url: &str,
    auth: &Auth,
    last_event_id: Option<u64>,
) -> SseReader {
    let mut request = auth.apply(app.client.get(url));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id.to_string());
    }
    SseReader::new(request.send().await.expect("sent"))
}

/// The deltas' texts, joined, and checks their seqs run 1, 2, 3... from `first`.
pub fn joined_deltas(events: &[SseEvent], first: u64) -> String {
    let deltas: Vec<&SseEvent> = events
        .iter()
        .filter(|e| e.event == "message.delta")
        .collect();
    for (i, delta) in deltas.iter().enumerate() {
        let seq = first + i as u64;
        assert_eq!(delta.data["seq"], json!(seq), "{events:?}");
        assert_eq!(delta.id.as_deref(), Some(seq.to_string().as_str()));
    }
    deltas
        .iter()
        .map(|d| d.data["text"].as_str().expect("text").to_owned())
        .collect()
}

/// Waits until the message's stored status is `status`; answers the message.
pub async fn stored_when(app: &TestApp, chat: &UserChat, message_id: i64, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let (code, tree) = app
            .get(&format!("{}/tree", chat.path), &chat.user.auth)
            .await;
        assert_eq!(code, StatusCode::OK, "{tree}");
        let found = tree["chatMessages"]
            .as_array()
            .expect("messages")
            .iter()
            .find(|m| m["id"] == json!(message_id))
            .cloned();
        if let Some(message) = found.filter(|m| m["status"] == json!(status)) {
            return message;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "message {message_id} never became {status}: {tree}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
