//! Following a reply from any node (SPEC §8): its deltas after a given `seq`, then the
//! live ones, then its end; stopping it; and ending the replies of nodes that died.
//!
//! A follower reads the node's log of the reply ([`ReplyStreams`]) and, for what the log
//! does not hold (deltas from before this node saw the reply, or a finished reply), the
//! text and marks persisted in the database. It pulls at its reader's pace: a slow
//! reader holds nothing up but itself.
//!
//! [`ReplyStreams`]: crate::events::streams::ReplyStreams

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::error::ChatError;
use super::Chats;
use crate::domain::{MessageText, ReplyStatus, StreamMarks};
use crate::events::streams::ReplyLog;
use crate::store::{
    ChatRecord, ChatRef, MessageRecord, ReplyEnd, ReplyError, ReplyProgress, StoreError,
};
use crate::views::frames;

/// How often a follower with nothing new looks at the database (a producer that died
/// without an end event, an end event lost with the bus).
const RECHECK_EVERY: Duration = Duration::from_secs(2);
/// How long a follower waits for the database to catch up with a log that starts late.
const GAP_RETRY: Duration = Duration::from_millis(100);
/// How long a stop waits for the producing node to end the reply itself.
const STOP_WAIT: Duration = Duration::from_secs(3);

/// What a follower yields.
pub enum ReplyEvent {
    Delta {
        seq: u64,
        text: String,
    },
    /// The reply's end, with its final state.
    End(Box<(ChatRecord, MessageRecord)>),
    /// The reply was deleted while it was followed.
    Deleted {
        message_id: i64,
    },
}

/// One reader's walk along a reply.
pub struct Follower {
    chats: Chats,
    chat: ChatRef,
    message_id: i64,
    after: u64,
    log: Option<Arc<ReplyLog>>,
    queue: VecDeque<ReplyEvent>,
    done: bool,
}

impl Chats {
    /// Follows a reply of the caller's chat from after delta `after`.
    /// `MessageNotFound` unless the message is the chat's. `running`: whether the reply
    /// is the caller's and running, when the caller has already read that.
    pub async fn follow_reply(
        &self,
        chat: &ChatRef,
        message_id: i64,
        after: u64,
        running: Option<bool>,
    ) -> Result<Follower, ChatError> {
        let mut follower = Follower {
            chats: self.clone(),
            chat: *chat,
            message_id,
            after,
            log: None,
            queue: VecDeque::new(),
            done: false,
        };
        // This node's log already holds what is asked (the common case: a reload on the
        // node producing the reply): one indexed row checks that the reply is the
        // caller's and still running, and the log serves the rest.
        if let Some(log) = self.events.streams().seen(message_id) {
            if log.covers(after) {
                let running = match running {
                    Some(running) => running,
                    None => self.store.reply_running(chat, message_id).await?,
                };
                if running {
                    follower.log = Some(log);
                    return Ok(follower);
                }
            }
        }
        let (record, progress) = self.store.reply_progress(chat, message_id).await?;
        // The log is opened after the check: none for a message that is not the caller's
        // or has ended. It holds every delta this node saw from the reply's first (or
        // from when this node started), until the end: the persisted deltas just read
        // and the log meet, or the follower sees the gap and reads again.
        follower.log = (progress.message.status() == ReplyStatus::Generating)
            .then(|| self.events.streams().follow(message_id));
        follower.take_persisted(record, progress);
        Ok(follower)
    }

