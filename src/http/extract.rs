//! Extractors: [`WalletSession`] (required), [`OptionalWalletSession`] (public routes),
//! [`ClientInfo`], and the contract's versions of axum's own: [`JsonBody`], [`OptionalJsonBody`],
//! [`PathParam`] and [`QueryParams`], whose rejections are the contract's JSON errors (mapped
//! once, in `super::input`).
//!
//! The session extractors are generic over the host application's state (`AuthState:
//! FromRef<S>`), so an app embedding this crate can use them on its own routes. The response
//! headers of an authenticated request (`X-Session-Expires-At`, `X-Session-Refreshed`, a renewed
//! cookie, `Cache-Control: no-store`) are added by the [`session_headers`] middleware, which
//! every router of the crate installs and which an embedding app puts around its own routes
//! with [`super::with_session_headers`]. Without it the session extractors refuse to work
//! (`500 session_layer_missing`, and a log line naming the missing layer) rather than silently
//! never sending a renewed cookie. A handler that ends the request's own session calls
//! [`WalletSession::end_current`].

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;
use time::format_description::well_known::Rfc3339;

use super::cookie::SessionCookie;
use super::error::ApiError;
use super::state::AuthState;
use crate::session::crypto::ct_eq;
use crate::session::{Authenticated, RequestContext, SessionInfo, Validation};

/// JSON request body with the contract's errors: 415 without a JSON content type, 413 over the
/// body limit, 400 for malformed JSON or a wrong shape (naming the field, never the value).
#[derive(Debug, Clone, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct JsonBody<T>(pub T);

/// An optional JSON body: `None` when the body is empty (or only whitespace), whatever its
/// content type; otherwise as [`JsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(None));
        }
        let req = Request::from_parts(parts, Body::from(bytes));
        let JsonBody(value) = JsonBody::from_request(req, state).await?;
        Ok(OptionalJsonBody(Some(value)))
    }
}

/// Path parameters, with the contract's `400 bad_request` (naming the parameter) when a segment
/// cannot be read.
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct PathParam<T>(pub T);

/// The query string, with the contract's `400 bad_request` when it cannot be read.
#[derive(Debug, Clone, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct QueryParams<T>(pub T);

/// Who is calling: user agent and client IP (from the socket, or, when `TRUST_PROXY=true`,
/// from the `X-Forwarded-For` entry the trusted proxies appended; see [`forwarded_client`]).
#[derive(Debug, Clone)]
pub struct ClientInfo(pub RequestContext);

/// The client IP kept when `TRUST_PROXY=true` and the request carries no usable
/// `X-Forwarded-For` entry at the trusted position. It is never an address, so it never equals
/// a real client's, and all such requests share one rate-limit budget.
pub const UNKNOWN_CLIENT: &str = "unknown";

/// The client address in `X-Forwarded-For` behind `hops` trusted proxies: each trusted proxy
/// appends the address it received the request from, so the client is the entry `hops` places
/// from the right (every header line joined in order, as RFC 7230 lists combine). Entries
/// written by the client itself sit further left and are never read. The entry is read as an
/// IP address, with a port (`198.51.100.7:4711`, `[2001:db8::1]:443`) or brackets stripped;
/// anything else (`unknown`, an obfuscated name, a missing entry) is `None`: the address is
/// never guessed from another entry or from the socket.
#[must_use]
pub fn forwarded_client(headers: &axum::http::HeaderMap, hops: u8) -> Option<std::net::IpAddr> {
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let text = value.to_str().ok()?;
        entries.extend(text.split(',').map(str::trim));
    }
    let index = entries.len().checked_sub(usize::from(hops.max(1)))?;
    parse_forwarded_ip(entries.get(index)?)
}

fn parse_forwarded_ip(entry: &str) -> Option<std::net::IpAddr> {
    use std::net::{IpAddr, SocketAddr};
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<SocketAddr>() {
        return Some(sock.ip());
    }
    let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
}

fn client_context(parts: &Parts, config: &crate::config::Config) -> RequestContext {
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let ip = client_ip(&parts.headers, &parts.extensions, config);
    RequestContext { user_agent, ip }
}

/// The client's address as the server sees it: the socket peer, or behind a trusted proxy
/// the `X-Forwarded-For` entry of [`forwarded_client`]; [`UNKNOWN_CLIENT`] when neither tells.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    extensions: &axum::http::Extensions,
    config: &crate::config::Config,
) -> String {
    if config.http.trust_proxy {
        forwarded_client(headers, config.http.trust_proxy_hops)
            .map_or_else(|| UNKNOWN_CLIENT.to_owned(), |ip| ip.to_string())
    } else {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| UNKNOWN_CLIENT.to_owned(), |c| c.0.ip().to_string())
    }
}

impl<S> FromRequestParts<S> for ClientInfo
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = AuthState::from_ref(state);
        Ok(ClientInfo(client_context(parts, st.config())))
    }
}

