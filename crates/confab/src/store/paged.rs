//! Bounded reads of long lists, for responses streamed page by page.
//!
//! A listing is *begun* in one read snapshot: it fixes the range it will return (for
//! messages, up to the chat's newest message at that moment; later appends are never
//! part of it), counts what the range holds and reads the first page. Each further page
//! is one short read transaction of its own, so no database connection is held while a
//! slow client reads, and a message always comes with exactly the files it was stored
//! with. Pages continue strictly after the last row served (keyset), so a row is never
//! served twice. Whether rows of the range were deleted while the pages were read is
//! checked at the end (the count for messages, a fingerprint for chats); the HTTP layer
//! aborts the response when they were.

use async_trait::async_trait;

use super::keyset::ChatKey;
use super::records::*;
use super::StoreResult;
use crate::domain::{ChatFilter, OrderBy};

/// Which part of a chat's messages to list; anchors are message ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MessageRange {
    /// Only messages after this one.
    pub after: Option<i64>,
    /// Only messages before this one.
    pub before: Option<i64>,
    /// At most this many: the first ones after `after` (or of the chat), or the last ones
    /// before `before`.
    pub limit: Option<u32>,
}

/// How much one page may read: rows, and message text bytes (a page ends after the
/// message that reaches `bytes`, so it holds at most `bytes` plus one message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageBudget {
    pub rows: u32,
    pub bytes: usize,
}

impl PageBudget {
    /// Most rows one page of a streamed list reads (the byte budget usually ends it first).
    pub const LIST_ROWS: u32 = 1000;

    /// One page of a streamed list: [`Self::LIST_ROWS`] rows, or `bytes` of text.
    pub fn list_page(bytes: usize) -> Self {
        PageBudget {
            rows: Self::LIST_ROWS,
            bytes,
        }
    }
}

/// A begun message listing.
#[derive(Debug)]
pub struct MessageListing {
    /// The chat as it was when the listing began.
    pub chat: ChatRecord,
    /// The last message of the range (inclusive); `None` when the range is empty.
    pub upper: Option<MessageCursor>,
    /// How many messages the range held when the listing began.
    pub total: i64,
    /// The first page.
    pub first: Vec<MessageRecord>,
}

/// A file's place in a chat's file list: `(message_id, id)`.
pub type FilePosition = (i64, i64);

/// A begun listing of a chat's files (by message, then id).
#[derive(Debug)]
pub struct FileListing {
    /// The last file of the list (inclusive); `None` when the chat has none.
    pub upper: Option<FilePosition>,
    pub total: i64,
    pub first: Vec<FileRecord>,
}

/// Which of the user's chats to list; anchors are chat ids.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChatRange {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

/// Changes whenever any of a user's chats is created, changed or deleted (count, sum of
/// versions, newest id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct ChatsFingerprint {
    pub count: i64,
    pub versions: i64,
    pub newest: i64,
}

/// The id and version of each chat a page of a tenant's list holds, in order: equal
/// stamps mean the same chats in the same states (every change to a chat bumps its
/// version), so the page's bytes are the same. Read without the chats' other columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatsPageStamp(pub Vec<(i64, i64)>);

impl ChatsPageStamp {
    /// The stamp of chats read in full.
    pub fn of(chats: &[ChatRecord]) -> Self {
        ChatsPageStamp(chats.iter().map(|chat| (chat.id, chat.version)).collect())
    }
}

/// A begun chat listing.
#[derive(Debug)]
pub struct ChatListing {
    pub fingerprint: ChatsFingerprint,
    /// Rows strictly before this key only (`before`).
    pub upper: Option<ChatKey>,
    pub first: Vec<ChatRecord>,
}

/// A listing whose anchor (`before`/`after`) names no row of this chat or user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownAnchor;

#[async_trait]
pub trait PagedReads {
    /// Begins a message listing: the chat, the range's bounds and size, the first page.
    async fn begin_messages(
        &self,
        chat: &ChatRef,
        range: MessageRange,
        budget: PageBudget,
    ) -> StoreResult<Result<MessageListing, UnknownAnchor>>;
    /// The page after `after`, up to `upper` inclusive; `NotFound` once the chat is gone.
    async fn next_messages(
        &self,
        chat: &ChatRef,
        after: MessageCursor,
        upper: MessageCursor,
        budget: PageBudget,
    ) -> StoreResult<Vec<MessageRecord>>;
    /// Begins a listing of the chat's files: the last one now, how many, the first page.
    async fn begin_files(&self, chat: &ChatRef, budget: PageBudget) -> StoreResult<FileListing>;
    /// The files after `after` up to `upper` inclusive; `NotFound` once the chat is gone.
    async fn next_files(
        &self,
        chat: &ChatRef,
        after: FilePosition,
        upper: FilePosition,
        budget: PageBudget,
    ) -> StoreResult<Vec<FileRecord>>;
    /// Begins a listing of the user's chats that pass `filter`, in `order`.
    async fn begin_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        range: ChatRange,
        rows: u32,
    ) -> StoreResult<Result<ChatListing, UnknownAnchor>>;
    /// Up to `rows` chats after `after` (and before `upper`) in `order`.
    async fn next_chats(
        &self,
        user_id: i64,
        order: &OrderBy,
        filter: &ChatFilter,
        after: &ChatKey,
        upper: Option<&ChatKey>,
        rows: u32,
    ) -> StoreResult<Vec<ChatRecord>>;
    async fn chats_fingerprint(&self, user_id: i64) -> StoreResult<ChatsFingerprint>;
}
