//! What the DMARC aggregate reports say, in the API (docs/api.md):
//! `GET /api/v1/domains/{domain}/enforcement[?window=30d]`, and the figures [`super::api`] adds to
//! `/api/v1/status` and `/api/v1/domains/{domain}`. The numbers come from [`crate::analysis`] on a
//! blocking thread; a store that cannot be read is a 503 here and an absent field there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::analysis::readiness::{Enforcement, EnforcementSummary};
use crate::analysis::{self, DEFAULT_WINDOW, PassRate};
use crate::config::{Config, DomainName, parse_duration};
use crate::views::reports::{self, DomainReports};

/// The longest window a request may ask for (the default retention is 400 days).
const MAX_WINDOW: Duration = Duration::from_secs(400 * 86_400);

/// The query of the enforcement endpoint.
#[derive(Debug, Default, Deserialize)]
pub struct WindowQuery {
    /// `30d` (default), `7d`, `2w`…: reports that ended this long ago or less count.
    pub window: Option<String>,
}

/// `GET /api/v1/domains/{domain}/enforcement`: 404 for a domain that is not configured, 400 for a
/// bad window, 503 when the store cannot be read.
pub async fn enforcement(
    State(state): State<AppState>,
    Path(domain): Path<String>,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> Result<Json<Enforcement>, ApiError> {
    let bad_window = |detail: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "window is a duration of 1d to 400d, e.g. 30d or 2w",
        )
        .with_detail(detail)
    };
    let Query(q) = query.map_err(|e| bad_window(e.to_string()))?;
    let window = match q.window.as_deref() {
        None => DEFAULT_WINDOW,
        Some(w) => parse_duration(w).map_err(bad_window)?,
    };
    if window < Duration::from_secs(86_400) || window > MAX_WINDOW {
        return Err(bad_window(format!("{window:?} is out of range")));
    }
    let config = state.config.borrow().clone();
    let name = configured(&config, &domain).ok_or_else(|| {
        ApiError::not_found(
            "unknown_domain",
            "the domain is not in the running configuration",
        )
    })?;
    let e = tokio::task::spawn_blocking(move || {
        analysis::cached_enforcement(
            &config.state.path,
            &config.ingest.senders,
            name.as_str(),
            window,
        )
    })
    .await
    .map_err(|e| ApiError::store(format!("the report query stopped: {e}")))?
    .map_err(ApiError::store)?;
    Ok(Json(Arc::unwrap_or_clone(e)))
}

fn configured(config: &Config, domain: &str) -> Option<DomainName> {
    let name = DomainName::parse(domain).ok()?;
    config
        .domains
        .iter()
        .any(|d| d.name == name)
        .then_some(name)
}

/// The report figures of one domain, or `None` (logged) when the store cannot be read.
pub async fn domain_reports(config: Arc<Config>, domain: String) -> Option<DomainReports> {
    domain_figures(config, domain).await.map(|(r, _)| r)
}

/// [`domain_reports`] with the full enforcement assessment it summarises (its reasons, for the
/// status page), or `None` (logged) when the store cannot be read.
pub async fn domain_figures(
    config: Arc<Config>,
    domain: String,
) -> Option<(DomainReports, Arc<Enforcement>)> {
    let read = tokio::task::spawn_blocking(move || {
        let (path, senders) = (&config.state.path, &config.ingest.senders);
        let overview = analysis::cached_overview(path, senders, &domain)?;
        let e = analysis::cached_enforcement(path, senders, &domain, DEFAULT_WINDOW)?;
        Ok::<_, crate::store::StoreError>((reports::domain_reports(&overview, &e), e))
    })
    .await;
    match read {
        Ok(Ok(r)) => Some(r),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the report figures of a domain");
            None
        }
        Err(_) => None,
    }
}

/// The DMARC pass rates over 7 days of `domains` (those that could be read). Reads the store:
/// call it on the blocking pool.
pub fn read_pass_rates_7d(config: &Config, domains: &[String]) -> HashMap<String, PassRate> {
    let mut out = HashMap::new();
    for d in domains {
        match analysis::cached_overview(&config.state.path, &config.ingest.senders, d) {
            Ok(o) => {
                out.insert(d.clone(), o.pass_rate_7d.clone());
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the DMARC pass rates");
                break;
            }
        }
    }
    out
}

/// The compact verdicts of `domains` (those that could be read). Reads the store: call it on the
/// blocking pool.
pub fn read_verdicts(config: &Config, domains: &[String]) -> HashMap<String, EnforcementSummary> {
    let mut out = HashMap::new();
    for d in domains {
        match analysis::cached_enforcement(
            &config.state.path,
            &config.ingest.senders,
            d,
            DEFAULT_WINDOW,
        ) {
            Ok(e) => {
                out.insert(d.clone(), e.summary());
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the enforcement verdicts");
                break;
            }
        }
    }
    out
}
