//! The HTTP layer: state, routes, extractors, the one error type, middleware.
//!
//! Each route module registers its routes once (`router()`, an `OpenApiRouter` of `routes!`
//! with the route's contract, see [`openapi::Op`]); [`registrations`] merges them, and from that
//! come both the axum routes and the OpenAPI document. They are served as three routers an app
//! can merge separately — [`auth_router`], [`ops_router`], [`demo_router`] — none of which
//! claims a fallback; [`router`] is the whole server the binary runs. Routes of an embedding app
//! that read a wallet session go inside [`with_session_headers`].

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower::ServiceBuilder;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tracing::Instrument as _;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Config;

pub mod accounts;
pub mod admin;
pub mod api;
pub mod auth;
pub mod body;
pub mod caller;
pub mod cookie;
pub mod error;
pub mod extract;
mod input;
pub mod metrics;
pub mod openapi;
pub mod ops;
pub mod protect;
mod serve;
pub mod state;
pub mod tokens;
pub mod user;

pub use error::{ApiError, ApiResult, ErrorCode};
pub use extract::{
    ClientInfo, JsonBody, OptionalJsonBody, OptionalWalletSession, PathParam, QueryParams,
    WalletSession,
};
pub use metrics::Metrics;
pub use protect::protect;
pub use state::AuthState;

/// Every route of the contract, registered once: the auth API and the operations. The
/// OpenAPI document ([`openapi_document`]) derives from these registrations.
pub(crate) fn registrations() -> OpenApiRouter<AuthState> {
    auth_registrations().merge(ops_registrations())
}

fn auth_registrations() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(api::router())
        .merge(user::router())
        .merge(tokens::router())
        .merge(admin::router())
        .merge(accounts::router())
}

fn ops_registrations() -> OpenApiRouter<AuthState> {
    ops::router().merge(openapi::router())
}

/// The auth API: wallet sign-in and sessions (`/auth/*`), the example routes (`/api/*`), legacy
/// user sessions, tokens for other services (`/auth/token`, `/.well-known/jwks.json`) and the
/// operator routes (`/admin/*`), with what the contract needs around them: the session
/// headers, `Cache-Control: no-store` (unless a route says otherwise), and the layers of
/// `contract_layers`. It claims neither `/` nor a fallback, so an app can `merge` it.
pub fn auth_router(state: AuthState) -> Router {
    contract_layers(auth_routes(), &state, Observe::No).with_state(state)
}

/// Operations: `/health`, `/ready`, `/metrics` and `/openapi.json`, with the layers of
/// `contract_layers`. An app with its own `/health` leaves this router out (or nests it).
pub fn ops_router(state: AuthState) -> Router {
    contract_layers(ops_routes(), &state, Observe::No).with_state(state)
}

/// The auth API's routes with the layer each of them needs, whoever serves them: the session
/// headers and `Cache-Control: no-store` unless the route sets its own.
fn auth_routes() -> Router<AuthState> {
    let (routes, _) = auth_registrations().split_for_parts();
    // One `Router::layer` call for both: each call boxes every route once more, which a
    // request pays for (a clone and a boxed future per level).
    routes.layer(
        ServiceBuilder::new()
            .layer(SetResponseHeaderLayer::if_not_present(
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store"),
            ))
            .layer(axum::middleware::from_fn(extract::session_headers)),
    )
}

/// The operations' routes; only `/openapi.json` is handed the document.
fn ops_routes() -> Router<AuthState> {
    let (ops, _) = ops::router().split_for_parts();
    let (document, _) = openapi::router().split_for_parts();
    ops.merge(document.layer(axum::Extension(openapi::Document(openapi_document()))))
}

/// The OpenAPI document of the contract (what `/openapi.json` serves), built once from the
/// route registrations.
#[must_use]
pub fn openapi_document() -> &'static str {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| openapi::render(registrations().split_for_parts().1))
}

/// The demo page at `/` with its scripts under `/assets/`: only for an app that asks for it
/// (the binary does, unless `DEMO_PAGE=false`).
pub fn demo_router(state: AuthState) -> Router {
    contract_layers(ops::demo_router(), &state, Observe::No).with_state(state)
}

