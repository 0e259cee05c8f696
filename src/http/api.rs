//! `/api/v1/*`: the views ([`crate::views`]) of the latest state, for the running configuration.
//! docs/api.md documents the shapes.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use crate::config::DomainName;
use crate::views::{self, ConfigState, DomainDetail, Page, StatusResponse};

/// The query of `GET /api/v1/status`.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    /// Entries to skip in each list (worst first).
    pub offset: Option<usize>,
    /// Entries to show at most in each list (default [`Page::DEFAULT_LIMIT`], at most
    /// [`Page::MAX_LIMIT`]).
    pub limit: Option<usize>,
}

/// `GET /api/v1/status[?offset=&limit=]`.
pub async fn status(
    State(state): State<AppState>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Result<Json<StatusResponse>, ApiError> {
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
    let mut response = {
        let snapshot = state.results.state().read();
        views::status(&config, &snapshot, reload, Page::new(q.offset, q.limit))
    };
    let listed = response.domains.iter().map(|d| d.domain.clone()).collect();
    let verdicts = super::analysis::verdicts(config, listed).await;
    views::reports::attach_status(&mut response, &verdicts);
    Ok(Json(response))
}

/// `GET /api/v1/domains/{domain}`: 404 for a domain that is not configured.
pub async fn domain(
    State(state): State<AppState>,
    Path(domain): Path<String>,
) -> Result<Json<DomainDetail>, ApiError> {
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
    Ok(Json(detail))
}
