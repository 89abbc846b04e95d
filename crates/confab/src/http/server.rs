//! The accept loop: each TCP connection served as HTTP/1.1 by hyper, with the timeouts
//! `axum::serve` does not expose, and a graceful shutdown.
//!
//! * A client must send a request's complete headers within the header read timeout
//!   (which also bounds how long an idle keep-alive connection stays open); otherwise
//!   its connection is closed. This is what stops slowloris clients from holding
//!   connections open with a trickle of header bytes.
//! * Each request carries the peer address as [`ConnectInfo<SocketAddr>`].
//! * Request heads are checked under our own limits before hyper parses them, so
//!   malformed and oversized ones get JSON errors ([`super::wire`]).
//! * On shutdown the listener closes; connections finish the request in flight (idle ones
//!   close at once); WebSocket upgrades have left hyper by then and are closed by the
//!   event bus. Connections still open after the grace period are dropped.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tower_service::Service as _;

use super::wire::guard::Guarded;
use super::wire::Wire;
use crate::config::HeadLimits;

/// How the server treats connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionOptions {
    /// Time allowed for a request's complete headers, and for an idle keep-alive gap.
    pub header_read_timeout: Duration,
    /// Time open connections get to finish once shutdown starts.
    pub shutdown_grace: Duration,
    /// What a request head may be; checked before hyper sees it.
    pub head_limits: HeadLimits,
}

/// What the accept loop tells its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    /// Finish the request in flight, then close.
    Draining,
    /// The grace period is over: drop the connection.
    Abort,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains connections for at
/// most `options.shutdown_grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    options: ConnectionOptions,
    shutdown: impl Future<Output = ()> + Send,
) {
    let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
    // Every connection task holds a sender; when all are gone, `recv` answers `None`.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        // hyper's own limits stay looser than ours, so ours decide and answer in JSON.
        // Its buffer is still capped near ours: it alone bounds the heads that follow a
        // refused upgrade on the same connection, which the wire checks pass through.
        .max_buf_size((options.head_limits.max_head_bytes * 2).max(8192))
        .max_headers(options.head_limits.max_headers.max(100));

    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                accept_failed(error).await;
                continue;
            }
        };
        // Small responses go out at once rather than waiting on Nagle's algorithm.
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            http.clone(),
            options.head_limits,
            stream,
            peer,
            app.clone(),
            phase_rx.clone(),
            alive_tx.clone(),
        ));
    }
    drop(listener);
    drop(alive_tx);
    let _ = phase_tx.send(Phase::Draining);
    if tokio::time::timeout(options.shutdown_grace, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!(
            grace = ?options.shutdown_grace,
            "connections still open after the shutdown grace period: dropping them"
        );
        let _ = phase_tx.send(Phase::Abort);
        // Each connection task ends as soon as it sees the abort.
        let _ = tokio::time::timeout(Duration::from_secs(1), alive_rx.recv()).await;
    }
}

/// Errors of `accept`: a connection that failed before it was accepted is skipped; any
/// other error (e.g. out of file descriptors) is logged and retried after a pause, so a
/// persistent one does not spin.
async fn accept_failed(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tracing::error!(%error, "cannot accept connections; retrying in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection(
    http: hyper::server::conn::http1::Builder,
    head_limits: HeadLimits,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut phase: watch::Receiver<Phase>,
    _alive: mpsc::Sender<()>,
) {
    let wire = Wire::new();
    let io = Guarded::new(stream, head_limits, wire.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        // Checked as the request arrives, in order (not when the future first runs).
        let refused = wire.take_rejection();
        let wire = wire.clone();
        let mut app = app.clone();
        async move {
            if let Some(rejection) = refused {
                return Ok(rejection.response());
            }
            request.extensions_mut().insert(ConnectInfo(peer));
            let request = request.map(|body| wire.track(body));
            let mut response = app.call(request).await?;
            wire.finish(&mut response);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let conn = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        tokio::select! {
            // The connection first: a request whose bytes have already arrived is read
            // before a shutdown is applied, so it counts as in flight and is answered.
            biased;
            result = conn.as_mut() => {
                if let Err(error) = result {
                    // Timeouts, resets and malformed requests: the client's problem.
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            changed = phase.changed() => {
                let now = if changed.is_ok() { *phase.borrow_and_update() } else { Phase::Abort };
                match now {
                    Phase::Serving => {}
                    Phase::Draining if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    Phase::Draining => {}
                    Phase::Abort => return,
                }
            }
        }
    }
}
