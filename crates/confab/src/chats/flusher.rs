//! Running replies' text, persisted together: every producing task hands its latest text
//! here (at most every 500 ms) without waiting, and one task writes whatever is waiting
//! in one transaction (on SQLite, one fsync for all of them), then the next batch. Only a
//! reply's latest text waits (a newer one replaces it), so a slow database costs at most
//! one text per running reply. A reply found no longer `generating` (ended elsewhere, or
//! deleted) has its producer told to stop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::sync::Notify;

use crate::events::streams::StopReason;
use crate::events::EventBus;
use crate::store::Store;

/// A reply's text so far, as it is to be persisted.
pub(super) struct Progress {
    pub message_id: i64,
    pub text: String,
    /// The stored form of its stream marks.
    pub marks: String,
}

/// The latest progress of each reply waiting to be written.
#[derive(Default)]
struct Waiting {
    progress: Mutex<HashMap<i64, Progress>>,
    arrived: Notify,
}

impl Waiting {
    fn lock(&self) -> MutexGuard<'_, HashMap<i64, Progress>> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Where producers hand their progress.
#[derive(Clone)]
pub(super) struct Flusher {
    waiting: Arc<Waiting>,
}

impl Flusher {
    /// Starts the writing task (it ends when every handle is dropped).
    pub fn start(store: Arc<dyn Store>, events: Arc<dyn EventBus>) -> Flusher {
        let waiting = Arc::new(Waiting::default());
        tokio::spawn(write_batches(store, events, Arc::downgrade(&waiting)));
        Flusher { waiting }
    }

    /// Queues a reply's latest text (replacing any still waiting).
    pub fn persist(&self, progress: Progress) {
        self.waiting.lock().insert(progress.message_id, progress);
        self.waiting.arrived.notify_one();
    }
}

async fn write_batches(store: Arc<dyn Store>, events: Arc<dyn EventBus>, waiting: Weak<Waiting>) {
    loop {
        let Some(shared) = waiting.upgrade() else {
            return;
        };
        let batch = std::mem::take(&mut *shared.lock());
        if batch.is_empty() {
            // A notification sent since the batch was taken is kept for this wait. The
            // wait ends now and then, so the task ends once every handle is gone.
            let arrived = shared.arrived.notified();
            let _ = tokio::time::timeout(std::time::Duration::from_secs(5), arrived).await;
            continue;
        }
        drop(shared);
        let rows: Vec<(i64, &str, String)> = batch
            .values()
            .map(|p| (p.message_id, p.text.as_str(), p.marks.clone()))
            .collect();
        match store.flush_replies(&rows).await {
            Ok(ended) => {
                for message_id in ended {
                    events.streams().stop(message_id, StopReason::Gone);
                }
            }
            // Each progress carries the whole text: the next one repairs this.
            Err(error) => tracing::warn!(
                replies = rows.len(),
                "persisting replies' progress failed: {error}"
            ),
        }
    }
}
