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
use axum::http::{header, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
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
    let (routes, _) = auth_registrations().split_for_parts();
    let routes = with_session_headers(routes).layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ));
    contract_layers(routes, &state).with_state(state)
}

/// Operations: `/health`, `/ready`, `/metrics` and `/openapi.json`, with the layers of
/// `contract_layers`. An app with its own `/health` leaves this router out (or nests it).
pub fn ops_router(state: AuthState) -> Router {
    let (routes, _) = ops_registrations().split_for_parts();
    let routes = routes.layer(axum::Extension(openapi::Document(openapi_document())));
    contract_layers(routes, &state).with_state(state)
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
    contract_layers(ops::demo_router(), &state).with_state(state)
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

/// The layers each of the crate's routers carries, so that it keeps the contract wherever it is
/// merged: `405 method_not_allowed` in the JSON shape (with `Allow`), [`protect`] (request
/// timeout, panic catcher, JSON errors), the body limit, and CORS when `CORS_ORIGINS` is set.
fn contract_layers(routes: Router<AuthState>, state: &AuthState) -> Router<AuthState> {
    let config = state.config();
    // axum adds the `Allow` header (the path's methods) to this answer.
    let routes = routes.method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    let routes = protect(routes, config.http.request_timeout).layer(
        axum::extract::DefaultBodyLimit::max(config.http.max_body_bytes),
    );
    match cors_layer(config) {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// The whole server, as the binary serves it: [`auth_router`], [`ops_router`] and (with
/// `DEMO_PAGE`) [`demo_router`], a JSON `404` fallback, and the request-level layers (request
/// id, request log, security headers, metrics). An app embedding the crate merges the routers
/// it wants instead.
pub fn router(state: AuthState) -> Router {
    let mut app = auth_router(state.clone()).merge(ops_router(state.clone()));
    if state.config().http.demo_page {
        app = app.merge(demo_router(state.clone()));
    }
    let app = app.fallback(|| async { ApiError::NotFound("no such route") });
    // Outermost first: a client's request id is kept only when sane, else one is generated;
    // the request is traced (one INFO line when its response is ready) with that id; the id is
    // returned on the response; `observe` (innermost of these) adds the security headers,
    // counts the request and hands the log line its method, route and client address.
    app.layer(axum::middleware::from_fn_with_state(state, observe))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_request(())
                .on_response(log_response)
                .on_failure(()),
        )
        .layer(SetRequestIdLayer::new(X_REQUEST_ID, RandomRequestId))
        .layer(axum::middleware::from_fn(sane_request_id))
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

/// Generates the request ids the server makes up: random (version 4) UUIDs, drawn from the
/// thread's user-space CSPRNG (`rand::thread_rng`, seeded from the OS) rather than from the OS
/// for each request, which cost a system call on every request. A request id is a log
/// correlator, not a secret: it needs to be unique, not unpredictable.
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&uuid_v4(rand::random()))
            .ok()
            .map(RequestId::new)
    }
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

/// Drops a client's `X-Request-Id` unless there is exactly one and it is sane, so that one is
/// generated instead.
async fn sane_request_id(mut req: Request, next: Next) -> Response {
    let mut values = req.headers().get_all(&X_REQUEST_ID).iter();
    let keep = match (values.next(), values.next()) {
        (None, _) => true,
        (Some(v), None) => is_sane_request_id(v.as_bytes()),
        (Some(_), Some(_)) => false,
    };
    if !keep {
        req.headers_mut().remove(&X_REQUEST_ID);
    }
    next.run(req).await
}

/// What the request log line needs from the request, handed over in the response's
/// extensions by [`observe`].
#[derive(Debug, Clone)]
struct RequestFacts {
    method: &'static str,
    route: String,
    client_ip: String,
}

/// The span of a request: its id, so that every line logged while handling it carries it.
fn request_span(req: &Request) -> tracing::Span {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!("request", request_id = id)
}

/// The one INFO line of a request: method, route template, status, latency, client address,
/// request id, and the error code of an error answer. Never a header, cookie, token or body.
fn log_response(res: &Response, latency: Duration, _span: &tracing::Span) {
    let facts = res.extensions().get::<RequestFacts>();
    let request_id = res
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let error_code = res
        .extensions()
        .get::<error::ErrorCodeTag>()
        .map(|t| t.0.as_str());
    tracing::info!(
        method = facts.map_or("other", |f| f.method),
        route = facts.map_or("unmatched", |f| f.route.as_str()),
        status = res.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        client_ip = facts.map_or(extract::UNKNOWN_CLIENT, |f| f.client_ip.as_str()),
        request_id,
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

/// Security headers, metrics, and the facts of the request log line (never headers or bodies).
async fn observe(State(state): State<AuthState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = metrics::route_label(req.extensions().get::<MatchedPath>());
    let client_ip = extract::client_ip(req.headers(), req.extensions(), state.config());
    let mut res = next.run(req).await;
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
    let status = res.status().as_u16();
    let secs = start.elapsed().as_secs_f64();
    state.metrics().request(&method, &route, status, secs);
    res.extensions_mut().insert(RequestFacts {
        method: metrics::method_label(&method),
        route,
        client_ip,
    });
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
        let req = axum::http::Request::new(());
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            let id = RandomRequestId.make_request_id(&req).unwrap();
            let text = id.header_value().to_str().unwrap().to_owned();
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
