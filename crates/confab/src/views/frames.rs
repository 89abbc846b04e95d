//! Live-event frames: each committed change rendered once per API, ready for the event
//! bus. User-API frames name the chat by its integer id, tenant-API frames by its uuid.

use serde::Serialize;
use serde_json::json;

use super::{ChatView, MessageView, TenantChatView};
use crate::events::ChatEvent;
use crate::store::{ChatRecord, MessageRecord};

/// An event whose frames are the same for both APIs but for `chat_id`; `make` gets the
/// API's `chat_id` and renders the frames.
fn both_apis(
    chat: &ChatRecord,
    seq: i64,
    closes: bool,
    make: impl Fn(serde_json::Value) -> Vec<serde_json::Value>,
) -> ChatEvent {
    let render = |chat_id: serde_json::Value| {
        make(chat_id)
            .into_iter()
            .map(|frame| frame.to_string())
            .collect()
    };
    ChatEvent {
        chat_id: chat.id,
        seq,
        user_frames: render(json!(chat.id)),
        tenant_frames: render(json!(chat.uuid)),
        closes,
    }
}

/// `message.created`, one frame per message.
pub fn messages_created(chat: &ChatRecord, messages: &[MessageRecord]) -> ChatEvent {
    let seq = chat.version;
    both_apis(chat, seq, false, |chat_id| {
        messages
            .iter()
            .map(|message| {
                json!({"type": "message.created", "chat_id": chat_id, "seq": seq,
                       "message": MessageView::with_files(message)})
            })
            .collect()
    })
}

/// `messages.deleted` with the ids removed.
pub fn messages_deleted(chat: &ChatRecord, ids: &[i64]) -> ChatEvent {
    let seq = chat.version;
    both_apis(chat, seq, false, |chat_id| {
        vec![
            json!({"type": "messages.deleted", "chat_id": chat_id, "seq": seq, "message_ids": ids}),
        ]
    })
}

/// An edit: `message.created` for the new message, then `chat.current_changed` (one
/// change, one `seq`).
pub fn message_edited(chat: &ChatRecord, message: &MessageRecord) -> ChatEvent {
    let seq = chat.version;
    both_apis(chat, seq, false, |chat_id| {
        vec![
            json!({"type": "message.created", "chat_id": chat_id, "seq": seq,
                   "message": MessageView::with_files(message)}),
            current_changed(&chat_id, seq, chat.current_message_id),
        ]
    })
}

/// `chat.current_changed`: a branch switch moved the current leaf.
pub fn branch_switched(chat: &ChatRecord) -> ChatEvent {
    let seq = chat.version;
    both_apis(chat, seq, false, |chat_id| {
        vec![current_changed(&chat_id, seq, chat.current_message_id)]
    })
}

fn current_changed(
    chat_id: &serde_json::Value,
    seq: i64,
    current: Option<i64>,
) -> serde_json::Value {
    json!({"type": "chat.current_changed", "chat_id": chat_id, "seq": seq,
           "current_message_id": current})
}

/// `chat.updated` with the chat as each API shows it.
pub fn chat_updated(chat: &ChatRecord) -> ChatEvent {
    let seq = chat.version;
    ChatEvent {
        chat_id: chat.id,
        seq,
        user_frames: vec![updated_frame(chat.id, seq, ChatView::from(chat))],
        tenant_frames: vec![updated_frame(chat.uuid, seq, TenantChatView::from(chat))],
        closes: false,
    }
}

/// `chat.deleted`; connections close after it. Deletion is the chat's last change, one
/// past its final version.
pub fn chat_deleted(chat: &ChatRecord) -> ChatEvent {
    let seq = chat.version + 1;
    both_apis(chat, seq, true, |chat_id| {
        vec![json!({"type": "chat.deleted", "chat_id": chat_id, "seq": seq})]
    })
}

/// A `chat.updated` frame, serialised straight to text rather than through
/// `serde_json::Value`, so the tenant view's metadata keeps its exact bytes.
fn updated_frame(chat_id: impl Serialize, seq: i64, chat: impl Serialize) -> String {
    #[derive(Serialize)]
    struct Frame<Id, View> {
        #[serde(rename = "type")]
        kind: &'static str,
        chat_id: Id,
        seq: i64,
        chat: View,
    }
    let frame = Frame {
        kind: "chat.updated",
        chat_id,
        seq,
        chat,
    };
    // Ids, numbers, strings and validated raw JSON: serialising them cannot fail.
    serde_json::to_string(&frame).expect("a chat.updated frame serialises")
}
