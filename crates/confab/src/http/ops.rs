//! Operations endpoints: health and Prometheus metrics, plus the request-metrics layer.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::time::Instant;

use super::state::AppState;

/// `GET /healthz`: 200 when the database answers, 503 otherwise; says how live events
/// travel and whether that path is up.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let database = state.store.ping().await;
    let (events, events_ok) = state.events.health();
    let healthy = database.is_ok();
    let body = json!({
        "status": if healthy { "ok" } else { "unavailable" },
        "database": {"engine": state.store.engine(), "ok": database.is_ok()},
        "events": {"transport": events, "ok": events_ok},
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Layer: counts and times every request; logs it at debug level.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The request line is copied only when the debug log will print it: on the hot path
    // of every request, an allocation for a disabled log line is waste.
    let logged = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (request.method().clone(), request.uri().path().to_owned()));
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    state
        .metrics
        .record(response.status(), elapsed.as_secs_f64());
    if let Some((method, path)) = logged {
        tracing::debug!(%method, %path, status = response.status().as_u16(), micros = elapsed.as_micros() as u64, "request");
    }
    response
}
