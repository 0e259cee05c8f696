//! `POST /api/v1/reports`: a raw report in the body (XML, gzip, zip, JSON or a whole message, bounces
//! and complaints included),
//! behind the bearer token. 201 with the outcome once stored (200 when every report in it was
//! already stored), 422 with the reason when it cannot be read, 413 over `server.max_body_bytes`
//! (the body limit layer), 503 when the store cannot take it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use crate::ingest::metrics::Source;
use crate::ingest::{Status, service};

/// Ingest the body; answers after the store commit.
pub async fn post(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let config = state.config.borrow().clone();
    let outcome = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || service::ingest_into(&config, &mut body.as_ref()))
            .await
            .map_err(|e| ApiError::store(format!("the ingest task stopped: {e}")))?
    };
    state
        .metrics
        .ingest
        .observe(Source::Http, &config, &outcome);
    let line = outcome.json_line("request body");
    if outcome.is_transient() {
        return Err(ApiError::store(outcome.error().unwrap_or_default()));
    }
    match outcome.status() {
        Status::Ok => Ok((StatusCode::CREATED, Json(line))),
        Status::Duplicate => Ok((StatusCode::OK, Json(line))),
        Status::Failed => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable_report",
            outcome.error().unwrap_or_default(),
        )),
    }
}
