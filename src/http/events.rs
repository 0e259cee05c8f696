//! The events API (docs/api.md, docs/bounces.md):
//!
//! - `POST /api/v1/events` (bearer token): generic JSON events, answered 200 after the commit;
//! - `GET /api/v1/suppressions` (token): the suppression list as JSON, or CSV with `?format=csv`
//!   or `Accept: text/csv`; `DELETE /api/v1/suppressions/{address}` (token) takes one off;
//! - `GET /api/v1/events/rates`: bounce and complaint rates per domain and window, judged.
//!
//! [`EventsState`] is shared with the webhooks ([`super::webhooks`]): the events store (its own
//! connection to the state database), the SNS certificate cache and the Mailgun replay cache.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth;
use super::error::ApiError;
use crate::events::metrics::RateSource;
use crate::events::mx_provider::MxProviders;
use crate::events::rates::{DomainRates, rates};
use crate::events::store::{EventStore, LazyEventStore, RecordOutcome, Recorded};
use crate::events::suppress::to_csv;
use crate::events::webhooks::mailgun::ReplayCache;
use crate::events::webhooks::sns;
use crate::events::webhooks::{Context, WebhookError};

/// How often old buckets and keys are pruned (at most; piggybacks on writes).
const PRUNE_EVERY_SECS: i64 = 3600;
/// How long idempotency keys are kept: providers retry for up to 3 days (SendGrid 72 h).
const KEEP_KEYS: Duration = Duration::from_secs(30 * 86_400);

/// What the events handlers share. Cheap to clone.
#[derive(Clone)]
pub struct EventsState {
    /// The daemon's state (config, metrics).
    pub app: AppState,
    /// The events store, opened at first use (a failure answers 503 and is retried).
    pub store: Arc<LazyEventStore>,
    /// Mailbox providers of hosted recipient domains, by MX.
    pub mx: Option<Arc<MxProviders>>,
    /// SNS signature verification with its certificate cache.
    pub sns: Arc<sns::Verifier>,
    /// Mailgun tokens seen.
    pub mailgun_replay: Arc<ReplayCache>,
    last_prune: Arc<Mutex<i64>>,
}

impl EventsState {
    /// The events store beside the daemon's (same state file, `state.path`), its rates hooked into
    /// `/metrics`. Nothing is opened until the first event or scrape.
    pub fn new(app: &AppState) -> EventsState {
        let path = app.config.borrow().state.path.clone();
        let store = Arc::new(LazyEventStore::new(&path));
        let sns = sns::Verifier::with_default_client()
            .unwrap_or_else(|_| sns::Verifier::new(reqwest::Client::new()));
        EventsState::with_parts(app, store, sns)
    }

    /// Build from parts (tests give an SNS verifier whose client trusts a test CA).
    pub fn with_parts(
        app: &AppState,
        store: Arc<LazyEventStore>,
        sns: sns::Verifier,
    ) -> EventsState {
        let config = app.config.clone();
        app.metrics.events.attach(RateSource {
            store: store.clone(),
            settings: Box::new(move || {
                let c = config.borrow();
                (
                    c.events.windows.clone(),
                    c.events.thresholds,
                    configured_domains(&c),
                )
            }),
        });
        // Hosted recipient domains get their provider from their MX (a resolver of its own, built
        // from the start-up `dns` settings; without one, they stay `other`).
        let mx = match crate::dns::Resolver::new(&app.config.borrow().dns) {
            Ok(r) => Some(Arc::new(MxProviders::new(r))),
            Err(e) => {
                tracing::warn!(error = %e, "no resolver for mailbox providers by MX");
                None
            }
        };
        EventsState {
            app: app.clone(),
            store,
            mx,
            sns: Arc::new(sns),
            mailgun_replay: Arc::new(ReplayCache::default()),
            last_prune: Arc::new(Mutex::new(0)),
        }
    }

