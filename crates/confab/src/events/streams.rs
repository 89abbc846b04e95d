//! Generated replies' streams as this node sees them: the deltas of every running reply
//! (its own and other nodes'), for resumers to replay and follow, and the stop switches
//! of the replies this node produces.
//!
//! Every node receives every event ([`super::redis`] publishes on one channel), so every
//! node keeps each running reply's deltas from the first one it saw. A reply's log goes
//! when its end arrives, or after [`IDLE_LIMIT`] without news (its producer died and no
//! end was published). Logs hold at most the replies' text, which the producers bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

use super::StreamPiece;

/// How long a log lives without a delta or an end.
pub const IDLE_LIMIT: Duration = Duration::from_secs(600);

/// How often, at most, idle logs are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The running replies' deltas, by message id, and this node's producers.
pub struct ReplyStreams {
    inner: Mutex<Inner>,
}

struct Inner {
    logs: HashMap<i64, Arc<ReplyLog>>,
    producers: HashMap<i64, oneshot::Sender<StopReason>>,
    /// Replies this node is producing (stopped ones included, until their task ends).
    running: usize,
    swept: Instant,
}

/// Why a producer is told to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// A client asked (the reply ends `stopped`).
    Requested,
    /// This node is shutting down (the reply ends `interrupted`, its text kept).
    Shutdown,
    /// The reply is no longer `generating` (ended elsewhere, or deleted): nothing to end.
    Gone,
}

/// One reply's deltas from the first this node saw.
pub struct ReplyLog {
    state: Mutex<LogState>,
    /// Bumped on every change; resumers wait on it.
    changed: watch::Sender<u64>,
}

struct LogState {
    /// The seq of the first delta held (`None` until one arrives).
    first_seq: Option<u64>,
    /// The held deltas' text, one after the other.
    text: String,
    /// Where each held delta ends in `text`.
    ends: Vec<usize>,
    ended: bool,
    touched: Instant,
}

/// What a resumer reads from a log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tail {
    /// The deltas after the asked seq, `(seq, text)`, oldest first.
    pub deltas: Vec<(u64, String)>,
    /// The log does not reach back to the asked seq: deltas are missing before these.
    pub gap: bool,
    /// The reply has ended (its final state is in the database).
    pub ended: bool,
}

impl Default for ReplyStreams {
    fn default() -> Self {
        ReplyStreams {
            inner: Mutex::new(Inner {
                logs: HashMap::new(),
                producers: HashMap::new(),
                running: 0,
                swept: Instant::now(),
            }),
        }
    }
}

impl ReplyStreams {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes in a piece of an event, from this node or another.
    pub fn apply(&self, piece: &StreamPiece) {
        match piece {
            StreamPiece::Delta {
                message_id,
                seq,
                text,
            } => self.follow(*message_id).push(*seq, text),
            StreamPiece::End { message_id } => {
                let log = self.lock().logs.remove(message_id);
                if let Some(log) = log {
                    log.end();
                }
            }
            StreamPiece::Stop { message_id } => self.stop(*message_id, StopReason::Requested),
        }
    }

    /// The reply's log, made (empty) if this node has none yet, so that the deltas from
    /// now on are kept for the caller.
    pub fn follow(&self, message_id: i64) -> Arc<ReplyLog> {
        let mut inner = self.lock();
        if inner.swept.elapsed() >= SWEEP_EVERY {
            inner.swept = Instant::now();
            inner.logs.retain(|_, log| !log.is_idle());
        }
        inner
            .logs
            .entry(message_id)
            .or_insert_with(|| Arc::new(ReplyLog::new()))
            .clone()
    }

    /// The reply's log, if this node has one.
    pub fn seen(&self, message_id: i64) -> Option<Arc<ReplyLog>> {
        self.lock().logs.get(&message_id).cloned()
    }

    /// Tells this node's producer of the reply (if it is here) to stop.
    pub fn stop(&self, message_id: i64, reason: StopReason) {
        if let Some(stop) = self.lock().producers.remove(&message_id) {
            let _ = stop.send(reason);
        }
    }

    /// Tells every producer of this node to stop (shutdown); answers how many were told.
    pub fn stop_all(&self, reason: StopReason) -> usize {
        let producers: Vec<_> = self.lock().producers.drain().collect();
        let told = producers.len();
        for (_, stop) in producers {
            let _ = stop.send(reason);
        }
        told
    }

    /// Registers this node as the reply's producer: the receiver fires on a stop.
    pub fn produce(&self, message_id: i64) -> oneshot::Receiver<StopReason> {
        let (stop, stopped) = oneshot::channel();
        let mut inner = self.lock();
        inner.producers.insert(message_id, stop);
        inner.running += 1;
        stopped
    }

