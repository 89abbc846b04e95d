//! The revocation watcher: every `--revocation-poll-ms`, asks the database which API
//! keys were revoked, which sessions were revoked, expired or erased, and which chats
//! were erased with their user since the last poll; it closes this node's connections
//! opened with those credentials and hands the erased chats to `on_erased` (which tells
//! their connections `chat.deleted`).
//!
//! It polls the database rather than listening for messages because `confab key revoke`
//! and `confab user delete` write the database directly, from another process, and nodes
//! may share a database without Redis. A poll is two indexed range scans (see the `0003_revocation_watch`
//! migration); it is skipped while the node has no live connection, so its cost does
//! not depend on the number of sockets.
//!
//! Revocation times are written with the revoker's clock, and a revocation may commit a
//! little after its time is taken (SQLite's writer may wait for the lock), so each poll
//! looks back [`LOOKBACK`] before the previous one: a revocation is seen as long as the
//! clocks of the nodes and of the machine that revokes agree within that much. Seeing
//! one twice is harmless.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

use super::{Credential, LiveCredentials};
use crate::domain::Timestamp;
use crate::store::{ErasedChat, Store};

/// How far each poll looks back before the previous one.
pub const LOOKBACK: Duration = Duration::from_secs(30);

/// What the watcher does with chats erased with their user.
pub type OnErased = Box<dyn Fn(&[ErasedChat]) + Send + Sync>;

/// Starts the watcher; it stops when `live` is dropped, or when the handle is aborted.
pub fn spawn(
    store: Arc<dyn Store>,
    live: &Arc<LiveCredentials>,
    every: Duration,
    on_erased: OnErased,
) -> JoinHandle<()> {
    tokio::spawn(run(store, Arc::downgrade(live), every, on_erased))
}

async fn run(
    store: Arc<dyn Store>,
    live: Weak<LiveCredentials>,
    every: Duration,
    on_erased: OnErased,
) {
    let lookback = i64::try_from(LOOKBACK.as_micros()).unwrap_or(i64::MAX);
    let back = |at: Timestamp| Timestamp(at.micros().saturating_sub(lookback));
    let mut since = back(Timestamp::now());
    let mut failing = false;
    let mut ticks = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(live) = live.upgrade() else { return };
        let started = Timestamp::now();
        if !live.any() {
            // Nothing to close. A connection registering from now on authenticated
            // after `started - LOOKBACK` at the earliest, which the next poll covers.
            since = back(started);
            continue;
        }
        match store.revoked_between(since, started).await {
            Ok(revoked) => {
                if !revoked.erased_chats.is_empty() {
                    on_erased(&revoked.erased_chats);
                }
                let now = Instant::now();
                let keys = revoked.api_keys.into_iter().map(Credential::ApiKey);
                let sessions = revoked.sessions.into_iter().map(Credential::Session);
                let closed: usize = keys.chain(sessions).map(|c| live.revoke(c, now)).sum();
                if closed > 0 {
                    tracing::info!(closed, "closing websockets of revoked credentials");
                }
                live.forget_old(now);
                since = back(started);
                if std::mem::take(&mut failing) {
                    tracing::info!("revocation watcher: database reachable again");
                }
            }
            // The next successful poll covers the whole gap: `since` stays.
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "revocation watcher: cannot poll the database");
            }
            Err(_) => {}
        }
    }
}
