//! `GET /openapi.json`: the OpenAPI document of the contract, generated from the handlers'
//! `#[utoipa::path]` annotations and the request / response types.
//!
//! Responses that handlers build with `json!` are described by the schema-only types below
//! (tests compare them with live responses). Security, the `X-CSRF-Token` header, the session
//! headers and every error response are added by [`Contract`] from one table, [`ROUTES`], so
//! each operation lists exactly the contract's error codes it can answer with.

use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    Content, HeaderBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type,
};
use utoipa::{Modify, OpenApi, ToSchema};

use super::AuthState;
use crate::verify::Chain;

pub(crate) fn router() -> Router<AuthState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// The document, built once.
#[must_use]
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = serde_json::Value))
)]
async fn openapi_json() -> Response {
    let mut res = document().into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The generated document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wallet-auth",
        description = "Wallet-signature authentication: Sign-In with Ethereum (EIP-4361) and \
                       Sign In With Solana, wallet sessions, legacy user sessions, operations."
    ),
    paths(
        super::auth::nonce,
        super::auth::verify_signin,
        super::auth::current,
        super::auth::refresh,
        super::auth::logout,
        super::auth::logout_all,
        super::auth::list,
        super::auth::revoke,
        super::api::me,
        super::api::hello,
        super::api::get_preferences,
        super::api::put_preferences,
        super::user::login,
        super::user::logout,
        super::user::me,
        super::tokens::mint,
        super::tokens::jwks,
        super::ops::health,
        super::ops::ready,
        super::ops::metrics,
        super::admin::stats,
        super::admin::audit,
        super::admin::force_logout,
        openapi_json,
    ),
    components(schemas(Error, ErrorDetail, ErrorCode)),
    modifiers(&Contract),
    tags(
        (name = "wallet sign-in", description = "Nonce and signature verification"),
        (name = "wallet sessions", description = "The current wallet session and its siblings"),
        (name = "api", description = "Example routes protected by wallet sessions"),
        (name = "user sessions", description = "Legacy username/password sessions (`sid` cookie)"),
        (name = "tokens", description = "Signed tokens (JWT, ES256) for the app's other services, and their keys"),
        (name = "operations", description = "Health, readiness, metrics, this document"),
        (name = "admin", description = "Operator routes (`Authorization: Bearer $ADMIN_TOKEN`)"),
    )
)]
pub struct ApiDoc;

// ---- the error format ---------------------------------------------------------------------

/// Every error response: `{"error": {"code", "message"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Error {
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

/// Every error code of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: malformed JSON, missing field, wrong type, unknown chain.
    BadRequest,
    /// 400: the signed text is not a well-formed EIP-4361 / SIWS message.
    InvalidMessage,
    /// 413: body over the limit.
    PayloadTooLarge,
    /// 415: a body that is not `Content-Type: application/json`.
    UnsupportedMediaType,
    /// 401: signature malformed, wrong length, high-s, or from another key.
    InvalidSignature,
    /// 401: message domain (or URI origin) is not this server's.
    DomainMismatch,
    /// 401: chain id not in the allow-list.
    ChainNotAllowed,
    /// 401: nonce unknown, already used, or expired.
    NonceInvalid,
    /// 401: `Expiration Time` passed (or `Issued At` older than the nonce TTL).
    MessageExpired,
    /// 401: `Not Before` in the future, or `Issued At` too far in the future.
    MessageNotYetValid,
    /// 401: no session, unknown / expired / revoked token.
    Unauthenticated,
    /// 401: token used from another device (or IP, in strict mode).
    SessionBindingMismatch,
    /// 403: cookie-authenticated unsafe request without a valid CSRF token / allowed Origin.
    CsrfFailed,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404: unknown route or session id.
    NotFound,
    /// 405: a known path with another method; `Allow` lists the methods it accepts.
    MethodNotAllowed,
    /// 408: the request took longer than `HTTP_REQUEST_TIMEOUT` to arrive or to handle.
    RequestTimeout,
    /// 429: too many requests; `Retry-After` set.
    RateLimited,
    /// 503: the session store cannot be reached; `Retry-After` set.
    StoreUnavailable,
    /// 503: a contract-wallet signature needs the chain's node, and it cannot be reached or
    /// timed out; `Retry-After` set.
    VerifierUnavailable,
    /// 500: anything else.
    Internal,
}

