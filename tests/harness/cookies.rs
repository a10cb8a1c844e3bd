//! The session cookies a response sets, parsed (with the `cookie` crate, as a browser would
//! read them) and checked against everything the contract promises, in one place: every
//! `Set-Cookie` a test looks at goes through [`check`].
//!
//! For every session cookie: `HttpOnly`, `Path=/`, no `Domain`, `SameSite` as configured,
//! `Secure` exactly when configured; a `__Host-` name only with `Secure` (and then `Path=/`
//! and no `Domain`, the browser's rules for the prefix), and a live cookie under the
//! `__Host-` name exactly when `Secure`. A live wallet cookie lives until the session's
//! `x-session-expires-at` (Max-Age to the second, the test clock being fixed); a live user
//! cookie for the user session's lifetime. A deletion has an empty value, `Max-Age=0` and no
//! expiry in the future.

use cookie::Cookie;
use reqwest::header::HeaderMap;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wallet_auth::config::Config;
use wallet_auth::session::user::USER_SESSION_TTL;

/// The wallet session cookie's names: without `Secure`, and with it.
pub const WALLET: [&str; 2] = ["wallet_session", "__Host-wallet_session"];
/// The user session cookie's names: without `Secure`, and with it.
pub const USER: [&str; 2] = ["sid", "__Host-sid"];

/// What the app that answered promises about its cookies.
#[derive(Debug, Clone)]
pub struct CookieRules {
    secure: bool,
    same_site: String,
    /// The app's clock when the response was read.
    now: OffsetDateTime,
}

impl CookieRules {
    pub fn new(config: &Config, now: OffsetDateTime) -> Self {
        Self {
            secure: config.cookies.secure,
            same_site: config.cookies.same_site.as_str().to_owned(),
            now,
        }
    }
}

/// One checked `Set-Cookie`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetCookie {
    pub name: String,
    pub value: String,
    /// Seconds; 0 for a deletion.
    pub max_age: i64,
}

impl SetCookie {
    pub fn is_deletion(&self) -> bool {
        self.max_age == 0
    }
}

/// Parses the `Set-Cookie` header `raw` of a response with `headers`, asserting every
/// attribute (see the module doc).
#[track_caller]
pub fn check(raw: &str, headers: &HeaderMap, rules: &CookieRules) -> SetCookie {
    let c = Cookie::parse(raw).unwrap_or_else(|e| panic!("unparsable Set-Cookie {raw:?}: {e}"));
    let name = c.name();
    let host = name.starts_with("__Host-");
    assert!(
        WALLET.contains(&name) || USER.contains(&name),
        "an unknown cookie: {raw}"
    );
    assert_eq!(c.http_only(), Some(true), "HttpOnly: {raw}");
    assert_eq!(c.path(), Some("/"), "Path=/: {raw}");
    assert_eq!(c.domain(), None, "no Domain: {raw}");
    assert_eq!(
        c.same_site().map(|s| s.to_string()).as_deref(),
        Some(rules.same_site.as_str()),
        "SameSite: {raw}"
    );
    assert_eq!(c.secure().unwrap_or(false), rules.secure, "Secure: {raw}");
    assert!(
        !host || rules.secure,
        "a __Host- cookie needs Secure: {raw}"
    );
    let max_age = c
        .max_age()
        .unwrap_or_else(|| panic!("Max-Age: {raw}"))
        .whole_seconds();
    if max_age == 0 {
        assert_eq!(c.value(), "", "a deletion has no value: {raw}");
        if let Some(at) = c.expires_datetime() {
            assert!(at <= rules.now, "a deletion expires in the past: {raw}");
        }
    } else {
        assert!(!c.value().is_empty(), "a value: {raw}");
        assert_eq!(
            host, rules.secure,
            "__Host- name exactly with Secure: {raw}"
        );
        let expected = if WALLET.contains(&name) {
            let until = headers
                .get("x-session-expires-at")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| OffsetDateTime::parse(v, &Rfc3339).ok())
                .unwrap_or_else(|| panic!("x-session-expires-at beside {raw}"));
            (until - rules.now).whole_seconds()
        } else {
            i64::try_from(USER_SESSION_TTL.as_secs()).expect("TTL in range")
        };
        assert_eq!(max_age, expected, "Max-Age: {raw}");
        if let Some(at) = c.expires_datetime() {
            assert!(at > rules.now, "a live cookie expires in the future: {raw}");
        }
    }
    SetCookie {
        name: name.to_owned(),
        value: c.value().to_owned(),
        max_age,
    }
}
