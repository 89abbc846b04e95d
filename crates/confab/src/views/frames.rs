//! Live-event frames: each committed change rendered once per API, ready for the event
//! bus. User-API frames name the chat by its integer id, tenant-API frames by its uuid.

use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use super::{ChatView, MessageView, ReplyErrorView, TenantChatView};
use crate::events::{ChatEvent, StreamPiece};
use crate::store::{ChatRecord, ErasedChat, MessageRecord};

/// An event whose frames are the same for both APIs but for `chat_id`; `make` gets the
/// API's `chat_id` and renders the frames.
fn both_apis(
    (id, uuid): (i64, Uuid),
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
        chat_id: id,
        seq,
        user_frames: render(json!(id)),
        tenant_frames: render(json!(uuid)),
        closes,
        stream: None,
    }
}

/// `message.created`, one frame per message.
pub fn messages_created(chat: &ChatRecord, messages: &[MessageRecord]) -> ChatEvent {
    let seq = chat.version;
    both_apis((chat.id, chat.uuid), seq, false, |chat_id| {
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
    both_apis((chat.id, chat.uuid), seq, false, |chat_id| {
        vec![
            json!({"type": "messages.deleted", "chat_id": chat_id, "seq": seq, "message_ids": ids}),
        ]
    })
}

/// An edit: `message.created` for the new message, then `chat.current_changed` (one
/// change, one `seq`).
pub fn message_edited(chat: &ChatRecord, message: &MessageRecord) -> ChatEvent {
    let seq = chat.version;
    both_apis((chat.id, chat.uuid), seq, false, |chat_id| {
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
    both_apis((chat.id, chat.uuid), seq, false, |chat_id| {
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
        stream: None,
    }
}

/// `chat.deleted`; connections close after it. Deletion is the chat's last change, one
/// past its final version.
pub fn chat_deleted(chat: &ChatRecord) -> ChatEvent {
    chat_erased(&ErasedChat {
        id: chat.id,
        uuid: chat.uuid,
        version: chat.version,
    })
}

/// `chat.deleted` for a chat the revocation watcher learnt was erased with its user.
pub fn chat_erased(chat: &ErasedChat) -> ChatEvent {
    let seq = chat.version + 1;
    both_apis((chat.id, chat.uuid), seq, true, |chat_id| {
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

/// `message.delta`: the next piece of a reply being generated. Its `seq` counts the
/// reply's deltas (from 1), not the chat's changes: deltas do not change the chat's
/// version, and are delivered as they come.
pub fn message_delta(chat: &ChatRecord, message_id: i64, seq: u64, text: &str) -> ChatEvent {
    let mut event = both_apis((chat.id, chat.uuid), 0, false, |chat_id| {
        vec![
            json!({"type": "message.delta", "chat_id": chat_id, "message_id": message_id,
                    "seq": seq, "text": text}),
        ]
    });
    event.stream = Some(StreamPiece::Delta {
        message_id,
        seq,
        text: text.to_owned(),
    });
    event
}

/// A reply's end: `message.completed` with the final message (`complete` or `stopped`),
/// or `message.failed` with its status and error (`failed`, `interrupted`).
pub fn reply_ended(chat: &ChatRecord, message: &MessageRecord) -> ChatEvent {
    let seq = chat.version;
    let mut event = both_apis((chat.id, chat.uuid), seq, false, |chat_id| {
        vec![match reply_end_data(message) {
            ReplyEndData::Completed(view) => {
                json!({"type": "message.completed", "chat_id": chat_id, "seq": seq,
                       "message": view})
            }
            ReplyEndData::Failed(failed) => {
                json!({"type": "message.failed", "chat_id": chat_id, "seq": seq,
                       "message_id": failed.message_id, "status": failed.status,
                       "error": failed.error})
            }
        }]
    });
    event.stream = Some(StreamPiece::End {
        message_id: message.id,
    });
    event
}

/// A reply ended without a change to announce (it was deleted): resumers look again.
pub fn reply_gone(chat_id: i64, message_id: i64) -> ChatEvent {
    stream_only(chat_id, StreamPiece::End { message_id })
}

/// Asks whichever node produces the reply to stop it.
pub fn reply_stop(chat_id: i64, message_id: i64) -> ChatEvent {
    stream_only(chat_id, StreamPiece::Stop { message_id })
}

fn stream_only(chat_id: i64, piece: StreamPiece) -> ChatEvent {
    ChatEvent {
        chat_id,
        seq: 0,
        user_frames: Vec::new(),
        tenant_frames: Vec::new(),
        closes: false,
        stream: Some(piece),
    }
}

/// What a reply's end event carries, for the live frames and the SSE streams alike.
pub enum ReplyEndData<'a> {
    /// `message.completed`: the final message.
    Completed(MessageView<'a>),
    /// `message.failed`.
    Failed(FailedView<'a>),
}

/// The data of `message.failed`.
#[derive(Serialize)]
pub struct FailedView<'a> {
    pub message_id: i64,
    pub status: &'static str,
    pub error: ReplyErrorView<'a>,
}

/// The end event of a finished reply.
pub fn reply_end_data(message: &MessageRecord) -> ReplyEndData<'_> {
    let status = message.status();
    if !status.is_failure() {
        return ReplyEndData::Completed(MessageView::with_files(message));
    }
    let error = message
        .reply
        .as_ref()
        .and_then(|reply| reply.error.as_ref())
        .map_or(
            ReplyErrorView {
                code: "llm_upstream_error",
                message: "the reply failed",
            },
            ReplyErrorView::from,
        );
    ReplyEndData::Failed(FailedView {
        message_id: message.id,
        status: status.as_str(),
        error,
    })
}
