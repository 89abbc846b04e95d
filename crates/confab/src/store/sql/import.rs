//! Import and export (SPEC §10): one imported conversation stored in one transaction,
//! and the chats an export walks, page by page.

use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use std::collections::HashMap;
use uuid::Uuid;

use super::rows::{chat_columns, ChatRow};
use super::{is_unique_violation, Sql, SqlEngine};
use crate::domain::Timestamp;
use crate::store::quota::{self, QuotaExceeded};
use crate::store::records::*;
use crate::store::{StoreError, StoreResult};

/// The conflict a concurrent import of the same conversation meets.
const ALREADY_IMPORTED: &str = "already imported";

/// A chat of tenant `$1` that an import is a duplicate of: imported from the same source
/// (`$2`), or (confab exports) with the exported uuid (`$3`), or with the uuid the source
/// names (`$4`: a chat made here, exported, imported elsewhere and exported again).
/// Three index lookups (one `OR` would make SQLite scan the tenant's chats for each
/// conversation).
const DUPLICATE_SQL: &str = "SELECT id FROM chats WHERE tenant_id = $1 AND source_id = $2 \
     UNION ALL SELECT id FROM chats WHERE uuid = $3 AND tenant_id = $1 \
     UNION ALL SELECT id FROM chats WHERE uuid = $4 AND tenant_id = $1 LIMIT 1";

/// The uuid in a `confab:<uuid>` source id.
fn confab_uuid(source_id: &str) -> Option<String> {
    let uuid = Uuid::parse_str(source_id.strip_prefix("confab:")?).ok()?;
    Some(uuid.hyphenated().to_string())
}

