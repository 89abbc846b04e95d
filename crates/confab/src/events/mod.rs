//! Live events: every committed change to a chat, delivered to its WebSocket connections
//! in commit order, plus presence (how many connections a chat has).
//!
//! A change carries the chat's `version` after the commit as its sequence number; the
//! hub delivers a chat's changes in sequence order even when the tasks that committed
//! them publish out of order (or on other nodes).

mod local;
mod redis;

use async_trait::async_trait;
use axum::extract::ws::Utf8Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

pub use self::redis::{RedisBus, RedisOptions};
pub use local::LocalHub;

use crate::http::views::{ChatView, MessageView, TenantChatView};
use crate::store::{ChatRecord, MessageRecord};

/// Which API a connection came through: decides the form of `chat_id` in its frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavor {
    /// `chat_id` is the integer id.
    User,
    /// `chat_id` is the uuid.
    Tenant,
}

/// One committed change, rendered once for each flavor.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChatEvent {
    pub chat_id: i64,
    pub seq: i64,
    /// Text frames for user-API connections.
    pub user_frames: Vec<String>,
    /// Text frames for tenant-API connections.
    pub tenant_frames: Vec<String>,
    /// The chat is gone: connections close after these frames.
    pub closes: bool,
}

impl ChatEvent {
    /// Renders the frames once per flavor; `make` gets the flavor and its `chat_id`.
    fn build(
        chat: &ChatRecord,
        seq: i64,
        closes: bool,
        make: impl Fn(Flavor, serde_json::Value) -> Vec<serde_json::Value>,
    ) -> Self {
        let render = |flavor: Flavor| {
            let chat_id = match flavor {
                Flavor::User => json!(chat.id),
                Flavor::Tenant => json!(chat.uuid),
            };
            make(flavor, chat_id)
                .into_iter()
                .map(|frame| frame.to_string())
                .collect()
        };
        ChatEvent {
            chat_id: chat.id,
            seq,
            user_frames: render(Flavor::User),
            tenant_frames: render(Flavor::Tenant),
            closes,
        }
    }

    /// `message.created`, one frame per message.
    pub fn messages_created(chat: &ChatRecord, messages: &[MessageRecord]) -> Self {
        let seq = chat.version;
        Self::build(chat, seq, false, |_, chat_id| {
            messages
                .iter()
                .map(|message| {
                    json!({"type": "message.created", "chat_id": chat_id, "seq": seq,
                           "message": MessageView::with_files(message)})
                })
                .collect()
        })
    }

    /// `messages.deleted` with the ids removed.
    pub fn messages_deleted(chat: &ChatRecord, ids: Vec<i64>) -> Self {
        let seq = chat.version;
        Self::build(chat, seq, false, |_, chat_id| {
            vec![
                json!({"type": "messages.deleted", "chat_id": chat_id, "seq": seq, "message_ids": ids}),
            ]
        })
    }

    /// `chat.updated` with the chat as its API shows it.
    pub fn updated(chat: &ChatRecord) -> Self {
        let seq = chat.version;
        ChatEvent {
            chat_id: chat.id,
            seq,
            user_frames: vec![chat_updated(chat.id, seq, ChatView::from(chat))],
            tenant_frames: vec![chat_updated(chat.uuid, seq, TenantChatView::from(chat))],
            closes: false,
        }
    }

    /// `chat.deleted`; connections close after it. Deletion is the chat's last change,
    /// one past its final version.
    pub fn deleted(chat: &ChatRecord) -> Self {
        let seq = chat.version + 1;
        Self::build(chat, seq, true, |_, chat_id| {
            vec![json!({"type": "chat.deleted", "chat_id": chat_id, "seq": seq})]
        })
    }
}

/// A `chat.updated` frame, serialised straight to text rather than through
/// `serde_json::Value`, so the tenant view's metadata keeps its exact bytes.
fn chat_updated(chat_id: impl Serialize, seq: i64, chat: impl Serialize) -> String {
    #[derive(Serialize)]
    struct Frame<Id, View> {
        #[serde(rename = "type")]
        kind: &'static str,
        chat_id: Id,
        seq: i64,
        chat: View,
    }
    let frame = Frame {
        kind: "chat.updated",
        chat_id,
        seq,
        chat,
    };
    // Ids, numbers, strings and validated raw JSON: serialising them cannot fail.
    serde_json::to_string(&frame).expect("a chat.updated frame serialises")
}

/// Why the server ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The chat was deleted (normal close after `chat.deleted`).
    ChatDeleted,
    /// The consumer fell too far behind; its buffer overflowed.
    TooSlow,
    /// The server is shutting down.
    ServerShutdown,
    /// The API key or session the connection was opened with was revoked or expired.
    CredentialRevoked,
    /// The client sent a frame or message over the size limit.
    MessageTooBig,
}

impl CloseReason {
    /// Whether frames queued before the close still go out: not to a consumer cut off
    /// as too slow (its socket is full), nor once its credential is revoked.
    pub fn delivers_queued_frames(self) -> bool {
        matches!(self, CloseReason::ChatDeleted | CloseReason::ServerShutdown)
    }

    /// WebSocket close code and reason text.
    pub fn close_frame(self) -> (u16, &'static str) {
        match self {
            CloseReason::ChatDeleted => (1000, "chat deleted"),
            // 4000-4999 are for applications; 4008 mirrors 1008 "policy violation".
            CloseReason::TooSlow => (4008, "consumer too slow: event buffer overflowed"),
            CloseReason::ServerShutdown => (1001, "server shutting down"),
            // 4001 mirrors HTTP 401: the connection's credential is no longer valid.
            CloseReason::CredentialRevoked => (4001, "credential revoked"),
            CloseReason::MessageTooBig => (1009, "message too big"),
        }
    }
}

/// A live connection's view of the hub: frames to send, and a signal to close.
pub struct Subscription {
    pub frames: mpsc::Receiver<Utf8Bytes>,
    pub closed: oneshot::Receiver<CloseReason>,
    /// Unregisters the connection (and its presence) when dropped.
    pub guard: Box<dyn Send + Sync>,
}

#[async_trait]
pub trait EventBus: Send + Sync + 'static {
    /// Delivers a committed change to every connection of the chat, on every node.
    async fn publish(&self, event: ChatEvent);
    /// Registers a live connection to a chat whose state the caller has read at
    /// `known_version`.
    async fn subscribe(&self, chat_id: i64, flavor: Flavor, known_version: i64) -> Subscription;
    /// Live connections to the chat, across every node.
    async fn active_connections(&self, chat_id: i64) -> anyhow::Result<u64>;
    /// Closes every connection on this node (server shutdown).
    fn close_all(&self);
    /// Human-readable state for `/healthz` (e.g. whether Redis is reachable).
    fn health(&self) -> (&'static str, bool);
}
