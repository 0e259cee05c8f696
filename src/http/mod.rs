//! The HTTP server: `fn router(state) -> Router` (tested with `oneshot`), served by the daemon on a bound
//! listener with its shutdown token.
//!
//! - `/metrics`, `/healthz`, `/readyz`, `POST /-/reload` (here); `/api/v1/*` ([`api`]); the HTML
//!   status page `/` and `/domains/{domain}` ([`page`]).
//! - [`auth`]: bearer token for write endpoints; [`error`]: client message vs log detail;
//!   [`exposition`]: `/metrics` rendering shared between concurrent scrapes.
//! - [`serve`]: the accept loop with a connection limit, header-read and idle timeouts.
//! - Layers: per-request metrics and access log, request timeout (408, enforced from outside the
//!   handler's task), body size limit (413), and JSON bodies for every error (docs/api.md). The
//!   probes `/healthz` and `/readyz` skip the request timeout: they have budgets of their own.

pub mod alerts;
pub mod analysis;
pub mod api;
pub mod auth;
pub mod error;
pub mod events;
pub mod exposition;
pub mod page;
pub mod reports;
pub mod serve;
pub mod webhooks;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};
use tower_http::limit::RequestBodyLimitLayer;

use crate::config::Config;
use crate::config::reload::{ReloadRequest, ReloadStatus, ReloadTrigger};
use crate::metrics::Metrics;
use crate::results::Results;
use crate::store::{Store, StoreError};
use error::ApiError;
use exposition::{Encoding, Exposition};

/// How long `/readyz` waits for the store before calling it unreachable.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The running configuration (swapped by the reload task).
    pub config: watch::Receiver<Arc<Config>>,
    /// The state store.
    pub store: Arc<dyn Store>,
    /// The results pipeline: the latest state the API reads.
    pub results: Arc<Results>,
    /// The daemon's metrics.
    pub metrics: Arc<Metrics>,
    /// Where `POST /-/reload` sends its request.
    pub reload: mpsc::Sender<ReloadRequest>,
    /// The reload outcome shown in `/api/v1/status`.
    pub reload_status: ReloadStatus,
    exposition: Arc<Exposition>,
}

impl AppState {
    /// Bundle the daemon's parts for the router; `/metrics` renders at most once per
    /// [`exposition::MAX_AGE`].
    pub fn new(
        config: watch::Receiver<Arc<Config>>,
        results: Arc<Results>,
        metrics: Arc<Metrics>,
        reload: mpsc::Sender<ReloadRequest>,
        reload_status: ReloadStatus,
    ) -> Self {
        let exposition = Arc::new(Exposition::new(metrics.clone(), exposition::MAX_AGE));
        AppState {
            config,
            store: results.store().clone(),
            results,
            metrics,
            reload,
            reload_status,
            exposition,
        }
    }

    /// Render `/metrics` on every request (tests that read a value right after setting it).
    pub fn without_metrics_cache(mut self) -> Self {
        self.exposition = Arc::new(Exposition::new(self.metrics.clone(), Duration::ZERO));
        self
    }
}

/// The whole HTTP surface. Body limit and timeout are read from the config at build time
/// (`server.*` changes need a restart); the API token is read per request.
pub fn router(state: AppState) -> Router {
    let server = state.config.borrow().server.clone();
    let events = events::EventsState::new(&state);
    let write = Router::new()
        .route("/-/reload", post(reload))
        .route("/api/v1/reports", post(reports::post))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    let work = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(api::status))
        .route(
            "/api/v1/domains/{domain}",
            get(api::domain).with_state(events.clone()),
        )
        .route(
            "/api/v1/domains/{domain}/enforcement",
            get(analysis::enforcement),
        )
        .route("/api/v1/alerts", get(alerts::list))
        .merge(write)
        .merge(page::router(events.clone()))
        .merge(events::router(events.clone()))
        .merge(webhooks::router(events))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(server.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(server.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            server.request_timeout,
            deadline,
        ));
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    probes
        .merge(work)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// The request timeout, enforced from outside: the handler runs as its own task, so a handler that
