//! The HTML status page: `GET /` (every domain and IP, worst first, the blocklist zones, active
//! alerts, bounce and complaint rates) and `GET /domains/{domain}` (one domain in full).
//!
//! Server-rendered with maud, no JavaScript, readable without colour (every status is a word).
//! The page reads exactly what the JSON API reads: the views of the latest state
//! ([`crate::views`]), the DMARC report figures ([`super::analysis`], on the blocking pool), the
//! alert engine's active list ([`super::alerts::active`]) and the rolling rates
//! ([`super::events::EventsState::rates`]); it knows nothing `/api/v1/*` does not.
//!
//! - [`layout`]: the document around every page, status words, verdicts, times, table heads.
//! - [`overview`]: `/`; [`domain`]: `/domains/{domain}`; [`dmarc`]: the report figures on both.
//!
//! Responses are `text/html`, errors included (an unknown domain is an HTML 404), so the router's
//! JSON error layer lets them pass.

mod dmarc;
mod domain;
mod layout;
mod overview;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::Markup;

use super::alerts::{AlertView, active};
use super::api::StatusQuery;
use super::events::EventsState;
use crate::config::DomainName;
use crate::events::rates::DomainRates;
use crate::views::{self, ConfigState, Page};

/// What a page shows beside the views: each part read on its own, so one that cannot be read
/// leaves a sentence on the page instead of failing it.
pub(crate) struct Extras {
    /// Pending and firing alerts, or why they could not be read.
    pub(crate) alerts: Result<Vec<AlertView>, &'static str>,
    /// Rates per domain and window, or why they could not be read.
    pub(crate) rates: Result<Vec<DomainRates>, &'static str>,
}

/// The page routes (`/`, `/domains/{domain}`).
pub fn router(s: EventsState) -> Router<super::AppState> {
    Router::new()
        .route("/", get(overview))
        .route("/domains/{domain}", get(domain))
        .with_state(s)
}

/// An HTML response with its status.
fn html(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, markup.into_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

async fn extras(s: &EventsState) -> Extras {
    let alerts = active(s.app.store.as_ref()).await.map_err(|e| {
        tracing::warn!(error = %e, "the status page could not read the alerts");
        "The alerts could not be read; see the daemon's log."
    });
    let rates = s.rates().await.map_err(|e| {
        tracing::warn!(code = e.code(), "the status page could not read the rates");
        "The bounce and complaint rates could not be read; see the daemon's log."
    });
    Extras { alerts, rates }
}

/// `GET /[?offset=&limit=]`: the overview, paged as `/api/v1/status` is.
async fn overview(
    State(s): State<EventsState>,
    query: Result<Query<StatusQuery>, QueryRejection>,
) -> Response {
    // A malformed offset or limit shows the first page: a person typed it, not a program.
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let extras = extras(&s).await;
    let app = &s.app;
    let config = app.config.borrow().clone();
    let reload = ConfigState {
        last_reload_successful: app.reload_status.last_error().is_none(),
        last_error: app.reload_status.last_error(),
        last_success_at: app.reload_status.last_success_unix(),
    };
    let mut view = {
        let snapshot = app.results.state().read();
        views::status(&config, &snapshot, reload, Page::new(q.offset, q.limit))
    };
    // The report figures read the store: on the blocking pool, as `/api/v1/status` reads them.
    let listed: Vec<String> = view.domains.iter().map(|d| d.domain.clone()).collect();
    let read = tokio::task::spawn_blocking(move || {
        let verdicts = super::analysis::read_verdicts(&config, &listed);
        let rates = super::analysis::read_pass_rates_7d(&config, &listed);
        (verdicts, rates)
    })
    .await;
    let pass_rates = match read {
        Ok((verdicts, rates)) => {
            views::reports::attach_status(&mut view, &verdicts);
            rates
        }
        Err(_) => HashMap::new(),
    };
    html(
        StatusCode::OK,
        overview::render(&view, &pass_rates, &extras),
    )
}

/// `GET /domains/{domain}`: 404 (HTML) for a domain that is not configured.
async fn domain(State(s): State<EventsState>, Path(name): Path<String>) -> Response {
    let Ok(parsed) = DomainName::parse(&name) else {
        return html(StatusCode::NOT_FOUND, domain::unknown(&name));
    };
    let config = s.app.config.borrow().clone();
    let detail = {
        let snapshot = s.app.results.state().read();
        views::domain(&config, &snapshot, &parsed)
    };
    let Some(mut detail) = detail else {
        return html(StatusCode::NOT_FOUND, domain::unknown(&name));
    };
    let (reports, extras) = tokio::join!(
        super::analysis::domain_figures(config, detail.domain.clone()),
        extras(&s)
    );
    if let Ok(rates) = &extras.rates {
        views::bounces::attach_domain(&mut detail, rates);
    }
    html(
        StatusCode::OK,
        domain::render(&detail, reports.as_ref(), &extras),
    )
}
