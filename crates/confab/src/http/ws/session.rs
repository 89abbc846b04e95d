//! A live connection: forwards the chat's frames, pings the peer, and ends with the
//! close frame its reason calls for.

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::StreamExt as _;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::close::{is_message_too_big, CloseSignal};
use crate::events::{CloseReason, Flavor, Frame, Subscription};
use crate::http::metrics::Metrics;
use crate::http::state::AppState;
use crate::revocation::{Credential, Registration};
use crate::store::{ChatRecord, ChatRef, StoreError};
use crate::views::frames::chat_deleted;

/// How long the server waits for a blocked write or the peer's close reply when ending a
/// connection.
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// The same for a consumer cut off as too slow: its socket is already full, so the close
/// frame rarely gets through; do not keep the connection around for it.
const TOO_SLOW_GRACE: Duration = Duration::from_secs(1);
/// A peer silent for this many ping intervals is considered gone.
const SILENT_INTERVALS: u32 = 3;

/// A chat the caller may watch, as named and as read before the upgrade.
pub struct ResolvedChat {
    pub(super) chat: ChatRef,
    pub(super) record: ChatRecord,
    /// What it was opened with: its revocation closes the connection.
    pub(super) credential: Credential,
}

impl ResolvedChat {
    /// The API key the connection was opened with, if any (its connections are capped).
    pub(super) fn key_id(&self) -> Option<uuid::Uuid> {
        match self.credential {
            Credential::ApiKey(key_id) => Some(key_id),
            Credential::Session(_) => None,
        }
    }
}

/// Why a connection ended.
#[derive(Debug)]
pub(super) enum End {
    /// The hub closed it.
    Closed(CloseReason),
    /// The peer sent a close frame.
    PeerClosed,
    /// The peer's stream ended or failed, or a write failed or stalled.
    PeerGone,
    /// The peer sent a frame or message over [`super::MAX_INCOMING_BYTES`].
    TooBig,
    /// No frame from the peer for [`SILENT_INTERVALS`] ping intervals.
    Silent,
}

/// Counts the connection in `websocket_connections` while alive.
struct Gauge(Arc<Metrics>);