impl ErrorCode {
    /// Every code, in the contract's order.
    pub const ALL: [ErrorCode; 21] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidMessage,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidSignature,
        ErrorCode::DomainMismatch,
        ErrorCode::ChainNotAllowed,
        ErrorCode::NonceInvalid,
        ErrorCode::MessageExpired,
        ErrorCode::MessageNotYetValid,
        ErrorCode::Unauthenticated,
        ErrorCode::SessionBindingMismatch,
        ErrorCode::CsrfFailed,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimited,
        ErrorCode::StoreUnavailable,
        ErrorCode::VerifierUnavailable,
        ErrorCode::Internal,
    ];

    /// The code as sent.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidMessage => "invalid_message",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidSignature => "invalid_signature",
            ErrorCode::DomainMismatch => "domain_mismatch",
            ErrorCode::ChainNotAllowed => "chain_not_allowed",
            ErrorCode::NonceInvalid => "nonce_invalid",
            ErrorCode::MessageExpired => "message_expired",
            ErrorCode::MessageNotYetValid => "message_not_yet_valid",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::SessionBindingMismatch => "session_binding_mismatch",
            ErrorCode::CsrfFailed => "csrf_failed",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::VerifierUnavailable => "verifier_unavailable",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status the contract gives this code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidMessage => 400,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidSignature
            | ErrorCode::DomainMismatch
            | ErrorCode::ChainNotAllowed
            | ErrorCode::NonceInvalid
            | ErrorCode::MessageExpired
            | ErrorCode::MessageNotYetValid
            | ErrorCode::Unauthenticated
            | ErrorCode::SessionBindingMismatch => 401,
            ErrorCode::CsrfFailed | ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::RateLimited => 429,
            ErrorCode::StoreUnavailable | ErrorCode::VerifierUnavailable => 503,
            ErrorCode::Internal => 500,
        }
    }
}

// ---- schema-only mirrors of `json!` responses ------------------------------------------------

/// A chain id: a number for Ethereum (EIP-155), a string for Solana (`mainnet`, ...).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ChainId {
    /// EIP-155 chain id.
    Number(u64),
    /// SIWS chain id.
    Text(String),
}

/// `POST /auth/logout-all`, `POST /admin/wallets/{chain}/{address}/logout-all`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// How many sessions were ended.
    pub revoked: u64,
}

/// `GET /auth/sessions`.
#[derive(Serialize, ToSchema)]
pub struct SessionList {
    /// This wallet's live sessions.
    #[schema(value_type = Vec<super::auth::ListedSession>)]
    pub sessions: Vec<serde_json::Value>,
}

/// `GET /api/me`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The wallet's chain.
    pub chain: Chain,
    /// The wallet's address (EIP-55 or base58).
    pub address: String,
    /// The chain id signed in with, if any.
    pub chain_id: Option<ChainId>,
    /// `eoa`, or `contract` for a smart-contract wallet (EIP-1271 / ERC-6492).
    pub wallet_type: crate::verify::WalletType,
    /// The current session.
    pub session_id: String,
}

/// `GET /api/public/hello`: `chain` and `address` only when authenticated.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hello {
    /// Whether a valid wallet session came with the request.
    pub authenticated: bool,
    /// The wallet's chain, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<Chain>,
    /// The wallet's address, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A wallet's preferences: any JSON object of at most 4 KiB.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preferences(pub HashMap<String, serde_json::Value>);

