//! [`PagedReads`](crate::store::PagedReads): long lists read page by page (see
//! [`crate::store::paged`] for how a listing begins and continues).
//!
//! A user's chat listing selects `metadata` as NULL (tenant data the user API never
//! shows), so a page stays small.

use futures_util::TryStreamExt as _;
use sqlx::query::QueryAs;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};

use super::rows::{chats, select_messages, ChatRow, FileRow, MessageRow, PositionRow};
use super::{Sql, SqlEngine};
use crate::domain::{ChatFilter, OrderBy};
use crate::store::keyset::{self, ChatKey};
use crate::store::paged::*;
use crate::store::records::*;
use crate::store::StoreResult;

/// The lowest possible position, for "from the start".
const START: (i64, i64) = (i64::MIN, i64::MIN);

fn position(cursor: Option<MessageCursor>) -> (i64, i64) {
    cursor.map_or(START, |c| (c.created_at.micros(), c.id))
}

pub(crate) const FINGERPRINT_SQL: &str = "SELECT COUNT(*) AS count, \
     COALESCE(CAST(SUM(version) AS BIGINT), 0) AS versions, COALESCE(MAX(id), 0) AS newest \
     FROM chats WHERE user_id = $1";

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
    /// `(created_at, id)` of message `id` of the chat, if it has one.
    async fn message_position(
        conn: &mut DB::Connection,
        chat_id: i64,
        id: i64,
    ) -> StoreResult<Option<MessageCursor>> {
        Ok(sqlx::query_as::<DB, PositionRow>(
            "SELECT created_at, id FROM messages WHERE path_chat_id = $1 AND id = $2",
        )
        .bind(chat_id)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .map(MessageCursor::from))
    }

    /// The message `skip` places before position `end` (0: the one just before).
    async fn position_before(
        conn: &mut DB::Connection,
        chat_id: i64,
        end: (i64, i64),
        skip: i64,
    ) -> StoreResult<Option<MessageCursor>> {
        Ok(sqlx::query_as::<DB, PositionRow>(
            "SELECT created_at, id FROM messages WHERE path_chat_id = $1 \
             AND (created_at, id) < ($2, $3) \
             ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $4",
        )
        .bind(chat_id)
        .bind(end.0)
        .bind(end.1)
        .bind(skip)
        .fetch_optional(conn)
        .await?
        .map(MessageCursor::from))
    }

    /// The message `skip` places after position `start` (0: the one just after).
    async fn position_after(
        conn: &mut DB::Connection,
        chat_id: i64,
        start: (i64, i64),
        skip: i64,
    ) -> StoreResult<Option<MessageCursor>> {
        Ok(sqlx::query_as::<DB, PositionRow>(
            "SELECT created_at, id FROM messages WHERE path_chat_id = $1 \
             AND (created_at, id) > ($2, $3) \
             ORDER BY created_at, id LIMIT 1 OFFSET $4",
        )
        .bind(chat_id)
        .bind(start.0)
        .bind(start.1)
        .bind(skip)
        .fetch_optional(conn)
        .await?
        .map(MessageCursor::from))
    }

    /// How many messages `(after, upper]` holds.
    async fn count_in(
        conn: &mut DB::Connection,
        chat_id: i64,
        after: (i64, i64),
        upper: MessageCursor,
    ) -> StoreResult<i64> {
        Ok(sqlx::query_scalar::<DB, i64>(
            "SELECT COUNT(*) FROM messages WHERE path_chat_id = $1 \
             AND (created_at, id) > ($2, $3) AND (created_at, id) <= ($4, $5) AND id <= $5",
        )
        .bind(chat_id)
        .bind(after.0)
        .bind(after.1)
        .bind(upper.created_at.micros())
        .bind(upper.id)
        .fetch_one(conn)
        .await?)
    }

    /// One page of `(after, upper]` with its files. Rows are consumed one by one and the
    /// rest of the result left unread once the text reaches the budget.
    async fn read_messages(
        conn: &mut DB::Connection,
        (chat_id, branched): (i64, bool),
        after: (i64, i64),
        upper: MessageCursor,
        budget: PageBudget,
    ) -> StoreResult<Vec<MessageRecord>> {
        let mut rows = Vec::new();
        {
            let mut stream = sqlx::query_as::<DB, MessageRow>(select_messages!(
                "FROM messages \
                 WHERE path_chat_id = $1 AND (created_at, id) > ($2, $3) \
                 AND (created_at, id) <= ($4, $5) AND id <= $5 \
                 ORDER BY created_at, id LIMIT $6"
            ))
            .bind(chat_id)
            .bind(after.0)
            .bind(after.1)
            .bind(upper.created_at.micros())
            .bind(upper.id)
            .bind(i64::from(budget.rows.max(1)))
            .fetch(&mut *conn);
            let mut bytes = 0usize;
            while let Some(row) = stream.try_next().await? {
                bytes = bytes.saturating_add(row.message.len());
                rows.push(row);
                if bytes >= budget.bytes {
                    break;
                }
            }
        }
        Self::complete_page(conn, chat_id, branched, rows).await
    }

    /// One page of the chat's files in `(after, upper]`, cut at the text budget.
    async fn read_files(
        conn: &mut DB::Connection,
        chat_id: i64,
        after: FilePosition,
        upper: FilePosition,
        budget: PageBudget,
    ) -> StoreResult<Vec<FileRecord>> {
        let mut stream = sqlx::query_as::<DB, FileRow>(
            "SELECT f.id, f.title, f.text, f.language, f.extension, f.user_id, f.chat_id, \
             f.message_id, f.created_at, f.updated_at FROM files f \
             JOIN messages m ON m.id = f.message_id WHERE f.chat_id = $1 AND m.path_chat_id = $1 \
             AND (f.message_id, f.id) > ($2, $3) AND (f.message_id, f.id) <= ($4, $5) \
             ORDER BY f.message_id, f.id LIMIT $6",
        )
        .bind(chat_id)
        .bind(after.0)
        .bind(after.1)
        .bind(upper.0)
        .bind(upper.1)
        .bind(i64::from(budget.rows.max(1)))
        .fetch(conn);
        let (mut files, mut bytes) = (Vec::new(), 0usize);
        while let Some(row) = stream.try_next().await? {
            bytes = bytes.saturating_add(row.text.len());
            files.push(row.into_record());
            if bytes >= budget.bytes {
                break;
            }
        }
        Ok(files)
    }

    /// Binds a chat's keyset values in `order`, for a condition from
    /// [`keyset::condition`].
    fn bind_key<'q>(
        mut query: QueryAs<'q, DB, ChatRow, DB::Arguments<'q>>,
        order: &OrderBy,
        key: &ChatKey,
    ) -> QueryAs<'q, DB, ChatRow, DB::Arguments<'q>> {
        for value in keyset::key_values(order, key) {
            query = match value {
                keyset::KeyValue::Int(n) => query.bind(n),
                keyset::KeyValue::Text(text) => query.bind(text.to_owned()),
            };
        }
        query
    }

    /// `AND …` keeping the live chats that pass `filter`; a tag is parameter `$param`.
    fn listed(filter: &ChatFilter, param: usize) -> String {
        let mut conditions = String::from(" AND trashed_at IS NULL");
        conditions.push_str(filter.archived.condition());
        if filter.tag.is_some() {
            conditions.push_str(" AND ");
            conditions.push_str(&DB::has_tag_sql(param));
        }
        conditions
    }

    /// Binds the filter's tag, if it has one (the parameter of [`Self::listed`]).
    fn bind_filter<'q>(
        query: QueryAs<'q, DB, ChatRow, DB::Arguments<'q>>,
        filter: &ChatFilter,
    ) -> QueryAs<'q, DB, ChatRow, DB::Arguments<'q>> {
        match &filter.tag {
            Some(tag) => query.bind(tag.clone()),
            None => query,
        }
    }

    /// Up to `rows` of the user's chats that pass `filter`, strictly after `after` and
    /// before `upper`.
    async fn read_chats(
        conn: &mut DB::Connection,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        after: Option<&ChatKey>,
        upper: Option<&ChatKey>,
        rows: u32,
    ) -> StoreResult<Vec<ChatRecord>> {
        let terms = order.terms().len();
        let mut conditions = String::new();
        let mut next = 3;
        if after.is_some() {
            conditions.push_str(" AND ");
            conditions.push_str(&keyset::condition(order, keyset::Side::After, next));
            next += terms;
        }
        if upper.is_some() {
            conditions.push_str(" AND ");
            conditions.push_str(&keyset::condition(order, keyset::Side::Before, next));
            next += terms;
        }
        conditions.push_str(&Self::listed(filter, next));
        let sql = format!(
            "SELECT id, uuid, tenant_id, user_id, name, model, CAST(NULL AS TEXT) AS metadata, \
             version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at FROM chats WHERE user_id = $1{conditions} \
             ORDER BY {} LIMIT $2",
            order.to_sql()
        );
        let mut query = sqlx::query_as::<DB, ChatRow>(&sql)
            .bind(user_id)
            .bind(i64::from(rows.max(1)));
        for key in after.into_iter().chain(upper) {
            query = Self::bind_key(query, order, key);
        }
        chats(Self::bind_filter(query, filter).fetch_all(conn).await?)
    }

    /// The keyset values of the user's chat `chat_id`, if the user has it.
    async fn chat_key(
        conn: &mut DB::Connection,
        user_id: i64,
        chat_id: i64,
    ) -> StoreResult<Option<ChatKey>> {
        let row = sqlx::query_as::<DB, ChatRow>(
            "SELECT id, uuid, tenant_id, user_id, name, model, CAST(NULL AS TEXT) AS metadata, \
             version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at FROM chats WHERE id = $1 AND user_id = $2 AND trashed_at IS NULL",
        )
        .bind(chat_id)
        .bind(user_id)
        .fetch_optional(conn)
        .await?;
        Ok(match row {
            Some(row) => Some(ChatKey::from(&row.into_record()?)),
            None => None,
        })
    }

    pub async fn begin_messages(
        &self,
        chat: &ChatRef,
        range: MessageRange,
        budget: PageBudget,
    ) -> StoreResult<Result<MessageListing, UnknownAnchor>> {
        let mut tx = self.begin_read().await?;
        let record = Self::read_chat(&mut *tx, chat).await?;
        let chat_id = record.id;
        let mut anchors = [None, None];
        for (slot, id) in anchors.iter_mut().zip([range.after, range.before]) {
            if let Some(id) = id {
                match Self::message_position(&mut tx, chat_id, id).await? {
                    Some(at) => *slot = Some(at),
                    None => return Ok(Err(UnknownAnchor)),
                }
            }
        }
        let [after, before] = anchors;
        let end = before.map_or((i64::MAX, i64::MAX), |b| position(Some(b)));
        let empty = |chat| MessageListing {
            chat,
            upper: None,
            total: 0,
            first: Vec::new(),
        };
        let Some(mut upper) = Self::position_before(&mut tx, chat_id, end, 0).await? else {
            tx.commit().await?;
            return Ok(Ok(empty(record)));
        };
        let lower = match (after, before, range.limit) {
            (Some(after), _, _) => Some(after),
            (None, Some(_), Some(n)) => {
                Self::position_before(&mut tx, chat_id, end, i64::from(n)).await?
            }
            _ => None,
        };
        if let (Some(n), true) = (range.limit, after.is_some() || before.is_none()) {
            let skip = i64::from(n.max(1)) - 1;
            if let Some(nth) = Self::position_after(&mut tx, chat_id, position(lower), skip).await?
            {
                if position(Some(nth)) < position(Some(upper)) {
                    upper = nth;
                }
            }
        }
        if position(lower) >= position(Some(upper)) {
            tx.commit().await?;
            return Ok(Ok(empty(record)));
        }
        let total = Self::count_in(&mut tx, chat_id, position(lower), upper).await?;
        let first = Self::read_messages(
            &mut tx,
            (chat_id, record.branched),
            position(lower),
            upper,
            budget,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(MessageListing {
            chat: record,
            upper: Some(upper),
            total,
            first,
        }))
    }

    pub async fn next_messages(
        &self,
        chat: &ChatRef,
        after: MessageCursor,
        upper: MessageCursor,
        budget: PageBudget,
    ) -> StoreResult<Vec<MessageRecord>> {
        let mut tx = self.begin_read().await?;
        let shape = Self::resolve_chat_shape(&mut tx, chat).await?;
        let page =
            Self::read_messages(&mut tx, shape, position(Some(after)), upper, budget).await?;
        tx.commit().await?;
        Ok(page)
    }

    pub async fn begin_files(
        &self,
        chat: &ChatRef,
        budget: PageBudget,
    ) -> StoreResult<FileListing> {
        let mut tx = self.begin_read().await?;
        let chat_id = Self::resolve_chat(&mut tx, chat).await?;
        let upper = sqlx::query_as::<DB, (i64, i64)>(
            "SELECT f.message_id, f.id FROM files f JOIN messages m ON m.id = f.message_id \
             WHERE f.chat_id = $1 AND m.path_chat_id = $1 \
             ORDER BY f.message_id DESC, f.id DESC LIMIT 1",
        )
        .bind(chat_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(upper) = upper else {
            tx.commit().await?;
            return Ok(FileListing {
                upper: None,
                total: 0,
                first: Vec::new(),
            });
        };
        let total = sqlx::query_scalar::<DB, i64>(
            "SELECT COUNT(*) FROM files f JOIN messages m ON m.id = f.message_id \
             WHERE f.chat_id = $1 AND m.path_chat_id = $1 AND (f.message_id, f.id) <= ($2, $3)",
        )
        .bind(chat_id)
        .bind(upper.0)
        .bind(upper.1)
        .fetch_one(&mut *tx)
        .await?;
        let first = Self::read_files(&mut tx, chat_id, START, upper, budget).await?;
        tx.commit().await?;
        Ok(FileListing {
            upper: Some(upper),
            total,
            first,
        })
    }

    pub async fn next_files(
        &self,
        chat: &ChatRef,
        after: FilePosition,
        upper: FilePosition,
        budget: PageBudget,
    ) -> StoreResult<Vec<FileRecord>> {
        let mut tx = self.begin_read().await?;
        let chat_id = Self::resolve_chat(&mut tx, chat).await?;
        let page = Self::read_files(&mut tx, chat_id, after, upper, budget).await?;
        tx.commit().await?;
        Ok(page)
    }

    pub async fn begin_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        range: ChatRange,
        rows: u32,
    ) -> StoreResult<Result<ChatListing, UnknownAnchor>> {
        let mut tx = self.begin_read().await?;
        let mut anchors = [None, None];
        for (slot, id) in anchors.iter_mut().zip([range.after, range.before]) {
            if let Some(id) = id {
                match Self::chat_key(&mut tx, user_id, id).await? {
                    Some(key) => *slot = Some(key),
                    None => return Ok(Err(UnknownAnchor)),
                }
            }
        }
        let [after, upper] = anchors;
        let fingerprint = sqlx::query_as::<DB, ChatsFingerprint>(FINGERPRINT_SQL)
            .bind(user_id)
            .fetch_one(&mut *tx)
            .await?;
        // The last `limit` before `before`: start after the one `limit` places before it.
        let lower = match (&after, &upper, range.limit) {
            (None, Some(upper), Some(n)) => {
                let sql = format!(
                    "SELECT id, uuid, tenant_id, user_id, name, model, \
                     CAST(NULL AS TEXT) AS metadata, version, created_at, updated_at, current_message_id, branched, archived, pinned, tags, trashed_at \
                     FROM chats WHERE user_id = $1 AND {}{} ORDER BY {} LIMIT 1 OFFSET $2",
                    keyset::condition(order, keyset::Side::Before, 3),
                    Self::listed(filter, 3 + order.terms().len()),
                    keyset::reversed_sql(order)
                );
                let query = sqlx::query_as::<DB, ChatRow>(&sql)
                    .bind(user_id)
                    .bind(i64::from(n));
                let query = Self::bind_key(query, order, upper);
                match Self::bind_filter(query, filter)
                    .fetch_optional(&mut *tx)
                    .await?
                {
                    Some(row) => Some(ChatKey::from(&row.into_record()?)),
                    None => None,
                }
            }
            _ => after,
        };
        let first = Self::read_chats(
            &mut tx,
            user_id,
            order,
            filter,
            lower.as_ref(),
            upper.as_ref(),
            rows,
        )
        .await?;
        tx.commit().await?;
        Ok(Ok(ChatListing {
            fingerprint,
            upper,
            first,
        }))
    }

    pub async fn next_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        after: &ChatKey,
        upper: Option<&ChatKey>,
        rows: u32,
    ) -> StoreResult<Vec<ChatRecord>> {
        let mut conn = self.reader.acquire().await?;
        Self::read_chats(&mut conn, user_id, order, filter, Some(after), upper, rows).await
    }

    pub async fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint> {
        Ok(sqlx::query_as::<DB, ChatsFingerprint>(FINGERPRINT_SQL)
            .bind(user_id)
            .fetch_one(&self.reader)
            .await?)
    }
}
