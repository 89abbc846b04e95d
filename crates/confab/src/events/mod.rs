//! Live events: every committed change to a chat, delivered to its WebSocket connections
//! in commit order, plus presence (how many connections a chat has).
//!
//! A change carries the chat's `version` after the commit as its sequence number; the
//! hub delivers a chat's changes in sequence order even when the tasks that committed
//! them publish out of order (or on other nodes).

pub mod local;
pub mod redis;
pub mod streams;

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

/// Which API a connection came through: decides which frames of an event it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flavor {
    /// The user API's frames.
    User,
    /// The tenant API's frames.
    Tenant,
}

/// One committed change, its frames already rendered as text once per flavor (by
/// `views::frames`): this layer carries them without knowing their shape. This is also
/// what travels between nodes through Redis.
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
    /// A generated reply's stream: a delta (delivered at once, outside the `seq` order:
    /// deltas do not change the chat's version), its end, or a request to stop it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamPiece>,
}

impl ChatEvent {
    /// Whether the event stands outside the chat's `seq` order (a delta, a stop).
    pub fn is_transient(&self) -> bool {
        matches!(
            self.stream,
            Some(StreamPiece::Delta { .. } | StreamPiece::Stop { .. })
        )
    }
}

/// What an event tells the nodes' reply streams ([`streams::ReplyStreams`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StreamPiece {
    /// The reply's delta number `seq` (from 1).
    Delta {
        message_id: i64,
        seq: u64,
        text: String,
    },
    /// The reply ended; its final state is in the database.
    End { message_id: i64 },
    /// Stop the reply, on whichever node produces it.
    Stop { message_id: i64 },
}

/// One text frame as a connection receives it. Every connection of a flavor gets the
/// same bytes: cloning shares them rather than copying the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame(Bytes);

impl Frame {
    /// The frame's UTF-8 bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The frame's text.
    pub fn as_str(&self) -> &str {
        // Built only from text (below), so this is always the whole frame.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl From<String> for Frame {
    fn from(text: String) -> Self {
        Frame(Bytes::from(text))
    }
}

impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    pub frames: mpsc::Receiver<Frame>,
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
    /// Delivers an event to this node's connections only: one every node learns by
    /// itself (the revocation watcher reads erasures from the database).
    fn deliver_here(&self, event: ChatEvent);
    /// Live connections to the chat, across every node.
    async fn active_connections(&self, chat_id: i64) -> anyhow::Result<u64>;
    /// Closes every connection on this node (server shutdown).
    fn close_all(&self);
    /// Human-readable state for `/healthz` (e.g. whether Redis is reachable).
    fn health(&self) -> (&'static str, bool);
    /// The running replies' streams as this node sees them (fed by `publish` here and by
    /// the events of other nodes).
    fn streams(&self) -> &std::sync::Arc<streams::ReplyStreams>;
    /// This node's id (random per start): running replies record their producer's.
    fn node_id(&self) -> &str;
    /// Whether the node of that id is running (alone: only this node is). An error when
    /// that cannot be known now.
    async fn node_alive(&self, node: &str) -> anyhow::Result<bool>;
}
