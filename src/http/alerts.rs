//! `GET /api/v1/alerts` ([`active`], also read by the status page): the alert engine's pending and firing alerts (docs/api.md), read from the
//! store the engine writes every change to, so the answer survives restarts and needs no handle on
//! the engine task.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::alerts::lifecycle::{AlertRecord, Phase};
use crate::alerts::rules::rfc3339;
use crate::store::{Store, StoreError};

/// The answer.
#[derive(Debug, Serialize)]
pub struct AlertList {
    /// Firing first, then pending; each by alertname and labels.
    pub alerts: Vec<AlertView>,
}

/// One alert as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertView {
    /// `pending` or `firing`.
    pub state: &'static str,
    /// alertname, severity, domain, …
    pub labels: std::collections::BTreeMap<String, String>,
    /// summary, description, runbook_url.
    pub annotations: std::collections::BTreeMap<String, String>,
    /// When the condition was first seen (RFC 3339).
    pub active_at: String,
    /// When it started firing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<String>,
}

/// `GET /api/v1/alerts`.
pub async fn list(State(state): State<AppState>) -> Result<Json<AlertList>, ApiError> {
    let alerts = active(state.store.as_ref()).await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the alerts could not be read",
        )
        .with_detail(e)
    })?;
    Ok(Json(AlertList { alerts }))
}

/// The pending and firing alerts, firing first (what `GET /api/v1/alerts` and the status page show).
pub async fn active(store: &dyn Store) -> Result<Vec<AlertView>, StoreError> {
    let stored = store.alerts().await?;
    let mut alerts: Vec<AlertView> = stored
        .into_iter()
        .filter_map(|a| serde_json::from_value::<AlertRecord>(a.record).ok())
        .filter(|r| r.phase != Phase::Resolved)
        .map(|r| AlertView {
            state: r.phase.as_str(),
            active_at: rfc3339(r.active_at),
            fired_at: r.fired_at.map(rfc3339),
            labels: r.labels,
            annotations: r.annotations,
        })
        .collect();
    // Firing before pending; the store already sorts by key within each.
    alerts.sort_by_key(|a| a.state != "firing");
    Ok(alerts)
}
