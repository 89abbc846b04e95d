//! Long lists as chunked bodies, written page by page as the client reads.
//!
//! The body is produced lazily: the next page is read from the database only when the
//! previous one has been handed to the connection, so a slow client slows the reads
//! instead of piling pages up in memory. A list that fits one page is answered whole
//! (with a `Content-Length`, and cacheable); only longer ones stream.
//!
//! Errors before the first byte are ordinary error responses. An error after it (the
//! database fails, or rows of the list were deleted while it was read) aborts the
//! connection: the chunked body then has no terminating chunk, so no client takes the
//! truncated list for a complete one. The closing bracket of a JSON list is written only
//! after the last check, so even a body read to the end of a closed connection does not
//! parse.

use async_trait::async_trait;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::domain::{ChatFilter, OrderBy};
use crate::http::error::ApiError;
use crate::store::{
    ChatKey, ChatListing, ChatRecord, ChatRef, ChatsFingerprint, FileListing, FilePosition,
    FileRecord, MessageCursor, MessageListing, MessageRecord, PageBudget, Store, StoreError,
};
use crate::views::markdown::markdown_message;
use crate::views::{ChatView, FileView, MessageView};

/// What a streamed body is made of, a part at a time.
#[async_trait]
pub trait Pages: Send + 'static {
    /// Appends the next part to `out`; `Ok(false)` once that part ends the body.
    async fn next(&mut self, out: &mut Vec<u8>) -> Result<bool, StoreError>;
}

