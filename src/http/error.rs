//! The contract's errors, written once: [`ErrorCode`] is the one table of codes (code, status,
//! the generic message of a bare status), from which the HTTP status of an [`ApiError`], the
//! JSON error body ([`ErrorBody`]) and the OpenAPI error responses (`super::openapi`) all
//! derive. Every error response is `{"error": {"code": "...", "message": "..."}}`; a 5xx
//! carries a generic sentence only, its cause goes to the log.

use std::borrow::Cow;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::session::{SessionError, SignInError};
use crate::store::StoreError;
use crate::verify::VerifyError;

/// `Retry-After` of `verifier_unavailable`, in seconds.
pub const VERIFIER_RETRY_AFTER_SECS: u128 = 5;

/// Declares [`ErrorCode`] from one table: variant, code as sent, status, and the generic
/// message of an error status that arrives without a body (see `super::protect`).
macro_rules! error_codes {
    ($( $(#[doc = $doc:literal])* $variant:ident = ($code:literal, $status:ident, $generic:literal), )*) => {
        /// Every error code of the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl ErrorCode {
            /// Every code, in the contract's order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The code as sent.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$variant => $code,)* }
            }

            /// The HTTP status the contract gives this code.
            #[must_use]
            pub fn status(self) -> StatusCode {
                match self { $(ErrorCode::$variant => StatusCode::$status,)* }
            }

            /// The message of this code when nothing more specific is known.
            #[must_use]
            pub fn generic_message(self) -> &'static str {
                match self { $(ErrorCode::$variant => $generic,)* }
            }
        }
    };
}

error_codes! {
    /// 400: malformed JSON, missing field, wrong type, unknown chain.
    BadRequest = ("bad_request", BAD_REQUEST, "the request is malformed"),
    /// 400: the signed text is not a well-formed EIP-4361 / SIWS message.
    InvalidMessage = ("invalid_message", BAD_REQUEST, "the signed message is not a well-formed sign-in message"),
    /// 413: body over the limit.
    PayloadTooLarge = ("payload_too_large", PAYLOAD_TOO_LARGE, "the request body is too large"),
    /// 415: a body that is not `Content-Type: application/json`.
    UnsupportedMediaType = ("unsupported_media_type", UNSUPPORTED_MEDIA_TYPE, "the request body must be JSON with Content-Type: application/json"),
    /// 401: signature malformed, wrong length, high-s, or from another key.
    InvalidSignature = ("invalid_signature", UNAUTHORIZED, "the signature is not valid for this message"),
    /// 401: message domain (or URI origin) is not this server's.
    DomainMismatch = ("domain_mismatch", UNAUTHORIZED, "the message was signed for another domain"),
    /// 401: chain id not in the allow-list.
    ChainNotAllowed = ("chain_not_allowed", UNAUTHORIZED, "the message's chain id is not allowed"),
    /// 401: nonce unknown, already used, or expired.
    NonceInvalid = ("nonce_invalid", UNAUTHORIZED, "the nonce is unknown, already used, or expired"),
    /// 401: `Expiration Time` passed (or `Issued At` older than the nonce TTL).
    MessageExpired = ("message_expired", UNAUTHORIZED, "the message has expired"),
    /// 401: `Not Before` in the future, or `Issued At` too far in the future.
    MessageNotYetValid = ("message_not_yet_valid", UNAUTHORIZED, "the message is not valid yet"),
    /// 401: no session, unknown / expired / revoked token.
    Unauthenticated = ("unauthenticated", UNAUTHORIZED, "authentication is required"),
    /// 401: token used from another device (or IP, in strict mode).
    SessionBindingMismatch = ("session_binding_mismatch", UNAUTHORIZED, "this session was opened on another device"),
    /// 403: cookie-authenticated unsafe request without a valid CSRF token / allowed Origin.
    CsrfFailed = ("csrf_failed", FORBIDDEN, "the request failed the CSRF check"),
    /// 403: authenticated but not allowed.
    Forbidden = ("forbidden", FORBIDDEN, "this request is not allowed"),
    /// 403: the operation needs a session signed in more recently than `REAUTH_MAX_AGE`.
    ReauthenticationRequired = ("reauthentication_required", FORBIDDEN, "sign in again to do this"),
    /// 409: the wallet (or username) already belongs to another account.
    IdentityInUse = ("identity_in_use", CONFLICT, "this identity belongs to another account"),
    /// 409: an account cannot lose its last identity.
    LastIdentity = ("last_identity", CONFLICT, "an account cannot lose its last identity"),
    /// 404: unknown route or session id.
    NotFound = ("not_found", NOT_FOUND, "no such route"),
    /// 405: a known path with another method; `Allow` lists the methods it accepts.
    MethodNotAllowed = ("method_not_allowed", METHOD_NOT_ALLOWED, "this route does not accept this method"),
    /// 408: the request took longer than `HTTP_REQUEST_TIMEOUT` to arrive or to handle.
    RequestTimeout = ("request_timeout", REQUEST_TIMEOUT, "the request took too long to arrive or to handle"),
    /// 429: too many requests; `Retry-After` set.
    RateLimited = ("rate_limited", TOO_MANY_REQUESTS, "too many requests; retry later"),
    /// 503: the session store cannot be reached; `Retry-After` set.
    StoreUnavailable = ("store_unavailable", SERVICE_UNAVAILABLE, "the session store is unavailable; retry shortly"),
    /// 503: a contract-wallet signature needs the chain's node, and it cannot be reached or
    /// timed out; `Retry-After` set.
    VerifierUnavailable = ("verifier_unavailable", SERVICE_UNAVAILABLE, "the node that checks contract-wallet signatures on this chain is unavailable; retry shortly"),
    /// 500: a route of the embedding application reads a wallet session without the session
    /// layer ([`super::with_session_headers`]) around it: a server misconfiguration, logged.
    SessionLayerMissing = ("session_layer_missing", INTERNAL_SERVER_ERROR, "internal error"),
    /// 500: anything else.
    Internal = ("internal", INTERNAL_SERVER_ERROR, "internal error"),
}

