//! [`PagedReads`](super::paged::PagedReads) in SQL both engines understand; pasted per
//! engine by [`impl_paged_reads!`] like the rest of the SQL store.

/// Implements `PagedReads` for `$store` (engine `$db`), which has `reader()` and
/// `begin_read()`.
macro_rules! impl_paged_reads {
    ($store:ty, $db:ty) => {
        impl $store {
            /// `(created_at, id)` of message `id` of the chat, if it has one.
            async fn message_position(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                id: i64,
            ) -> StoreResult<Option<MessageCursor>> {
                Ok(sqlx::query_as::<$db, PositionRow>(
                    "SELECT created_at, id FROM messages WHERE chat_id = $1 AND id = $2",
                )
                .bind(chat_id)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
                .map(MessageCursor::from))
            }

            /// The message `skip` places before position `end` (0: the one just before).
            async fn position_before(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                end: (i64, i64),
                skip: i64,
            ) -> StoreResult<Option<MessageCursor>> {
                Ok(sqlx::query_as::<$db, PositionRow>(
                    "SELECT created_at, id FROM messages WHERE chat_id = $1 \
                     AND (created_at, id) < ($2, $3) \
                     ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET $4",
                )
                .bind(chat_id)
                .bind(end.0)
                .bind(end.1)
                .bind(skip)
                .fetch_optional(&mut *conn)
                .await?
                .map(MessageCursor::from))
            }

            /// The message `skip` places after position `start` (0: the one just after).
            async fn position_after(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                start: (i64, i64),
                skip: i64,
            ) -> StoreResult<Option<MessageCursor>> {
                Ok(sqlx::query_as::<$db, PositionRow>(
                    "SELECT created_at, id FROM messages WHERE chat_id = $1 \
                     AND (created_at, id) > ($2, $3) \
                     ORDER BY created_at, id LIMIT 1 OFFSET $4",
                )
                .bind(chat_id)
                .bind(start.0)
                .bind(start.1)
                .bind(skip)
                .fetch_optional(&mut *conn)
                .await?
                .map(MessageCursor::from))
            }

            async fn count_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                after: (i64, i64),
                upper: MessageCursor,
            ) -> StoreResult<i64> {
                Ok(sqlx::query_scalar::<$db, i64>(&format!(
                    "SELECT COUNT(*) FROM messages WHERE {RANGE_SQL}"
                ))
                .bind(chat_id)
                .bind(after.0)
                .bind(after.1)
                .bind(upper.created_at.micros())
                .bind(upper.id)
                .fetch_one(&mut *conn)
                .await?)
            }

            /// One page of `(after, upper]` with its files. Rows are consumed one by one
            /// and the rest of the result left unread once the text reaches the budget.
            async fn read_messages(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                after: (i64, i64),
                upper: MessageCursor,
                budget: PageBudget,
            ) -> StoreResult<Vec<MessageRecord>> {
                use futures_util::TryStreamExt as _;
                let sql = format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages WHERE {RANGE_SQL} \
                     ORDER BY created_at, id LIMIT $6"
                );
                let mut rows = Vec::new();
                {
                    let mut stream = sqlx::query_as::<$db, MessageRow>(&sql)
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
                let files = files_of_page!($db, &mut *conn, chat_id, rows);
                attach_files(rows, files)
            }

            /// One page of the chat's files in `(after, upper]`, cut at the text budget.
            async fn read_files(
                conn: &mut <$db as sqlx::Database>::Connection,
                chat_id: i64,
                after: FilePosition,
                upper: FilePosition,
                budget: PageBudget,
            ) -> StoreResult<Vec<FileRecord>> {
                use futures_util::TryStreamExt as _;
                let sql = format!(
                    "SELECT {FILE_COLUMNS} FROM files WHERE chat_id = $1 \
                     AND (message_id, id) > ($2, $3) AND (message_id, id) <= ($4, $5) \
                     ORDER BY message_id, id LIMIT $6"
                );
                let mut stream = sqlx::query_as::<$db, FileRow>(&sql)
                    .bind(chat_id)
                    .bind(after.0)
                    .bind(after.1)
                    .bind(upper.0)
                    .bind(upper.1)
                    .bind(i64::from(budget.rows.max(1)))
                    .fetch(&mut *conn);
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

            /// Up to `rows` of the user's chats strictly after `after` and before `upper`.
            /// Binds a chat's keyset values in `order`, for a condition from
            /// [`keyset::condition`].
            fn bind_key<'q>(
                mut query: sqlx::query::QueryAs<'q, $db, ChatRow, <$db as sqlx::Database>::Arguments<'q>>,
                order: &OrderBy,
                key: &ChatKey,
            ) -> sqlx::query::QueryAs<'q, $db, ChatRow, <$db as sqlx::Database>::Arguments<'q>> {
                for value in keyset::key_values(order, key) {
                    query = match value {
                        keyset::KeyValue::Int(n) => query.bind(n),
                        keyset::KeyValue::Text(text) => query.bind(text.to_owned()),
                    };
                }
                query
            }

            async fn read_chats(
                conn: &mut <$db as sqlx::Database>::Connection,
                user_id: i64,
                order: &OrderBy,
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
                }
                let sql = format!(
                    concat!(
                        "SELECT ", listed_chat_columns!(),
                        " FROM chats WHERE user_id = $1{} ORDER BY {} LIMIT $2"
                    ),
                    conditions,
                    order.to_sql()
                );
                let mut query = sqlx::query_as::<$db, ChatRow>(&sql)
                    .bind(user_id)
                    .bind(i64::from(rows.max(1)));
                for key in after.into_iter().chain(upper) {
                    query = Self::bind_key(query, order, key);
                }
                chats(query.fetch_all(&mut *conn).await?)
            }

            async fn chat_key(
                conn: &mut <$db as sqlx::Database>::Connection,
                user_id: i64,
                chat_id: i64,
            ) -> StoreResult<Option<ChatKey>> {
                let row = sqlx::query_as::<$db, ChatRow>(concat!(
                    "SELECT ", listed_chat_columns!(), " FROM chats WHERE id = $1 AND user_id = $2"
                ))
                .bind(chat_id)
                .bind(user_id)
                .fetch_optional(&mut *conn)
                .await?;
                Ok(match row {
                    Some(row) => Some(ChatKey::from(&row.into_record()?)),
                    None => None,
                })
            }
        }

        #[async_trait::async_trait]
        impl PagedReads for $store {
            async fn begin_messages(
                &self,
                chat: &ChatRef,
                range: MessageRange,
                budget: PageBudget,
            ) -> StoreResult<Result<MessageListing, UnknownAnchor>> {
                let mut tx = self.begin_read().await?;
                let sql = by_chat_ref!(chat, concat!("SELECT ", chat_columns!(), " FROM chats WHERE "), "");
                let record = bind_chat_ref!(sqlx::query_as::<$db, ChatRow>(sql), chat)
                    .fetch_one(&mut *tx)
                    .await?
                    .into_record()?;
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
                let empty = |chat| MessageListing { chat, upper: None, total: 0, first: Vec::new() };
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
                    if let Some(nth) = Self::position_after(&mut tx, chat_id, position(lower), skip).await? {
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
                let first = Self::read_messages(&mut tx, chat_id, position(lower), upper, budget).await?;
                tx.commit().await?;
                Ok(Ok(MessageListing { chat: record, upper: Some(upper), total, first }))
            }

            async fn next_messages(
                &self,
                chat: &ChatRef,
                after: MessageCursor,
                upper: MessageCursor,
                budget: PageBudget,
            ) -> StoreResult<Vec<MessageRecord>> {
                let mut tx = self.begin_read().await?;
                let chat_id = resolve_chat!($db, &mut *tx, chat);
                let page = Self::read_messages(&mut tx, chat_id, position(Some(after)), upper, budget).await?;
                tx.commit().await?;
                Ok(page)
            }

            async fn begin_files(&self, chat: &ChatRef, budget: PageBudget) -> StoreResult<FileListing> {
                let mut tx = self.begin_read().await?;
                let chat_id = resolve_chat!($db, &mut *tx, chat);
                let upper = sqlx::query_as::<$db, (i64, i64)>(
                    "SELECT message_id, id FROM files WHERE chat_id = $1 \
                     ORDER BY message_id DESC, id DESC LIMIT 1",
                )
                .bind(chat_id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(upper) = upper else {
                    tx.commit().await?;
                    return Ok(FileListing { upper: None, total: 0, first: Vec::new() });
                };
                let total = sqlx::query_scalar::<$db, i64>(
                    "SELECT COUNT(*) FROM files WHERE chat_id = $1 AND (message_id, id) <= ($2, $3)",
                )
                .bind(chat_id)
                .bind(upper.0)
                .bind(upper.1)
                .fetch_one(&mut *tx)
                .await?;
                let first = Self::read_files(&mut tx, chat_id, START, upper, budget).await?;
                tx.commit().await?;
                Ok(FileListing { upper: Some(upper), total, first })
            }

            async fn next_files(
                &self,
                chat: &ChatRef,
                after: FilePosition,
                upper: FilePosition,
                budget: PageBudget,
            ) -> StoreResult<Vec<FileRecord>> {
                let mut tx = self.begin_read().await?;
                let chat_id = resolve_chat!($db, &mut *tx, chat);
                let page = Self::read_files(&mut tx, chat_id, after, upper, budget).await?;
                tx.commit().await?;
                Ok(page)
            }

            async fn begin_chats(
                &self,
                user_id: i64,
                order: &OrderBy,
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
                let fingerprint = sqlx::query_as::<$db, ChatsFingerprint>(FINGERPRINT_SQL)
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?;
                // The last `limit` before `before`: start after the one `limit` places
                // before it.
                let lower = match (&after, &upper, range.limit) {
                    (None, Some(upper), Some(n)) => {
                        let sql = format!(
                            concat!(
                                "SELECT ", listed_chat_columns!(),
                                " FROM chats WHERE user_id = $1 AND {} ORDER BY {} LIMIT 1 OFFSET $2"
                            ),
                            keyset::condition(order, keyset::Side::Before, 3),
                            keyset::reversed_sql(order)
                        );
                        let query = sqlx::query_as::<$db, ChatRow>(&sql)
                            .bind(user_id)
                            .bind(i64::from(n));
                        let query = Self::bind_key(query, order, upper);
                        match query.fetch_optional(&mut *tx).await? {
                            Some(row) => Some(ChatKey::from(&row.into_record()?)),
                            None => None,
                        }
                    }
                    _ => after,
                };
                let first = Self::read_chats(&mut tx, user_id, order, lower.as_ref(), upper.as_ref(), rows).await?;
                tx.commit().await?;
                Ok(Ok(ChatListing { fingerprint, upper, first }))
            }

            async fn next_chats(
                &self,
                user_id: i64,
                order: &OrderBy,
                after: &ChatKey,
                upper: Option<&ChatKey>,
                rows: u32,
            ) -> StoreResult<Vec<ChatRecord>> {
                let mut conn = self.reader().acquire().await?;
                Self::read_chats(&mut conn, user_id, order, Some(after), upper, rows).await
            }

            async fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint> {
                Ok(sqlx::query_as::<$db, ChatsFingerprint>(FINGERPRINT_SQL)
                    .bind(user_id)
                    .fetch_one(self.reader())
                    .await?)
            }
        }
    };
}
pub(crate) use impl_paged_reads;
