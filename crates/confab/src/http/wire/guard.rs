//! The connection's reader: holds each request head back until `head::check` passes
//! it, then follows the body to the next head. See the module above for why.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, ReadBuf};

use super::chunked::Chunked;
use super::head::{self, Framing, Head};
use super::{Rejection, Wire};
use crate::config::HeadLimits;

/// What hyper reads in place of a refused head; the service answers it with the error.
const STAND_IN: &[u8] = b"GET / HTTP/1.1\r\nconnection: close\r\n\r\n";
/// The read buffer's usual size; it grows to the head limit only for heads that need it.
const INITIAL_BUFFER: usize = 4096;
/// After the server closes its side, how long (and how much) it keeps reading what the
/// client still sends, so that unread request bytes do not turn the close into a reset
/// that could destroy the response before the client reads it ("lingering close").
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

#[derive(Debug)]
enum State {
    /// Collecting the next head.
    Head,
    /// Handing a checked head to hyper: `left` bytes of it, then its body.
    Release {
        left: usize,
        then: Framing,
    },
    /// A body of this many more bytes.
    Length(u64),
    Chunked(Chunked),
    /// Not HTTP we follow any more (an upgrade, or a body hyper will refuse itself).
    Opaque,
    /// Handing hyper the stand-in for a refused head; `sent` bytes of it so far.
    StandIn {
        rejection: Rejection,
        sent: usize,
    },
    /// After the stand-in: nothing more is read; hyper answers and closes.
    Done,
}

/// An I/O stream whose reads are checked request by request.
pub struct Guarded<T: AsyncRead + Unpin + Send + 'static> {
    /// Taken only when dropped (see [`LINGER_TIME`]).
    inner: Option<T>,
    /// The server has shut its writing side: the connection is ending.
    shut_down: bool,
    limits: HeadLimits,
    wire: Arc<Wire>,
    /// Bytes read from `inner`, not yet given to hyper: `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How much of the head being collected was buffered at its last check, and whether
    /// a line of it has ended: a head arriving a byte at a time is parsed again only
    /// when a line ends or a limit is crossed, not on every byte.
    checked: usize,
    line_seen: bool,
    state: State,
}

impl<T: AsyncRead + Unpin + Send + 'static> Guarded<T> {
    pub fn new(inner: T, limits: HeadLimits, wire: Arc<Wire>) -> Self {
        Guarded {
            inner: Some(inner),
            shut_down: false,
            limits,
            wire,
            buf: Vec::new(),
            start: 0,
            end: 0,
            checked: 0,
            line_seen: false,
            state: State::Head,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Moves up to `limit` buffered bytes into `out`; returns how many.
    fn release(&mut self, out: &mut ReadBuf<'_>, limit: usize) -> usize {
        let n = limit.min(self.end - self.start).min(out.remaining());
        out.put_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        n
    }

    fn io(&mut self) -> io::Result<Pin<&mut T>> {
        match self.inner.as_mut() {
            Some(inner) => Ok(Pin::new(inner)),
            None => Err(io::ErrorKind::NotConnected.into()),
        }
    }

    /// Reads more from the connection into the buffer; `Ok(0)` at its end.
    fn fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            // Only a head can fill the buffer (bodies are handed on as they come), and
            // one at the limit is refused before this point.
            let grown = (self.buf.len() * 2).clamp(
                INITIAL_BUFFER,
                self.limits.max_head_bytes.max(INITIAL_BUFFER),
            );
            if grown == self.buf.len() {
                return Poll::Ready(Err(io::Error::other("request head buffer full")));
            }
            self.buf.resize(grown, 0);
        }
        let mut read = ReadBuf::new(&mut self.buf[self.end..]);
        let inner = match self.inner.as_mut() {
            Some(inner) => Pin::new(inner),
            None => return Poll::Ready(Err(io::ErrorKind::NotConnected.into())),
        };
        ready!(inner.poll_read(cx, &mut read))?;
        let n = read.filled().len();
        self.end += n;
        Poll::Ready(Ok(n))
    }

    /// Whether the partial head has changed in a way that can change its verdict: first
    /// bytes, a line ended, or a limit crossed (URL, then head size).
    fn worth_checking(&mut self) -> bool {
        let buffered = self.end - self.start;
        let fresh = &self.buf[self.start + self.checked.min(buffered)..self.end];
        let newline = fresh.contains(&b'\n');
        let uri_mark = self.limits.max_uri_bytes + 32;
        let worth = self.checked == 0
            || newline
            || buffered >= self.limits.max_head_bytes
            || (!self.line_seen && self.checked <= uri_mark && buffered > uri_mark);
        if worth {
            self.checked = buffered;
            self.line_seen |= newline;
        }
        worth
    }

    /// Before handing on body bytes: makes sure some are buffered and `out` has room.
    /// `false`: return what this read has so far (or the end of the stream) instead.
    fn body_ready(
        &mut self,
        cx: &mut Context<'_>,
        out: &ReadBuf<'_>,
        gave: bool,
    ) -> Poll<io::Result<bool>> {
        if self.start == self.end && (gave || ready!(self.fill(cx))? == 0) {
            return Poll::Ready(Ok(false));
        }
        Poll::Ready(Ok(out.remaining() > 0))
    }

    /// Back to a small buffer once a large head has gone through.
    fn shrink(&mut self) {
        if self.buf.len() > INITIAL_BUFFER && self.start == self.end {
            self.buf = vec![0; INITIAL_BUFFER];
            self.start = 0;
            self.end = 0;
        }
    }
}