impl ErrorCode {
    /// The codes a bare error status (one that came without the JSON shape, from a layer or the
    /// framework) is given, by its status.
    const BARE: [ErrorCode; 9] = [
        ErrorCode::BadRequest,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
    ];

    /// The code of a bare error status; `None` for a 4xx the contract has no code of its own
    /// for (it is answered as `bad_request`). Any 5xx is `internal`.
    #[must_use]
    pub fn for_bare_status(status: StatusCode) -> Option<ErrorCode> {
        if status.is_server_error() {
            return Some(ErrorCode::Internal);
        }
        Self::BARE.into_iter().find(|c| c.status() == status)
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Machine-readable error code (the table of docs/API.md)",
            ))
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .into()
    }
}

impl ToSchema for ErrorCode {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

impl From<&VerifyError> for ErrorCode {
    fn from(e: &VerifyError) -> Self {
        match e {
            VerifyError::InvalidMessage(_) => ErrorCode::InvalidMessage,
            VerifyError::InvalidSignature(_) => ErrorCode::InvalidSignature,
            VerifyError::DomainMismatch => ErrorCode::DomainMismatch,
            VerifyError::ChainNotAllowed => ErrorCode::ChainNotAllowed,
            VerifyError::MessageExpired => ErrorCode::MessageExpired,
            VerifyError::MessageNotYetValid => ErrorCode::MessageNotYetValid,
            VerifyError::NonceInvalid => ErrorCode::NonceInvalid,
            // A policy input that every verification needs was not given: a server bug.
            VerifyError::MissingPolicy(_) => ErrorCode::Internal,
        }
    }
}

/// Every error response: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and human sentence.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// A human sentence; a 5xx never carries internals.
    pub message: String,
}

