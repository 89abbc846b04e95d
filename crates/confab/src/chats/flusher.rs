//! Running replies' text, persisted together: every producing task hands its latest text
//! here (at most every 500 ms) without waiting, and one task writes whatever has arrived
//! in one transaction (on SQLite, one fsync for all of them), then the next batch. A reply
//! found no longer `generating` (ended elsewhere, or deleted) has its producer told to
//! stop.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

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

/// Where producers hand their progress.
#[derive(Clone)]
pub(super) struct Flusher {
    queue: mpsc::UnboundedSender<Progress>,
}

impl Flusher {
    /// Starts the writing task (it ends when every handle is dropped).
    pub fn start(store: Arc<dyn Store>, events: Arc<dyn EventBus>) -> Flusher {
        let (queue, pending) = mpsc::unbounded_channel();
        tokio::spawn(write_batches(store, events, pending));
        Flusher { queue }
    }

    /// Queues a reply's latest text (a later one replaces it if both wait).
    pub fn persist(&self, progress: Progress) {
        let _ = self.queue.send(progress);
    }
}

async fn write_batches(
    store: Arc<dyn Store>,
    events: Arc<dyn EventBus>,
    mut pending: mpsc::UnboundedReceiver<Progress>,
) {
    while let Some(first) = pending.recv().await {
        // Whatever else arrived meanwhile goes into the same transaction; for a reply
        // queued twice, its latest text.
        let mut batch: HashMap<i64, Progress> = HashMap::from([(first.message_id, first)]);
        while let Ok(more) = pending.try_recv() {
            batch.insert(more.message_id, more);
        }
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
