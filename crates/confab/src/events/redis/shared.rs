//! What the bus and its background tasks share: the node's identity, the connection to
//! Redis (made once, then kept up by the connection manager), and how a command is run.

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::events::local::LocalHub;

/// How long one Redis command may take before the caller gives up on it.
pub(super) const COMMAND_TIMEOUT: Duration = Duration::from_secs(2);
/// Reconnection backoff: first and longest wait.
pub(super) const BACKOFF_MIN: Duration = Duration::from_millis(250);
pub(super) const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What travels on the channel: the event and the node that published it.
#[derive(Serialize, Deserialize)]
pub(super) struct Envelope<E> {
    pub(super) node: String,
    pub(super) event: E,
}

/// State the bus and its background tasks share.
pub(super) struct Shared {
    pub(super) hub: Arc<LocalHub>,
    pub(super) client: ::redis::Client,
    pub(super) node: String,
    pub(super) prefix: String,
    pub(super) channel: String,
    pub(super) ttl: Duration,
    pub(super) connection: RwLock<Option<ConnectionManager>>,
    /// The last command on the shared connection succeeded (a heartbeat runs one at
    /// least every third of the TTL, so this recovers on its own).
    pub(super) commands_ok: AtomicBool,
    /// The subscription to the events channel is in place.
    pub(super) subscribed: AtomicBool,
}

impl Shared {
    pub(super) fn presence_key(&self, chat_id: i64, node: &str) -> String {
        format!("{}:presence:{chat_id}:{node}", self.prefix)
    }

    pub(super) fn nodes_key(&self, chat_id: i64) -> String {
        format!("{}:presence:{chat_id}:nodes", self.prefix)
    }

    /// A node's own key, alive as long as the node heartbeats.
    pub(super) fn node_key(&self, node: &str) -> String {
        format!("{}:node:{node}", self.prefix)
    }

    /// The shared connection, if one has been made (it reconnects by itself after).
    pub(super) fn connection(&self) -> Option<ConnectionManager> {
        self.connection
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Records whether a command succeeded, logging only the changes of state.
    pub(super) fn note<T>(&self, what: &str, result: &anyhow::Result<T>) {
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
pub(super) async fn timed<T>(
    what: &str,
    call: impl std::future::Future<Output = ::redis::RedisResult<T>>,
) -> anyhow::Result<T> {
    tokio::time::timeout(COMMAND_TIMEOUT, call)
        .await
        .map_err(|_| anyhow::anyhow!("{what}: no answer within {COMMAND_TIMEOUT:?}"))?
        .with_context(|| what.to_owned())
}

/// One attempt to make the shared connection.
pub(super) async fn connect_once(shared: &Shared) -> anyhow::Result<()> {
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
pub(super) async fn run_connector(shared: Arc<Shared>) {
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
