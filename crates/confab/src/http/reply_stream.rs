//! A generated reply as both APIs answer it: an SSE stream (`message.created`,
//! `message.delta` with `id: <seq>`, then `message.completed` or `message.failed`), or,
//! with `stream: false`, the final message once it has ended.

use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use crate::chats::follow::{Follower, ReplyEvent};
use crate::chats::generate::GenerateInput;
use crate::chats::Chats;
use crate::revocation::{Credential, LiveCredentials, Registration};
use crate::store::{ChatRef, MessageRecord};
use crate::views::frames::{reply_end_data, ReplyEndData};
use crate::views::MessageView;

/// One event of a reply's stream (`text/event-stream`), as its fields arrive:
/// `message.created` (data: a message, in the shape of the message listing),
/// `message.delta` (`id`: the delta's `seq`; data: `{"message_id", "seq", "text"}`),
/// `message.completed` (data: the final message, `complete` or `stopped`),
/// `message.failed` (data: `{"message_id", "status", "error": {"code", "message"}}`; status
/// `failed`, `interrupted`, or `deleted` when the reply was deleted), and `error` (the
/// stream itself failed: `{"code", "message"}`). Comment lines keep a quiet stream open.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the stream's events; the events are written by `sse`
pub struct ReplyStreamEvent {
    #[schema(example = "message.delta")]
    event: String,
    /// JSON text.
    data: String,
    /// Only on `message.delta`: the delta's `seq` (send it back as `Last-Event-ID`).
    id: Option<String>,
}

/// Comment lines sent while a reply is quiet, so proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The caller of a reply route: its chat, and the credential its stream ends with when
/// that is revoked (like a WebSocket's).
pub struct Caller<'a> {
    pub chats: &'a Chats,
    pub chat: ChatRef,
    pub credential: Credential,
    pub live: &'a LiveCredentials,
}

/// Starts a reply and answers it, for either API: streamed, or (`stream: false`) once it
/// has ended, as 201 with `created(final message)`.
pub async fn generate(
    caller: Caller<'_>,
    input: GenerateInput,
    created: impl FnOnce(&MessageRecord) -> Response,
) -> Result<Response, ApiError> {
    let Caller { chats, chat, .. } = &caller;
    let streams = input.streams();
    let started = chats.generate(chat, input).await?;
    let reply = started.reply_id;
    let follower = chats.follow_reply(chat, reply, 0, None).await?;
    if streams {
        let registration = caller.live.register(caller.credential.clone());
        return Ok(sse(&started.messages, reply, follower, registration));
    }
    let message = wait_for_end(follower).await?;
    let mut response = created(&message);
    *response.status_mut() = axum::http::StatusCode::CREATED;
    Ok(response)
}

/// Resumes a reply's stream, for either API. `running`: whether the reply is the
/// caller's and running, when the caller's extractor read that with the credential.
pub async fn resume(
    caller: Caller<'_>,
    message_id: i64,
    running: Option<bool>,
    headers: &HeaderMap,
    query: &ResumeQuery,
) -> Result<Response, ApiError> {
    let after = resume_after(headers, query)?;
    let follower = caller
        .chats
        .follow_reply(&caller.chat, message_id, after, running)
        .await?;
    let registration = caller.live.register(caller.credential);
    Ok(sse(&[], message_id, follower, registration))
}

/// `?after=` of the resume route.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResumeQuery {
    /// Replay the deltas after this `seq` (as `Last-Event-ID` does; the header wins).
    /// 0 or absent: from the first.
    #[param(value_type = Option<u64>)]
    pub after: Option<String>,
}

/// The delta after which a resume starts: `Last-Event-ID`, else `?after=`, else 0.
fn resume_after(headers: &HeaderMap, query: &ResumeQuery) -> Result<u64, ApiError> {
    let header = headers
        .get("last-event-id")
        .map(|value| value.to_str().unwrap_or("x").trim().to_owned());
    match header.or_else(|| query.after.clone()) {
        None => Ok(0),
        Some(text) if text.is_empty() => Ok(0),
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "invalid_after",
                "after (or Last-Event-ID) must be a non-negative integer: a delta's seq",
            )
        }),
    }
}

