//! Request counters for `/metrics`: lock-free, shared by every request.

use axum::http::StatusCode;
use std::sync::atomic::{AtomicU64, Ordering};

/// Latency bucket bounds in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Request counters, lock-free.
#[derive(Default)]
pub struct Metrics {
    by_class: [AtomicU64; 5],
    buckets: [AtomicU64; BUCKETS.len()],
    duration_micros: AtomicU64,
    count: AtomicU64,
    pub websocket_connections: AtomicU64,
    /// Chats the sweeper deleted: trash past its days, and chats past their retention.
    pub swept_trash: AtomicU64,
    pub swept_retention: AtomicU64,
}

impl Metrics {
    pub fn record(&self, status: StatusCode, seconds: f64) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.by_class[class].fetch_add(1, Ordering::Relaxed);
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.duration_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        out.push_str(
            "# HELP confab_http_requests_total HTTP requests answered, by status class.\n",
        );
        out.push_str("# TYPE confab_http_requests_total counter\n");
        for (i, counter) in self.by_class.iter().enumerate() {
            let _ = writeln!(
                out,
                "confab_http_requests_total{{class=\"{}xx\"}} {}",
                i + 1,
                counter.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP confab_http_request_duration_seconds Time to answer HTTP requests.\n");
        out.push_str("# TYPE confab_http_request_duration_seconds histogram\n");
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let _ = writeln!(
                out,
                "confab_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {}",
                bucket.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "confab_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "confab_http_request_duration_seconds_sum {}",
            self.duration_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "confab_http_request_duration_seconds_count {count}");
        out.push_str(
            "# HELP confab_websocket_connections Open WebSocket connections on this node.\n",
        );
        out.push_str("# TYPE confab_websocket_connections gauge\n");
        let _ = writeln!(
            out,
            "confab_websocket_connections {}",
            self.websocket_connections.load(Ordering::Relaxed)
        );
        out.push_str(
            "# HELP confab_chats_swept_total Chats the sweeper deleted on this node, by reason.\n",
        );
        out.push_str("# TYPE confab_chats_swept_total counter\n");
        for (reason, counter) in [
            ("trash", &self.swept_trash),
            ("retention", &self.swept_retention),
        ] {
            let _ = writeln!(
                out,
                "confab_chats_swept_total{{reason=\"{reason}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
