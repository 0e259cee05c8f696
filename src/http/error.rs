//! Errors as clients see them and as the log sees them (STYLE habit 5): a stable `code`, a `message`
//! for the client, and a `detail` that only goes to the log — no internal path, no secret, no
//! database error text in a response.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// An HTTP error response: `{"error": {"code": "...", "message": "...", "errors": [...]}}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    errors: Vec<String>,
    detail: Option<String>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    errors: &'a [String],
}

impl ApiError {
    /// An error with a stable code and a client message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            errors: Vec::new(),
            detail: None,
        }
    }

    /// Attach what only the log may read (the underlying error, with its context).
    pub fn with_detail(mut self, detail: impl std::fmt::Display) -> Self {
        self.detail = Some(format!("{detail:#}"));
        self
    }

    /// Attach a list of problems the client is meant to read (e.g. a refused config's errors).
    pub fn with_errors(mut self, errors: Vec<String>) -> Self {
        self.errors = errors;
        self
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The message the client reads.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 404 for a path or resource that does not exist.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// 503 when the state store cannot be read; `detail` goes to the log only.
    pub fn store(detail: impl std::fmt::Display) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the state store could not be read; see the daemon's log",
        )
        .with_detail(detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(
                code = self.code,
                status = self.status.as_u16(),
                detail = self.detail.as_deref().unwrap_or(""),
                "request failed"
            );
        } else if let Some(detail) = &self.detail {
            tracing::info!(code = self.code, status = self.status.as_u16(), detail = %detail, "request refused");
        }
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                errors: &self.errors,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"senderscope\""),
            );
        }
        response
    }
}