/// What the session extractors hand to [`session_headers`] for the response.
#[derive(Debug, Clone, Default)]
struct SlotData {
    expires_at: String,
    refreshed: bool,
    /// The renewed cookie (`Set-Cookie` headers), when refreshed through the cookie.
    set_cookie: HeaderMap,
    /// The handler ended this session (or replaced its token): nothing about it may be sent.
    ended: bool,
}

#[derive(Debug, Clone, Default)]
struct SessionSlot(Arc<Mutex<Option<SlotData>>>);

impl SessionSlot {
    fn with<R>(&self, f: impl FnOnce(&mut Option<SlotData>) -> R) -> R {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Middleware adding `X-Session-Expires-At`, `X-Session-Refreshed`, a renewed cookie and
/// `Cache-Control: no-store` to responses of requests authenticated by a wallet session (what
/// is personal is never cached). It adds nothing when the handler
/// ended the session ([`WalletSession::end_current`]: logout, logout-all, revoking the current
/// session, rotation), nor when the handler set its own expiry header or wallet cookie: a
/// response never re-sends a cookie the handler cleared or replaced.
pub async fn session_headers(mut req: Request, next: Next) -> Response {
    let slot = SessionSlot::default();
    req.extensions_mut().insert(slot.clone());
    let mut res = next.run(req).await;
    let Some(d) = slot.with(Option::take) else {
        return res;
    };
    let h = res.headers_mut();
    if d.ended || h.contains_key("x-session-expires-at") || SessionCookie::Wallet.is_set_in(h) {
        return res;
    }
    if let Ok(v) = HeaderValue::from_str(&d.expires_at) {
        h.insert("x-session-expires-at", v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if d.refreshed {
        h.insert("x-session-refreshed", HeaderValue::from_static("true"));
        for c in d.set_cookie.get_all(header::SET_COOKIE) {
            h.append(header::SET_COOKIE, c.clone());
        }
    }
    res
}

/// A request authenticated by a wallet session (bearer token or `wallet_session` cookie).
/// Rejects with `unauthenticated`, `session_binding_mismatch`, `csrf_failed` or
/// `store_unavailable`; with `500 session_layer_missing` on a route that lacks the
/// [`session_headers`] layer ([`super::with_session_headers`]).
#[derive(Debug, Clone)]
pub struct WalletSession {
    /// The session.
    pub session: SessionInfo,
    /// Whether the token came from the cookie (rather than `Authorization: Bearer`).
    pub via_cookie: bool,
    pub(crate) auth: Authenticated,
    slot: SessionSlot,
}

impl WalletSession {
    /// The wallet tag (for session-manager calls about this wallet).
    #[must_use]
    pub fn tag(&self) -> &crate::store::WalletTag {
        &self.auth.tag
    }

    /// Records that the handler ended this request's own session (logout, revoking it) or
    /// replaced its token (rotation): [`session_headers`] then adds no session header and no
    /// renewed cookie to the response.
    pub fn end_current(&self) {
        self.slot.with(|d| {
            if let Some(d) = d {
                d.ended = true;
            }
        });
    }
}

/// The token of a request: bearer first, then the cookie. A request carrying the session
/// cookie twice (same name, or both its names) is refused whatever else it carries: which of
/// the two the browser sent first says nothing about which one is genuine.
fn find_token(headers: &HeaderMap) -> Result<(String, bool), ApiError> {
    let cookie = SessionCookie::Wallet
        .read(headers)
        .map_err(|_| ApiError::Unauthenticated)?;
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().map_err(|_| ApiError::Unauthenticated)?;
        let (scheme, token) = v.split_once(' ').ok_or(ApiError::Unauthenticated)?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| (token.trim().to_owned(), false))
            .ok_or(ApiError::Unauthenticated);
    }
    cookie.map(|t| (t, true)).ok_or(ApiError::Unauthenticated)
}

/// The CSRF rule for a cookie-authenticated request: a safe method, or `X-CSRF-Token` equal
/// to the session's `csrf_token` (compared in constant time), or an `Origin` trusted for CSRF
/// (`CORS_ORIGINS` or `CSRF_TRUSTED_ORIGINS`).
pub(crate) fn csrf_ok(parts: &Parts, st: &AuthState, csrf_token: &str) -> bool {
    if matches!(
        parts.method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    ) {
        return true;
    }
    if let Some(t) = parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        if !csrf_token.is_empty() && ct_eq(t.as_bytes(), csrf_token.as_bytes()) {
            return true;
        }
    }
    parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|o| st.config().origins.csrf_trusts(o))
}

