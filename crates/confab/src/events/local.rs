//! The in-process hub: fan-out to this node's connections, ordered per chat.

use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use super::streams::ReplyStreams;
use super::{ChatEvent, CloseReason, EventBus, Flavor, Frame, Subscription};

/// How long a later change waits for an earlier one whose publisher was lost (for
/// instance a request cancelled between commit and publish) before it is sent anyway.
const GAP_WAIT: Duration = Duration::from_millis(500);

pub struct LocalHub {
    inner: Arc<Mutex<Chats>>,
    buffer: usize,
    streams: Arc<ReplyStreams>,
    node: String,
}

#[derive(Default)]
struct Chats {
    chats: HashMap<i64, ChatFanout>,
    next_subscriber: u64,
}

struct ChatFanout {
    subscribers: Vec<Subscriber>,
    /// The sequence number the next delivered change must carry.
    next_seq: i64,
    /// Changes that arrived ahead of an earlier one.
    pending: BTreeMap<i64, ChatEvent>,
    /// Deltas that arrived while changes were pending: sent once those are.
    held: Vec<ChatEvent>,
    gap_timer: bool,
}

struct Subscriber {
    id: u64,
    flavor: Flavor,
    frames: mpsc::Sender<Frame>,
    close: Option<oneshot::Sender<CloseReason>>,
}

impl Subscriber {
    fn kick(&mut self, reason: CloseReason) {
        if let Some(close) = self.close.take() {
            let _ = close.send(reason);
        }
    }
}

impl ChatFanout {
    /// Sends one change in its turn.
    fn deliver(&mut self, event: ChatEvent) {
        self.next_seq = event.seq + 1;
        self.send(event);
    }

    /// Sends a delta now, or after the pending changes (it follows them).
    fn deliver_transient(&mut self, event: ChatEvent) {
        if self.pending.is_empty() {
            self.send(event);
        } else {
            self.held.push(event);
        }
    }

    /// Sends the held deltas once nothing is pending.
    fn release_held(&mut self) {
        if self.pending.is_empty() {
            for event in std::mem::take(&mut self.held) {
                self.send(event);
            }
        }
    }

    /// Sends an event to every subscriber; drops (and signals) any that cannot keep up.
    fn send(&mut self, event: ChatEvent) {
        // Frames are shared: taken over once per change, whatever the subscriber count.
        let user: Vec<Frame> = event.user_frames.into_iter().map(Frame::from).collect();
        let tenant: Vec<Frame> = event.tenant_frames.into_iter().map(Frame::from).collect();
        self.subscribers.retain_mut(|subscriber| {
            let frames = match subscriber.flavor {
                Flavor::User => &user,
                Flavor::Tenant => &tenant,
            };
            for frame in frames {
                if subscriber.frames.try_send(frame.clone()).is_err() {
                    subscriber.kick(CloseReason::TooSlow);
                    return false;
                }
            }
            if event.closes {
                subscriber.kick(CloseReason::ChatDeleted);
                return false;
            }
            true
        });
    }

    /// Delivers every pending change that is next in line.
    fn drain(&mut self) {
        while let Some(event) = self.pending.remove(&self.next_seq) {
            self.deliver(event);
        }
        self.release_held();
    }

    /// Gives up on the missing change(s): delivers whatever is pending, in order.
    fn skip_gap(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for event in pending.into_values() {
            if event.seq >= self.next_seq {
                self.deliver(event);
            }
        }
        self.release_held();
    }
}

