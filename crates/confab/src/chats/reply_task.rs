//! The task that produces one reply: reads the provider's chunks, publishes each as a
//! delta (to this node's streams and sockets, and through the bus to the other nodes'),
//! hands the text to the [`Flusher`] every [`FLUSH_EVERY`] (it never waits on the
//! database while the provider streams), and ends the reply exactly once.
//!
//! Nothing the clients do slows it: deltas go to bounded socket queues and to the
//! streams' logs, which readers pull from at their own pace. A client that disconnects
//! does not stop it; a stop (from any node), the reply's deletion (seen at the next
//! flush), the provider's end or failure, the size limit and the deadline do.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, OwnedSemaphorePermit};

use super::flusher::{Flusher, Progress};
use super::history::History;
use crate::domain::{MessageText, ReplyStatus, StreamMarks};
use crate::events::streams::{ReplyStreams, StopReason};
use crate::events::{ChatEvent, EventBus};
use crate::llm::{Chunk, LlmClient, LlmError, Request};
use crate::store::{ChatRecord, ReplyEnd, ReplyError, Store, Usage};
use crate::views::frames;

/// How often a running reply's text is persisted (at most this much is lost when its
/// node dies).
pub const FLUSH_EVERY: Duration = Duration::from_millis(500);

/// Attempts at ending a reply in the database before giving up (about ten minutes of a
/// database that refuses: the reply is then ended at the node's next start).
const END_ATTEMPTS: u32 = 130;
/// The longest pause between two attempts.
const END_RETRY_CAP: Duration = Duration::from_secs(5);

/// Everything a reply's task needs.
pub(super) struct Job {
    pub store: Arc<dyn Store>,
    pub events: Arc<dyn EventBus>,
    pub flusher: Flusher,
    /// `message.created` of the appended messages, published first.
    pub created: ChatEvent,
    pub llm: Arc<LlmClient>,
    pub chat: ChatRecord,
    pub message_id: i64,
    /// What the request's messages are read from.
    pub history: History,
    /// The request, its messages still to be read.
    pub request: Request,
    pub max_bytes: usize,
    pub stop: oneshot::Receiver<StopReason>,
    /// This node's generation slot, held until the reply ends.
    pub slot: OwnedSemaphorePermit,
}

/// How the reading ended.
enum Outcome {
    Complete,
    Stopped,
    /// This node is shutting down.
    Interrupted,
    Failed(LlmError),
    TooLong,
    /// The reply was ended elsewhere or deleted: nothing to write.
    Gone,
}

/// The reply as it grows.
struct Growing {
    text: String,
    marks: StreamMarks,
    usage: Option<Usage>,
}

pub(super) async fn run(job: Job) {
    let Job {
        store,
        events,
        flusher,
        created,
        llm,
        chat,
        message_id,
        history,
        request,
        max_bytes,
        mut stop,
        slot,
    } = job;
    // However the task ends (a panic included), the node stops counting it.
    let _produced = Produced {
        streams: events.streams().clone(),
        message_id,
    };
    events.publish(created).await;
    let mut growing = Growing {
        text: String::new(),
        marks: StreamMarks::default(),
        usage: None,
    };
    let request = match history.turns(&*store).await {
        Ok(messages) => Ok(Request {
            messages,
            ..request
        }),
        Err(error) => Err(error),
    };
    let outcome = match request {
        Ok(request) => {
            let deadline = tokio::time::Instant::now() + llm.max_duration;
            let producer = Producer {
                flusher: &flusher,
                events: &*events,
                chat: &chat,
                message_id,
                max_bytes,
            };
            tokio::select! {
                outcome = producer.produce(&llm, &request, &mut growing) => outcome,
                reason = &mut stop => match reason {
                    Ok(StopReason::Shutdown) => Outcome::Interrupted,
                    Ok(StopReason::Gone) => Outcome::Gone,
                    _ => Outcome::Stopped,
                },
                () = tokio::time::sleep_until(deadline) => Outcome::Failed(LlmError::timeout(
                    "the reply took longer than the server allows (--llm-max-seconds)",
                )),
            }
        }
        Err(error) => Outcome::Failed(LlmError::upstream(format!(
            "the history could not be read: {error}"
        ))),
    };
    finish(&*store, &*events, &chat, message_id, outcome, growing).await;
    drop(slot);
}

/// Tells the node's streams when a reply's task ends.
struct Produced {
    streams: Arc<ReplyStreams>,
    message_id: i64,
}

