//! The session cookies: reading them from a request (refusing duplicates), and writing them with
//! the configured attributes (HttpOnly always, Secure unless disabled for local development,
//! SameSite, Path=/, never a Domain).
//!
//! # Names, and cookie tossing
//! A page on a sibling subdomain can plant a cookie of the same name for the parent domain (or
//! for a narrower path), which the browser then sends alongside ours, in an order the server
//! cannot trust. Two defences:
//! - a request carrying a session cookie twice (under the same name, or under both of its
//!   names) is refused as unauthenticated, never resolved by taking one;
//! - with `COOKIE_SECURE`, the cookies are written as `__Host-wallet_session` and `__Host-sid`:
//!   browsers accept a `__Host-` cookie only from the host itself, over HTTPS, with `Path=/` and
//!   no `Domain`, so a sibling cannot plant one. The old names (`wallet_session`, `sid`) are
//!   still read, for one release, and deleted whenever the new cookie is written.

use axum::http::{header, HeaderMap, HeaderValue};
use cookie::{Cookie, SameSite};

use crate::config::{self, Config};

/// Name of the wallet session cookie without `Secure` (and its legacy name with it).
pub const WALLET_COOKIE: &str = "wallet_session";
/// Name of the wallet session cookie with `Secure`.
pub const WALLET_COOKIE_HOST: &str = "__Host-wallet_session";
/// Name of the user session cookie without `Secure` (and its legacy name with it).
pub const USER_COOKIE: &str = "sid";
/// Name of the user session cookie with `Secure`.
pub const USER_COOKIE_HOST: &str = "__Host-sid";

/// A kind of session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCookie {
    /// `wallet_session` / `__Host-wallet_session`.
    Wallet,
    /// `sid` / `__Host-sid`.
    User,
}

/// The request carries the session cookie more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DuplicateCookie;

impl SessionCookie {
    /// Both names of the cookie: plain and `__Host-`.
    #[must_use]
    pub fn names(self) -> [&'static str; 2] {
        match self {
            SessionCookie::Wallet => [WALLET_COOKIE, WALLET_COOKIE_HOST],
            SessionCookie::User => [USER_COOKIE, USER_COOKIE_HOST],
        }
    }

    /// The name written under `config`: `__Host-` with `COOKIE_SECURE`.
    #[must_use]
    pub fn name(self, config: &Config) -> &'static str {
        self.names()[usize::from(config.cookies.secure)]
    }

    /// The session token of the request's cookies, under either name; `Ok(None)` without one.
    ///
    /// # Errors
    /// The cookie is there more than once (same name twice, or both names).
    pub fn read(self, headers: &HeaderMap) -> Result<Option<String>, DuplicateCookie> {
        let names = self.names();
        let mut found = request_cookies(headers).filter(|c| names.contains(&c.name()));
        let first = found.next();
        if found.next().is_some() {
            return Err(DuplicateCookie);
        }
        Ok(first.map(|c| c.value_trimmed().to_owned()))
    }

    /// Appends the `Set-Cookie` headers writing `token` for `max_age_secs` (and, under the
    /// `__Host-` name, deleting the legacy one).
    pub fn append_set(self, h: &mut HeaderMap, config: &Config, token: &str, max_age_secs: i64) {
        append(
            h,
            session_cookie(self.name(config), token, max_age_secs, config),
        );
        if config.cookies.secure {
            append(h, session_cookie(self.names()[0], "", 0, config));
        }
    }

    /// Appends the `Set-Cookie` headers deleting the cookie (under the legacy name too).
    pub fn append_clear(self, h: &mut HeaderMap, config: &Config) {
        append(h, session_cookie(self.name(config), "", 0, config));
        if config.cookies.secure {
            append(h, session_cookie(self.names()[0], "", 0, config));
        }
    }

    /// Whether `h` already sets (or deletes) this cookie under either name.
    #[must_use]
    pub fn is_set_in(self, h: &HeaderMap) -> bool {
        h.get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v).ok())
            .any(|c| self.names().contains(&c.name()))
    }
}