impl Gauge {
    fn open(metrics: &Arc<Metrics>) -> Self {
        metrics
            .websocket_connections
            .fetch_add(1, Ordering::Relaxed);
        Gauge(metrics.clone())
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        self.0.websocket_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's life, from the upgrade until it ends.
pub(super) async fn connection(
    state: AppState,
    mut socket: WebSocket,
    chat: ResolvedChat,
    flavor: Flavor,
    registration: Registration,
) -> End {
    let _gauge = Gauge::open(&state.metrics);
    let Subscription {
        mut frames,
        closed,
        guard,
    } = state
        .events
        .subscribe(chat.record.id, flavor, chat.record.version)
        .await;
    let mut closed = CloseSignal::new(closed, registration.revoked);

    // A deletion between the check before the upgrade and the subscription was announced
    // to nobody here: tell this peer now, unless the hub already has.
    let end = match state.store.get_chat(&chat.chat).await {
        Err(StoreError::NotFound) => match closed.try_hub() {
            // The hub got there first: its frames are queued, handled below.
            Some(reason) => End::Closed(reason),
            None => {
                drop(guard);
                let event = chat_deleted(&chat.record);
                let frames = match flavor {
                    Flavor::User => event.user_frames,
                    Flavor::Tenant => event.tenant_frames,
                };
                for frame in frames {
                    if write(&mut socket, Message::Text(frame.into()))
                        .await
                        .is_err()
                    {
                        return End::PeerGone;
                    }
                }
                close(&mut socket, CloseReason::ChatDeleted).await;
                return End::Closed(CloseReason::ChatDeleted);
            }
        },
        _ => {
            let ping_every = state.config.limits.ws_ping_interval();
            serve(&mut socket, &mut frames, &mut closed, ping_every).await
        }
    };

    // Presence ends here, before any closing handshake.
    drop(guard);
    match end {
        End::Closed(reason) => {
            // A deleted chat's last frames (`chat.deleted`) go out before the close; a
            // consumer that was too slow, or whose credential was revoked, gets only
            // the close.
            if reason.delivers_queued_frames() {
                while let Ok(frame) = frames.try_recv() {
                    if write(&mut socket, text(frame)).await.is_err() {
                        return End::PeerGone;
                    }
                }
            }
            close(&mut socket, reason).await;
        }
        End::PeerClosed => {
            // Reading on sends the close reply tungstenite queued, and ends the stream.
            let _ = tokio::time::timeout(CLOSE_GRACE, drain(&mut socket)).await;
        }
        End::TooBig => {
            // Not `close`: reading on would buffer the rest of the oversized frame.
            let frame = close_frame(CloseReason::MessageTooBig);
            let _ = write_within(&mut socket, frame, TOO_SLOW_GRACE).await;
        }
        End::PeerGone | End::Silent => {}
    }
    end
}

/// Forwards frames, answers application pings and pings the peer until the connection
/// ends. Returns without polling `closed` again once it has completed.
async fn serve(
    socket: &mut WebSocket,
    frames: &mut mpsc::Receiver<Frame>,
    closed: &mut CloseSignal,
    ping_every: Duration,
) -> End {
    let silent_after = ping_every * SILENT_INTERVALS;
    let mut pings = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let silence = tokio::time::sleep(silent_after);
    tokio::pin!(silence);
    loop {
        tokio::select! {
            reason = &mut *closed => return End::Closed(reason),
            frame = frames.recv() => match frame {
                Some(frame) => {
                    if let Err(end) = write_or_close(socket, text(frame), closed, silent_after).await {
                        return end;
                    }
                }
                // The hub let go of this connection; its close signal says why.
                None => return End::Closed(closed.await),
            },
            incoming = socket.next() => match incoming {
                Some(Ok(message)) => {
                    silence.as_mut().reset(Instant::now() + silent_after);
                    match message {
                        Message::Close(_) => return End::PeerClosed,
                        Message::Text(text) if is_ping(text.as_str()) => {
                            let pong = Message::Text(Utf8Bytes::from_static(r#"{"type":"pong"}"#));
                            if let Err(end) = write_or_close(socket, pong, closed, silent_after).await {
                                return end;
                            }
                        }
                        // Other client messages carry nothing the server acts on.
                        _ => {}
                    }
                }
                Some(Err(error)) if is_message_too_big(&error) => return End::TooBig,
                Some(Err(_)) | None => return End::PeerGone,
            },
            _ = pings.tick() => {
                if let Err(end) = write_or_close(socket, Message::Ping(Default::default()), closed, silent_after).await {
                    return end;
                }
            }
            () = &mut silence => return End::Silent,
        }
    }
}

/// A hub frame as a text message. The frame's bytes are shared, not copied; they are
/// UTF-8 by construction, which the conversion checks again.
fn text(frame: Frame) -> Message {
    Message::Text(Utf8Bytes::try_from(frame.into_bytes()).unwrap_or_default())
}

/// Writes a message within [`CLOSE_GRACE`].
async fn write(socket: &mut WebSocket, message: Message) -> Result<(), ()> {
    write_within(socket, message, CLOSE_GRACE).await
}

async fn write_within(socket: &mut WebSocket, message: Message, limit: Duration) -> Result<(), ()> {
    match tokio::time::timeout(limit, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// Writes a message, giving up when the peer has not taken it within `limit`. If the
/// connection is closed meanwhile, a consumer cut off as too slow is abandoned at once
/// (it is stuck on a full socket), as is one whose credential was revoked; otherwise the
/// message in hand, which precedes the close, is finished first.
async fn write_or_close(
    socket: &mut WebSocket,
    message: Message,
    closed: &mut CloseSignal,
    limit: Duration,
) -> Result<(), End> {
    let written = |result: Result<Result<(), axum::Error>, _>| match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(End::PeerGone),
    };
    let send = tokio::time::timeout(limit, socket.send(message));
    tokio::pin!(send);
    tokio::select! {
        biased;
        result = &mut send => written(result),
        reason = closed => {
            if reason.delivers_queued_frames() {
                written(send.await)?;
            }
            Err(End::Closed(reason))
        }
    }
}

/// Sends the close frame for `reason` and waits briefly for the peer's reply.
async fn close(socket: &mut WebSocket, reason: CloseReason) {
    let frame = close_frame(reason);
    let limit = if reason == CloseReason::TooSlow {
        TOO_SLOW_GRACE
    } else {
        CLOSE_GRACE
    };
    if write_within(socket, frame, limit).await.is_ok() {
        let _ = tokio::time::timeout(CLOSE_GRACE, drain(socket)).await;
    }
}

fn close_frame(reason: CloseReason) -> Message {
    let (code, text) = reason.close_frame();
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from_static(text),
    }))
}

/// Reads until the peer's stream ends.
async fn drain(socket: &mut WebSocket) {
    while let Some(Ok(_)) = socket.next().await {}
}

/// Whether a client text frame is the application-level `{"type":"ping"}`.
fn is_ping(text: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
    }
    text.len() <= 256
        && serde_json::from_str::<Probe<'_>>(text).is_ok_and(|probe| probe.kind == "ping")
}

#[cfg(test)]
mod tests {
    use super::{is_ping, text, Frame, Message};

    #[test]
    fn a_hub_frame_reaches_the_socket_without_a_copy() {
        let frame = Frame::from(r#"{"type":"chat.deleted"}"#.to_owned());
        let shared = frame.clone().into_bytes();
        let Message::Text(sent) = text(frame) else {
            panic!("a text message");
        };
        assert_eq!(sent.as_str(), r#"{"type":"chat.deleted"}"#);
        assert_eq!(bytes::Bytes::from(sent).as_ptr(), shared.as_ptr());
    }

    #[test]
    fn recognises_application_pings() {
        assert!(is_ping(r#"{"type":"ping"}"#));
        assert!(is_ping(r#"{"type": "ping", "id": 3}"#));
        for other in [
            r#"{"type":"pong"}"#,
            "ping",
            "",
            r#"{"kind":"ping"}"#,
            "[1]",
        ] {
            assert!(!is_ping(other), "{other}");
        }
    }
}