    /// Run `f` on the open store on a blocking thread; 503 when the store cannot be opened.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&EventStore) -> Result<T, crate::store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let lazy = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let store = lazy.get()?;
            f(&store)
        })
        .await
        .map_err(|e| ApiError::store(format!("the events store task failed: {e}")))?
        .map_err(ApiError::store)
    }

    /// Commit a batch, count it in the metrics, prune now and then. 2xx only after this returns.
    pub async fn commit(&self, mut batch: Vec<Recorded>) -> Result<RecordOutcome, ApiError> {
        if let Some(mx) = &self.mx {
            mx.refine(&mut batch).await;
        }
        let (policy, domains) = {
            let c = self.app.config.borrow();
            (c.events.suppression, configured_domains(&c))
        };
        let max_window = {
            let c = self.app.config.borrow();
            c.events
                .windows
                .iter()
                .map(|w| w.length)
                .max()
                .unwrap_or(Duration::from_secs(7 * 86_400))
        };
        let now = now();
        let prune = {
            let mut last = self
                .last_prune
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let due = now - *last >= PRUNE_EVERY_SECS;
            if due {
                *last = now;
            }
            due
        };
        let (outcome, batch) = self
            .blocking(move |store| {
                let outcome = store.record(&batch, &policy)?;
                if prune {
                    // Keep a day beyond the longest window, so a window never loses its oldest minutes.
                    store.prune(now, max_window + Duration::from_secs(86_400), KEEP_KEYS)?;
                }
                Ok((outcome, batch))
            })
            .await?;
        let counted = batch
            .iter()
            .zip(&outcome.fresh)
            .filter(|(_, f)| **f)
            .map(|(r, _)| r);
        self.app.metrics.events.observe(counted, &domains);
        Ok(outcome)
    }

    /// Keep a body refused as invalid (400 `invalid_events`) in `ingest_failures`, so the
    /// `ingest_failures` alert rule sees a sender whose events stopped reading (docs/alerts.md).
    /// Refused signatures are not kept there: they are not data that failed, and a stranger could
    /// fill the table. Losing the row loses no event, so a failure to write it is only logged.
    pub async fn keep_refusal(&self, endpoint: &'static str, e: &ApiError) {
        if e.code() != "invalid_events" {
            return;
        }
        let message = e.message().to_owned();
        let kept = self
            .blocking(move |store| {
                store.record_refusal(now(), endpoint, "invalid_events", &message)
            })
            .await;
        if let Err(e) = kept {
            tracing::warn!(error = %e.message(), "could not record a refused events body for the ingest_failures alert");
        }
    }

    /// The mapping context: classifier and the `?domain=` fallback, accepted only when configured.
    pub fn with_context<T>(&self, domain: Option<&str>, f: impl FnOnce(&Context<'_>) -> T) -> T {
        let c = self.app.config.borrow();
        let domain = domain
            .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
            .filter(|d| c.domains.iter().any(|x| x.name.as_str() == d));
        let cx = Context {
            classifier: &c.events.classifier,
            default_domain: domain.as_deref(),
            now: now(),
        };
        f(&cx)
    }
}

/// The configured sending domains (the `domain` label values).
pub fn configured_domains(c: &crate::config::Config) -> Vec<String> {
    c.domains
        .iter()
        .map(|d| d.name.as_str().to_owned())
        .collect()
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A refused webhook or event request as the client sees it (the detail goes to the log only).
pub fn webhook_error(e: WebhookError) -> ApiError {
    match e {
        WebhookError::Unauthorized(why) => {
            tracing::warn!(why, "a webhook request was refused");
            ApiError::new(StatusCode::UNAUTHORIZED, "signature_invalid", why)
        }
        WebhookError::Forbidden(why) => {
            tracing::warn!(why, "a webhook request was refused");
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", why)
        }
        WebhookError::BadRequest(why) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_events", why)
        }
        WebhookError::Unavailable(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "verification_unavailable",
            "the request could not be verified now; retry later",
        )
        .with_detail(why),
    }
}

/// The events API routes.
pub fn router(s: EventsState) -> Router<AppState> {
    let app = s.app.clone();
    let write = Router::new()
        .route("/api/v1/events", post(post_events))
        .route("/api/v1/suppressions", get(suppressions))
        .route("/api/v1/suppressions/{address}", delete(remove_suppression))
        .route_layer(middleware::from_fn_with_state(app, auth::require_token));
    Router::new()
        .route("/api/v1/events/rates", get(get_rates))
        .merge(write)
        .with_state(s)
}

#[derive(Deserialize)]
struct DomainQuery {
    domain: Option<String>,
}

async fn post_events(
    State(s): State<EventsState>,
    Query(q): Query<DomainQuery>,
    body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let mapped = s
        .with_context(q.domain.as_deref(), |cx| {
            crate::events::webhooks::generic::map(&body, cx)
        })
        .map_err(webhook_error);
    let batch = match mapped {
        Ok(b) => b,
        Err(e) => {
            s.keep_refusal("events", &e).await;
            return Err(e);
        }
    };
    let outcome = s.commit(batch).await?;
    Ok(Json(
        json!({"counted": outcome.counted, "duplicates": outcome.duplicates}),
    ))
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn suppressions(
    State(s): State<EventsState>,
    Query(q): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let list = s.blocking(|store| store.suppressions()).await?;
    let accept_csv = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/csv"));
    let csv = match q.format.as_deref() {
        Some("csv") => true,
        Some("json") | None => accept_csv && q.format.is_none(),
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_format",
                format!("format {other:?} is not json or csv"),
            ));
        }
    };
    if csv {
        let mut r = to_csv(&list).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        return Ok(r);
    }
    Ok(Json(json!({"suppressions": list})).into_response())
}

async fn remove_suppression(
    State(s): State<EventsState>,
    Path(address): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let target = address.clone();
    let removed = s
        .blocking(move |store| store.remove_suppression(&target))
        .await?;
    if !removed {
        return Err(ApiError::not_found(
            "not_suppressed",
            "that address is not on the suppression list",
        ));
    }
    tracing::info!(address = %address, "an address was taken off the suppression list");
    Ok(Json(json!({"removed": address.to_lowercase()})))
}

async fn get_rates(State(s): State<EventsState>) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = s.rates().await?;
    Ok(Json(json!({"rates": rows})))
}

impl EventsState {
    /// Every configured domain's rates in every window, now (`GET /api/v1/events/rates` and the
    /// status page).
    pub async fn rates(&self) -> Result<Vec<DomainRates>, ApiError> {
        let s = self;
        let (windows, thresholds, domains) = {
            let c = s.app.config.borrow();
            (
                c.events.windows.clone(),
                c.events.thresholds,
                configured_domains(&c),
            )
        };
        s.blocking(move |store| rates(store, now(), &windows, &thresholds, &domains))
            .await
    }
}
