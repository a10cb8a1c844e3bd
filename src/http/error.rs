//! The one HTTP error type: every error response is
//! `{"error": {"code": "...", "message": "..."}}` with the contract's status. A 5xx carries a
//! generic sentence only; the cause goes to the log.

use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::session::SessionError;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// `Retry-After` of `verifier_unavailable`, in seconds.
pub const VERIFIER_RETRY_AFTER_SECS: u128 = 5;

/// An API error.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `bad_request`.
    #[error("{0}")]
    BadRequest(String),
    /// 400/401 from message verification.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// 413 `payload_too_large`.
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 415 `unsupported_media_type`.
    #[error("the request body must be JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 401 `nonce_invalid`.
    #[error("the nonce is unknown, already used, expired, or issued for another wallet")]
    NonceInvalid,
    /// 401 `unauthenticated`.
    #[error("a valid wallet session is required")]
    Unauthenticated,
    /// 401 `unauthenticated` for legacy users.
    #[error("wrong username or password")]
    BadCredentials,
    /// 401 `session_binding_mismatch`.
    #[error("this session was opened on another device; it has been revoked, sign in again")]
    BindingMismatch,
    /// 403 `csrf_failed`.
    #[error("a cookie-authenticated request must carry the session's X-CSRF-Token header or come from an allowed Origin")]
    CsrfFailed,
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(&'static str),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(&'static str),
    /// 405 `method_not_allowed`: a known path, another method (the router sets `Allow`).
    #[error("this route does not accept this method")]
    MethodNotAllowed,
    /// 429 `rate_limited`.
    #[error("too many requests; retry later")]
    RateLimited(Duration),
    /// 503 `store_unavailable`.
    #[error("the session store is unavailable; retry shortly")]
    StoreUnavailable(#[source] StoreError),
    /// 503 `verifier_unavailable`: a contract-wallet signature needs the chain's node, which
    /// cannot be reached, timed out, or answered garbage.
    #[error("the node that checks contract-wallet signatures on this chain is unavailable; retry shortly")]
    VerifierUnavailable(#[source] crate::contract_wallets::Unavailable),
    /// 500 `internal`.
    #[error("internal error")]
    Internal(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::StoreUnavailable(e)
    }
}

impl From<SessionError> for ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Store(s) => ApiError::StoreUnavailable(s),
            SessionError::BindingMismatch => ApiError::BindingMismatch,
        }
    }
}

impl ApiError {
    /// The HTTP status.
    #[must_use]
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Verify(v) => match v {
                VerifyError::InvalidMessage(_) => StatusCode::BAD_REQUEST,
                VerifyError::MissingPolicy(_) => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::UNAUTHORIZED,
            },
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::NonceInvalid
            | ApiError::Unauthenticated
            | ApiError::BadCredentials
            | ApiError::BindingMismatch => StatusCode::UNAUTHORIZED,
            ApiError::CsrfFailed | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::StoreUnavailable(_) | ApiError::VerifierUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The contract's error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Verify(v) => v.code(),
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::NonceInvalid => "nonce_invalid",
            ApiError::Unauthenticated | ApiError::BadCredentials => "unauthenticated",
            ApiError::BindingMismatch => "session_binding_mismatch",
            ApiError::CsrfFailed => "csrf_failed",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::RateLimited(_) => "rate_limited",
            ApiError::StoreUnavailable(_) => "store_unavailable",
            ApiError::VerifierUnavailable(_) => "verifier_unavailable",
            ApiError::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let message = if status.is_server_error() {
            match &self {
                ApiError::StoreUnavailable(e) => {
                    tracing::error!(error = %e, "session store unavailable");
                }
                ApiError::VerifierUnavailable(e) => {
                    tracing::warn!(chain_id = e.chain_id, reason = %e.reason, "contract-wallet node unavailable");
                }
                other => tracing::error!(error = ?other, "internal error"),
            }
            match self {
                ApiError::StoreUnavailable(_) | ApiError::VerifierUnavailable(_) => {
                    self.to_string()
                }
                _ => "internal error".to_owned(),
            }
        } else {
            self.to_string()
        };
        let body = serde_json::json!({"error": {"code": self.code(), "message": message}});
        let mut res = (status, Json(body)).into_response();
        res.extensions_mut().insert(ErrorCodeTag(self.code()));
        let retry = match &self {
            ApiError::RateLimited(d) => Some(d.as_millis().div_ceil(1000).max(1)),
            ApiError::StoreUnavailable(_) => Some(1),
            ApiError::VerifierUnavailable(_) => Some(VERIFIER_RETRY_AFTER_SECS),
            _ => None,
        };
        if let Some(secs) = retry {
            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                res.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        res
    }
}

/// The error code of an error response, for the request log (set on every JSON error the
/// server answers; never sent to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorCodeTag(pub &'static str);

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