    /// The reply's task has ended (call once per [`Self::produce`]).
    pub fn produced(&self, message_id: i64) {
        let mut inner = self.lock();
        inner.producers.remove(&message_id);
        inner.running = inner.running.saturating_sub(1);
    }

    /// Replies whose task runs on this node.
    pub fn producing(&self) -> usize {
        self.lock().running
    }

    /// Replies with a log on this node.
    pub fn logs(&self) -> usize {
        self.lock().logs.len()
    }
}

impl ReplyLog {
    fn new() -> Self {
        ReplyLog {
            state: Mutex::new(LogState {
                first_seq: None,
                text: String::new(),
                ends: Vec::new(),
                ended: false,
                touched: Instant::now(),
            }),
            changed: watch::channel(0).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn push(&self, seq: u64, text: &str) {
        {
            let mut state = self.lock();
            state.touched = Instant::now();
            let next = state.first_seq.map(|first| first + state.ends.len() as u64);
            match next {
                Some(next) if seq < next => return, // already held
                Some(next) if seq == next => {}
                // The first delta seen, or some were missed (this node's events were cut
                // off): hold from here; older ones are in the database.
                _ => {
                    state.first_seq = Some(seq);
                    state.text.clear();
                    state.ends.clear();
                }
            }
            state.text.push_str(text);
            let end = state.text.len();
            state.ends.push(end);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    fn end(&self) {
        self.lock().ended = true;
        self.changed.send_modify(|n| *n += 1);
    }

    fn is_idle(&self) -> bool {
        self.lock().touched.elapsed() >= IDLE_LIMIT
    }

    /// A receiver that wakes when the log changes.
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Whether the reply's end has arrived.
    pub fn is_ended(&self) -> bool {
        self.lock().ended
    }

    /// Every delta from the first, as one text and where each delta ends in it; `None`
    /// when this node did not see the reply from its first delta.
    pub fn whole(&self) -> Option<(String, Vec<usize>)> {
        let state = self.lock();
        (state.first_seq == Some(1)).then(|| (state.text.clone(), state.ends.clone()))
    }

    /// Whether the log holds every delta after `after` that has arrived (it reaches back
    /// to the one right after it).
    pub fn covers(&self, after: u64) -> bool {
        self.lock()
            .first_seq
            .is_some_and(|first| first <= after.saturating_add(1))
    }

    /// The deltas after `after`.
    pub fn after(&self, after: u64) -> Tail {
        let state = self.lock();
        let mut tail = Tail {
            ended: state.ended,
            ..Tail::default()
        };
        let Some(first) = state.first_seq else {
            return tail;
        };
        tail.gap = first > after.saturating_add(1);
        let mut start = 0;
        for (i, &end) in state.ends.iter().enumerate() {
            let seq = first + i as u64;
            if seq > after {
                tail.deltas.push((seq, state.text[start..end].to_owned()));
            }
            start = end;
        }
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delta(seq: u64, text: &str) -> StreamPiece {
        StreamPiece::Delta {
            message_id: 7,
            seq,
            text: text.to_owned(),
        }
    }

    #[test]
    fn a_log_replays_what_follows_a_seq_and_ignores_repeats() {
        let streams = ReplyStreams::default();
        let log = streams.follow(7);
        for (seq, text) in [(1, "a"), (2, "bc"), (2, "bc"), (3, "d")] {
            streams.apply(&delta(seq, text));
        }
        let tail = log.after(1);
        assert_eq!(tail.deltas, vec![(2, "bc".to_owned()), (3, "d".to_owned())]);
        assert!(!tail.gap && !tail.ended);
        streams.apply(&StreamPiece::End { message_id: 7 });
        assert!(log.after(3).ended);
        assert_eq!(streams.logs(), 0);
    }

    #[test]
    fn a_log_started_late_reports_the_gap() {
        let streams = ReplyStreams::default();
        streams.apply(&delta(5, "e"));
        let tail = streams.follow(7).after(2);
        assert!(tail.gap);
        assert_eq!(tail.deltas, vec![(5, "e".to_owned())]);
        streams.apply(&delta(9, "x"));
        let tail = streams.follow(7).after(4);
        assert!(tail.gap, "missed deltas restart the log");
    }

    #[tokio::test]
    async fn a_stop_reaches_the_producer() {
        let streams = ReplyStreams::default();
        let stopped = streams.produce(3);
        streams.apply(&StreamPiece::Stop { message_id: 3 });
        assert_eq!(stopped.await.ok(), Some(StopReason::Requested));
        assert_eq!(streams.producing(), 1, "until its task ends");
        streams.produced(3);
        assert_eq!(streams.producing(), 0);
        let shut = streams.produce(4);
        assert_eq!(streams.stop_all(StopReason::Shutdown), 1);
        assert_eq!(shut.await.ok(), Some(StopReason::Shutdown));
    }
}
