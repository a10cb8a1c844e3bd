//! The `wallet_session` cookie: reading it from a request, and writing it with the configured
//! attributes (HttpOnly always, Secure unless disabled for local development, SameSite, Path=/).

use axum::http::{header, HeaderMap, HeaderValue};

use crate::config::Config;

/// Name of the wallet session cookie.
pub const WALLET_COOKIE: &str = "wallet_session";

/// The value of cookie `name` in the request's `Cookie` headers.
#[must_use]
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// A `Set-Cookie` value carrying `token` for `max_age_secs`.
#[must_use]
pub fn set(config: &Config, token: &str, max_age_secs: i64) -> Option<HeaderValue> {
    let secure = if config.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{WALLET_COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite={}{secure}",
        max_age_secs.max(0),
        config.cookie_samesite.as_str()
    ))
    .ok()
}

/// A `Set-Cookie` value that deletes the cookie.
#[must_use]
pub fn clear(config: &Config) -> HeaderValue {
    let secure = if config.cookie_secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{WALLET_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite={}{secure}",
        config.cookie_samesite.as_str()
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("wallet_session=; Path=/; Max-Age=0"))
}
