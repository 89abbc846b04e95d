//! A line of confab's NDJSON export (SPEC §10): one chat with its whole tree.
//!
//! `{"chat": <the chat as the tenant API shows it>, "source_id": <the conversation it
//! was imported from, or null>, "messages": [<every message of the tree, as both APIs
//! show them, with files>]}`. Messages come in (created_at, id) order, so each parent
//! comes before its children; `chat.current_message_id` is the active leaf.

use serde::Serialize;

use super::{MessagesView, TenantChatView};
use crate::store::{ChatRecord, MessageRecord};

#[derive(Serialize)]
struct ExportLine<'a> {
    chat: TenantChatView<'a>,
    source_id: Option<&'a str>,
    messages: MessagesView<'a>,
}

/// Appends the chat's line (with its newline) to `out`.
pub fn write_line(
    out: &mut Vec<u8>,
    chat: &ChatRecord,
    source_id: Option<&str>,
    messages: &[MessageRecord],
) -> serde_json::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &ExportLine {
            chat: TenantChatView::from(chat),
            source_id,
            messages: MessagesView(messages),
        },
    )?;
    out.push(b'\n');
    Ok(())
}
