//! Generated replies (SPEC §8): the row that exists from a reply's first moment, its
//! text persisted as it grows, and its end.
//!
//! A reply is `generating` until one conditional UPDATE (`... AND status = 'generating'`)
//! ends it: whoever ends it first (the producing node, a stop on another node, the sweep
//! for dead nodes) wins, and the others find nothing to end. Progress writes do not bump
//! the chat's version (they are not changes clients are told about one by one: the deltas
//! are); the end does, and is published as `message.completed` / `message.failed`.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{attach_files, select_messages, ChatRow, FileRow, MessageRow};
use super::{Sql, SqlEngine};
use crate::domain::{code_blocks, Actor, MessageText, ReplyStatus, StreamMarks, Timestamp};
use crate::store::quota;
use crate::store::records::*;
use crate::store::{StoreError, StoreResult};

/// A message with the marks of its persisted deltas.
#[derive(sqlx::FromRow)]
struct ReplyRow {
    #[sqlx(flatten)]
    message: MessageRow,
    stream_marks: Option<String>,
}

/// Replies one progress statement updates at most (3 parameters each).
const FLUSH_ROWS: usize = 100;

/// The progress statement for `rows` replies: `$1, $2, $3` the first's id, text and
/// marks, and so on. A `WITH ... VALUES` list joined by `UPDATE ... FROM`, which SQLite
/// (3.33+) and PostgreSQL both run.
fn flush_sql(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    format!(
        "WITH progress(rid, rtext, rmarks) AS (VALUES {}) \
         UPDATE messages SET message = progress.rtext, stream_marks = progress.rmarks \
         FROM progress WHERE messages.id = progress.rid AND messages.status = 'generating' \
         RETURNING id",
        values.join(", ")
    )
}

