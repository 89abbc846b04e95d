//! Presence: this node's count of connections per chat, kept in Redis, and the sum of
//! every node's.

use anyhow::Context as _;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

use super::shared::{timed, Shared};

/// Asks the presence task to write one chat's count now; `done` is answered after.
pub(super) struct PresenceUpdate {
    pub(super) chat_id: i64,
    pub(super) done: Option<oneshot::Sender<()>>,
}

/// Keeps this node's presence in Redis: writes a chat's count when asked, and all of
/// them at every heartbeat.
pub(super) async fn run_presence(
    shared: Arc<Shared>,
    mut updates: mpsc::UnboundedReceiver<PresenceUpdate>,
) {
    // Chats whose count this node has written and not yet removed.
    let mut written: BTreeSet<i64> = BTreeSet::new();
    let mut heartbeat = tokio::time::interval(shared.ttl / 3);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            update = updates.recv() => {
                let Some(update) = update else { return };
                // Coalesce whatever else is queued into the same round trip.
                let mut chats = BTreeSet::from([update.chat_id]);
                let mut waiting: Vec<oneshot::Sender<()>> = update.done.into_iter().collect();
                while let Ok(more) = updates.try_recv() {
                    chats.insert(more.chat_id);
                    waiting.extend(more.done);
                }
                let counts = chats
                    .into_iter()
                    .map(|chat| (chat, shared.hub.local_connections(chat)))
                    .collect();
                let result = write_presence(&shared, &mut written, counts).await;
                shared.note("presence update", &result);
                for done in waiting {
                    let _ = done.send(());
                }
            }
            _ = heartbeat.tick() => {
                let mut counts: HashMap<i64, u64> = shared.hub.local_presence().into_iter().collect();
                for chat in &written {
                    counts.entry(*chat).or_insert(0);
                }
                let result = write_presence(&shared, &mut written, counts.into_iter().collect()).await;
                shared.note("presence heartbeat", &result);
            }
        }
    }
}

/// Writes the given counts in one pipeline: a positive count (re)sets the node's key
/// with a fresh TTL, zero removes it. With nothing to write it still pings, so the
/// heartbeat notices when Redis comes back.
async fn write_presence(
    shared: &Shared,
    written: &mut BTreeSet<i64>,
    counts: Vec<(i64, u64)>,
) -> anyhow::Result<()> {
    let Some(mut connection) = shared.connection() else {
        anyhow::bail!("not connected");
    };
    let ttl_ms = u64::try_from(shared.ttl.as_millis()).unwrap_or(u64::MAX);
    let mut pipe = ::redis::pipe();
    // The node's own key says it is alive: replies it produces are not taken for
    // orphans while it lives (see `node_alive`).
    pipe.cmd("SET")
        .arg(shared.node_key(&shared.node))
        .arg(1)
        .arg("PX")
        .arg(ttl_ms)
        .ignore();
    for (chat, count) in &counts {
        let key = shared.presence_key(*chat, &shared.node);
        let nodes = shared.nodes_key(*chat);
        if *count > 0 {
            pipe.cmd("SET")
                .arg(&key)
                .arg(*count)
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
            pipe.cmd("SADD").arg(&nodes).arg(&shared.node).ignore();
            pipe.cmd("PEXPIRE").arg(&nodes).arg(ttl_ms).ignore();
        } else {
            pipe.cmd("DEL").arg(&key).ignore();
            pipe.cmd("SREM").arg(&nodes).arg(&shared.node).ignore();
        }
    }
    timed("writing presence", pipe.exec_async(&mut connection)).await?;
    for (chat, count) in counts {
        if count > 0 {
            written.insert(chat);
        } else {
            written.remove(&chat);
        }
    }
    Ok(())
}

/// Unregisters the connection from the hub, then has its presence rewritten.
pub(super) struct PresenceGuard {
    pub(super) hub_guard: Option<Box<dyn Send + Sync>>,
    pub(super) chat_id: i64,
    pub(super) presence: mpsc::UnboundedSender<PresenceUpdate>,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        drop(self.hub_guard.take());
        let _ = self.presence.send(PresenceUpdate {
            chat_id: self.chat_id,
            done: None,
        });
    }
}

/// The chat's connections on every node: this node's own count (always exact) plus what
/// the other nodes' live keys hold. An error when Redis cannot be asked.
pub(super) async fn count(shared: &Shared, chat_id: i64) -> anyhow::Result<u64> {
    let own = shared.hub.local_connections(chat_id);
    let mut connection = shared
        .connection()
        .context("redis is unavailable: cannot count other nodes' connections")?;
    let nodes: anyhow::Result<Vec<String>> = timed(
        "reading presence",
        ::redis::cmd("SMEMBERS")
            .arg(shared.nodes_key(chat_id))
            .query_async(&mut connection),
    )
    .await;
    shared.note("reading presence", &nodes);
    let nodes = nodes?;
    let keys: Vec<String> = nodes
        .iter()
        .filter(|node| **node != shared.node)
        .map(|node| shared.presence_key(chat_id, node))
        .collect();
    if keys.is_empty() {
        return Ok(own);
    }
    let counts: Vec<Option<u64>> = timed(
        "reading presence",
        ::redis::cmd("MGET").arg(&keys).query_async(&mut connection),
    )
    .await?;
    Ok(own + counts.into_iter().flatten().sum::<u64>())
}

/// Whether a node has written its presence within the TTL. An error when Redis cannot be
/// asked (nothing is then taken for dead).
pub(super) async fn node_alive(shared: &Shared, node: &str) -> anyhow::Result<bool> {
    if node == shared.node {
        return Ok(true);
    }
    let mut connection = shared
        .connection()
        .context("redis is unavailable: cannot tell which nodes live")?;
    let exists: u64 = timed(
        "reading a node's presence",
        ::redis::cmd("EXISTS")
            .arg(shared.node_key(node))
            .query_async(&mut connection),
    )
    .await?;
    Ok(exists > 0)
}