/// `POST /auth/user/login`, `GET /api/user/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Username {
    /// The user's name.
    pub username: String,
    /// The session's CSRF token: send it as `X-CSRF-Token` on cookie-authenticated unsafe
    /// requests.
    #[serde(rename = "csrfToken")]
    pub csrf_token: String,
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: String,
}

/// Which store the server runs on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// Redis (single node or cluster).
    Redis,
    /// In-memory (one process).
    Memory,
}

/// `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: String,
    /// The store in use.
    pub store: StoreKind,
    /// Each contract-wallet node by chain id: `up` or `down` as last seen (a node that is
    /// down does not make the server unready: EOA sign-in still works). Empty without
    /// `ETH_RPC_URLS`.
    pub verifiers: HashMap<String, VerifierState>,
}

/// A contract-wallet node's state.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerifierState {
    /// Its last answer was a proper one, for the chain it is listed under.
    Up,
    /// It did not answer, answered garbage, serves another chain, or was not asked yet.
    Down,
}

/// Active sessions by chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ByChain {
    /// Ethereum sessions.
    pub ethereum: u64,
    /// Solana sessions.
    pub solana: u64,
}

/// Active sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveSessions {
    /// All chains.
    pub total: u64,
    /// Per chain.
    pub by_chain: ByChain,
}

/// Sign-ins in the last hour.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastHour {
    /// Successful sign-ins.
    pub sign_ins: u64,
    /// Failed sign-ins.
    pub failures: u64,
}

/// `GET /admin/sessions/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Active sessions.
    pub active_sessions: ActiveSessions,
    /// The last hour's sign-ins.
    pub last_hour: LastHour,
}

/// `GET /admin/audit`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<crate::session::AuditEvent>,
}

// ---- security, headers and errors, from one table ---------------------------------------------

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A wallet session (bearer token or `wallet_session` cookie).
    Wallet,
    /// A wallet session if one is presented; anonymous otherwise.
    WalletOptional,
    /// A legacy user session (`sid` cookie), when one is needed.
    User,
    /// A wallet session (bearer token or cookie) or a legacy user session (`sid` cookie).
    AnySession,
    /// The admin token.
    Admin,
}

/// One operation of the contract and what can go wrong with it.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// `get`, `post`, `put`, `delete`.
    pub method: &'static str,
    /// The path as documented.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// Whether it reads a JSON body (400 / 413 / 415).
    pub json_body: bool,
    /// Whether it is rate limited per client IP (429).
    pub rate_limited: bool,
    /// Further codes it can answer with.
    pub extra: &'static [ErrorCode],
}

const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    json_body: bool,
    rate_limited: bool,
    extra: &'static [ErrorCode],
) -> Route {
    Route {
        method,
        path,
        access,
        json_body,
        rate_limited,
        extra,
    }
}

use Access::{Admin, AnySession, Public, User, Wallet, WalletOptional};
use ErrorCode as E;