impl<DB> Sql<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Appends the user message (if any) and the reply, `generating` and empty, in one
    /// transaction. Without a user message the reply answers `under`; when that is the
    /// current leaf it must be a `user` message (regenerate).
    pub async fn start_reply(
        &self,
        chat: &ChatRef,
        under: Under,
        user: Option<NewMessage>,
        reply: NewReply,
    ) -> StoreResult<Appended> {
        let regenerate_current = user.is_none() && under == Under::Current;
        let mut messages: Vec<NewMessage> = user.into_iter().collect();
        messages.push(NewMessage {
            actor: Actor::Assistant,
            text: MessageText::generated(String::new()),
            files: Vec::new(),
        });
        let mut tx = self.begin_write().await?;
        let mut appended = Self::append_in(&mut tx, *chat, under, messages, self.quotas).await?;
        let Some(record) = appended.messages.last_mut() else {
            return Err(StoreError::Other(anyhow::anyhow!(
                "a reply was not appended"
            )));
        };
        if regenerate_current {
            let actor: Option<String> = match record.parent_id {
                Some(parent) => {
                    sqlx::query_scalar::<DB, String>("SELECT actor FROM messages WHERE id = $1")
                        .bind(parent)
                        .fetch_optional(&mut *tx)
                        .await?
                }
                None => None,
            };
            if actor.as_deref() != Some(Actor::User.as_str()) {
                return Err(StoreError::NotAUserMessage);
            }
        }
        sqlx::query::<DB>(
            "UPDATE messages SET status = 'generating', model = $2, generation_node = $3, \
             stream_marks = '' WHERE id = $1",
        )
        .bind(record.id)
        .bind(reply.model.as_str())
        .bind(reply.node.as_str())
        .execute(&mut *tx)
        .await?;
        record.reply = Some(Box::new(ReplyInfo {
            status: ReplyStatus::Generating,
            model: Some(reply.model),
            usage: None,
            error: None,
        }));
        tx.commit().await?;
        Ok(appended)
    }

    /// Persists running replies' text so far, in one transaction of one statement per
    /// [`FLUSH_ROWS`] replies (one round trip each, however many replies run); answers
    /// the ids among them that are no longer generating (ended elsewhere, or deleted).
    pub async fn flush_replies(&self, replies: &[(i64, &str, String)]) -> StoreResult<Vec<i64>> {
        let mut ended = Vec::new();
        if replies.is_empty() {
            return Ok(ended);
        }
        let mut tx = self.begin_write().await?;
        for batch in replies.chunks(FLUSH_ROWS) {
            let sql = flush_sql(batch.len());
            let mut query = sqlx::query_scalar::<DB, i64>(&sql);
            for (id, text, marks) in batch {
                query = query.bind(*id).bind(*text).bind(marks.as_str());
            }
            let updated = query.fetch_all(&mut *tx).await?;
            ended.extend(
                batch
                    .iter()
                    .map(|(id, _, _)| *id)
                    .filter(|id| !updated.contains(id)),
            );
        }
        tx.commit().await?;
        Ok(ended)
    }

    /// Ends a reply: its final state, text (or, with `text: None`, the text persisted so
    /// far), code files, search document; bumps the chat's version. `None` when the reply
    /// is no longer generating (ended elsewhere, or deleted).
    pub async fn finish_reply(
        &self,
        message_id: i64,
        end: ReplyEnd,
    ) -> StoreResult<Option<(ChatRecord, MessageRecord)>> {
        let mut tx = self.begin_write().await?;
        let found: Option<(i64, String)> = sqlx::query_as::<DB, (i64, String)>(
            "SELECT chat_id, COALESCE(stream_marks, '') FROM messages \
             WHERE id = $1 AND status = 'generating'",
        )
        .bind(message_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((chat_id, persisted_marks)) = found else {
            return Ok(None);
        };
        // The text given, unless the persisted one is further along (an orphan ended
        // from a log that missed the producer's last deltas): never shorten a reply.
        let persisted_deltas = StreamMarks::from_stored(&persisted_marks).map_or(0, |m| m.len());
        let given = end
            .text
            .filter(|(_, marks)| marks.len() >= persisted_deltas)
            .map(|(text, marks)| (text.into_string(), marks.to_stored()));
        let now = Timestamp::now().micros();
        // The chat's row first, as every write takes it: enders of one reply queue here.
        let chat = sqlx::query_as::<DB, ChatRow>(
            "UPDATE chats SET version = version + 1, updated_at = $2 WHERE id = $1 \
             RETURNING id, uuid, tenant_id, user_id, name, model, metadata, version, \
             created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at",
        )
        .bind(chat_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .into_record()?;
        let (error_code, error_message) = match &end.error {
            Some(error) => (Some(error.code.as_str()), Some(error.message.as_str())),
            None => (None, None),
        };
        let (text, marks) = match &given {
            Some((text, marks)) => (Some(text.as_str()), Some(marks.as_str())),
            None => (None, None),
        };
        // Conditional: whoever ends the reply first wins; a later ender (another node's
        // sweep, a stop's fallback) changes nothing and its transaction is rolled back.
        let ended = sqlx::query::<DB>(
            "UPDATE messages SET message = COALESCE($2, message), status = $3, \
             stream_marks = COALESCE($4, stream_marks), prompt_tokens = $5, \
             completion_tokens = $6, error_code = $7, error_message = $8, updated_at = $9, \
             generation_node = NULL WHERE id = $1 AND status = 'generating'",
        )
        .bind(message_id)
        .bind(text)
        .bind(end.status.as_str())
        .bind(marks)
        .bind(end.usage.map(|u| u.prompt_tokens))
        .bind(end.usage.map(|u| u.completion_tokens))
        .bind(error_code)
        .bind(error_message)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if DB::rows_affected(&ended) == 0 {
            return Ok(None);
        }
        // The text as it now stands (given, or the persisted one).
        let (mut message, _) = Self::reply_in(&mut tx, &chat, message_id).await?;
        let bytes = quota::text_bytes([message.message.as_str()]);
        sqlx::query::<DB>("UPDATE chats SET message_bytes = message_bytes + $2 WHERE id = $1")
            .bind(chat_id)
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        sqlx::query::<DB>("UPDATE tenants SET message_bytes = message_bytes + $2 WHERE id = $1")
            .bind(chat.tenant_id.hyphenated().to_string())
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
        let files = code_blocks::extract(&message.message);
        let stamp = Timestamp::now().micros();
        message.files = Self::insert_files_in(&mut tx, &chat, message_id, files, stamp).await?;
        if let Some(unindex) = DB::UNINDEX_MESSAGE_SQL {
            sqlx::query::<DB>(unindex)
                .bind(message_id)
                .execute(&mut *tx)
                .await?;
        }
        let document = DB::search_document(&message.message, chat.tenant_id);
        Self::index_message_in(&mut tx, message_id, document).await?;
        tx.commit().await?;
        Ok(Some((chat, message)))
    }

    /// One message of the chat with its files and siblings, and the marks of its
    /// persisted deltas. `MessageNotFound` unless it is the chat's.
    async fn reply_in(
        conn: &mut DB::Connection,
        chat: &ChatRecord,
        message_id: i64,
    ) -> StoreResult<(MessageRecord, StreamMarks)> {
        let row = sqlx::query_as::<DB, ReplyRow>(select_messages!(
            ", stream_marks FROM messages WHERE id = $1 AND chat_id = $2"
        ))
        .bind(message_id)
        .bind(chat.id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::MessageNotFound)?;
        let marks = match row.stream_marks {
            Some(stored) => StreamMarks::from_stored(&stored).ok_or_else(|| {
                StoreError::Other(anyhow::anyhow!(
                    "corrupt stream marks of message {message_id}"
                ))
            })?,
            None => StreamMarks::default(),
        };
        let files = sqlx::query_as::<DB, FileRow>(
            "SELECT id, title, text, language, extension, user_id, chat_id, message_id, \
             created_at, updated_at FROM files WHERE message_id = $1 ORDER BY id",
        )
        .bind(message_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut message = attach_files(vec![row.message], files)?
            .pop()
            .ok_or(StoreError::MessageNotFound)?;
        if chat.branched {
            message.siblings = Self::children_of(conn, chat.id, message.parent_id).await?;
        }
        Ok((message, marks))
    }

    /// A message of the caller's chat as a resumer reads it: with the marks of the deltas
    /// persisted so far.
    pub async fn reply_progress(
        &self,
        chat: &ChatRef,
        message_id: i64,
    ) -> StoreResult<(ChatRecord, ReplyProgress)> {
        let mut tx = self.begin_read().await?;
        let chat = Self::read_chat(&mut *tx, chat).await?;
        let (message, marks) = Self::reply_in(&mut tx, &chat, message_id).await?;
        tx.commit().await?;
        Ok((chat, ReplyProgress { message, marks }))
    }

    /// Running replies: `(message id, producing node)`, oldest first.
    pub async fn running_replies(&self) -> StoreResult<Vec<(i64, Option<String>)>> {
        Ok(sqlx::query_as::<DB, (i64, Option<String>)>(
            "SELECT id, generation_node FROM messages WHERE status = 'generating' ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    /// Whether the chat has a reply being generated (it then counts as watched).
    pub async fn chat_generating(&self, chat_id: i64) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar::<DB, i64>(
            "SELECT id FROM messages WHERE chat_id = $1 AND status = 'generating' LIMIT 1",
        )
        .bind(chat_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }
}
