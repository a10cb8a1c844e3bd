//! Session binding (`SESSION_BINDING`): a coarse device fingerprint of the User-Agent in
//! `device` mode (a mismatch is refused and audited, the session lives on), fingerprint and IP
//! in `strict` mode (a mismatch revokes), nothing with `off`.

use reqwest::StatusCode;
use serde_json::Value;
use wallet_auth::config::Binding;

use crate::harness::app::{spawn_app_with, Backend, Resp, TestApp, Wallet, ADMIN};
use crate::on_every_backend;

on_every_backend!(
    browser_update_keeps_the_session,
    another_browser_is_refused_and_audited_but_the_session_lives,
    no_user_agent_is_no_device,
    strict_mismatch_revokes,
    strict_binding_keeps_the_session_across_browser_updates,
    off_binds_nothing,
);

const CHROME_120_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const CHROME_131_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36";
const FIREFOX_WIN: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Safari/605.1.15";

/// Signs `wallet` in with this user agent (and, when given, this forwarded client IP).
async fn sign_in_as(app: &TestApp, wallet: &Wallet, ua: &str, ip: Option<&str>) -> String {
    let body = app.signed_body(wallet).await;
    let mut rb = app
        .http
        .post(app.url("/auth/verify"))
        .header("user-agent", ua)
        .json(&body);
    if let Some(ip) = ip {
        rb = rb.header("x-forwarded-for", ip);
    }
    let r = app.send(rb).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["token"].as_str().unwrap().to_owned()
}

/// `GET /api/me` with the token, from this user agent (`None`: no User-Agent header at all)
/// and forwarded IP.
async fn me_as(app: &TestApp, token: &str, ua: Option<&str>, ip: Option<&str>) -> Resp {
    // A client with no default user agent, so that `None` sends none.
    let client = reqwest::Client::new();
    let mut rb = client.get(app.url("/api/me")).bearer_auth(token);
    if let Some(ua) = ua {
        rb = rb.header("user-agent", ua);
    }
    if let Some(ip) = ip {
        rb = rb.header("x-forwarded-for", ip);
    }
    app.send(rb).await
}