impl<DB> Sql<DB>
where
    DB: SqlEngine,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Decode<'q, DB>,
    for<'q> String: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB> + ColumnIndex<DB::Row>,
    for<'q> Option<&'q str>: Encode<'q, DB>,
    for<'q> Vec<u8>: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    /// Whether the tenant has a chat imported from `source_id` (or, given, with that
    /// uuid): what makes an import idempotent.
    pub async fn imported(
        &self,
        tenant_id: Uuid,
        source_id: &str,
        uuid: Option<Uuid>,
    ) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar::<DB, i64>(DUPLICATE_SQL)
            .bind(tenant_id.hyphenated().to_string())
            .bind(source_id)
            .bind(uuid.map(|u| u.hyphenated().to_string()).as_deref())
            .bind(confab_uuid(source_id).as_deref())
            .fetch_optional(&self.reader)
            .await?;
        Ok(found.is_some())
    }

    /// Stores one imported conversation in one transaction, with the quotas a post
    /// would meet; `Duplicate` when the tenant already has it.
    pub async fn import_chat(&self, chat: &ImportChat) -> StoreResult<ImportOutcome> {
        match self.import_in_transaction(chat).await {
            // Another import committed first: of the same conversation (the second try
            // finds it), or of a chat with the uuid this one would keep (in another
            // tenant: the second try sees the uuid taken and picks a new one).
            Err(StoreError::Conflict(ALREADY_IMPORTED)) => {
                match self.import_in_transaction(chat).await {
                    Err(StoreError::Conflict(ALREADY_IMPORTED)) => Ok(ImportOutcome::Duplicate),
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn import_in_transaction(&self, chat: &ImportChat) -> StoreResult<ImportOutcome> {
        let tenant = chat.tenant_id.hyphenated().to_string();
        let mut tx = self.begin_write().await?;
        let uuid_owner: Option<String> = match chat.uuid {
            Some(uuid) => {
                sqlx::query_scalar::<DB, String>("SELECT tenant_id FROM chats WHERE uuid = $1")
                    .bind(uuid.hyphenated().to_string())
                    .fetch_optional(&mut *tx)
                    .await?
            }
            None => None,
        };
        let duplicate: Option<i64> = sqlx::query_scalar::<DB, i64>(DUPLICATE_SQL)
            .bind(tenant.as_str())
            .bind(chat.source_id.as_str())
            .bind(None::<&str>)
            .bind(confab_uuid(&chat.source_id).as_deref())
            .fetch_optional(&mut *tx)
            .await?;
        if duplicate.is_some() || uuid_owner.as_deref() == Some(tenant.as_str()) {
            return Ok(ImportOutcome::Duplicate);
        }
        // A uuid another tenant uses is not this chat's to take.
        let uuid = chat
            .uuid
            .filter(|_| uuid_owner.is_none())
            .unwrap_or_else(Uuid::new_v4);
        if let Some(user_id) = chat.user_id {
            Self::charge_new_chat(&mut tx, user_id, self.quotas.max_chats_per_user).await?;
        }
        let count = i64::try_from(chat.messages.len()).unwrap_or(i64::MAX);
        quota::within(
            self.quotas.max_messages_per_chat,
            count,
            QuotaExceeded::MessagesPerChat,
        )?;
        let bytes = quota::text_bytes(chat.messages.iter().map(|m| m.text.as_str()));
        let mut record = sqlx::query_as::<DB, ChatRow>(concat!(
            "INSERT INTO chats (uuid, tenant_id, user_id, name, model, metadata, version, \
             created_at, updated_at, archived, pinned, tags, source_id, message_count, \
             message_bytes) VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14) \
             RETURNING ",
            chat_columns!()
        ))
        .bind(uuid.hyphenated().to_string())
        .bind(tenant.as_str())
        .bind(chat.user_id)
        .bind(chat.name.as_str())
        .bind(chat.model.as_str())
        .bind(chat.metadata.as_ref().map(|m| m.as_str()))
        .bind(chat.created_at.micros())
        .bind(chat.updated_at.micros())
        .bind(i64::from(chat.archived))
        .bind(i64::from(chat.pinned))
        .bind(chat.tags.to_stored())
        .bind(chat.source_id.as_str())
        .bind(count)
        .bind(bytes)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict(ALREADY_IMPORTED)
            } else {
                e.into()
            }
        })?
        .into_record()?;
        Self::index_chat_name_in(&mut tx, &record).await?;
        let ids = Self::insert_imported_messages(&mut tx, &record, &chat.messages).await?;
        let leaf = chat.current.and_then(|index| ids.get(index).copied());
        let mut children: HashMap<Option<usize>, u32> = HashMap::new();
        for message in &chat.messages {
            *children.entry(message.parent).or_default() += 1;
        }
        record.branched = children.values().any(|&n| n > 1);
        // Every message was inserted on the path; only the current leaf's ancestors stay.
        Self::move_path(&mut tx, record.id, None).await?;
        Self::move_path(&mut tx, record.id, leaf).await?;
        sqlx::query("UPDATE chats SET current_message_id = $2, branched = $3 WHERE id = $1")
            .bind(record.id)
            .bind(leaf)
            .bind(i64::from(record.branched))
            .execute(&mut *tx)
            .await?;
        Self::charge_tenant_bytes(&mut tx, chat.tenant_id, bytes, self.quotas).await?;
        tx.commit().await?;
        Ok(ImportOutcome::Stored {
            chat_id: record.id,
            messages: ids.len(),
        })
    }

    /// Inserts the messages in order (each parent before its children) with their
    /// times, reply state, search documents and files; returns their new ids.
    async fn insert_imported_messages(
        conn: &mut DB::Connection,
        chat: &ChatRecord,
        messages: &[ImportMessage],
    ) -> StoreResult<Vec<i64>> {
        let mut ids: Vec<i64> = Vec::with_capacity(messages.len());
        for message in messages {
            let parent = message.parent.and_then(|index| ids.get(index).copied());
            let stamp = message.created_at.micros();
            let id =
                Self::insert_message_row(conn, chat, message.actor, &message.text, stamp, parent)
                    .await?;
            if message.updated_at != message.created_at || message.reply.is_some() {
                let reply = message.reply.as_ref();
                sqlx::query(
                    "UPDATE messages SET updated_at = $2, status = $3, model = $4, \
                     prompt_tokens = $5, completion_tokens = $6, error_code = $7, \
                     error_message = $8 WHERE id = $1",
                )
                .bind(id)
                .bind(message.updated_at.micros())
                .bind(reply.map_or("complete", |r| r.status.as_str()))
                .bind(reply.and_then(|r| r.model.as_deref()))
                .bind(reply.and_then(|r| r.usage).map(|u| u.prompt_tokens))
                .bind(reply.and_then(|r| r.usage).map(|u| u.completion_tokens))
                .bind(
                    reply
                        .and_then(|r| r.error.as_ref())
                        .map(|e| e.code.as_str()),
                )
                .bind(
                    reply
                        .and_then(|r| r.error.as_ref())
                        .map(|e| e.message.as_str()),
                )
                .execute(&mut *conn)
                .await?;
            }
            let files = message
                .files
                .iter()
                .map(|(file, ..)| file.clone())
                .collect();
            let stored =
                Self::insert_files_in(conn, chat, id, files, message.created_at.micros()).await?;
            for (file, (_, created, updated)) in stored.iter().zip(&message.files) {
                if (*created, *updated) != (file.created_at, file.updated_at) {
                    sqlx::query("UPDATE files SET created_at = $2, updated_at = $3 WHERE id = $1")
                        .bind(file.id)
                        .bind(created.micros())
                        .bind(updated.micros())
                        .execute(&mut *conn)
                        .await?;
                }
            }
            ids.push(id);
        }
        Ok(ids)
    }

    /// Up to `limit` of the tenant's live chats (of one user, and changed at or after
    /// `since`, when given) with ids above `after`, in id order, with their source ids:
    /// an export's next page.
    pub async fn export_page(
        &self,
        page: &ExportPage,
    ) -> StoreResult<Vec<(ChatRecord, Option<String>)>> {
        #[derive(sqlx::FromRow)]
        struct Row {
            #[sqlx(flatten)]
            chat: ChatRow,
            source_id: Option<String>,
        }
        let rows = sqlx::query_as::<DB, Row>(concat!(
            "SELECT ",
            chat_columns!(),
            ", source_id FROM chats WHERE tenant_id = $1 AND trashed_at IS NULL AND id > $2 \
             AND ($3 IS NULL OR user_id = $3) AND +updated_at >= $4 ORDER BY id LIMIT $5"
        ))
        .bind(page.tenant_id.hyphenated().to_string())
        .bind(page.after)
        .bind(page.user_id)
        .bind(page.since.map_or(i64::MIN, Timestamp::micros))
        .bind(i64::from(page.limit))
        .fetch_all(&self.reader)
        .await?;
        rows.into_iter()
            .map(|row| Ok((row.chat.into_record()?, row.source_id)))
            .collect()
    }
}