#[derive(Serialize)]
struct DeltaData<'a> {
    message_id: i64,
    seq: u64,
    text: &'a str,
}

#[derive(Serialize)]
struct ErrorData<'a> {
    code: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
struct FailedData<'a> {
    message_id: i64,
    status: &'a str,
    error: ErrorData<'a>,
}

fn json_event(name: &'static str, data: &impl Serialize) -> Event {
    // Views of stored values: serialising them cannot fail; an empty event if it did.
    let data = serde_json::to_string(data).unwrap_or_default();
    Event::default().event(name).data(data)
}

/// The SSE event of one follower event.
fn event_of(event: &ReplyEvent, message_id: i64) -> Event {
    match event {
        ReplyEvent::Delta { seq, text } => json_event(
            "message.delta",
            &DeltaData {
                message_id,
                seq: *seq,
                text,
            },
        )
        .id(seq.to_string()),
        ReplyEvent::End(ended) => match reply_end_data(&ended.1) {
            ReplyEndData::Completed(view) => json_event("message.completed", &view),
            ReplyEndData::Failed(failed) => json_event("message.failed", &failed),
        },
        ReplyEvent::Deleted { message_id } => json_event(
            "message.failed",
            &FailedData {
                message_id: *message_id,
                status: "deleted",
                error: ErrorData {
                    code: "message_deleted",
                    message: "the reply was deleted",
                },
            },
        ),
    }
}

/// The reply as `text/event-stream`: `created` first (the messages a generate appended),
/// then the follower's events until the end, or until the caller's credential is revoked.
fn sse(
    created: &[MessageRecord],
    message_id: i64,
    follower: Follower,
    registration: Registration,
) -> Response {
    let first: Vec<Result<Event, Infallible>> = created
        .iter()
        .map(|m| Ok(json_event("message.created", &MessageView::with_files(m))))
        .collect();
    let rest = futures_util::stream::unfold(Some(follower), move |follower| async move {
        let mut follower = follower?;
        let event = match follower.next().await? {
            Ok(event) => event_of(&event, message_id),
            Err(error) => {
                let error = ApiError::from(error);
                tracing::warn!(message_id, "a reply stream failed: {}", error.message);
                return Some((
                    Ok(json_event(
                        "error",
                        &ErrorData {
                            code: error.code,
                            message: &error.message,
                        },
                    )),
                    None,
                ));
            }
        };
        Some((Ok::<Event, Infallible>(event), Some(follower)))
    });
    let revoked = async move {
        // The whole registration lives in this future: dropping its guard would end it.
        let mut registration = registration;
        let _ = (&mut registration.revoked).await;
    };
    let stream = futures_util::StreamExt::take_until(
        futures_util::StreamExt::chain(futures_util::stream::iter(first), rest),
        revoked,
    );
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Tell buffering proxies (nginx) to pass each event on at once.
    response.headers_mut().insert(
        "x-accel-buffering",
        axum::http::HeaderValue::from_static("no"),
    );
    response
}

/// Waits for the reply's end (`stream: false`): the final message, or the error to
/// answer (502 `llm_upstream_error` / `llm_timeout`) when it failed; it is stored either
/// way.
async fn wait_for_end(mut follower: Follower) -> Result<MessageRecord, ApiError> {
    while let Some(event) = follower.next().await {
        match event? {
            ReplyEvent::Delta { .. } => {}
            ReplyEvent::End(ended) => {
                let (_, message) = *ended;
                let Some(error) = message.reply.as_ref().and_then(|r| r.error.as_ref()) else {
                    return Ok(message);
                };
                let code = if error.code == "llm_timeout" {
                    "llm_timeout"
                } else {
                    "llm_upstream_error"
                };
                return Err(ApiError::new(
                    axum::http::StatusCode::BAD_GATEWAY,
                    code,
                    format!(
                        "the reply failed ({}): {}; message {} is stored with status {}",
                        error.code,
                        error.message,
                        message.id,
                        message.status().as_str()
                    ),
                ));
            }
            ReplyEvent::Deleted { .. } => {
                return Err(ApiError::from(crate::store::StoreError::MessageNotFound))
            }
        }
    }
    Err(ApiError::from(crate::store::StoreError::MessageNotFound))
}