/// A response of `head`, then whatever `pages` writes.
pub fn streamed(content_type: &'static str, head: Vec<u8>, pages: impl Pages) -> Response {
    let stream = futures_util::stream::unfold(Some((pages, Some(head))), |state| async move {
        let (mut pages, head) = state?;
        if let Some(head) = head {
            return Some((Ok(Bytes::from(head)), Some((pages, None))));
        }
        let mut out = Vec::new();
        match pages.next(&mut out).await {
            Ok(more) => Some((Ok(Bytes::from(out)), more.then_some((pages, None)))),
            Err(error) => {
                tracing::warn!(error = %error, "aborting a streamed list response");
                Some((Err(error), None))
            }
        }
    });
    (
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A list answered whole (small enough to hold, and to cache) or streamed.
pub enum Listed {
    Whole(Bytes),
    Streamed(Response),
}

/// How each message of a list is written.
#[derive(Debug, Clone, Copy)]
pub enum MessageFormat {
    /// Comma-separated JSON messages with their files.
    Json,
    /// Markdown sections, numbered from 1.
    Markdown,
}

impl MessageFormat {
    fn write(
        self,
        out: &mut Vec<u8>,
        index: usize,
        message: &MessageRecord,
    ) -> Result<(), StoreError> {
        match self {
            MessageFormat::Json => {
                if index > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(out, &MessageView::with_files(message))
                    .map_err(|e| StoreError::Other(e.into()))
            }
            MessageFormat::Markdown => {
                let mut text = String::new();
                markdown_message(&mut text, index, message);
                out.extend_from_slice(text.as_bytes());
                Ok(())
            }
        }
    }
}

/// How the rows of one fixed range are read after the first page, and written.
#[async_trait]
trait RangeRead: Send + Sync + 'static {
    type Row: Send + Sync;
    type Position: Copy + PartialEq + Send + Sync;
    /// The page after `after`, up to `upper` inclusive.
    async fn next(
        &self,
        store: &dyn Store,
        after: Self::Position,
        upper: Self::Position,
    ) -> Result<Vec<Self::Row>, StoreError>;
    fn position(row: &Self::Row) -> Self::Position;
    fn write(&self, out: &mut Vec<u8>, index: usize, row: &Self::Row) -> Result<(), StoreError>;
}

/// The rest of a range listing after its first page.
struct RangePages<R: RangeRead> {
    read: R,
    store: Arc<dyn Store>,
    upper: R::Position,
    last: R::Position,
    total: i64,
    served: usize,
    tail: Vec<u8>,
}

#[async_trait]
impl<R: RangeRead> Pages for RangePages<R> {
    async fn next(&mut self, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let page = self
            .read
            .next(self.store.as_ref(), self.last, self.upper)
            .await?;
        for row in &page {
            self.read.write(out, self.served, row)?;
            self.served += 1;
        }
        match page.last().map(R::position) {
            Some(last) if last != self.upper => {
                self.last = last;
                Ok(true)
            }
            _ => {
                // The whole range, or a short list: rows were deleted while it was read,
                // and what was sent is no state the chat ever had.
                if self.served as i64 != self.total {
                    return Err(StoreError::Other(anyhow::anyhow!(
                        "rows went missing while a list was streamed ({} of {})",
                        self.served,
                        self.total
                    )));
                }
                out.extend_from_slice(&self.tail);
                Ok(false)
            }
        }
    }
}

/// `head`, the first page, and the rest of the range streamed, then `tail`; whole when
/// the first page ends the range.
fn range<R: RangeRead>(
    read: R,
    store: &Arc<dyn Store>,
    (upper, total, first): (Option<R::Position>, i64, &[R::Row]),
    (head, tail): (Vec<u8>, Vec<u8>),
    content_type: &'static str,
) -> Result<Listed, ApiError> {
    let mut body = head;
    for (index, row) in first.iter().enumerate() {
        read.write(&mut body, index, row)
            .map_err(|e| ApiError::internal(&e))?;
    }
    match (upper, first.last().map(R::position)) {
        (Some(upper), Some(last)) if last != upper => {
            let pages = RangePages {
                read,
                store: store.clone(),
                upper,
                last,
                total,
                served: first.len(),
                tail,
            };
            Ok(Listed::Streamed(streamed(content_type, body, pages)))
        }
        _ => {
            body.extend_from_slice(&tail);
            Ok(Listed::Whole(Bytes::from(body)))
        }
    }
}

struct MessageRead {
    chat: ChatRef,
    budget: PageBudget,
    format: MessageFormat,
}

#[async_trait]
impl RangeRead for MessageRead {
    type Row = MessageRecord;
    type Position = MessageCursor;

    async fn next(
        &self,
        store: &dyn Store,
        after: MessageCursor,
        upper: MessageCursor,
    ) -> Result<Vec<MessageRecord>, StoreError> {
        store
            .next_messages(&self.chat, after, upper, self.budget)
            .await
    }

    fn position(message: &MessageRecord) -> MessageCursor {
        MessageCursor {
            created_at: message.created_at,
            id: message.id,
        }
    }

    fn write(
        &self,
        out: &mut Vec<u8>,
        index: usize,
        row: &MessageRecord,
    ) -> Result<(), StoreError> {
        self.format.write(out, index, row)
    }
}

/// Answers a begun message listing: `head`, the messages in `format`, `tail`.
pub fn messages(
    store: &Arc<dyn Store>,
    chat: ChatRef,
    listing: MessageListing,
    budget: PageBudget,
    (head, format, tail): (Vec<u8>, MessageFormat, Vec<u8>),
    content_type: &'static str,
) -> Result<Listed, ApiError> {
    let read = MessageRead {
        chat,
        budget,
        format,
    };
    let bounds = (listing.upper, listing.total, listing.first.as_slice());
    range(read, store, bounds, (head, tail), content_type)
}

struct FileRead {
    chat: ChatRef,
    budget: PageBudget,
}

#[async_trait]
impl RangeRead for FileRead {
    type Row = FileRecord;
    type Position = FilePosition;

    async fn next(
        &self,
        store: &dyn Store,
        after: FilePosition,
        upper: FilePosition,
    ) -> Result<Vec<FileRecord>, StoreError> {
        store
            .next_files(&self.chat, after, upper, self.budget)
            .await
    }

    fn position(file: &FileRecord) -> FilePosition {
        (file.message_id, file.id)
    }

    fn write(&self, out: &mut Vec<u8>, index: usize, file: &FileRecord) -> Result<(), StoreError> {
        if index > 0 {
            out.push(b',');
        }
        serde_json::to_writer(out, &FileView::from(file)).map_err(|e| StoreError::Other(e.into()))
    }
}

/// Answers a begun file listing as `{"chatFiles":[...]}`.
pub fn files(
    store: &Arc<dyn Store>,
    chat: ChatRef,
    listing: FileListing,
    budget: PageBudget,
) -> Result<Listed, ApiError> {
    let bounds = (listing.upper, listing.total, listing.first.as_slice());
    let shape = (b"{\"chatFiles\":[".to_vec(), b"]}".to_vec());
    range(
        FileRead { chat, budget },
        store,
        bounds,
        shape,
        "application/json",
    )
}

/// The rest of a chat listing after its first page.
struct ChatPages {
    store: Arc<dyn Store>,
    user_id: i64,
    order: OrderBy,
    filter: ChatFilter,
    upper: Option<ChatKey>,
    last: ChatKey,
    remaining: Option<u32>,
    rows: u32,
    fingerprint: ChatsFingerprint,
    served: usize,
}

fn write_chat(out: &mut Vec<u8>, index: usize, chat: &ChatRecord) -> Result<(), StoreError> {
    if index > 0 {
        out.push(b',');
    }
    serde_json::to_writer(out, &ChatView::from(chat)).map_err(|e| StoreError::Other(e.into()))
}

#[async_trait]
impl Pages for ChatPages {
    async fn next(&mut self, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let rows = self.remaining.map_or(self.rows, |r| r.min(self.rows));
        let page = if rows == 0 {
            Vec::new()
        } else {
            self.store
                .next_chats(
                    self.user_id,
                    &self.order,
                    &self.filter,
                    &self.last,
                    self.upper.as_ref(),
                    rows,
                )
                .await?
        };
        for chat in &page {
            write_chat(out, self.served, chat)?;
            self.served += 1;
        }
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(page.len() as u32);
        }
        match page.last() {
            Some(last) if page.len() as u32 == rows && self.remaining != Some(0) => {
                self.last = ChatKey::from(last);
                Ok(true)
            }
            _ => {
                // Pages are separate reads: the list is one state only if no chat of the
                // user changed (moving in the order) while they were read.
                if self.store.chats_fingerprint(self.user_id).await? != self.fingerprint {
                    return Err(StoreError::Other(anyhow::anyhow!(
                        "user {}'s chats changed while their list was streamed",
                        self.user_id
                    )));
                }
                out.extend_from_slice(b"]}");
                Ok(false)
            }
        }
    }
}

/// Answers a begun chat listing as `{"chats":[...]}`.
pub fn chats(
    store: &Arc<dyn Store>,
    user_id: i64,
    order: OrderBy,
    filter: ChatFilter,
    listing: ChatListing,
    limit: Option<u32>,
    rows: u32,
) -> Result<Listed, ApiError> {
    let mut body = b"{\"chats\":[".to_vec();
    for (index, chat) in listing.first.iter().enumerate() {
        write_chat(&mut body, index, chat).map_err(|e| ApiError::internal(&e))?;
    }
    let remaining = limit.map(|l| l.saturating_sub(listing.first.len() as u32));
    let full_page = listing.first.len() as u32 >= rows;
    let (Some(last), true, false) = (listing.first.last(), full_page, remaining == Some(0)) else {
        body.extend_from_slice(b"]}");
        return Ok(Listed::Whole(Bytes::from(body)));
    };
    let pages = ChatPages {
        store: store.clone(),
        user_id,
        order,
        filter,
        upper: listing.upper,
        last: ChatKey::from(last),
        remaining,
        rows,
        fingerprint: listing.fingerprint,
        served: listing.first.len(),
    };
    Ok(Listed::Streamed(streamed("application/json", body, pages)))
}
