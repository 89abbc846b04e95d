//! Export everything (SPEC §10): a tenant's or a user's chats as NDJSON, one chat per
//! line, streamed.
//!
//! Chats are read a page of ids at a time and each chat's tree in its own snapshot, as
//! the client reads: memory holds one page of chat rows and one chat, however many
//! chats there are. A chat deleted (or trashed) while the export runs is left out; one
//! changed is exported as it is when its turn comes. `confab export` writes the same
//! lines through [`ExportPages`].

use async_trait::async_trait;
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::Arc;
use utoipa::IntoParams;

use crate::domain::Timestamp;
use crate::http::error::ApiError;
use crate::http::streamed::{streamed, Pages};
use crate::store::{ChatRecord, ChatRef, ExportPage, Store, StoreError};
use crate::views::export::write_line;

/// Chats read per page of the walk.
const CHATS_PER_PAGE: u32 = 100;
/// A chunk of the body is sent once it holds this much.
const CHUNK_BYTES: usize = 64 * 1024;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportAllQuery {
    /// Only this user's chats (tenant API).
    pub user_id: Option<String>,
    /// Only chats changed at or after this time (RFC 3339).
    pub since: Option<String>,
}

impl ExportAllQuery {
    pub fn since(&self) -> Result<Option<Timestamp>, ApiError> {
        self.since
            .as_deref()
            .map(|text| {
                Timestamp::parse_rfc3339(text).ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_since",
                        "since must be an RFC 3339 time, e.g. 2026-01-31T00:00:00Z",
                    )
                })
            })
            .transpose()
    }
}

/// The export as a streamed NDJSON response (a download).
pub fn ndjson_export(pages: ExportPages) -> Response {
    let mut response = streamed("application/x-ndjson", Vec::new(), pages);
    response.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"confab-export.ndjson\""),
    );
    response
}

/// The walk over the chats an export names.
pub struct ExportPages {
    store: Arc<dyn Store>,
    page: ExportPage,
    queue: VecDeque<(ChatRecord, Option<String>)>,
    last_page: bool,
    /// A user's own export: the tenant's metadata is the back end's, not theirs.
    hide_metadata: bool,
}

impl ExportPages {
    pub fn new(store: Arc<dyn Store>, page: ExportPage) -> Self {
        ExportPages {
            store,
            page: ExportPage {
                after: 0,
                limit: CHATS_PER_PAGE,
                ..page
            },
            queue: VecDeque::new(),
            last_page: false,
            hide_metadata: false,
        }
    }

    /// For the user API: lines without the chats' `metadata` (always `null`), which only
    /// the tenant API shows.
    pub fn for_user(mut self) -> Self {
        self.hide_metadata = true;
        self
    }
}

#[async_trait]
impl Pages for ExportPages {
    async fn next(&mut self, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        loop {
            if self.queue.is_empty() {
                if self.last_page {
                    return Ok(false);
                }
                let rows = self.store.export_page(&self.page).await?;
                self.last_page = rows.len() < self.page.limit as usize;
                self.queue.extend(rows);
                if self.queue.is_empty() {
                    return Ok(false);
                }
            }
            let Some((chat, source_id)) = self.queue.pop_front() else {
                continue;
            };
            self.page.after = chat.id;
            let chat_ref = ChatRef::Tenant {
                tenant_id: chat.tenant_id,
                chat_uuid: chat.uuid,
            };
            match self.store.list_tree(&chat_ref).await {
                Ok((mut chat, messages)) => {
                    if self.hide_metadata {
                        chat.metadata = None;
                    }
                    write_line(out, &chat, source_id.as_deref(), &messages)
                        .map_err(|e| StoreError::Other(e.into()))?
                }
                // Deleted or trashed since its page was read.
                Err(StoreError::NotFound) => {}
                Err(error) => return Err(error),
            }
            if out.len() >= CHUNK_BYTES {
                return Ok(true);
            }
        }
    }
}
