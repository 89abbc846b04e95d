//! The subscription to the events channel: other nodes' events reach this node's hub.

use futures_util::StreamExt as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

use super::shared::{timed, Envelope, Shared, BACKOFF_MAX, BACKOFF_MIN};
use crate::events::ChatEvent;

/// Receives every node's events and delivers the others' here; resubscribes with
/// backoff whenever the subscription connection is lost (checked by a ping).
pub(super) async fn run_subscriber(shared: Arc<Shared>, ready: oneshot::Sender<()>) {
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
