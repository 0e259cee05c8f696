//! `/api/v1/*`: the views ([`crate::views`]) of the latest state, for the running configuration.
//! docs/api.md documents the shapes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::config::DomainName;
use crate::views::{self, ConfigState, DomainDetail, Page};

/// The query of `GET /api/v1/status`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    /// Entries to skip in each list (worst first).
    pub offset: Option<usize>,
    /// Entries to show at most in each list (default [`Page::DEFAULT_LIMIT`], at most
    /// [`Page::MAX_LIMIT`]).
    pub limit: Option<usize>,
}

/// Status pages rendered at once, whatever the number of parallel requests.
const STATUS_RENDERS_AT_ONCE: usize = 2;
static STATUS_RENDERS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(STATUS_RENDERS_AT_ONCE);

/// `GET /api/v1/status[?offset=&limit=]`. Ranking every entry and encoding the page is CPU work that
/// grows with the fleet: it runs on the blocking pool, so parallel status requests never hold the
/// runtime's workers and `/healthz` keeps answering at once.
pub async fn status(
    State(state): State<AppState>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_query",
            "offset and limit are whole numbers",
        )
        .with_detail(e)
    })?;
    let config = state.config.borrow().clone();
    let reload = ConfigState {
        last_reload_successful: state.reload_status.last_error().is_none(),
        last_error: state.reload_status.last_error(),
        last_success_at: state.reload_status.last_success_unix(),
    };
    let latest = state.results.state().clone();
    let page = Page::new(q.offset, q.limit);
    let alerts = super::alerts::active(state.store.as_ref())
        .await
        .inspect_err(|e| tracing::warn!(error = %e, "the status could not read the alerts"))
        .ok();
    // A few renders at once: more would only share the same cores while each holds its page and
    // its encoded body in memory (20 parallel requests for 1,000 entries: 3.2x the idle RSS).
    let Ok(_render) = STATUS_RENDERS.acquire().await else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "the server is shutting down",
        ));
    };
    let encoded = tokio::task::spawn_blocking(move || {
        let mut response = {
            let snapshot = latest.read();
            views::status(&config, &snapshot, reload, page)
        };
        let listed: Vec<String> = response.domains.iter().map(|d| d.domain.clone()).collect();
        views::reports::attach_status(
            &mut response,
            &super::analysis::read_verdicts(&config, &listed),
        );
        if let Some(alerts) = &alerts {
            views::alerts::attach_status(&mut response, alerts, page.limit);
        }
        serde_json::to_vec(&response)
    })
    .await;
    match encoded {
        Ok(Ok(body)) => Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response()),
        Ok(Err(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cannot encode the status",
        )
        .with_detail(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the status view did not finish",
        )
        .with_detail(e)),
    }
}

/// `GET /api/v1/domains/{domain}`: 404 for a domain that is not configured.
pub async fn domain(
    State(events): State<super::events::EventsState>,
    Path(domain): Path<String>,
) -> Result<Json<DomainDetail>, ApiError> {
    let state = &events.app;
    let unknown = || {
        ApiError::not_found(
            "unknown_domain",
            "the domain is not in the running configuration",
        )
    };
    let name = DomainName::parse(&domain).map_err(|_| unknown())?;
    let config = state.config.borrow().clone();
    let detail = {
        let snapshot = state.results.state().read();
        views::domain(&config, &snapshot, &name)
    };
    let mut detail = detail.ok_or_else(unknown)?;
    if let Some(r) = super::analysis::domain_reports(config, name.to_string()).await {
        views::reports::attach_domain(&mut detail, r);
    }
    match super::alerts::active(state.store.as_ref()).await {
        Ok(alerts) => views::alerts::attach_domain(&mut detail, &alerts),
        Err(e) => tracing::warn!(error = %e, "the domain detail could not read the alerts"),
    }
    match events.rates().await {
        Ok(rates) => views::bounces::attach_domain(&mut detail, &rates),
        Err(e) => tracing::warn!(
            code = e.code(),
            "the domain detail could not read the bounces"
        ),
    }
    Ok(Json(detail))
}