async fn wallet_events(app: &TestApp, w: &Wallet) -> Vec<Value> {
    let r = app
        .get(
            &format!("/admin/audit?wallet={}&limit=100", w.address),
            Some(ADMIN),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"].as_array().unwrap().clone()
}

async fn browser_update_keeps_the_session(b: Backend) {
    let app = spawn_app_with(b, |c| c.sessions.binding = Binding::Device).await;
    let w = Wallet::ethereum();
    let t = sign_in_as(&app, &w, CHROME_120_WIN, None).await;
    let r = me_as(&app, &t, Some(CHROME_131_WIN), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // And back: the stored record still holds the sign-in user agent, and both match it.
    let r = me_as(&app, &t, Some(CHROME_120_WIN), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!wallet_events(&app, &w)
        .await
        .iter()
        .any(|e| e["kind"] == "binding_mismatch"));
}

async fn another_browser_is_refused_and_audited_but_the_session_lives(b: Backend) {
    // The default binding is `device`.
    let app = spawn_app_with(b, |_| {}).await;
    assert_eq!(app.config.sessions.binding, Binding::Device);
    let w = Wallet::ethereum();
    let t = sign_in_as(&app, &w, SAFARI_MAC, None).await;
    for other in [FIREFOX_WIN, CHROME_131_WIN, SAFARI_IPHONE, "curl/8.4.0"] {
        me_as(&app, &t, Some(other), None)
            .await
            .assert_error(401, "session_binding_mismatch");
        // Still valid on its own device, after every refusal.
        let r = me_as(&app, &t, Some(SAFARI_MAC), None).await;
        assert_eq!(r.status, StatusCode::OK, "{other}: {}", r.body);
    }
    let events = wallet_events(&app, &w).await;
    let mismatches: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "binding_mismatch")
        .collect();
    assert_eq!(mismatches.len(), 4, "{events:?}");
    assert!(mismatches.iter().all(|e| e["code"] == "device_mismatch"
        && e["count"].is_null()
        && e["sessionId"].is_string()));
    let devices: Vec<&str> = mismatches
        .iter()
        .map(|e| e["device"].as_str().unwrap())
        .collect();
    assert!(devices.contains(&"firefox/windows"), "{devices:?}");
    assert!(devices.contains(&"safari/ios"), "{devices:?}");
    // The session is still listed and counted.
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(s.body["activeSessions"]["total"], 1, "{}", s.body);
}

async fn no_user_agent_is_no_device(b: Backend) {
    let app = spawn_app_with(b, |c| c.sessions.binding = Binding::Device).await;
    let w = Wallet::solana();
    // A browser's session cannot be used without a user agent.
    let t = sign_in_as(&app, &w, CHROME_131_WIN, None).await;
    me_as(&app, &t, None, None)
        .await
        .assert_error(401, "session_binding_mismatch");
    me_as(&app, &t, Some(""), None)
        .await
        .assert_error(401, "session_binding_mismatch");
    // A session opened without one is not usable from a browser either.
    let body = app.signed_body(&w).await;
    let r = app
        .send(
            reqwest::Client::new()
                .post(app.url("/auth/verify"))
                .json(&body),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bare = r.body["token"].as_str().unwrap().to_owned();
    me_as(&app, &bare, Some(CHROME_131_WIN), None)
        .await
        .assert_error(401, "session_binding_mismatch");
    assert_eq!(me_as(&app, &bare, None, None).await.status, StatusCode::OK);
}

async fn strict_mismatch_revokes(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sessions.binding = Binding::Strict;
        c.http.trust_proxy = true;
    })
    .await;
    let w = Wallet::solana();
    let ip = "203.0.113.7";
    let t = sign_in_as(&app, &w, FIREFOX_WIN, Some(ip)).await;
    assert_eq!(
        me_as(&app, &t, Some(FIREFOX_WIN), Some(ip)).await.status,
        StatusCode::OK
    );
    me_as(&app, &t, Some(FIREFOX_WIN), Some("198.51.100.9"))
        .await
        .assert_error(401, "session_binding_mismatch");
    // Revoked, for the owner too.
    me_as(&app, &t, Some(FIREFOX_WIN), Some(ip))
        .await
        .assert_error(401, "unauthenticated");
    let events = wallet_events(&app, &w).await;
    assert!(
        events.iter().any(|e| e["kind"] == "binding_mismatch"
            && e["code"] == "ip_mismatch"
            && e["count"] == 1
            && e["ip"] == "198.51.100.9"),
        "{events:?}"
    );
    // Another browser from the same IP revokes as well.
    let t = sign_in_as(&app, &w, FIREFOX_WIN, Some(ip)).await;
    me_as(&app, &t, Some(CHROME_131_WIN), Some(ip))
        .await
        .assert_error(401, "session_binding_mismatch");
    me_as(&app, &t, Some(FIREFOX_WIN), Some(ip))
        .await
        .assert_error(401, "unauthenticated");
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(s.body["activeSessions"]["total"], 0, "{}", s.body);
}

async fn strict_binding_keeps_the_session_across_browser_updates(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sessions.binding = Binding::Strict;
        c.http.trust_proxy = true;
    })
    .await;
    let t = sign_in_as(
        &app,
        &Wallet::ethereum(),
        CHROME_120_WIN,
        Some("203.0.113.7"),
    )
    .await;
    let r = me_as(&app, &t, Some(CHROME_131_WIN), Some("203.0.113.7")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

async fn off_binds_nothing(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sessions.binding = Binding::Off;
        c.http.trust_proxy = true;
    })
    .await;
    let t = sign_in_as(
        &app,
        &Wallet::ethereum(),
        CHROME_120_WIN,
        Some("203.0.113.7"),
    )
    .await;
    for (ua, ip) in [
        (Some(FIREFOX_WIN), "198.51.100.9"),
        (None, "192.0.2.1"),
        (Some(SAFARI_IPHONE), "203.0.113.7"),
    ] {
        let r = me_as(&app, &t, ua, Some(ip)).await;
        assert_eq!(r.status, StatusCode::OK, "{ua:?}: {}", r.body);
    }
}