/// hogs its thread (a large serialization) still gets its 408 on time; the task is then aborted.
async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let mut handler = tokio::spawn(next.run(request));
    match tokio::time::timeout(limit, &mut handler).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the request failed; see the daemon's log",
        )
        .with_detail(e)
        .into_response(),
        Err(_) => {
            handler.abort();
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                format!(
                    "the request took longer than server.request_timeout ({})",
                    crate::config::format_duration(limit)
                ),
            )
            .into_response()
        }
    }
}

/// Errors made by layers and extractors (413 from the body limit, 400 for a malformed query, 405)
/// come as plain text; docs/api.md promises `{"error": {"code", "message"}}` for every error.
async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    // The status page's own errors are HTML pages (an unknown domain is an HTML 404).
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        s if s.is_client_error() => "client_error",
        _ => "internal",
    };
    let (parts, body) = response.into_parts();
    // The rejection's own sentence (axum's extractor messages) is meant for the client; bounded.
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = match std::str::from_utf8(&text).map(str::trim) {
        Ok(t) if !t.is_empty() => t.to_owned(),
        _ => parts
            .status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_ascii_lowercase(),
    };
    let mut json = ApiError::new(status, code, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

/// Per-request metrics (route template, method, status class) and the access log line.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // The route template, never the raw path: label values stay bounded (STYLE habit 6).
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let response = next.run(request).await;
    let took = started.elapsed();
    let status = response.status();
    state.metrics.observe_http(&route, &method, status, took);
    // Milliseconds to two decimals: enough for latency, short in the log.
    let ms = (took.as_secs_f64() * 100_000.0).round() / 100.0;
    if matches!(route.as_str(), "/metrics" | "/healthz" | "/readyz") {
        tracing::debug!(%method, route, status = status.as_u16(), ms, "request answered");
    } else {
        tracing::info!(%method, route, status = status.as_u16(), ms, "request answered");
    }
    response
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such endpoint")
}

async fn healthz() -> &'static str {
    "ok\n"
}

/// Ready when the store answers (reader and writer) and a configuration is loaded.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let domains = state.config.borrow().domains.len();
    match tokio::time::timeout(READY_TIMEOUT, state.store.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({"ready": true, "store": "ok", "domains": domains}),
        )),
        // The store's own reason (damage, a full disk) is written for operators and holds no path.
        Ok(Err(StoreError::Unhealthy(why))) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            format!("the state store cannot commit: {why}"),
        )),
        Ok(Err(e)) => Err(not_ready().with_detail(e)),
        Err(_) => Err(not_ready().with_detail("the store did not answer within 2 s")),
    }
}

fn not_ready() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "not_ready",
        "the state store is not reachable",
    )
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let accept = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let encoding = Encoding::negotiate(accept);
    let body = state.exposition.body(encoding).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics_unavailable",
            "the metrics could not be rendered",
        )
        .with_detail(e)
    })?;
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if encoding == Encoding::Gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(response)
}

/// `POST /-/reload`: answers after the reload task has loaded (or refused) the file.
async fn reload(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "reload_unavailable",
            "the reload task is not running",
        )
    };
    let (reply, outcome) = oneshot::channel();
    state
        .reload
        .send(ReloadRequest {
            trigger: ReloadTrigger::Http,
            reply: Some(reply),
        })
        .await
        .map_err(|_| unavailable())?;
    match outcome.await.map_err(|_| unavailable())? {
        Ok(()) => Ok(Json(json!({"status": "reloaded"}))),
        Err(errors) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "config_invalid",
            "the new configuration was refused; the previous one keeps running",
        )
        .with_errors(errors.lines().map(str::to_owned).collect())),
    }
}

#[cfg(test)]
mod tests;