impl Default for LocalHub {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl LocalHub {
    /// `buffer`: frames a connection may have unsent before it counts as too slow.
    pub fn new(buffer: usize) -> Self {
        LocalHub {
            inner: Arc::new(Mutex::new(Chats::default())),
            buffer: buffer.max(1),
            streams: Arc::new(ReplyStreams::default()),
            node: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// The running replies' streams as this node sees them.
    pub fn streams(&self) -> &Arc<ReplyStreams> {
        &self.streams
    }

    fn lock(inner: &Mutex<Chats>) -> MutexGuard<'_, Chats> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing live events, so recover the guard.
        inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Delivers a change to this node's connections, in sequence order.
    pub fn deliver(&self, event: ChatEvent) {
        let chat_id = event.chat_id;
        if let Some(piece) = &event.stream {
            self.streams.apply(piece);
        }
        let mut chats = Self::lock(&self.inner);
        let Some(fanout) = chats.chats.get_mut(&chat_id) else {
            return; // nobody here is watching this chat
        };
        if event.is_transient() {
            if !event.user_frames.is_empty() || !event.tenant_frames.is_empty() {
                fanout.deliver_transient(event);
            }
        } else if event.seq < fanout.next_seq {
            return; // already reflected in what the subscribers read when they joined
        } else if event.seq == fanout.next_seq {
            fanout.deliver(event);
            fanout.drain();
        } else {
            fanout.pending.insert(event.seq, event);
            if !fanout.gap_timer {
                fanout.gap_timer = true;
                let inner = Arc::downgrade(&self.inner);
                tokio::spawn(async move {
                    tokio::time::sleep(GAP_WAIT).await;
                    Self::close_gap(inner, chat_id);
                });
            }
        }
        if fanout.subscribers.is_empty() {
            chats.chats.remove(&chat_id);
        }
    }

    fn close_gap(inner: Weak<Mutex<Chats>>, chat_id: i64) {
        let Some(inner) = inner.upgrade() else { return };
        let mut chats = Self::lock(&inner);
        if let Some(fanout) = chats.chats.get_mut(&chat_id) {
            fanout.gap_timer = false;
            fanout.skip_gap();
            if fanout.subscribers.is_empty() {
                chats.chats.remove(&chat_id);
            }
        }
    }

    /// Registers a connection on this node.
    pub fn subscribe_local(
        &self,
        chat_id: i64,
        flavor: Flavor,
        known_version: i64,
    ) -> Subscription {
        let (frames_tx, frames_rx) = mpsc::channel(self.buffer);
        let (close_tx, close_rx) = oneshot::channel();
        let mut chats = Self::lock(&self.inner);
        chats.next_subscriber += 1;
        let id = chats.next_subscriber;
        let fanout = chats.chats.entry(chat_id).or_insert_with(|| ChatFanout {
            subscribers: Vec::new(),
            next_seq: known_version + 1,
            pending: BTreeMap::new(),
            held: Vec::new(),
            gap_timer: false,
        });
        fanout.subscribers.push(Subscriber {
            id,
            flavor,
            frames: frames_tx,
            close: Some(close_tx),
        });
        Subscription {
            frames: frames_rx,
            closed: close_rx,
            guard: Box::new(Unsubscribe {
                inner: Arc::downgrade(&self.inner),
                chat_id,
                id,
            }),
        }
    }

    /// Connections to the chat on this node.
    pub fn local_connections(&self, chat_id: i64) -> u64 {
        Self::lock(&self.inner)
            .chats
            .get(&chat_id)
            .map_or(0, |fanout| fanout.subscribers.len() as u64)
    }

    /// Every chat with connections on this node, with their counts.
    pub fn local_presence(&self) -> Vec<(i64, u64)> {
        Self::lock(&self.inner)
            .chats
            .iter()
            .map(|(chat, fanout)| (*chat, fanout.subscribers.len() as u64))
            .filter(|(_, count)| *count > 0)
            .collect()
    }

    pub fn close_all_local(&self, reason: CloseReason) {
        let mut chats = Self::lock(&self.inner);
        for fanout in chats.chats.values_mut() {
            for subscriber in &mut fanout.subscribers {
                subscriber.kick(reason);
            }
            fanout.subscribers.clear();
        }
        chats.chats.clear();
    }
}

/// Removes a connection from the hub when its WebSocket task ends.
struct Unsubscribe {
    inner: Weak<Mutex<Chats>>,
    chat_id: i64,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let Some(inner) = self.inner.upgrade() else {
            return;
        };
        let mut chats = LocalHub::lock(&inner);
        if let Some(fanout) = chats.chats.get_mut(&self.chat_id) {
            fanout.subscribers.retain(|s| s.id != self.id);
            if fanout.subscribers.is_empty() && !fanout.gap_timer {
                chats.chats.remove(&self.chat_id);
            }
        }
    }
}

#[async_trait]
impl EventBus for LocalHub {
    async fn publish(&self, event: ChatEvent) {
        self.deliver(event);
    }