impl<T: AsyncRead + Unpin + Send + 'static> AsyncRead for Guarded<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = out.filled().len();
        loop {
            let gave = out.filled().len() > before;
            match &mut this.state {
                State::Opaque => {
                    if this.start < this.end {
                        this.release(out, usize::MAX);
                        return Poll::Ready(Ok(()));
                    }
                    if gave {
                        return Poll::Ready(Ok(()));
                    }
                    if !this.buf.is_empty() {
                        this.buf = Vec::new();
                    }
                    return this.io()?.poll_read(cx, out);
                }
                State::Done => {
                    // hyper answers the stand-in and closes; it needs nothing more.
                    return if gave {
                        Poll::Ready(Ok(()))
                    } else {
                        Poll::Pending
                    };
                }
                State::StandIn { rejection, sent } => {
                    if gave {
                        // The stand-in goes out in a read of its own, so every request
                        // before it has reached the service before the refusal is
                        // recorded for the next one.
                        return Poll::Ready(Ok(()));
                    }
                    if *sent == 0 {
                        this.wire.reject(*rejection);
                    }
                    let n = (STAND_IN.len() - *sent).min(out.remaining());
                    out.put_slice(&STAND_IN[*sent..*sent + n]);
                    *sent += n;
                    if *sent == STAND_IN.len() {
                        this.state = State::Done;
                    }
                    return Poll::Ready(Ok(()));
                }
                State::Head => {
                    if this.start < this.end {
                        let verdict = if this.worth_checking() {
                            head::check(this.buffered(), &this.limits)
                        } else {
                            Ok(Head::Partial)
                        };
                        match verdict {
                            Ok(Head::Complete { len, body }) => {
                                this.checked = 0;
                                this.line_seen = false;
                                this.state = State::Release {
                                    left: len,
                                    then: body,
                                };
                                continue;
                            }
                            Ok(Head::Partial) => {}
                            Err(rejection) => {
                                tracing::debug!(?rejection, "request head refused");
                                this.buf = Vec::new();
                                this.start = 0;
                                this.end = 0;
                                this.state = State::StandIn { rejection, sent: 0 };
                                continue;
                            }
                        }
                    } else {
                        this.shrink();
                    }
                    if gave {
                        return Poll::Ready(Ok(()));
                    }
                    // At the end of the stream, whatever partial head is left is
                    // dropped: hyper sees a clean end between requests.
                    if ready!(this.fill(cx))? == 0 {
                        return Poll::Ready(Ok(()));
                    }
                }
                State::Release { left, then } => {
                    let (left_now, then) = (*left, *then);
                    if out.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let n = this.release(out, left_now);
                    if n == left_now {
                        this.state = match then {
                            Framing::Empty => State::Head,
                            Framing::Length(length) => State::Length(length),
                            Framing::Chunked => State::Chunked(Chunked::default()),
                            Framing::Opaque => State::Opaque,
                        };
                    } else {
                        this.state = State::Release {
                            left: left_now - n,
                            then,
                        };
                    }
                }
                State::Length(left) => {
                    let left_now = *left;
                    if left_now == 0 {
                        this.state = State::Head;
                        continue;
                    }
                    if !ready!(this.body_ready(cx, out, gave))? {
                        return Poll::Ready(Ok(()));
                    }
                    let n = this.release(out, usize::try_from(left_now).unwrap_or(usize::MAX));
                    this.state = State::Length(left_now - n as u64);
                }
                State::Chunked(chunked) => {
                    let mut chunked = *chunked;
                    if !ready!(this.body_ready(cx, out, gave))? {
                        return Poll::Ready(Ok(()));
                    }
                    let available = (this.end - this.start).min(out.remaining());
                    match chunked.feed(&this.buf[this.start..this.start + available]) {
                        Ok(Some(n)) => {
                            this.release(out, n);
                            this.state = State::Head;
                        }
                        Ok(None) => {
                            this.release(out, available);
                            this.state = State::Chunked(chunked);
                        }
                        // hyper refuses the body itself; the connection ends with it.
                        Err(_) => this.state = State::Opaque,
                    }
                }
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> AsyncWrite for Guarded<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io()?.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().io()?.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.as_ref().is_some_and(T::is_write_vectored)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().io()?.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.shut_down = true;
        this.io()?.poll_shutdown(cx)
    }
}

impl<T: AsyncRead + Unpin + Send + 'static> Drop for Guarded<T> {
    /// A connection the server closed may still have request bytes on their way in
    /// (a body it answered without reading): read and discard them for a moment before
    /// the socket closes, or the kernel answers them with a reset.
    fn drop(&mut self) {
        let (true, Some(mut inner)) = (self.shut_down, self.inner.take()) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            let mut sink = [0u8; 4096];
            let mut drained = 0;
            let _ = tokio::time::timeout(LINGER_TIME, async {
                while drained < LINGER_BYTES {
                    match inner.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => drained += n,
                    }
                }
            })
            .await;
        });
    }
}
