//! [`Store`] and [`PagedReads`] for both engines at once: each method is the shared SQL
//! of its concern, except the three an engine runs its own way ([`SqlEngine`]).

use async_trait::async_trait;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Type};
use uuid::Uuid;

use super::{SqlEngine, SqlStore};
use crate::domain::{ChatChanges, ChatFilter, Email, MessageText, OrderBy, Timestamp};
use crate::store::keyset::ChatKey;
use crate::store::paged::*;
use crate::store::records::*;
use crate::store::search::{SearchHit, SearchRequest};
use crate::store::{Store, StoreResult};

#[async_trait]
impl<DB> Store for SqlStore<DB>
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
    fn engine(&self) -> &'static str {
        DB::ENGINE
    }

    async fn ping(&self) -> StoreResult<()> {
        self.sql.ping().await
    }

    // Tenants, API keys, users and sessions: accounts.rs.
    async fn default_tenant(&self) -> StoreResult<TenantRecord> {
        self.sql.default_tenant().await
    }

    async fn create_tenant(&self, name: &str) -> StoreResult<TenantRecord> {
        self.sql.create_tenant(name).await
    }

    async fn get_tenant(&self, id: Uuid) -> StoreResult<TenantRecord> {
        self.sql.get_tenant(id).await
    }

    async fn list_tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.sql.list_tenants().await
    }

    async fn list_api_keys(&self, tenant_id: Uuid) -> StoreResult<Vec<ApiKeyRecord>> {
        self.sql.list_api_keys(tenant_id).await
    }

    async fn create_api_key(&self, key: NewApiKey) -> StoreResult<ApiKeyRecord> {
        self.sql.create_api_key(key).await
    }

    async fn find_api_key(&self, prefix: &str) -> StoreResult<Option<ApiKeyRecord>> {
        DB::find_api_key(self, prefix).await
    }

    async fn api_key_and_chats_stamp(
        &self,
        prefix: &str,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Option<(ApiKeyRecord, ChatsPageStamp)>> {
        DB::api_key_and_chats_stamp(self, prefix, page).await
    }

    async fn revoke_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<ApiKeyRecord> {
        self.sql.revoke_api_key(id, at).await
    }

    async fn touch_api_key(&self, id: Uuid, at: Timestamp) -> StoreResult<()> {
        self.sql.touch_api_key(id, at).await
    }

    async fn create_user(
        &self,
        tenant_id: Uuid,
        email: &Email,
        password_hash: &str,
    ) -> StoreResult<UserRecord> {
        self.sql.create_user(tenant_id, email, password_hash).await
    }

    async fn user_credentials(
        &self,
        tenant_id: Uuid,
        email: &Email,
    ) -> StoreResult<Option<Credentials>> {
        self.sql.user_credentials(tenant_id, email).await
    }

    async fn get_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<UserRecord> {
        self.sql.get_user(tenant_id, user_id).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<()> {
        self.sql.create_session(session).await
    }

    async fn session_user(
        &self,
        token_hash: &[u8],
        now: Timestamp,
    ) -> StoreResult<Option<UserRecord>> {
        DB::session_user(self, token_hash, now).await
    }

    async fn session_user_and(
        &self,
        token_hash: &[u8],
        now: Timestamp,
        then: AfterSession,
    ) -> StoreResult<Option<(UserRecord, ReadAfterSession)>> {
        DB::session_user_and(self, token_hash, now, then).await
    }

    async fn revoke_session(&self, token_hash: &[u8], at: Timestamp) -> StoreResult<()> {
        self.sql.revoke_session(token_hash, at).await
    }

    async fn revoked_between(
        &self,
        since: Timestamp,
        until: Timestamp,
    ) -> StoreResult<RevokedCredentials> {
        self.sql.revoked_between(since, until).await
    }

    // Chats: chats.rs.
    async fn create_chat(&self, chat: NewChat) -> StoreResult<ChatRecord> {
        self.sql.create_chat(chat).await
    }

    async fn get_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        self.sql.get_chat(chat).await
    }

    async fn list_user_chats(&self, user_id: i64, order: &OrderBy) -> StoreResult<Vec<ChatRecord>> {
        self.sql.list_user_chats(user_id, order).await
    }

    async fn list_tenant_chats(
        &self,
        tenant_id: Uuid,
        page: &TenantChatsPage<'_>,
    ) -> StoreResult<Vec<ChatRecord>> {
        DB::list_tenant_chats(self, tenant_id, page).await
    }

    async fn update_chat(&self, chat: &ChatRef, changes: &ChatChanges) -> StoreResult<ChatRecord> {
        self.sql.update_chat(chat, changes).await
    }

    // The trash, shares, erasure and sweeps: organise.rs, lifecycle.rs.
    async fn trash_chats(&self, chats: &[ChatRef]) -> StoreResult<Vec<ChatRecord>> {
        self.sql.trash_chats(chats).await
    }

    async fn list_user_trash(&self, user_id: i64) -> StoreResult<Vec<ChatRecord>> {
        self.sql.list_user_trash(user_id).await
    }

    async fn restore_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        self.sql.restore_chat(chat).await
    }

    async fn purge_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        self.sql.purge_chat(chat).await
    }

    async fn create_share(&self, chat: &ChatRef, share: &NewShare) -> StoreResult<()> {
        self.sql.create_share(chat, share).await
    }

    async fn shared(&self, share_id: &str) -> StoreResult<Option<String>> {
        self.sql.shared(share_id).await
    }

    async fn revoke_share(&self, chat: &ChatRef, share_id: &str) -> StoreResult<()> {
        self.sql.revoke_share(chat, share_id).await
    }

    async fn erase_user(&self, tenant_id: Uuid, user_id: i64) -> StoreResult<ErasedUser> {
        self.sql.erase_user(tenant_id, user_id).await
    }

    async fn sweep_batch(&self, batch: &SweepBatch) -> StoreResult<Option<Vec<ChatRecord>>> {
        self.sql.sweep_batch(batch).await
    }

    async fn set_tenant_retention(&self, tenant_id: Uuid, days: Option<i64>) -> StoreResult<()> {
        self.sql.set_tenant_retention(tenant_id, days).await
    }

    // Import and export: import.rs.
    async fn imported(
        &self,
        tenant_id: Uuid,
        source_id: &str,
        uuid: Option<Uuid>,
    ) -> StoreResult<bool> {
        self.sql.imported(tenant_id, source_id, uuid).await
    }

    async fn import_chat(&self, chat: &ImportChat) -> StoreResult<ImportOutcome> {
        self.sql.import_chat(chat).await
    }

    async fn export_page(
        &self,
        page: &ExportPage,
    ) -> StoreResult<Vec<(ChatRecord, Option<String>)>> {
        self.sql.export_page(page).await
    }

    async fn delete_chat(&self, chat: &ChatRef) -> StoreResult<ChatRecord> {
        self.sql.delete_chat(chat).await
    }

    async fn delete_user_chats(
        &self,
        user_id: i64,
        chat_ids: &[i64],
    ) -> StoreResult<Vec<ChatRecord>> {
        self.sql.delete_user_chats(user_id, chat_ids).await
    }

    async fn chat_version(&self, chat: &ChatRef) -> StoreResult<ChatVersion> {
        DB::chat_version(self, chat).await
    }

    async fn reply_running(&self, chat: &ChatRef, message_id: i64) -> StoreResult<bool> {
        DB::reply_running(self, chat, message_id).await
    }

    // Messages and files: messages.rs.
    async fn append_messages(
        &self,
        chat: &ChatRef,
        under: Under,
        messages: Vec<NewMessage>,
    ) -> StoreResult<Appended> {
        DB::append_messages(self, *chat, under, messages).await
    }

    async fn edit_message(
        &self,
        chat: &ChatRef,
        message_id: i64,
        text: MessageText,
    ) -> StoreResult<Appended> {
        self.sql.edit_message(chat, message_id, text).await
    }

    async fn switch_branch(&self, chat: &ChatRef, message_id: i64) -> StoreResult<Switched> {
        self.sql.switch_branch(chat, message_id).await
    }

    async fn list_tree(&self, chat: &ChatRef) -> StoreResult<(ChatRecord, Vec<MessageRecord>)> {
        self.sql.list_tree(chat).await
    }

    async fn list_messages_versioned(
        &self,
        chat: &ChatRef,
    ) -> StoreResult<(ChatVersion, Vec<MessageRecord>)> {
        self.sql.list_messages_versioned(chat).await
    }

    async fn page_messages(
        &self,
        chat: &ChatRef,
        after: Option<MessageCursor>,
        limit: u32,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.sql.page_messages(chat, after, limit).await
    }

    async fn message_count(&self, chat_id: i64) -> StoreResult<i64> {
        self.sql.message_count(chat_id).await
    }

    async fn list_files(&self, chat: &ChatRef) -> StoreResult<Vec<FileRecord>> {
        self.sql.list_files(chat).await
    }

    async fn delete_last(&self, chat: &ChatRef) -> StoreResult<DeleteLastOutcome> {
        self.sql.delete_last(chat).await
    }

    // Generated replies: replies.rs.
    async fn start_reply(
        &self,
        chat: &ChatRef,
        under: Under,
        user: Option<NewMessage>,
        reply: NewReply,
    ) -> StoreResult<Appended> {
        self.sql.start_reply(chat, under, user, reply).await
    }

    async fn flush_replies(&self, replies: &[(i64, &str, String)]) -> StoreResult<Vec<i64>> {
        self.sql.flush_replies(replies).await
    }

    async fn finish_reply(
        &self,
        message_id: i64,
        end: ReplyEnd,
    ) -> StoreResult<Option<(ChatRecord, MessageRecord)>> {
        self.sql.finish_reply(message_id, end).await
    }

    async fn reply_progress(
        &self,
        chat: &ChatRef,
        message_id: i64,
    ) -> StoreResult<(ChatRecord, ReplyProgress)> {
        self.sql.reply_progress(chat, message_id).await
    }

    async fn running_replies(&self) -> StoreResult<Vec<(i64, Option<String>)>> {
        self.sql.running_replies().await
    }

    async fn chat_generating(&self, chat_id: i64) -> StoreResult<bool> {
        self.sql.chat_generating(chat_id).await
    }

    // Search: search.rs, through the engine.
    async fn search(&self, request: &SearchRequest) -> StoreResult<Vec<SearchHit>> {
        DB::search(self, request).await
    }
}

