//! `GET /api/v1/alerts` ([`active`], also read by the status page): the alert engine's pending and firing alerts (docs/api.md), read from the
//! store the engine writes every change to, so the answer survives restarts and needs no handle on
//! the engine task.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::alerts::lifecycle::AlertRecord;
use crate::store::{Store, StoreError};
use crate::views;
pub use crate::views::alerts::AlertView;

/// The answer.
#[derive(Debug, Serialize)]
pub struct AlertList {
    /// Firing first, then pending; each by alertname and labels.
    pub alerts: Vec<AlertView>,
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

/// The pending and firing alerts, firing first (what `GET /api/v1/alerts`, `/api/v1/status`, the
/// domain detail and the status page show). A stored record that no longer reads is skipped.
pub async fn active(store: &dyn Store) -> Result<Vec<AlertView>, StoreError> {
    let stored = store.alerts().await?;
    Ok(views::alerts::active(stored.into_iter().filter_map(|a| {
        serde_json::from_value::<AlertRecord>(a.record)
            .inspect_err(|e| tracing::warn!(error = %e, "a stored alert record does not read"))
            .ok()
    })))
}