async fn authenticate(
    parts: &mut Parts,
    st: &AuthState,
    slot: SessionSlot,
) -> Result<WalletSession, ApiError> {
    let (token, via_cookie) = find_token(&parts.headers)?;
    let ctx = client_context(parts, st.config());
    let (auth, refreshed) = match st.sessions().validate(&token, &ctx).await? {
        Validation::Valid(a) => (a, false),
        Validation::Refreshed(a) => (a, true),
        Validation::Invalid(_) => return Err(ApiError::Unauthenticated),
    };
    if via_cookie && !csrf_ok(parts, st, &auth.info.csrf_token) {
        return Err(ApiError::CsrfFailed);
    }
    let mut set_cookie = HeaderMap::new();
    if via_cookie && refreshed {
        let secs = (auth.info.expires_at - st.clock().now()).whole_seconds();
        SessionCookie::Wallet.append_set(&mut set_cookie, st.config(), &token, secs);
    }
    let data = SlotData {
        expires_at: auth.info.expires_at.format(&Rfc3339).unwrap_or_default(),
        refreshed,
        set_cookie,
        ended: false,
    };
    slot.with(|d| *d = Some(data));
    Ok(WalletSession {
        session: auth.info.clone(),
        via_cookie,
        auth,
        slot,
    })
}

impl<S> FromRequestParts<S> for WalletSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ws) = parts.extensions.get::<WalletSession>() {
            return Ok(ws.clone());
        }
        // Checked before anything else, so a route without the layer fails on its first
        // request, signed in or not.
        let Some(slot) = parts.extensions.get::<SessionSlot>().cloned() else {
            return Err(ApiError::SessionLayerMissing);
        };
        let st = AuthState::from_ref(state);
        let ws = authenticate(parts, &st, slot).await?;
        parts.extensions.insert(ws.clone());
        Ok(ws)
    }
}

/// A wallet session if the request has a valid one; anonymous otherwise. An invalid, expired or
/// revoked token — or one failing CSRF on an unsafe method — is treated as anonymous, never as
/// an error. A store failure is logged and treated as anonymous too, so public pages stay up.
/// Only a route without the session layer is refused (`500 session_layer_missing`).
#[derive(Debug, Clone)]
pub struct OptionalWalletSession(pub Option<WalletSession>);

impl<S> FromRequestParts<S> for OptionalWalletSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match WalletSession::from_request_parts(parts, state).await {
            Ok(ws) => Ok(OptionalWalletSession(Some(ws))),
            Err(ApiError::SessionLayerMissing) => Err(ApiError::SessionLayerMissing),
            Err(ApiError::StoreUnavailable(e)) => {
                tracing::warn!(error = %e, "store unavailable: serving an optional-auth request anonymously");
                Ok(OptionalWalletSession(None))
            }
            Err(_) => Ok(OptionalWalletSession(None)),
        }
    }
}

#[cfg(test)]
mod forwarded_tests {
    #![allow(clippy::unwrap_used)]
    use super::forwarded_client;
    use axum::http::{HeaderMap, HeaderValue};

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append("x-forwarded-for", HeaderValue::from_str(l).unwrap());
        }
        h
    }

    fn client(lines: &[&str], hops: u8) -> Option<String> {
        forwarded_client(&headers(lines), hops).map(|ip| ip.to_string())
    }

    #[test]
    fn the_entry_the_trusted_proxy_appended() {
        let cases: &[(&[&str], u8, Option<&str>)] = &[
            (&["203.0.113.9"], 1, Some("203.0.113.9")),
            (&["6.6.6.6, 203.0.113.9"], 1, Some("203.0.113.9")),
            (&["6.6.6.6,203.0.113.9:8443"], 1, Some("203.0.113.9")),
            (&["6.6.6.6, [2001:db8::1]:443"], 1, Some("2001:db8::1")),
            (&["6.6.6.6, [2001:db8::1]"], 1, Some("2001:db8::1")),
            (&["6.6.6.6, 2001:db8::1"], 1, Some("2001:db8::1")),
            (&["6.6.6.6", "203.0.113.9"], 1, Some("203.0.113.9")),
            (&["6.6.6.6, 203.0.113.9, 10.0.0.1"], 2, Some("203.0.113.9")),
            // What the proxy wrote is not an address: never fall back to another entry.
            (&["6.6.6.6, unknown"], 1, None),
            (&["6.6.6.6, _gazonk"], 1, None),
            (&["6.6.6.6, 203.0.113.9 extra"], 1, None),
            (&["6.6.6.6, "], 1, None),
            (&["6.6.6.6, [203.0.113.9]"], 1, None),
            (&["6.6.6.6, 203.0.113.9:99999"], 1, None),
            // Fewer entries than trusted proxies: the request did not come through them all.
            (&["203.0.113.9"], 2, None),
            (&[], 1, None),
        ];
        for (lines, hops, want) in cases {
            assert_eq!(
                client(lines, *hops).as_deref(),
                *want,
                "{lines:?} hops={hops}"
            );
        }
    }
}