/// Every route of the contract.
pub const ROUTES: &[Route] = &[
    route(
        "post",
        "/auth/nonce",
        Public,
        true,
        true,
        &[E::ChainNotAllowed],
    ),
    route(
        "post",
        "/auth/verify",
        Public,
        true,
        true,
        &[
            E::InvalidMessage,
            E::InvalidSignature,
            E::DomainMismatch,
            E::ChainNotAllowed,
            E::NonceInvalid,
            E::MessageExpired,
            E::MessageNotYetValid,
            E::VerifierUnavailable,
        ],
    ),
    route("get", "/auth/session", Wallet, false, false, &[]),
    // Rotations are limited per session (not per client IP).
    route(
        "post",
        "/auth/refresh",
        Wallet,
        false,
        false,
        &[E::RateLimited],
    ),
    route("post", "/auth/logout", Wallet, false, false, &[]),
    route("post", "/auth/logout-all", Wallet, false, false, &[]),
    route("get", "/auth/sessions", Wallet, false, false, &[]),
    route(
        "delete",
        "/auth/sessions/{sessionId}",
        Wallet,
        false,
        false,
        &[E::BadRequest, E::NotFound],
    ),
    route("get", "/api/me", Wallet, false, false, &[]),
    route(
        "get",
        "/api/public/hello",
        WalletOptional,
        false,
        false,
        &[],
    ),
    route("get", "/api/preferences", Wallet, false, false, &[]),
    route("put", "/api/preferences", Wallet, true, false, &[]),
    route(
        "post",
        "/auth/user/login",
        Public,
        true,
        true,
        &[E::Unauthenticated],
    ),
    route("post", "/auth/user/logout", User, false, false, &[]),
    route(
        "get",
        "/api/user/me",
        User,
        false,
        false,
        &[E::Unauthenticated],
    ),
    // Minting is limited per session (not per client IP).
    route(
        "post",
        "/auth/token",
        AnySession,
        false,
        false,
        &[E::RateLimited],
    ),
    route(
        "get",
        "/.well-known/jwks.json",
        Public,
        false,
        false,
        &[E::StoreUnavailable],
    ),
    route("get", "/health", Public, false, false, &[]),
    route(
        "get",
        "/ready",
        Public,
        false,
        false,
        &[E::StoreUnavailable],
    ),
    route(
        "get",
        "/metrics",
        Public,
        false,
        false,
        &[E::Unauthenticated],
    ),
    route("get", "/admin/sessions/stats", Admin, false, false, &[]),
    route("get", "/admin/audit", Admin, false, false, &[E::BadRequest]),
    route(
        "post",
        "/admin/wallets/{chain}/{address}/logout-all",
        Admin,
        false,
        false,
        &[E::BadRequest],
    ),
    route("get", "/openapi.json", Public, false, false, &[]),
];

impl Route {
    /// Every error code this route can answer with, in the contract's order.
    #[must_use]
    pub fn errors(&self) -> Vec<ErrorCode> {
        let mut codes: Vec<ErrorCode> = self.extra.to_vec();
        if self.json_body {
            codes.extend([E::BadRequest, E::PayloadTooLarge, E::UnsupportedMediaType]);
        }
        if self.rate_limited {
            codes.extend([E::RateLimited, E::StoreUnavailable]);
        }
        match self.access {
            Public => {}
            Wallet | AnySession => {
                codes.extend([
                    E::Unauthenticated,
                    E::SessionBindingMismatch,
                    E::StoreUnavailable,
                ]);
                if self.method != "get" {
                    codes.push(E::CsrfFailed);
                }
            }
            WalletOptional | User => codes.push(E::StoreUnavailable),
            Admin => codes.extend([
                E::Unauthenticated,
                E::Forbidden,
                E::NotFound,
                E::StoreUnavailable,
            ]),
        }
        // Any request may outlast HTTP_REQUEST_TIMEOUT.
        codes.extend([E::RequestTimeout, E::Internal]);
        ErrorCode::ALL
            .into_iter()
            .filter(|c| codes.contains(c))
            .collect()
    }
}

/// Adds security schemes, per-operation security, the CSRF header, the session headers and
/// the error responses of [`ROUTES`].
pub struct Contract;

fn string_schema(description: &str) -> HeaderBuilder {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
}

fn operation_mut<'a>(
    paths: &'a mut utoipa::openapi::Paths,
    method: &str,
    path: &str,
) -> Option<&'a mut Operation> {
    let item = paths.paths.get_mut(path)?;
    match method {
        "get" => item.get.as_mut(),
        "post" => item.post.as_mut(),
        "put" => item.put.as_mut(),
        "delete" => item.delete.as_mut(),
        _ => None,
    }
}