/// What every route that reads a wallet session ([`WalletSession`], [`OptionalWalletSession`])
/// needs around it: the [`extract::session_headers`] layer, which sends the renewed cookie of a
/// session extended in its refresh window, `X-Session-Expires-At`, `X-Session-Refreshed` and
/// `Cache-Control: no-store`. The crate's routers have it; an embedding app wraps its own
/// routes with this call. Without it those extractors answer `500 session_layer_missing`.
pub fn with_session_headers<S>(routes: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    routes.layer(axum::middleware::from_fn(extract::session_headers))
}

/// Whether [`contract_layers`] also puts [`observe`] (request id, request log, security
/// headers, metrics) around the routes: only for the whole server, where it is the outermost
/// layer; an embedding app has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Observe {
    Yes,
    No,
}

/// The layers each of the crate's routers carries, so that it keeps the contract wherever it is
/// merged: `405 method_not_allowed` in the JSON shape (with `Allow`), CORS when
/// `CORS_ORIGINS` is set, the body limit, and [`protect`]'s layers (JSON errors, panic
/// catcher, request timeout), outermost first; with [`Observe::Yes`], [`observe`] outside them
/// all. They are one tower stack applied in one `Router::layer` call: each such call boxes
/// every route once more, and a request pays a clone and a boxed future for each level.
fn contract_layers(
    routes: Router<AuthState>,
    state: &AuthState,
    observed: Observe,
) -> Router<AuthState> {
    let config = state.config();
    // axum adds the `Allow` header (the path's methods) to this answer.
    let routes = routes.method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    routes.layer(
        ServiceBuilder::new()
            .option_layer(
                (observed == Observe::Yes)
                    .then(|| axum::middleware::from_fn_with_state(state.clone(), observe)),
            )
            .option_layer(cors_layer(config))
            .layer(axum::extract::DefaultBodyLimit::max(
                config.http.max_body_bytes,
            ))
            .layer(protect::layers(config.http.request_timeout)),
    )
}

/// The whole server, as the binary serves it: the routes of [`auth_router`], [`ops_router`]
/// and (with `DEMO_PAGE`) [`demo_router`], a JSON `404` fallback, the contract's layers once
/// around all of them, and [`observe`] outermost (request id, request log, security headers,
/// metrics). An app embedding the crate merges the routers it wants instead.
pub fn router(state: AuthState) -> Router {
    let mut app = auth_routes().merge(ops_routes());
    if state.config().http.demo_page {
        app = app.merge(ops::demo_router());
    }
    let app = app.fallback(|| async { ApiError::NotFound("no such route") });
    contract_layers(app, &state, Observe::Yes).with_state(state)
}

/// The request-id header: propagated when the client sends a sane one, generated otherwise,
/// returned on every response.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent request id kept.
pub const REQUEST_ID_MAX: usize = 64;

/// Whether a client-sent request id is kept: 1 to [`REQUEST_ID_MAX`] characters of ASCII
/// letters, digits, `-`, `_`, `.` and `:` (a UUID, a ULID, a proxy's hex id). Anything else
/// could forge log lines or bloat them.
#[must_use]
pub fn is_sane_request_id(value: &[u8]) -> bool {
    (1..=REQUEST_ID_MAX).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A request id the server makes up: a random (version 4) UUID, drawn from the thread's
/// user-space CSPRNG (`rand::thread_rng`, seeded from the OS) rather than from the OS for each
/// request, which cost a system call on every request. A request id is a log correlator, not a
/// secret: it needs to be unique, not unpredictable.
fn new_request_id() -> HeaderValue {
    HeaderValue::from_str(&uuid_v4(rand::random()))
        .unwrap_or_else(|_| HeaderValue::from_static("00000000-0000-4000-8000-000000000000"))
}

/// `bytes` as a version 4 (random) UUID in its hyphenated lowercase form (RFC 9562).
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The request's id: the client's `X-Request-Id` when there is exactly one and it is sane,
/// else a new one, which replaces whatever the client sent. Handlers and the response see
/// the same value.
fn request_id(headers: &mut HeaderMap) -> HeaderValue {
    let mut values = headers.get_all(&X_REQUEST_ID).iter();
    if let (Some(v), None) = (values.next(), values.next()) {
        if is_sane_request_id(v.as_bytes()) {
            return v.clone();
        }
    }
    let id = new_request_id();
    headers.insert(X_REQUEST_ID, id.clone());
    id
}

/// What the request log line says of a request, beyond its response.
struct RequestFacts<'a> {
    method: &'static str,
    route: &'a str,
    client_ip: &'a str,
    request_id: &'a str,
}

