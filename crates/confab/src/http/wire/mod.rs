//! The HTTP/1.1 wire below the router: request heads are checked under our own limits
//! before hyper sees them, so every refusal is a JSON error in its API's shape.
//!
//! hyper answers a head it cannot parse (URI too long, too many or too large headers,
//! conflicting Content-Length, obs-folded lines, HTTP/0.9, garbage) with an empty body
//! and no hook to change it. So each connection's reads go through [`guard::Guarded`], which
//! holds a request head back until it is complete and valid, then releases it to
//! hyper, follows the body's framing (Content-Length or chunked) to find the next head
//! on a keep-alive connection, and passes upgraded connections through untouched.
//!
//! A refused head is never shown to hyper. In its place hyper gets a minimal stand-in
//! request (`GET /` with `Connection: close`) and the connection's [`Wire`] records the
//! refusal; the service answers that next request with the JSON error and
//! `Connection: close`, after any responses still owed on the connection (pipelining
//! keeps its order), and nothing more is read.
//!
//! The service also marks any response sent before its request body was fully read
//! with `Connection: close` (the rest of the body is never read, so the connection
//! cannot be reused).

mod chunked;
pub mod guard;
mod head;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::error::ApiError;

/// Why a head was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    UriTooLong = 1,
    HeadersTooLarge = 2,
    Malformed = 3,
    BodyTooLarge = 4,
}

/// A refused head, and which API's error shape it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    pub refusal: Refusal,
    pub tenant_api: bool,
}

impl Rejection {
    fn encode(self) -> u8 {
        self.refusal as u8 | if self.tenant_api { 0x10 } else { 0 }
    }

    fn decode(code: u8) -> Option<Rejection> {
        let refusal = match code & 0x0f {
            1 => Refusal::UriTooLong,
            2 => Refusal::HeadersTooLarge,
            3 => Refusal::Malformed,
            4 => Refusal::BodyTooLarge,
            _ => return None,
        };
        Some(Rejection {
            refusal,
            tenant_api: code & 0x10 != 0,
        })
    }

    /// The JSON answer, closing the connection.
    pub fn response(self) -> Response {
        let error = match self.refusal {
            Refusal::UriTooLong => ApiError::new(
                StatusCode::URI_TOO_LONG,
                "uri_too_long",
                "The request URL is longer than the server accepts",
            ),
            Refusal::HeadersTooLarge => ApiError::new(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "The request has more or larger headers than the server accepts",
            ),
            Refusal::Malformed => {
                ApiError::bad_request("malformed_request", "The request is not valid HTTP/1.1")
            }
            Refusal::BodyTooLarge => ApiError::payload_too_large(),
        };
        let mut response = error.render_for(self.tenant_api);
        close_after(&mut response);
        response
    }
}

fn close_after(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
}

/// What a connection's reader tells its service, shared by the two.
#[derive(Debug, Default)]
pub struct Wire {
    /// An encoded [`Rejection`] for the stand-in request; 0 when none.
    rejection: AtomicU8,
    /// Whether the current request's body has been read to its end.
    body_read: AtomicBool,
}

impl Wire {
    pub fn new() -> Arc<Wire> {
        Arc::new(Wire::default())
    }

    fn reject(&self, rejection: Rejection) {
        self.rejection.store(rejection.encode(), Ordering::Release);
    }

    /// Called as each request reaches the service, in order: the stand-in for a
    /// refused head is the first request after the refusal was recorded.
    pub fn take_rejection(&self) -> Option<Rejection> {
        match self.rejection.swap(0, Ordering::AcqRel) {
            0 => None,
            code => Rejection::decode(code),
        }
    }

    /// Wraps a request's body to note when it has been read to its end.
    pub fn track(self: &Arc<Self>, body: Incoming) -> TrackedBody {
        self.body_read
            .store(body.is_end_stream(), Ordering::Relaxed);
        TrackedBody {
            inner: body,
            wire: self.clone(),
        }
    }

    /// Adds `Connection: close` when the response leaves the request body unread.
    pub fn finish(&self, response: &mut Response) {
        if !self.body_read.load(Ordering::Relaxed)
            && response.status() != StatusCode::SWITCHING_PROTOCOLS
        {
            close_after(response);
        }
    }
}

/// A request body that reports to its [`Wire`] once it has been read to the end.
pub struct TrackedBody {
    inner: Incoming,
    wire: Arc<Wire>,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.wire.body_read.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