impl ErrorBody {
    /// The body of an error `code` with `message`.
    #[must_use]
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }

    /// The response: the code's status, this body, and the code tagged for the request log.
    #[must_use]
    pub fn into_response_with(self, status: StatusCode) -> Response {
        let code = self.error.code;
        let mut res = (status, Json(self)).into_response();
        res.extensions_mut().insert(ErrorCodeTag(code));
        res
    }
}

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
    /// 413 `payload_too_large`: the body is over the server's body limit.
    #[error("the request body is too large")]
    BodyTooLarge,
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
    /// 403 `reauthentication_required`.
    #[error("this needs a sign-in more recent than REAUTH_MAX_AGE: sign in again")]
    ReauthenticationRequired,
    /// 409 `identity_in_use`.
    #[error("{0}")]
    IdentityInUse(&'static str),
    /// 409 `last_identity`.
    #[error("an account cannot lose its last identity")]
    LastIdentity,
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
    /// 500 `session_layer_missing`: a wallet session was read on a route without the session
    /// layer.
    #[error("internal error")]
    SessionLayerMissing,
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

impl From<SignInError> for ApiError {
    fn from(e: SignInError) -> Self {
        match e {
            SignInError::Verify(v) => ApiError::Verify(v),
            SignInError::NonceInvalid => ApiError::NonceInvalid,
            SignInError::InvalidChainId => {
                ApiError::BadRequest("chainId must be a positive integer".into())
            }
            SignInError::Store(s) => ApiError::StoreUnavailable(s),
            SignInError::VerifierUnavailable(u) => ApiError::VerifierUnavailable(u),
            SignInError::Internal(why) => ApiError::Internal(why.into()),
        }
    }
}

impl ApiError {
    /// The contract's error code.
    #[must_use]
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::BadRequest(_) => ErrorCode::BadRequest,
            ApiError::Verify(v) => ErrorCode::from(v),
            ApiError::PayloadTooLarge(_) | ApiError::BodyTooLarge => ErrorCode::PayloadTooLarge,
            ApiError::UnsupportedMediaType => ErrorCode::UnsupportedMediaType,
            ApiError::NonceInvalid => ErrorCode::NonceInvalid,
            ApiError::Unauthenticated | ApiError::BadCredentials => ErrorCode::Unauthenticated,
            ApiError::BindingMismatch => ErrorCode::SessionBindingMismatch,
            ApiError::CsrfFailed => ErrorCode::CsrfFailed,
            ApiError::Forbidden(_) => ErrorCode::Forbidden,
            ApiError::ReauthenticationRequired => ErrorCode::ReauthenticationRequired,
            ApiError::IdentityInUse(_) => ErrorCode::IdentityInUse,
            ApiError::LastIdentity => ErrorCode::LastIdentity,
            ApiError::NotFound(_) => ErrorCode::NotFound,
            ApiError::MethodNotAllowed => ErrorCode::MethodNotAllowed,
            ApiError::RateLimited(_) => ErrorCode::RateLimited,
            ApiError::StoreUnavailable(_) => ErrorCode::StoreUnavailable,
            ApiError::VerifierUnavailable(_) => ErrorCode::VerifierUnavailable,
            ApiError::SessionLayerMissing => ErrorCode::SessionLayerMissing,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The HTTP status: the code's.
    #[must_use]
    pub fn status_code(&self) -> StatusCode {
        self.code().status()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let status = code.status();
        let message = if status.is_server_error() {
            match &self {
                ApiError::StoreUnavailable(e) => {
                    tracing::error!(error = %e, "session store unavailable");
                }
                ApiError::VerifierUnavailable(e) => {
                    tracing::warn!(chain_id = e.chain_id, reason = %e.reason, "contract-wallet node unavailable");
                }
                ApiError::SessionLayerMissing => tracing::error!(
                    "a route reads a wallet session without the session layer around it: wrap \
                     the routes that use `WalletSession` or `OptionalWalletSession` in \
                     `wallet_auth::http::with_session_headers`"
                ),
                other => tracing::error!(error = ?other, "internal error"),
            }
            match self {
                ApiError::StoreUnavailable(_) | ApiError::VerifierUnavailable(_) => {
                    self.to_string()
                }
                _ => code.generic_message().to_owned(),
            }
        } else {
            self.to_string()
        };
        let mut res = ErrorBody::new(code, message).into_response_with(status);
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
pub struct ErrorCodeTag(pub ErrorCode);

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A failed sign-in is audited with the code the API answers it with.
    #[test]
    fn sign_in_failures_are_audited_with_their_api_code() {
        let failures = [
            SignInError::Verify(VerifyError::InvalidMessage("x".into())),
            SignInError::Verify(VerifyError::InvalidSignature("x".into())),
            SignInError::Verify(VerifyError::DomainMismatch),
            SignInError::Verify(VerifyError::ChainNotAllowed),
            SignInError::Verify(VerifyError::MessageExpired),
            SignInError::Verify(VerifyError::MessageNotYetValid),
            SignInError::Verify(VerifyError::NonceInvalid),
            SignInError::Verify(VerifyError::MissingPolicy("domains")),
            SignInError::NonceInvalid,
            SignInError::InvalidChainId,
            SignInError::Store(StoreError::Timeout),
            SignInError::VerifierUnavailable(crate::contract_wallets::Unavailable {
                chain_id: 1,
                reason: "down".into(),
            }),
            SignInError::Internal("x"),
        ];
        for e in failures {
            let audited = e.audit_code();
            assert_eq!(ApiError::from(e).code().as_str(), audited);
        }
    }

    #[test]
    fn codes_are_unique_and_bare_statuses_map_into_the_table() {
        let mut seen = std::collections::HashSet::new();
        for c in ErrorCode::ALL {
            assert!(seen.insert(c.as_str()), "{c:?} twice");
            assert!(c.status().is_client_error() || c.status().is_server_error());
        }
        for status in [400, 401, 403, 404, 405, 408, 413, 415, 429, 418, 502, 504] {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            match ErrorCode::for_bare_status(status) {
                Some(ErrorCode::Internal) => assert!(status.is_server_error()),
                Some(code) => assert_eq!(code.status(), status),
                None => assert_eq!(status.as_u16(), 418),
            }
        }
        assert_eq!(
            ErrorCode::for_bare_status(StatusCode::UNAUTHORIZED),
            Some(ErrorCode::Unauthenticated)
        );
    }
}
