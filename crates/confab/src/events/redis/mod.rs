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

mod presence;
mod shared;
mod subscriber;

use anyhow::Context as _;
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::local::LocalHub;
use super::{ChatEvent, CloseReason, EventBus, Flavor, Subscription};
use crate::store::redact_url;
use presence::{run_presence, PresenceGuard, PresenceUpdate};
use shared::{connect_once, run_connector, timed, Envelope, Shared, COMMAND_TIMEOUT};
use subscriber::run_subscriber;

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

    fn deliver_here(&self, event: ChatEvent) {
        self.shared.hub.deliver(event);
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
        presence::count(&self.shared, chat_id).await
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

    fn streams(&self) -> &Arc<super::streams::ReplyStreams> {
        self.shared.hub.streams()
    }

    fn node_id(&self) -> &str {
        &self.shared.node
    }

    async fn node_alive(&self, node: &str) -> anyhow::Result<bool> {
        presence::node_alive(&self.shared, node).await
    }
}