impl Modify for Contract {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "walletBearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "walletCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("wallet_session"))),
        );
        components.add_security_scheme(
            "userCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("sid"))),
        );
        components.add_security_scheme(
            "adminBearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let no_scopes: [&str; 0] = [];
        let req = |name: &str| SecurityRequirement::new(name, no_scopes);

        for r in ROUTES {
            let Some(op) = operation_mut(&mut doc.paths, r.method, r.path) else {
                continue;
            };
            op.security = match r.access {
                Public => None,
                Wallet => Some(vec![req("walletBearer"), req("walletCookie")]),
                WalletOptional => Some(vec![
                    req("walletBearer"),
                    req("walletCookie"),
                    SecurityRequirement::default(),
                ]),
                User => Some(vec![req("userCookie"), SecurityRequirement::default()]),
                AnySession => Some(vec![
                    req("walletBearer"),
                    req("walletCookie"),
                    req("userCookie"),
                ]),
                Admin => Some(vec![req("adminBearer")]),
            };
            if matches!(r.access, Wallet | AnySession) && r.method != "get" {
                op.parameters.get_or_insert_with(Vec::new).push(
                    ParameterBuilder::new()
                        .name("X-CSRF-Token")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::False)
                        .description(Some(
                            "The session's `csrfToken`; required when the session comes from \
                             the cookie and the Origin is not an allowed one",
                        ))
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                        .build(),
                );
            }
            if matches!(r.access, Wallet | WalletOptional) {
                for resp in op.responses.responses.values_mut() {
                    if let RefOr::T(resp) = resp {
                        resp.headers.insert(
                            "X-Session-Expires-At".to_owned(),
                            string_schema(
                                "RFC 3339 expiry of the session (on every authenticated response)",
                            )
                            .build(),
                        );
                        resp.headers.insert(
                            "X-Session-Refreshed".to_owned(),
                            string_schema(
                                "`true` when this request extended the session in its refresh window",
                            )
                            .build(),
                        );
                    }
                }
            }
            let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
            for code in r.errors() {
                by_status.entry(code.status()).or_default().push(code);
            }
            for (status, codes) in by_status {
                let list = codes
                    .iter()
                    .map(|c| format!("`{}`", c.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut resp = ResponseBuilder::new()
                    .description(format!("Error: {list}"))
                    .content(
                        "application/json",
                        Content::new(Some(Ref::from_schema_name("Error"))),
                    );
                if status == 429 || status == 503 {
                    resp = resp.header(
                        "Retry-After",
                        HeaderBuilder::new()
                            .schema(ObjectBuilder::new().schema_type(Type::Integer))
                            .description(Some("Seconds to wait before retrying"))
                            .build(),
                    );
                }
                op.responses
                    .responses
                    .insert(status.to_string(), resp.build().into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_is_in_the_table_and_back() {
        let doc: serde_json::Value =
            serde_json::from_str(document()).unwrap_or(serde_json::Value::Null);
        let mut documented = Vec::new();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for method in item.as_object().into_iter().flatten().map(|(m, _)| m) {
                if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                    documented.push(format!("{method} {path}"));
                }
            }
        }
        let mut table: Vec<String> = ROUTES
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        documented.sort();
        table.sort();
        assert_eq!(documented, table);
    }

    #[test]
    fn error_codes_match_the_error_type() {
        use crate::http::ApiError;
        let samples = [
            ApiError::BadRequest("x".into()),
            ApiError::PayloadTooLarge(1),
            ApiError::UnsupportedMediaType,
            ApiError::NonceInvalid,
            ApiError::Unauthenticated,
            ApiError::BindingMismatch,
            ApiError::CsrfFailed,
            ApiError::Forbidden("x"),
            ApiError::NotFound("x"),
            ApiError::MethodNotAllowed,
            ApiError::RateLimited(std::time::Duration::from_secs(1)),
            ApiError::Internal("x".into()),
        ];
        for e in samples {
            let code = ErrorCode::ALL
                .into_iter()
                .find(|c| c.as_str() == e.code())
                .map(ErrorCode::status);
            assert_eq!(code, Some(e.status_code().as_u16()), "{e:?}");
        }
    }
}