/// Every session cookie the server writes, and every deletion (`max_age_secs` 0, empty
/// value): `Path=/`, `Max-Age`, `HttpOnly`, the configured `SameSite`, `Secure` with
/// `COOKIE_SECURE` (never implied), and never a `Domain`.
fn session_cookie(
    name: &'static str,
    value: &str,
    max_age_secs: i64,
    config: &Config,
) -> Cookie<'static> {
    Cookie::build((name, value.to_owned()))
        .path("/")
        .max_age(cookie::time::Duration::seconds(max_age_secs.max(0)))
        .http_only(true)
        .same_site(match config.cookies.same_site {
            config::SameSite::Lax => SameSite::Lax,
            config::SameSite::Strict => SameSite::Strict,
            config::SameSite::None => SameSite::None,
        })
        .secure(config.cookies.secure)
        .build()
}

fn append(h: &mut HeaderMap, cookie: Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        h.append(header::SET_COOKIE, v);
    }
}

/// The cookies of the request's `Cookie` headers (pairs that do not parse are skipped).
fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = Cookie<'_>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
}

/// The value of cookie `name` in the request's `Cookie` headers (the first, when repeated:
/// session cookies are read with [`SessionCookie::read`], which refuses repeats).
#[must_use]
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    request_cookies(headers)
        .find(|c| c.name() == name)
        .map(|c| c.value_trimmed().to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(cookies: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for c in cookies {
            h.append(header::COOKIE, HeaderValue::from_str(c).unwrap());
        }
        h
    }

    #[test]
    fn duplicates_are_refused_under_either_name() {
        let w = SessionCookie::Wallet;
        assert_eq!(w.read(&headers(&[])), Ok(None));
        assert_eq!(
            w.read(&headers(&["a=1; wallet_session=t; sid=u"])),
            Ok(Some("t".into()))
        );
        assert_eq!(
            w.read(&headers(&["__Host-wallet_session=\"t\""])),
            Ok(Some("t".into()))
        );
        for bad in [
            &["wallet_session=t; wallet_session=u"][..],
            &["wallet_session=t; wallet_session=t"],
            &["wallet_session=t", "wallet_session=u"],
            &["wallet_session=t; __Host-wallet_session=u"],
            &["wallet_session=t;wallet_session="],
        ] {
            assert_eq!(w.read(&headers(bad)), Err(DuplicateCookie), "{bad:?}");
        }
        let u = SessionCookie::User;
        assert_eq!(
            u.read(&headers(&["sid=a; wallet_session=b"])),
            Ok(Some("a".into()))
        );
        assert_eq!(
            u.read(&headers(&["sid=a; __Host-sid=b"])),
            Err(DuplicateCookie)
        );
        assert_eq!(u.read(&headers(&["xsid=a; sid=b"])), Ok(Some("b".into())));
    }

    #[test]
    fn host_prefix_with_secure() {
        let mut c = Config::default();
        let mut h = HeaderMap::new();
        SessionCookie::Wallet.append_set(&mut h, &c, "tok", 60);
        let set: Vec<Cookie> = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| Cookie::parse(v.to_str().unwrap().to_owned()).unwrap())
            .collect();
        assert_eq!(set.len(), 2);
        assert_eq!(
            (set[0].name(), set[0].value()),
            ("__Host-wallet_session", "tok")
        );
        assert_eq!(set[0].path(), Some("/"));
        assert_eq!(set[0].max_age(), Some(cookie::time::Duration::seconds(60)));
        assert_eq!(set[0].http_only(), Some(true));
        assert_eq!(set[0].secure(), Some(true));
        assert_eq!(set[0].same_site(), Some(SameSite::Lax));
        assert_eq!(set[0].domain(), None);
        assert_eq!((set[1].name(), set[1].value()), ("wallet_session", ""));
        assert_eq!(set[1].max_age(), Some(cookie::time::Duration::ZERO));
        assert_eq!(set[1].http_only(), Some(true));
        c.cookies.secure = false;
        c.cookies.same_site = config::SameSite::Strict;
        let mut h = HeaderMap::new();
        SessionCookie::User.append_set(&mut h, &c, "tok", 60);
        let set: Vec<_> = h.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(set.len(), 1);
        let v = set[0].to_str().unwrap();
        assert!(v.starts_with("sid=tok;"), "{v}");
        let parsed = Cookie::parse(v).unwrap();
        assert_eq!(parsed.secure(), None, "{v}");
        assert_eq!(parsed.same_site(), Some(SameSite::Strict));
        assert!(SessionCookie::User.is_set_in(&h));
        assert!(!SessionCookie::Wallet.is_set_in(&h));
    }
}
