//! Live events and presence across several server nodes, through Redis.
//!
//! **Events.** `publish` delivers to this node's connections first, then PUBLISHes the
//! event on one channel (`{prefix}:events`). Every node runs a subscriber task that
//! hands events from the other nodes to its [`LocalHub`], which orders each chat's
//! events by `seq` and drops stale or duplicate ones, so events published on several
//! nodes still reach each connection in commit order.
//!
//! **Presence.** Each node writes its own count per chat to
//! `{prefix}:presence:{chat}:{node}` with a TTL, and adds its id to the chat's node set
//! `{prefix}:presence:{chat}:nodes`. A heartbeat rewrites every count (and drops those
//! that fell to zero) every third of the TTL; a subscribe or unsubscribe is written at
//! once. `active_connections` adds this node's own count (always exact) to the counts
//! the other nodes' live keys hold. A node that dies without cleaning up stops counting
//! when its keys expire, within one TTL.
//!
//! **Redis unavailable.** Nothing here blocks HTTP for long: every Redis call has a
//! timeout, local delivery keeps working, the connection and the subscription come
//! back with backoff, and [`EventBus::health`] reports the outage (`/healthz` shows it).
//! Counting connections across nodes is not possible meanwhile, so
//! `active_connections` answers an error rather than a number that could be wrong.

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use anyhow::Context as _;
use async_trait::async_trait;
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{ChatEvent, CloseReason, EventBus, Flavor, LocalHub, Subscription};
use crate::store::redact_url;

/// How long one Redis command may take before the caller gives up on it.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection backoff: first and longest wait.
const BACKOFF_MIN: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How a node joins the others.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// Prefix of every key and channel, so installations can share one Redis.
    pub prefix: String,
    /// How long a node's presence counts outlive its last heartbeat.
    pub presence_ttl: Duration,
}

/// What travels on the channel: the event and the node that published it.
#[derive(Serialize, Deserialize)]
struct Envelope<E> {
    node: String,
    event: E,
}

/// Asks the presence task to write one chat's count now; `done` is answered after.
struct PresenceUpdate {
    chat_id: i64,
    done: Option<oneshot::Sender<()>>,
}

/// State the bus and its background tasks share.
struct Shared {
    hub: Arc<LocalHub>,
    client: ::redis::Client,
    node: String,
    prefix: String,
    channel: String,
    ttl: Duration,
    connection: RwLock<Option<ConnectionManager>>,
    /// The last command on the shared connection succeeded (a heartbeat runs one at
    /// least every third of the TTL, so this recovers on its own).
    commands_ok: AtomicBool,
    /// The subscription to the events channel is in place.
    subscribed: AtomicBool,
}

impl Shared {
    fn presence_key(&self, chat_id: i64, node: &str) -> String {
        format!("{}:presence:{chat_id}:{node}", self.prefix)
    }

    fn nodes_key(&self, chat_id: i64) -> String {
        format!("{}:presence:{chat_id}:nodes", self.prefix)
    }

    /// The shared connection, if one has been made (it reconnects by itself after).
    fn connection(&self) -> Option<ConnectionManager> {
        self.connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Records whether a command succeeded, logging only the changes of state.
    fn note<T>(&self, what: &str, result: &anyhow::Result<T>) {
        match result {
            Ok(_) => {
                if !self.commands_ok.swap(true, Ordering::Relaxed) {
                    tracing::info!(node = %self.node, "redis commands work ({what})");
                }
            }
            Err(error) => {
                if self.commands_ok.swap(false, Ordering::Relaxed) {
                    tracing::warn!(node = %self.node, "redis command failed: {what}: {error:#}");
                } else {
                    tracing::debug!(node = %self.node, "redis still failing: {what}: {error:#}");
                }
            }
        }
    }
}

/// Runs a Redis call with [`COMMAND_TIMEOUT`].
async fn timed<T>(
    what: &str,
    call: impl std::future::Future<Output = ::redis::RedisResult<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, call)
        .await
        .map_err(|_| anyhow::anyhow!("{what}: no answer within {COMMAND_TIMEOUT:?}"))?
        .with_context(|| what.to_owned())
}

