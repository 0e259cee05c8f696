//! The bearer-token layer in front of write endpoints.
//!
//! The token is `server.api_token` (from `server.api_token_file` or `SENDERSCOPE_API_TOKEN`), read from
//! the current config on every request so a reload that rotates it takes effect at once. Without a
//! configured token write endpoints are off (403), never open. Comparison is constant-time.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;

/// Middleware: let the request through only with `Authorization: Bearer <the configured token>`.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let expected = state.config.borrow().server.api_token.clone();
    let Some(expected) = expected else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "write_disabled",
            "write endpoints are off: no API token is configured (server.api_token_file)",
        )
        .into_response();
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    match presented {
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this endpoint needs an Authorization: Bearer <token> header",
        )
        .into_response(),
        // `ct_eq` compares equal-length inputs in constant time; a length mismatch returns early,
        // which reveals only the token's length.
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) => {
            next.run(request).await
        }
        Some(_) => {
            tracing::warn!(path = %request.uri().path(), "a request to a write endpoint had a wrong token");
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "the bearer token is not valid",
            )
            .into_response()
        }
    }
}

/// The credentials of a `Bearer` authorization header. RFC 7235 §2.1: the scheme is case-insensitive.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_needs_a_token() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearer"), None);
    }
}
