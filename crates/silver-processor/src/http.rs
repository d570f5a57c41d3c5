//! `/healthz`, `/readyz` and `/metrics` (axum), plus the client side used by the
//! `healthcheck` subcommand (scratch images have no curl).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::metrics::Metrics;

/// What `/readyz` reports, updated by the processor and its probe task.
#[derive(Debug, Default)]
pub struct Readiness {
    /// The broker answered the last metadata request.
    pub broker_reachable: AtomicBool,
    /// ClickHouse answered the last probe or insert.
    pub clickhouse_reachable: AtomicBool,
    /// Partitions currently assigned.
    pub assigned_partitions: AtomicUsize,
    /// Set once shutdown starts.
    pub shutting_down: AtomicBool,
}

impl Readiness {
    /// `None` when ready, else why not.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if self.shutting_down.load(Ordering::Relaxed) {
            Some("shutting down")
        } else if !self.broker_reachable.load(Ordering::Relaxed) {
            Some("broker unreachable")
        } else if !self.clickhouse_reachable.load(Ordering::Relaxed) {
            Some("clickhouse unreachable")
        } else if self.assigned_partitions.load(Ordering::Relaxed) == 0 {
            Some("no partitions assigned")
        } else {
            None
        }
    }
}

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct HttpState {
    /// Readiness flags.
    pub readiness: Arc<Readiness>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
}

/// The router.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.readiness.not_ready_reason() {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        ),
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}

/// The `healthcheck` probe failed.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The address is not `host:port[/path]`.
    #[error("health URL `{0}`: expected http://host:port/path")]
    BadUrl(String),
    /// Connecting, writing or reading failed or timed out.
    #[error("health URL `{url}`: {message}")]
    Io {
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The endpoint answered with a non-2xx status.
    #[error("health URL `{url}`: status line `{status_line}`")]
    Status {
        /// The URL.
        url: String,
        /// The status line received.
        status_line: String,
    },
}

/// GETs `url` (plain `http://host:port/path`) and succeeds on a 2xx status.
pub async fn probe(url: &str, timeout: Duration) -> Result<(), ProbeError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ProbeError::BadUrl(url.to_owned()))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(ProbeError::BadUrl(url.to_owned()));
    }
    let io = |message: String| ProbeError::Io {
        url: url.to_owned(),
        message,
    };
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| io(e.to_string()))?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| io(e.to_string()))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| io(e.to_string()))?;
        Ok::<_, ProbeError>(response)
    };
    let response = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| io(format!("no answer within {timeout:?}")))??;
    let text = String::from_utf8_lossy(&response);
    let status_line = text.lines().next().unwrap_or_default().to_owned();
    let ok = status_line
        .split_whitespace()
        .nth(1)
        .is_some_and(|code| code.starts_with('2'));
    if ok {
        Ok(())
    } else {
        Err(ProbeError::Status {
            url: url.to_owned(),
            status_line,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_ready_until_everything_is_up() {
        let r = Readiness::default();
        assert_eq!(r.not_ready_reason(), Some("broker unreachable"));
        r.broker_reachable.store(true, Ordering::Relaxed);
        r.clickhouse_reachable.store(true, Ordering::Relaxed);
        assert_eq!(r.not_ready_reason(), Some("no partitions assigned"));
        r.assigned_partitions.store(2, Ordering::Relaxed);
        assert_eq!(r.not_ready_reason(), None);
    }

    #[tokio::test]
    async fn probe_reads_status_from_a_real_listener() {
        let state = HttpState {
            readiness: Arc::new(Readiness::default()),
            metrics: Arc::new(Metrics::new()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router(state)).await });
        let base = format!("http://{addr}");
        probe(&format!("{base}/healthz"), Duration::from_secs(2))
            .await
            .unwrap();
        let err = probe(&format!("{base}/readyz"), Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");
    }
}