/// The event bus for several nodes. Dropping it stops its background tasks at once
/// (as a crash would: its presence entries then expire with their TTL).
pub struct RedisBus {
    shared: Arc<Shared>,
    presence: mpsc::UnboundedSender<PresenceUpdate>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl RedisBus {
    /// Joins the nodes that share `options.url`. Fails only on an invalid URL: when
    /// Redis is unreachable the node starts anyway, serves HTTP, reports the outage in
    /// `health()` and keeps reconnecting.
    pub async fn connect(options: RedisOptions, hub: Arc<LocalHub>) -> anyhow::Result<RedisBus> {
        let shown = redact_url(&options.url);
        let client = ::redis::Client::open(options.url.as_str())
            .with_context(|| format!("invalid Redis URL {shown:?}"))?;
        let ttl = options.presence_ttl.max(Duration::from_secs(1));
        let shared = Arc::new(Shared {
            hub,
            client,
            node: uuid::Uuid::new_v4().simple().to_string(),
            channel: format!("{}:events", options.prefix),
            prefix: options.prefix,
            ttl,
            connection: RwLock::new(None),
            commands_ok: AtomicBool::new(false),
            subscribed: AtomicBool::new(false),
        });
        let (subscribed_tx, subscribed_rx) = oneshot::channel();
        let (presence, presence_rx) = mpsc::unbounded_channel();
        let connected = connect_once(&shared).await;
        if let Err(error) = &connected {
            tracing::warn!(
                url = %shown,
                "redis unreachable at start ({error:#}); serving anyway and retrying"
            );
        }
        let mut tasks = vec![
            tokio::spawn(run_subscriber(shared.clone(), subscribed_tx)),
            tokio::spawn(run_presence(shared.clone(), presence_rx)),
        ];
        if connected.is_err() {
            tasks.push(tokio::spawn(run_connector(shared.clone())));
        } else {
            // Events other nodes publish from now on must not be missed: wait (briefly)
            // until the subscription is in place.
            let _ = tokio::time::timeout(Duration::from_secs(5), subscribed_rx).await;
        }
        tracing::info!(node = %shared.node, url = %shown, "joined the nodes sharing Redis");
        Ok(RedisBus {
            shared,
            presence,
            tasks,
        })
    }

    /// This node's id in Redis (random per start).
    pub fn node_id(&self) -> &str {
        &self.shared.node
    }

    /// The hub this node delivers to.
    pub fn hub(&self) -> &Arc<LocalHub> {
        &self.shared.hub
    }
}

/// One attempt to make the shared connection.
async fn connect_once(shared: &Shared) -> anyhow::Result<()> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(2)
        .set_min_delay(Duration::from_millis(100))
        .set_max_delay(BACKOFF_MAX);
    let manager = tokio::time::timeout(
        COMMAND_TIMEOUT * 3,
        ConnectionManager::new_with_config(shared.client.clone(), config),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to redis timed out"))?
    .context("cannot connect to redis")?;
    *shared
        .connection
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(manager);
    shared.note("connected", &Ok(()));
    Ok(())
}

/// Makes the shared connection when Redis was down at start, with backoff. (Once made,
/// the connection manager reconnects by itself.)
async fn run_connector(shared: Arc<Shared>) {
    let mut wait = BACKOFF_MIN;
    loop {
        let result = connect_once(&shared).await;
        if result.is_ok() {
            return;
        }
        shared.note("connecting", &result);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(BACKOFF_MAX);
    }
}

/// Receives every node's events and delivers the others' here; resubscribes with
/// backoff whenever the subscription connection is lost (checked by a ping).
async fn run_subscriber(shared: Arc<Shared>, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut wait = BACKOFF_MIN;
    loop {
        let mut established = false;
        let error = subscribe_and_listen(&shared, &mut ready, &mut established).await;
        shared.subscribed.store(false, Ordering::Relaxed);
        if established {
            wait = BACKOFF_MIN; // a working subscription broke: retry soon
            tracing::warn!(node = %shared.node, "redis subscription lost: {error:#}");
        } else {
            tracing::debug!(node = %shared.node, "redis subscription failed: {error:#}");
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(BACKOFF_MAX);
    }
}

/// One subscription's lifetime: returns when it breaks.
async fn subscribe_and_listen(
    shared: &Shared,
    ready: &mut Option<oneshot::Sender<()>>,
    established: &mut bool,
) -> anyhow::Error {
    match listen(shared, ready, established).await {
        Ok(never) => match never {},
        Err(error) => error,
    }
}

async fn listen(
    shared: &Shared,
    ready: &mut Option<oneshot::Sender<()>>,
    established: &mut bool,
) -> anyhow::Result<std::convert::Infallible> {
    let pubsub = timed("connecting for pub/sub", shared.client.get_async_pubsub()).await?;
    let (mut sink, mut stream) = pubsub.split();
    timed("subscribing", sink.subscribe(&shared.channel)).await?;
    shared.subscribed.store(true, Ordering::Relaxed);
    *established = true;
    tracing::info!(node = %shared.node, channel = %shared.channel, "subscribed to live events");
    if let Some(ready) = ready.take() {
        let _ = ready.send(());
    }
    let mut ping = tokio::time::interval(ping_interval(shared.ttl));
    ping.tick().await;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    anyhow::bail!("the subscription connection closed");
                };
                receive(shared, message.get_payload_bytes());
            }
            _ = ping.tick() => {
                timed("pinging the subscription", sink.ping::<::redis::Value>()).await?;
            }
        }
    }
}

