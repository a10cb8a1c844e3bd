//! The harness's cookie check itself: it accepts the cookies the contract describes and
//! refuses each way of getting one attribute wrong.

use reqwest::header::{HeaderMap, HeaderValue};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use wallet_auth::config::Config;

use crate::harness::cookies::{check, CookieRules};

fn rules(secure: bool) -> (CookieRules, HeaderMap) {
    let mut config = Config::default();
    config.cookies.secure = secure;
    let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
    let mut headers = HeaderMap::new();
    let until = (now + Duration::seconds(7200)).format(&Rfc3339).unwrap();
    headers.insert(
        "x-session-expires-at",
        HeaderValue::from_str(&until).unwrap(),
    );
    (CookieRules::new(&config, now), headers)
}

fn accepted(raw: &str, secure: bool) -> bool {
    let (rules, headers) = rules(secure);
    std::panic::catch_unwind(|| check(raw, &headers, &rules)).is_ok()
}

#[test]
fn the_contracts_cookies_pass() {
    let live = "wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax";
    assert!(accepted(live, false));
    assert!(accepted(
        "__Host-wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax; Secure",
        true
    ));
    assert!(accepted(
        "sid=u; HttpOnly; SameSite=Lax; Path=/; Max-Age=28800",
        false
    ));
    // Deletions, the legacy name's included; an expiry in the past is fine.
    assert!(accepted(
        "wallet_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure",
        true
    ));
    assert!(accepted(
        "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        false
    ));
}

#[test]
fn each_wrong_attribute_is_refused() {
    for (raw, secure) in [
        // No HttpOnly / another Path / a Domain / another SameSite / none.
        ("wallet_session=t; Path=/; Max-Age=7200; SameSite=Lax", false),
        ("wallet_session=t; Path=/api; Max-Age=7200; HttpOnly; SameSite=Lax", false),
        ("wallet_session=t; Path=/; Domain=app.test; Max-Age=7200; HttpOnly; SameSite=Lax", false),
        ("wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Strict", false),
        ("wallet_session=t; Path=/; Max-Age=7200; HttpOnly", false),
        // Secure missing, or present when not configured.
        ("__Host-wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax", true),
        ("wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax; Secure", false),
        // A live cookie under the plain name with Secure, or __Host- without it.
        ("wallet_session=t; Path=/; Max-Age=7200; HttpOnly; SameSite=Lax; Secure", true),
        ("__Host-sid=u; Path=/; Max-Age=28800; HttpOnly; SameSite=Lax", false),
        // Max-Age missing or not the session's.
        ("wallet_session=t; Path=/; HttpOnly; SameSite=Lax", false),
        ("wallet_session=t; Path=/; Max-Age=7199; HttpOnly; SameSite=Lax", false),
        ("sid=u; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax", false),
        // A deletion with a value, or expiring in the future; an unknown cookie.
        ("sid=u; Path=/; Max-Age=0; HttpOnly; SameSite=Lax", false),
        (
            "sid=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            false,
        ),
        ("tracking=x; Path=/; Max-Age=60; HttpOnly; SameSite=Lax", false),
    ] {
        assert!(!accepted(raw, secure), "accepted: {raw} (secure: {secure})");
    }
}