    fn deliver_here(&self, event: ChatEvent) {
        self.deliver(event);
    }

    async fn subscribe(&self, chat_id: i64, flavor: Flavor, known_version: i64) -> Subscription {
        self.subscribe_local(chat_id, flavor, known_version)
    }

    async fn active_connections(&self, chat_id: i64) -> anyhow::Result<u64> {
        Ok(self.local_connections(chat_id))
    }

    fn close_all(&self) {
        self.close_all_local(CloseReason::ServerShutdown);
    }

    fn health(&self) -> (&'static str, bool) {
        ("in-process", true)
    }

    fn streams(&self) -> &Arc<ReplyStreams> {
        &self.streams
    }

    fn node_id(&self) -> &str {
        &self.node
    }

    async fn node_alive(&self, node: &str) -> anyhow::Result<bool> {
        Ok(node == self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(chat_id: i64, seq: i64, text: &str) -> ChatEvent {
        ChatEvent {
            chat_id,
            seq,
            user_frames: vec![text.to_owned()],
            tenant_frames: vec![format!("t:{text}")],
            closes: false,
            stream: None,
        }
    }

    #[tokio::test]
    async fn delivers_in_sequence_order_even_when_published_out_of_order() {
        let hub = LocalHub::new(16);
        let mut sub = hub.subscribe_local(1, Flavor::User, 10);
        hub.deliver(event(1, 13, "c"));
        hub.deliver(event(1, 11, "a"));
        hub.deliver(event(1, 12, "b"));
        hub.deliver(event(1, 9, "stale"));
        for expected in ["a", "b", "c"] {
            assert_eq!(
                sub.frames.recv().await.as_ref().map(Frame::as_str),
                Some(expected)
            );
        }
        assert!(
            sub.frames.try_recv().is_err(),
            "the stale change is not delivered"
        );
    }

    #[tokio::test]
    async fn a_lost_change_delays_later_ones_only_briefly() {
        let hub = LocalHub::new(16);
        let mut sub = hub.subscribe_local(1, Flavor::Tenant, 0);
        hub.deliver(event(1, 2, "second"));
        let got = tokio::time::timeout(Duration::from_secs(5), sub.frames.recv()).await;
        assert_eq!(
            got.ok().flatten().as_ref().map(Frame::as_str),
            Some("t:second")
        );
    }

    #[tokio::test]
    async fn a_slow_consumer_is_cut_off_and_others_keep_receiving() {
        let hub = LocalHub::new(2);
        let mut slow = hub.subscribe_local(1, Flavor::User, 0);
        let mut fast = hub.subscribe_local(1, Flavor::User, 0);
        for seq in 1..=3 {
            hub.deliver(event(1, seq, "x"));
            assert_eq!(
                fast.frames.recv().await.as_ref().map(Frame::as_str),
                Some("x")
            );
        }
        assert_eq!(slow.closed.try_recv(), Ok(CloseReason::TooSlow));
        assert_eq!(hub.local_connections(1), 1);
    }

    #[tokio::test]
    async fn presence_counts_until_the_guard_drops() {
        let hub = LocalHub::new(4);
        let a = hub.subscribe_local(7, Flavor::User, 0);
        let b = hub.subscribe_local(7, Flavor::Tenant, 0);
        assert_eq!(hub.local_connections(7), 2);
        drop(a);
        assert_eq!(hub.local_connections(7), 1);
        drop(b);
        assert_eq!(hub.local_connections(7), 0);
    }
}