/// The one INFO line of a request: method, route template, status, latency, client address,
/// request id, and the error code of an error answer. Never a header, cookie, token or body.
fn log_response(res: &Response, latency: Duration, facts: &RequestFacts<'_>) {
    let error_code = res
        .extensions()
        .get::<error::ErrorCodeTag>()
        .map(|t| t.0.as_str());
    tracing::info!(
        method = facts.method,
        route = facts.route,
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        client_ip = facts.client_ip,
        request_id = facts.request_id,
        error_code,
        "request"
    );
}

/// CORS for `CORS_ORIGINS` only: an origin listed in `CSRF_TRUSTED_ORIGINS` alone is trusted
/// in place of the CSRF token, never allowed to read responses cross-origin.
fn cors_layer(config: &Config) -> Option<CorsLayer> {
    if config.origins.cors.is_empty() {
        return None;
    }
    let origins: Vec<HeaderValue> = config
        .origins
        .cors
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    let credentialed = origins.clone();
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            // Only with an allowed origin: other origins get no CORS header at all.
            .allow_credentials(AllowCredentials::predicate(move |origin, _| {
                credentialed.contains(origin)
            }))
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("x-csrf-token"),
            ])
            .expose_headers([
                X_REQUEST_ID,
                HeaderName::from_static("x-session-expires-at"),
                HeaderName::from_static("x-session-refreshed"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// What the whole server does around every request, in one layer: the request id (a client's
/// sane `X-Request-Id` kept, else a new one; returned on the response), a tracing span
/// carrying it around the handling, the security headers, the metrics, and the one request
/// log line (never headers or bodies).
async fn observe(State(state): State<AuthState>, mut req: Request, next: Next) -> Response {
    let start = Instant::now();
    let id = request_id(req.headers_mut());
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let client_ip = extract::client_ip(req.headers(), req.extensions(), state.config());
    let span = tracing::info_span!("request", request_id = id.to_str().unwrap_or(""));
    let mut res = next.run(req).instrument(span.clone()).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(&X_REQUEST_ID) {
        h.insert(X_REQUEST_ID, id.clone());
    }
    let latency = start.elapsed();
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state
        .metrics()
        .request(&method, route, res.status().as_u16(), latency.as_secs_f64());
    let facts = RequestFacts {
        method: metrics::method_label(&method),
        route,
        client_ip: &client_ip,
        request_id: res
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    };
    span.in_scope(|| log_response(&res, latency, &facts));
    res
}

/// A built server: bound, not yet serving. Port 0 is allowed; [`Server::addr`] tells the port.
pub struct Server {
    listener: tokio::net::TcpListener,
    app: Router,
    limits: serve::Limits,
}

impl Server {
    /// Binds the configured address and builds the app over `state`.
    ///
    /// # Errors
    /// The address cannot be bound.
    pub async fn bind(state: AuthState) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(state.config().http.bind_addr).await?;
        Ok(Server {
            listener,
            limits: serve::Limits::from_config(state.config()),
            app: router(state),
        })
    }

    /// The bound address.
    ///
    /// # Errors
    /// The socket has no local address.
    pub fn addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for at most
    /// `SHUTDOWN_TIMEOUT` and drops what is left. Each request carries the peer's
    /// [`axum::extract::ConnectInfo<SocketAddr>`](axum::extract::ConnectInfo). The connection
    /// bounds are described in the `serve` module: head, idle and request timeouts, global
    /// and per-address connection caps.
    ///
    /// # Errors
    /// The server failed.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        serve::serve(self.listener, self.app, self.limits, shutdown).await
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_request_ids_are_distinct_v4_uuids() {
        assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(uuid_v4([0; 16]), "00000000-0000-4000-8000-000000000000");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = new_request_id();
            let text = id.to_str().unwrap().to_owned();
            let groups: Vec<&str> = text.split('-').collect();
            assert_eq!(
                groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
                [8, 4, 4, 4, 12],
                "{text}"
            );
            assert!(text
                .bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert_eq!(&text[14..15], "4", "{text}");
            assert!(matches!(&text[19..20], "8" | "9" | "a" | "b"), "{text}");
            assert!(is_sane_request_id(text.as_bytes()));
            assert!(seen.insert(text));
        }
    }
}