    /// Stops a reply wherever it is produced; answers it as it ended. A reply that has
    /// already ended is answered as it is.
    pub async fn stop_reply(
        &self,
        chat: &ChatRef,
        message_id: i64,
    ) -> Result<MessageRecord, ChatError> {
        let (record, progress) = self.store.reply_progress(chat, message_id).await?;
        if progress.message.status() != ReplyStatus::Generating {
            return Ok(progress.message);
        }
        let log = self.events.streams().follow(message_id);
        let mut changed = log.watch();
        self.events
            .publish(frames::reply_stop(record.id, message_id))
            .await;
        let ended = tokio::time::timeout(STOP_WAIT, async {
            while !log.is_ended() {
                if changed.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
        if ended.is_err() {
            // The producer did not answer (its node is gone or cut off): end it here with
            // the text persisted so far.
            self.end_orphan(message_id, ReplyStatus::Stopped, None)
                .await?;
        }
        let (_, progress) = self.store.reply_progress(chat, message_id).await?;
        Ok(progress.message)
    }

    /// Ends a reply whose producer is gone: with every delta this node saw, when it saw
    /// them all (they may run ahead of the text persisted), else with the text persisted.
    async fn end_orphan(
        &self,
        message_id: i64,
        status: ReplyStatus,
        error: Option<ReplyError>,
    ) -> Result<(), ChatError> {
        let seen = self
            .events
            .streams()
            .seen(message_id)
            .and_then(|log| log.whole())
            .map(|(text, ends)| (MessageText::generated(text), StreamMarks::from_ends(ends)));
        let end = ReplyEnd {
            status,
            text: seen,
            usage: None,
            error,
        };
        if let Some((chat, message)) = self.store.finish_reply(message_id, end).await? {
            self.events
                .publish(frames::reply_ended(&chat, &message))
                .await;
        }
        Ok(())
    }

    /// Marks `interrupted` every running reply whose node is not alive (alone: every
    /// reply of an earlier run). Answers how many it ended.
    pub async fn sweep_orphaned_replies(&self) -> Result<usize, ChatError> {
        let mut ended = 0;
        for (message_id, node) in self.store.running_replies().await? {
            let alive = match &node {
                Some(node) => match self.events.node_alive(node).await {
                    Ok(alive) => alive,
                    // Unknown (Redis unreachable): nothing is taken for dead.
                    Err(_) => continue,
                },
                None => false,
            };
            if alive {
                continue;
            }
            let error = ReplyError {
                code: "node_lost".to_owned(),
                message: "the server node generating this reply stopped; the text it had \
                          persisted is kept"
                    .to_owned(),
            };
            self.end_orphan(message_id, ReplyStatus::Interrupted, Some(error))
                .await?;
            ended += 1;
        }
        Ok(ended)
    }
}

impl Follower {
    /// The next event; `None` after the end.
    pub async fn next(&mut self) -> Option<Result<ReplyEvent, ChatError>> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            if let Err(error) = self.advance().await {
                self.done = true;
                return Some(Err(error));
            }
        }
    }

    /// Queues what is new, or waits until something is.
    async fn advance(&mut self) -> Result<(), ChatError> {
        let Some(log) = self.log.clone() else {
            // A finished reply: everything from the database.
            return self.read_persisted().await.map(|_| ());
        };
        let mut changed = log.watch();
        let tail = log.after(self.after);
        if !tail.gap {
            for (seq, text) in tail.deltas {
                self.after = seq;
                self.queue.push_back(ReplyEvent::Delta { seq, text });
            }
        }
        if tail.ended || tail.gap {
            let ended = self.read_persisted().await?;
            if !ended && self.queue.is_empty() {
                // The database has not caught up with the log (a gap), or the log ended
                // while the reply is still `generating` (its producer could not end it
                // yet): look again later, not at once.
                let pause = if tail.ended { RECHECK_EVERY } else { GAP_RETRY };
                tokio::time::sleep(pause).await;
            }
            return Ok(());
        }
        if !self.queue.is_empty() {
            return Ok(());
        }
        tokio::select! {
            _ = changed.changed() => Ok(()),
            () = tokio::time::sleep(RECHECK_EVERY) => self.read_persisted().await.map(|_| ()),
        }
    }

    /// Reads the reply again from the database and takes what is new ([`Self::take_persisted`];
    /// a deleted reply ends the walk). Answers whether the reply has ended.
    async fn read_persisted(&mut self) -> Result<bool, ChatError> {
        let found = self
            .chats
            .store
            .reply_progress(&self.chat, self.message_id)
            .await;
        match found {
            Ok((chat, progress)) => Ok(self.take_persisted(chat, progress)),
            Err(StoreError::MessageNotFound | StoreError::NotFound) => {
                self.queue.push_back(ReplyEvent::Deleted {
                    message_id: self.message_id,
                });
                self.done = true;
                Ok(true)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Queues the persisted deltas after `after`, and the end if the reply has ended.
    /// Answers whether it has.
    fn take_persisted(&mut self, chat: ChatRecord, progress: ReplyProgress) -> bool {
        for (seq, text) in progress
            .marks
            .deltas_after(&progress.message.message, self.after)
        {
            self.queue.push_back(ReplyEvent::Delta {
                seq,
                text: text.to_owned(),
            });
            self.after = seq;
        }
        if progress.message.status() == ReplyStatus::Generating {
            return false;
        }
        self.queue
            .push_back(ReplyEvent::End(Box::new((chat, progress.message))));
        self.done = true;
        true
    }
}