impl Drop for Produced {
    fn drop(&mut self) {
        self.streams.produced(self.message_id);
    }
}

/// Where a reply's chunks go.
struct Producer<'a> {
    flusher: &'a Flusher,
    events: &'a dyn EventBus,
    chat: &'a ChatRecord,
    message_id: i64,
    max_bytes: usize,
}

impl Producer<'_> {
    /// Reads the provider's chunks until the reply is complete or fails.
    async fn produce(&self, llm: &LlmClient, request: &Request, growing: &mut Growing) -> Outcome {
        let Producer {
            flusher,
            events,
            chat,
            message_id,
            max_bytes,
        } = *self;
        let mut upstream = match llm.open(request).await {
            Ok(upstream) => upstream,
            Err(error) => return Outcome::Failed(error),
        };
        let mut flush = tokio::time::interval(FLUSH_EVERY);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        flush.tick().await;
        let mut unsaved = false;
        loop {
            tokio::select! {
                _ = flush.tick(), if unsaved => {
                unsaved = false;
                flusher.persist(Progress {
                    message_id,
                    text: growing.text.clone(),
                    marks: growing.marks.to_stored(),
                });
            }
            chunk = upstream.next() => match chunk {
                    Ok(Some(Chunk::Text(mut text))) => {
                        text.retain(|c| c != '\0');
                        let room = max_bytes.saturating_sub(growing.text.len());
                        let too_long = text.len() > room;
                        if too_long {
                            let mut cut = room;
                            while !text.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            text.truncate(cut);
                        }
                        if !text.is_empty() {
                            growing.text.push_str(&text);
                            growing.marks.push(growing.text.len());
                            let seq = growing.marks.len();
                            events.publish(frames::message_delta(chat, message_id, seq, &text)).await;
                            unsaved = true;
                        }
                        if too_long {
                            return Outcome::TooLong;
                        }
                    }
                    Ok(Some(Chunk::Usage { prompt, completion })) => {
                        growing.usage = Some(Usage {
                            prompt_tokens: prompt,
                            completion_tokens: completion,
                        });
                    }
                    Ok(None) => return Outcome::Complete,
                    Err(error) => return Outcome::Failed(error),
                }
            }
        }
    }
}

/// Ends the reply in the database and announces it; retried while the database is busy.
async fn finish(
    store: &dyn Store,
    events: &dyn EventBus,
    chat: &ChatRecord,
    message_id: i64,
    outcome: Outcome,
    growing: Growing,
) {
    let (status, error) = match outcome {
        Outcome::Complete => (ReplyStatus::Complete, None),
        Outcome::Stopped => (ReplyStatus::Stopped, None),
        Outcome::Interrupted => (
            ReplyStatus::Interrupted,
            Some(ReplyError {
                code: "node_lost".to_owned(),
                message: "the server node generating this reply shut down; the text it had \
                          received is kept"
                    .to_owned(),
            }),
        ),
        Outcome::Failed(error) => (
            ReplyStatus::Failed,
            Some(ReplyError {
                code: error.code.to_owned(),
                message: error.message,
            }),
        ),
        Outcome::TooLong => (
            ReplyStatus::Failed,
            Some(ReplyError {
                code: "reply_too_long".to_owned(),
                message: "the reply reached the largest message size the server keeps \
                          (--max-message-bytes); the text so far is kept"
                    .to_owned(),
            }),
        ),
        Outcome::Gone => {
            events
                .publish(frames::reply_gone(chat.id, message_id))
                .await;
            return;
        }
    };
    if let Some(error) = &error {
        tracing::info!(message_id, code = %error.code, "reply failed: {}", error.message);
    }
    let end = ReplyEnd {
        status,
        text: Some((MessageText::generated(growing.text), growing.marks)),
        usage: growing.usage,
        error,
    };
    for attempt in 1..=END_ATTEMPTS {
        match store.finish_reply(message_id, end.clone()).await {
            Ok(Some((chat, message))) => {
                events.publish(frames::reply_ended(&chat, &message)).await;
                return;
            }
            Ok(None) => break,
            Err(error) => {
                tracing::warn!(message_id, attempt, "ending a reply failed: {error}");
                let pause = Duration::from_millis(200 * u64::from(attempt)).min(END_RETRY_CAP);
                tokio::time::sleep(pause).await;
            }
        }
    }
    events
        .publish(frames::reply_gone(chat.id, message_id))
        .await;
}