/// Long lists page by page: paged.rs.
#[async_trait]
impl<DB> PagedReads for SqlStore<DB>
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
    async fn begin_messages(
        &self,
        chat: &ChatRef,
        range: MessageRange,
        budget: PageBudget,
    ) -> StoreResult<Result<MessageListing, UnknownAnchor>> {
        self.sql.begin_messages(chat, range, budget).await
    }

    async fn next_messages(
        &self,
        chat: &ChatRef,
        after: MessageCursor,
        upper: MessageCursor,
        budget: PageBudget,
    ) -> StoreResult<Vec<MessageRecord>> {
        self.sql.next_messages(chat, after, upper, budget).await
    }

    async fn begin_files(&self, chat: &ChatRef, budget: PageBudget) -> StoreResult<FileListing> {
        self.sql.begin_files(chat, budget).await
    }

    async fn next_files(
        &self,
        chat: &ChatRef,
        after: FilePosition,
        upper: FilePosition,
        budget: PageBudget,
    ) -> StoreResult<Vec<FileRecord>> {
        self.sql.next_files(chat, after, upper, budget).await
    }

    async fn begin_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        range: ChatRange,
        rows: u32,
    ) -> StoreResult<Result<ChatListing, UnknownAnchor>> {
        self.sql
            .begin_chats(user_id, order, filter, range, rows)
            .await
    }

    async fn next_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        after: &ChatKey,
        upper: Option<&ChatKey>,
        rows: u32,
    ) -> StoreResult<Vec<ChatRecord>> {
        self.sql
            .next_chats(user_id, order, filter, after, upper, rows)
            .await
    }

    async fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint> {
        DB::chats_fingerprint(self, user_id).await
    }
}
