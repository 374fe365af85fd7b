//! Prometheus metrics, served at `/metrics` in the text exposition format.

use std::sync::Mutex;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    sessions: Gauge,
    /// Gateway events published.
    pub events: Counter,
    /// Requests answered 429.
    pub rate_limited: Counter,
    /// Messages created.
    pub messages: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("discord");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "REST requests by route and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 14))
        });
        registry.register(
            "http_request_duration_seconds",
            "REST request latency by route",
            latency.clone(),
        );
        let sessions = Gauge::default();
        registry.register(
            "gateway_sessions",
            "Gateway sessions on this node (connected or resumable)",
            sessions.clone(),
        );
        let events = Counter::default();
        registry.register(
            "gateway_events_published",
            "Dispatch events published",
            events.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "http_rate_limited",
            "Requests answered with 429",
            rate_limited.clone(),
        );
        let messages = Counter::default();
        registry.register("messages_created", "Messages created", messages.clone());
        Metrics {
            registry: Mutex::new(registry),
            requests,
            latency,
            sessions,
            events,
            rate_limited,
            messages,
        }
    }

    /// The text exposition.
    pub fn render(&self, sessions: usize) -> String {
        self.sessions
            .set(i64::try_from(sessions).unwrap_or(i64::MAX));
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &registry) {
            tracing::error!("metrics encoding failed: {e}");
        }
        out
    }
}

/// Counts and times every request by its route template.
pub async fn middleware(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let uri = req.uri().path().to_owned();
    let res = next.run(req).await;
    tracing::debug!(
        %method,
        path = %uri,
        status = res.status().as_u16(),
        micros = start.elapsed().as_micros() as u64,
        "request"
    );
    let m = &state.metrics;
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route: route.clone(),
            status: res.status().as_u16(),
        })
        .inc();
    m.latency
        .get_or_create(&RouteLabels { route })
        .observe(start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics`.
pub async fn serve(State(state): State<AppState>) -> Response {
    let body = state.metrics.render(state.gateway.session_count());
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}