/// Hands an event from another node to the local hub.
fn receive(shared: &Shared, payload: &[u8]) {
    match serde_json::from_slice::<Envelope<ChatEvent>>(payload) {
        Ok(envelope) if envelope.node == shared.node => {} // our own, delivered already
        Ok(envelope) => shared.hub.deliver(envelope.event),
        Err(error) => tracing::warn!("ignoring a malformed live event from redis: {error}"),
    }
}

fn ping_interval(ttl: Duration) -> Duration {
    (ttl / 3).clamp(Duration::from_millis(200), Duration::from_secs(10))
}

/// Keeps this node's presence in Redis: writes a chat's count when asked, and all of
/// them at every heartbeat.
async fn run_presence(shared: Arc<Shared>, mut updates: mpsc::UnboundedReceiver<PresenceUpdate>) {
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
    if counts.is_empty() {
        pipe.cmd("PING").ignore();
    }
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
struct PresenceGuard {
    hub_guard: Option<Box<dyn Send + Sync>>,
    chat_id: i64,
    presence: mpsc::UnboundedSender<PresenceUpdate>,
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

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: ChatEvent) {
        let payload = serde_json::to_vec(&Envelope {
            node: self.shared.node.clone(),
            event: &event,
        });
        self.shared.hub.deliver(event);
        let result = match (payload, self.shared.connection()) {
            (Ok(payload), Some(mut connection)) => {
                timed(
                    "publishing an event",
                    ::redis::cmd("PUBLISH")
                        .arg(&self.shared.channel)
                        .arg(payload)
                        .exec_async(&mut connection),
                )
                .await
            }
            (Err(error), _) => Err(anyhow::Error::from(error).context("serialising an event")),
            (_, None) => Err(anyhow::anyhow!("not connected")),
        };
        self.shared.note("publish", &result);
    }

    async fn subscribe(&self, chat_id: i64, flavor: Flavor, known_version: i64) -> Subscription {
        let mut subscription = self
            .shared
            .hub
            .subscribe_local(chat_id, flavor, known_version);
        let hub_guard = std::mem::replace(&mut subscription.guard, Box::new(()));
        subscription.guard = Box::new(PresenceGuard {
            hub_guard: Some(hub_guard),
            chat_id,
            presence: self.presence.clone(),
        });
        // Written before the connection is reported open, so another node that counts
        // connections right after sees this one.
        let (done, written) = oneshot::channel();
        if self
            .presence
            .send(PresenceUpdate {
                chat_id,
                done: Some(done),
            })
            .is_ok()
        {
            let _ = tokio::time::timeout(COMMAND_TIMEOUT * 2, written).await;
        }
        subscription
    }

    async fn active_connections(&self, chat_id: i64) -> anyhow::Result<u64> {
        let shared = &self.shared;
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

    fn close_all(&self) {
        self.shared.hub.close_all_local(CloseReason::ServerShutdown);
    }

    fn health(&self) -> (&'static str, bool) {
        let shared = &self.shared;
        let ok =
            shared.commands_ok.load(Ordering::Relaxed) && shared.subscribed.load(Ordering::Relaxed);
        ("redis", ok)
    }
}
