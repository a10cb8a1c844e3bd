//! Using, refreshing, rotating, listing and ending wallet sessions.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;
use wallet_auth::session::wallet::wallet_tag;
use wallet_auth::verify::Chain;

use crate::harness::app::{spawn_app, spawn_app_with, spawn_sibling, Backend, Wallet, UA};
use crate::on_every_backend;

on_every_backend!(
    validation_says_what_happened,
    every_authenticated_response_carries_the_expiry,
    refresh_window_extends_in_place,
    absolute_lifetime_caps_refresh,
    session_expires_without_use,
    per_wallet_limit_evicts_oldest_under_concurrency,
    rotation_grace_then_reuse_detection,
    reuse_of_any_retired_token_revokes_the_session,
    rotations_are_rate_limited_and_bounded_in_the_store,
    concurrent_rotations_one_winner,
    logout_ends_only_the_current_session,
    logout_all_ends_every_session_on_every_instance,
    list_and_revoke_sessions,
    cannot_revoke_another_wallets_session,
    cookie_auth_requires_csrf_for_unsafe_methods,
    optional_session_treats_bad_tokens_as_anonymous,
    preferences_are_kept_encrypted,
    wallets_are_isolated,
);

async fn every_authenticated_response_carries_the_expiry(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.token(&Wallet::ethereum()).await;
    for path in [
        "/api/me",
        "/auth/session",
        "/auth/sessions",
        "/api/preferences",
    ] {
        let r = app.get(path, Some(&t)).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let exp = r
            .header("x-session-expires-at")
            .unwrap_or_else(|| panic!("{path}"));
        assert!(
            time::OffsetDateTime::parse(&exp, &time::format_description::well_known::Rfc3339)
                .is_ok()
        );
        assert!(
            r.header("x-session-refreshed").is_none(),
            "{path}: not in the window"
        );
    }
    let s = app.get("/auth/session", Some(&t)).await;
    assert!(
        s.body.get("token").is_none(),
        "the session view never shows the token"
    );
    assert!(s.body["csrfToken"].is_string());
}

async fn refresh_window_extends_in_place(b: Backend) {
    let app = spawn_app(b).await;
    let signin = app.sign_in(&Wallet::ethereum()).await;
    let t = signin.body["token"].as_str().unwrap().to_owned();
    let first_exp = signin.body["expiresAt"].as_str().unwrap().to_owned();
    // 1 h in: outside the window, nothing changes.
    app.clock.advance(Duration::from_secs(3600));
    let r = app.get("/api/me", Some(&t)).await;
    assert_eq!(
        r.header("x-session-expires-at").as_deref(),
        Some(first_exp.as_str())
    );
    assert!(r.header("x-session-refreshed").is_none());
    // 1 h 40 min in: inside the last 30 min, extended to now + 2 h, same token.
    app.clock.advance(Duration::from_secs(40 * 60));
    let r = app.get("/api/me", Some(&t)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("x-session-refreshed").as_deref(), Some("true"));
    let new_exp = r.header("x-session-expires-at").unwrap();
    let expect = app.clock_now() + time::Duration::hours(2);
    let got = time::OffsetDateTime::parse(&new_exp, &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!(
        (got - expect).abs() < time::Duration::seconds(2),
        "{got} vs {expect}"
    );
    // Still valid 2 h after sign-in (it would have expired without the refresh).
    app.clock.advance(Duration::from_secs(30 * 60));
    let r = app.get("/api/me", Some(&t)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("x-session-refreshed").is_none(),
        "out of the window again"
    );
}

async fn absolute_lifetime_caps_refresh(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sessions.max_lifetime = Duration::from_secs(5 * 3600)
    })
    .await;
    let t = app.token(&Wallet::solana()).await;
    // Keep using it in each refresh window: 1h45, 3h30, then the cap (5 h) binds.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(105 * 60));
        let r = app.get("/api/me", Some(&t)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.header("x-session-refreshed").as_deref(), Some("true"));
    }
    app.clock.advance(Duration::from_secs(80 * 60)); // 4h50: in the window, capped at 5h
    let r = app.get("/api/me", Some(&t)).await;
    assert_eq!(r.status, StatusCode::OK);
    let exp = r.header("x-session-expires-at").unwrap();
    let exp =
        time::OffsetDateTime::parse(&exp, &time::format_description::well_known::Rfc3339).unwrap();
    assert!(
        exp - app.clock_now() <= time::Duration::minutes(10) + time::Duration::seconds(1),
        "capped: {exp}"
    );
    app.clock.advance(Duration::from_secs(11 * 60));
    app.get("/api/me", Some(&t))
        .await
        .assert_error(401, "unauthenticated");
}

async fn session_expires_without_use(b: Backend) {
    let app = spawn_app(b).await;
    let t = app.token(&Wallet::ethereum()).await;
    app.clock.advance(Duration::from_secs(2 * 3600 + 1));
    app.get("/api/me", Some(&t))
        .await
        .assert_error(401, "unauthenticated");
}

async fn per_wallet_limit_evicts_oldest_under_concurrency(b: Backend) {
    let app = spawn_app(b).await;
    let w = std::sync::Arc::new(Wallet::ethereum());
    let oldest = app.token(&w).await;
    let mut bodies = Vec::new();
    for _ in 0..20 {
        bodies.push(app.signed_body(&w).await);
    }
    app.clock.advance(Duration::from_secs(1));
    let mut tasks = Vec::new();
    for body in bodies {
        let http = app.http.clone();
        let url = app.url("/auth/verify");
        tasks.push(tokio::spawn(async move {
            http.post(url).json(&body).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let listed = app
        .state
        .sessions()
        .list(&wallet_tag(Chain::Ethereum, &w.address))
        .await
        .unwrap();
    assert_eq!(
        listed.len(),
        5,
        "the limit holds under 20 concurrent sign-ins"
    );
    let active = app
        .state
        .sessions()
        .count_active(Chain::Ethereum)
        .await
        .unwrap();
    assert_eq!(active, 5, "evicted sessions leave the active count");
    app.get("/api/me", Some(&oldest))
        .await
        .assert_error(401, "unauthenticated");
    let t = app.token(&w).await;
    let r = app.get("/auth/sessions", Some(&t)).await;
    assert_eq!(r.body["sessions"].as_array().unwrap().len(), 5);
}

async fn rotation_grace_then_reuse_detection(b: Backend) {
    let app = spawn_app(b).await;
    let old = app.token(&Wallet::ethereum()).await;
    let r = app.post("/auth/refresh", Some(&old), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let new = r.body["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(r.session_cookie().as_deref(), Some(new.as_str()));
    // In-flight grace: the old token still works for up to 30 s.
    app.clock.advance(Duration::from_secs(10));
    assert_eq!(app.get("/api/me", Some(&old)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/me", Some(&new)).await.status, StatusCode::OK);
    // After the grace, the old token is a stolen token: the session is revoked.
    app.clock.advance(Duration::from_secs(25));
    app.get("/api/me", Some(&old))
        .await
        .assert_error(401, "unauthenticated");
    app.get("/api/me", Some(&new))
        .await
        .assert_error(401, "unauthenticated");
}

/// A thief rotates a stolen token twice (or more): replaying ANY token the session retired,
/// after its grace, revokes the whole session — the thief's newest token included — and is
/// audited as token reuse. Inside its grace, each retired token is served (never rotating).
async fn reuse_of_any_retired_token_revokes_the_session(b: Backend) {
    let app = spawn_app(b).await;
    for replayed in 0..3 {
        let w = Wallet::ethereum();
        let mut tokens = vec![app.token(&w).await];
        for _ in 0..3 {
            let r = app
                .post("/auth/refresh", tokens.last().map(String::as_str), None)
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            tokens.push(r.body["token"].as_str().unwrap().to_owned());
            app.clock.advance(Duration::from_secs(1));
        }
        // Inside their grace, every retired token is served from the current session...
        app.clock.advance(Duration::from_secs(10));
        for t in &tokens {
            let r = app.get("/api/me", Some(t)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
        // ... but cannot rotate.
        app.post("/auth/refresh", Some(&tokens[replayed]), None)
            .await
            .assert_error(401, "unauthenticated");
        // After the grace, replaying any of them revokes the session everywhere.
        app.clock.advance(Duration::from_secs(30));
        app.get("/api/me", Some(&tokens[replayed]))
            .await
            .assert_error(401, "unauthenticated");
        for t in &tokens {
            app.get("/api/me", Some(t))
                .await
                .assert_error(401, "unauthenticated");
        }
        let listed = app
            .state
            .sessions()
            .list(&wallet_tag(Chain::Ethereum, &w.address))
            .await
            .unwrap();
        assert!(listed.is_empty(), "replaying token {replayed}: {listed:?}");
        let audit = app.state.audit().read(Some(&w.address), 20).await.unwrap();
        assert!(
            audit
                .iter()
                .any(|e| e.kind == wallet_auth::session::AuditKind::TokenReuse),
            "audited as token reuse: {audit:?}"
        );
    }
}

/// Back-to-back rotations: the store keeps at most one retired-token list per session (three
/// keys in all on Redis, however many rotations), and rotations beyond the per-session limits
/// are refused with `429 rate_limited` and `Retry-After`, the current token still working.
async fn rotations_are_rate_limited_and_bounded_in_the_store(b: Backend) {
    use wallet_auth::session::wallet::{MAX_RETIRED_TOKENS, ROTATION_BURST};
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let tag = wallet_tag(Chain::Solana, &w.address);
    let mut token = app.token(&w).await;
    let (mut rotated, mut refused) = (0, 0);
    // 100 rotations back to back: the burst limit.
    for _ in 0..100 {
        let r = app.post("/auth/refresh", Some(&token), None).await;
        if r.status == StatusCode::OK {
            token = r.body["token"].as_str().unwrap().to_owned();
            rotated += 1;
        } else {
            r.assert_error(429, "rate_limited");
            let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            refused += 1;
        }
    }
    assert_eq!((rotated, refused), (ROTATION_BURST, 100 - ROTATION_BURST));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    // 300 more, 2 s apart: the history limit of the detection window (the session lifetime).
    for _ in 0..300 {
        app.clock.advance(Duration::from_secs(2));
        let r = app.post("/auth/refresh", Some(&token), None).await;
        if r.status == StatusCode::OK {
            token = r.body["token"].as_str().unwrap().to_owned();
            rotated += 1;
        } else {
            r.assert_error(429, "rate_limited");
            assert!(r.header("retry-after").is_some());
        }
    }
    assert_eq!(rotated, MAX_RETIRED_TOKENS);
    let r = app.post("/auth/refresh", Some(&token), None).await;
    r.assert_error(429, "rate_limited");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(
        wait > 60 && wait <= 2 * 3600 + 30,
        "until the oldest leaves the window: {wait}"
    );
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    if let Some(url) = app.store_url.as_ref().filter(|_| b.is_redis()) {
        let keys = redis_keys(url, &format!("{}{{{tag}}}*", app.config.store.redis_prefix)).await;
        // The wallet's own audit logs (`:la`, `:ls`) are bounded on their own (tests/integration/api/audit.rs),
        // and its account claim (`:a`) is one key per wallet whatever its sessions;
        // the session itself is its record, the wallet index and one retired list.
        let session_keys: Vec<_> = keys
            .iter()
            .filter(|k| !k.ends_with(":la") && !k.ends_with(":ls") && !k.ends_with(":a"))
            .collect();
        assert_eq!(
            session_keys.len(),
            3,
            "record, index and one retired list: {keys:?}"
        );
        assert!(keys.len() <= 6, "{keys:?}");
    }
}

/// Every key matching `pattern` on every node behind `url` (one URL, or a cluster's list).
async fn redis_keys(url: &str, pattern: &str) -> Vec<String> {
    let mut out = Vec::new();
    for node in url.split(',') {
        let client = ::redis::Client::open(node).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut cursor: u64 = 0;
        loop {
            let (next, batch): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut c)
                .await
                .unwrap();
            out.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    out.sort();
    out
}

async fn concurrent_rotations_one_winner(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let t = app.token(&w).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let http = app.http.clone();
        let url = app.url("/auth/refresh");
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url).bearer_auth(t).send().await.unwrap().status()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        if task.await.unwrap() == StatusCode::OK {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "one rotation wins");
    let listed = app
        .state
        .sessions()
        .list(&wallet_tag(Chain::Solana, &w.address))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "no orphan sessions");
}

async fn logout_ends_only_the_current_session(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let a = app.token(&w).await;
    let bt = app.token(&w).await;
    let r = app.post("/auth/logout", Some(&a), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.deletes("wallet_session"));
    app.get("/api/me", Some(&a))
        .await
        .assert_error(401, "unauthenticated");
    assert_eq!(app.get("/api/me", Some(&bt)).await.status, StatusCode::OK);
}

async fn logout_all_ends_every_session_on_every_instance(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let other = Wallet::ethereum();
    let tokens: Vec<String> = futures::future::join_all((0..3).map(|_| app.token(&w))).await;
    let keep = app.token(&other).await;
    if b != Backend::Memory {
        // A second instance sharing the Redis sees the sessions, and their end.
        let sib = spawn_sibling(&app).await;
        assert_eq!(
            sib.get("/api/me", Some(&tokens[0])).await.status,
            StatusCode::OK
        );
        let r = sib.post("/auth/logout-all", Some(&tokens[1]), None).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, json!({"revoked": 3}));
        for t in &tokens {
            app.get("/api/me", Some(t))
                .await
                .assert_error(401, "unauthenticated");
            sib.get("/api/me", Some(t))
                .await
                .assert_error(401, "unauthenticated");
        }
    } else {
        let r = app.post("/auth/logout-all", Some(&tokens[1]), None).await;
        assert_eq!(r.body, json!({"revoked": 3}));
        for t in &tokens {
            app.get("/api/me", Some(t))
                .await
                .assert_error(401, "unauthenticated");
        }
    }
    assert_eq!(
        app.get("/api/me", Some(&keep)).await.status,
        StatusCode::OK,
        "other wallets untouched"
    );
}

async fn list_and_revoke_sessions(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let a = app.token(&w).await;
    let second = app.sign_in(&w).await;
    let bt = second.body["token"].as_str().unwrap().to_owned();
    let r = app.get("/auth/sessions", Some(&a)).await;
    let list = r.body["sessions"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    for s in &list {
        for f in [
            "sessionId",
            "createdAt",
            "lastSeenAt",
            "expiresAt",
            "userAgent",
            "ip",
        ] {
            assert!(s[f].is_string(), "{f}: {s}");
        }
        assert_eq!(s["userAgent"], UA);
        assert_eq!(s["ip"], "127.0.0.1");
    }
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let sid = second.body["sessionId"].as_str().unwrap();
    let r = app
        .call(
            Method::DELETE,
            &format!("/auth/sessions/{sid}"),
            Some(&a),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.get("/api/me", Some(&bt))
        .await
        .assert_error(401, "unauthenticated");
    app.call(
        Method::DELETE,
        &format!("/auth/sessions/{sid}"),
        Some(&a),
        None,
    )
    .await
    .assert_error(404, "not_found");
}

async fn cannot_revoke_another_wallets_session(b: Backend) {
    let app = spawn_app(b).await;
    let mine = app.token(&Wallet::ethereum()).await;
    let theirs = app.sign_in(&Wallet::ethereum()).await;
    let sid = theirs.body["sessionId"].as_str().unwrap();
    app.call(
        Method::DELETE,
        &format!("/auth/sessions/{sid}"),
        Some(&mine),
        None,
    )
    .await
    .assert_error(404, "not_found");
    assert_eq!(
        app.get("/api/me", theirs.body["token"].as_str())
            .await
            .status,
        StatusCode::OK
    );
}

async fn cookie_auth_requires_csrf_for_unsafe_methods(b: Backend) {
    let app = spawn_app_with(b, |c| c.origins.cors = vec!["https://dapp.example".into()]).await;
    let r = app.sign_in(&Wallet::ethereum()).await;
    let cookie = format!("wallet_session={}", r.session_cookie().unwrap());
    let csrf = r.body["csrfToken"].as_str().unwrap();
    // Safe method with the cookie: fine.
    let me = app
        .http
        .get(app.url("/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // A forged cross-site POST: refused, and the session is still there.
    let forged = app
        .send(
            app.request(Method::PUT, "/api/preferences")
                .header("cookie", &cookie)
                .json(&json!({"theme": "dark"})),
        )
        .await;
    forged.assert_error(403, "csrf_failed");
    let wrong = app
        .send(
            app.request(Method::PUT, "/api/preferences")
                .header("cookie", &cookie)
                .header("x-csrf-token", "nope")
                .header("origin", "https://evil.example")
                .json(&json!({"theme": "dark"})),
        )
        .await;
    wrong.assert_error(403, "csrf_failed");
    // With the CSRF token, or from an allowed origin: accepted.
    let ok = app
        .http
        .put(app.url("/api/preferences"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({"theme": "dark"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let ok = app
        .http
        .put(app.url("/api/preferences"))
        .header("cookie", &cookie)
        .header("origin", "https://dapp.example")
        .json(&json!({"theme": "light"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    // Bearer requests need no CSRF token.
    let t = r.body["token"].as_str().unwrap();
    let ok = app
        .call(
            Method::PUT,
            "/api/preferences",
            Some(t),
            Some(json!({"a": 1})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    // Logout by cookie with the token works and clears the cookie.
    let out = app
        .http
        .post(app.url("/auth/logout"))
        .header("cookie", &cookie)
        .header("x-csrf-token", csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
}

async fn optional_session_treats_bad_tokens_as_anonymous(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let t = app.token(&w).await;
    let r = app.get("/api/public/hello", None).await;
    assert_eq!(r.body, json!({"authenticated": false}));
    let r = app.get("/api/public/hello", Some(&t)).await;
    assert_eq!(
        r.body,
        json!({"authenticated": true, "chain": "ethereum", "address": w.address})
    );
    for bad in [
        "garbage",
        "aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "",
    ] {
        let r = app.get("/api/public/hello", Some(bad)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, json!({"authenticated": false}));
    }
    app.clock.advance(Duration::from_secs(3 * 3600));
    let r = app.get("/api/public/hello", Some(&t)).await;
    assert_eq!(
        r.body,
        json!({"authenticated": false}),
        "expired: anonymous"
    );
}

async fn preferences_are_kept_encrypted(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let t = app.token(&w).await;
    assert_eq!(app.get("/api/preferences", Some(&t)).await.body, json!({}));
    let prefs = json!({"theme": "dark", "secretNote": "plaintext-marker-123"});
    let r = app
        .call(
            Method::PUT,
            "/api/preferences",
            Some(&t),
            Some(prefs.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Another session of the same wallet sees them.
    let t2 = app.token(&w).await;
    assert_eq!(app.get("/api/preferences", Some(&t2)).await.body, prefs);
    let raw = app
        .state
        .store()
        .get(&format!(
            "prefs:{}",
            wallet_tag(Chain::Ethereum, &w.address)
        ))
        .await
        .unwrap()
        .unwrap();
    assert!(
        !raw.windows(b"plaintext-marker".len())
            .any(|x| x == b"plaintext-marker"),
        "encrypted at rest"
    );
    app.call(
        Method::PUT,
        "/api/preferences",
        Some(&t),
        Some(json!([1, 2])),
    )
    .await
    .assert_error(400, "bad_request");
    let big = json!({"x": "y".repeat(5000)});
    app.call(Method::PUT, "/api/preferences", Some(&t), Some(big))
        .await
        .assert_error(413, "payload_too_large");
}

async fn wallets_are_isolated(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.token(&Wallet::ethereum()).await;
    let bt = app.token(&Wallet::ethereum()).await;
    app.call(
        Method::PUT,
        "/api/preferences",
        Some(&a),
        Some(json!({"who": "a"})),
    )
    .await;
    assert_eq!(app.get("/api/preferences", Some(&bt)).await.body, json!({}));
    let la = app.get("/auth/sessions", Some(&a)).await.body["sessions"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(la, 1);
}

mod ending {
    use super::*;
    on_every_backend!(
        ending_the_current_session_in_the_refresh_window_sends_nothing_back,
        rotation_in_the_refresh_window_sends_only_the_new_cookie,
        duplicate_wallet_cookies_are_refused,
        host_prefixed_wallet_cookie_when_secure,
    );
}

/// Logout, logout-all and deleting the current session inside the refresh window: the
/// response carries no renewed cookie and no session headers, only the deletion.
async fn ending_the_current_session_in_the_refresh_window_sends_nothing_back(b: Backend) {
    let app = spawn_app(b).await;
    for action in [
        "logout",
        "logout-all",
        "delete-current",
        "delete-current-bearer",
    ] {
        let w = Wallet::ethereum();
        let r = app.sign_in(&w).await;
        let token = r.session_cookie().unwrap();
        let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
        let sid = r.body["sessionId"].as_str().unwrap().to_owned();
        // 1 h 40 min of 2 h: inside the 30 min refresh window.
        app.clock.advance(Duration::from_secs(100 * 60));
        let cookie = format!("wallet_session={token}");
        let auth = format!("Bearer {token}");
        let csrf_h = ("x-csrf-token", csrf.as_str());
        let path = format!("/auth/sessions/{sid}");
        let res = match action {
            "logout" => {
                app.with_cookies(Method::POST, "/auth/logout", &[&cookie], &[csrf_h])
                    .await
            }
            "logout-all" => {
                app.with_cookies(Method::POST, "/auth/logout-all", &[&cookie], &[csrf_h])
                    .await
            }
            "delete-current" => {
                app.with_cookies(Method::DELETE, &path, &[&cookie], &[csrf_h])
                    .await
            }
            _ => {
                app.with_cookies(Method::DELETE, &path, &[], &[("authorization", &auth)])
                    .await
            }
        };
        assert!(res.status.is_success(), "{action}: {}", res.body);
        assert!(
            res.header("x-session-refreshed").is_none(),
            "{action}: no refresh header"
        );
        assert!(
            res.header("x-session-expires-at").is_none(),
            "{action}: no expiry header"
        );
        for c in res.set_cookies() {
            assert!(c.is_deletion(), "{action}: only deletions: {c:?}");
        }
        if action != "delete-current-bearer" {
            assert!(
                res.deletes("wallet_session"),
                "{action}: the cookie is deleted"
            );
        }
        app.get("/api/me", Some(&token))
            .await
            .assert_error(401, "unauthenticated");
    }
    // Deleting another session in the window: this one lives on and is renewed as usual.
    let w = Wallet::ethereum();
    let r = app.sign_in(&w).await;
    let token = r.session_cookie().unwrap();
    let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
    let other = app.sign_in(&w).await.body["sessionId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(Duration::from_secs(100 * 60));
    let res = app
        .with_cookies(
            Method::DELETE,
            &format!("/auth/sessions/{other}"),
            &[&format!("wallet_session={token}")],
            &[("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(res.header("x-session-refreshed").as_deref(), Some("true"));
    assert_eq!(res.only_cookie("wallet_session"), token);
}

/// Rotation inside the refresh window: the response sets the new token only.
async fn rotation_in_the_refresh_window_sends_only_the_new_cookie(b: Backend) {
    let app = spawn_app(b).await;
    let r = app.sign_in(&Wallet::solana()).await;
    let token = r.session_cookie().unwrap();
    let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::from_secs(100 * 60));
    let res = app
        .with_cookies(
            Method::POST,
            "/auth/refresh",
            &[&format!("wallet_session={token}")],
            &[("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let new = res.only_cookie("wallet_session");
    assert_eq!(new, res.body["token"].as_str().unwrap());
    assert_ne!(new, token);
    assert!(res.set_cookies().iter().all(|c| c.value != token));
}

/// Two wallet session cookies (a tossed one from a sibling subdomain, or one with another
/// path) are refused, whichever comes first, and on public routes the caller is anonymous.
async fn duplicate_wallet_cookies_are_refused(b: Backend) {
    let app = spawn_app(b).await;
    let mine = app.sign_in(&Wallet::ethereum()).await;
    let csrf = mine.body["csrfToken"].as_str().unwrap().to_owned();
    let mine = mine.session_cookie().unwrap();
    let theirs = app
        .sign_in(&Wallet::ethereum())
        .await
        .session_cookie()
        .unwrap();
    for cookies in [
        vec![format!("wallet_session={theirs}; wallet_session={mine}")],
        vec![format!("wallet_session={mine}; wallet_session={theirs}")],
        vec![format!("wallet_session={mine}; wallet_session={mine}")],
        vec![format!("wallet_session={mine}; wallet_session=")],
        vec![
            format!("wallet_session={mine}"),
            format!("wallet_session={theirs}"),
        ],
        vec![format!(
            "wallet_session={mine}; __Host-wallet_session={theirs}"
        )],
    ] {
        let refs: Vec<&str> = cookies.iter().map(String::as_str).collect();
        app.with_cookies(Method::GET, "/api/me", &refs, &[])
            .await
            .assert_error(401, "unauthenticated");
        app.with_cookies(
            Method::POST,
            "/auth/logout",
            &refs,
            &[("x-csrf-token", &csrf)],
        )
        .await
        .assert_error(401, "unauthenticated");
        let hello = app
            .with_cookies(Method::GET, "/api/public/hello", &refs, &[])
            .await;
        assert_eq!(hello.body["authenticated"], false, "{cookies:?}");
    }
    let one = format!("wallet_session={mine}");
    assert_eq!(
        app.with_cookies(Method::GET, "/api/me", &[&one], &[])
            .await
            .status,
        StatusCode::OK,
        "refused, not ended"
    );
}

/// With `COOKIE_SECURE` (and no cookie domain) the wallet cookie is `__Host-wallet_session`,
/// which a sibling subdomain cannot plant; the old name is still read for a release, and
/// deleted whenever the new one is set.
async fn host_prefixed_wallet_cookie_when_secure(b: Backend) {
    let app = spawn_app_with(b, |c| c.cookies.secure = true).await;
    let r = app.sign_in(&Wallet::ethereum()).await;
    assert_eq!(r.status, StatusCode::OK);
    // Secure, Path=/ and no Domain are checked by the harness (crate::harness::cookies).
    let token = r.only_cookie("__Host-wallet_session");
    assert!(
        r.deletes("wallet_session"),
        "the old name is deleted: {:?}",
        r.set_cookies()
    );
    let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
    for cookie in [
        format!("__Host-wallet_session={token}"),
        format!("wallet_session={token}"),
    ] {
        let me = app
            .with_cookies(Method::GET, "/api/me", &[&cookie], &[])
            .await;
        assert_eq!(me.status, StatusCode::OK, "{cookie}");
    }
    for cookie in [
        format!("__Host-wallet_session={token}; wallet_session={token}"),
        format!("wallet_session={token}; __Host-wallet_session={token}"),
        format!("__Host-wallet_session={token}; __Host-wallet_session={token}"),
    ] {
        app.with_cookies(Method::GET, "/api/me", &[&cookie], &[])
            .await
            .assert_error(401, "unauthenticated");
    }
    // Renewal in the refresh window and logout use the new name and delete the old one.
    app.clock.advance(Duration::from_secs(100 * 60));
    let cookie = format!("__Host-wallet_session={token}");
    let me = app
        .with_cookies(Method::GET, "/api/me", &[&cookie], &[])
        .await;
    assert_eq!(me.header("x-session-refreshed").as_deref(), Some("true"));
    assert_eq!(me.only_cookie("__Host-wallet_session"), token);
    let out = app
        .with_cookies(
            Method::POST,
            "/auth/logout",
            &[&cookie],
            &[("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    for name in ["__Host-wallet_session", "wallet_session"] {
        assert!(out.deletes(name), "{name} deleted: {:?}", out.set_cookies());
    }
}

/// `validate` says what happened to the token: valid, refreshed, or why it opens no session.
async fn validation_says_what_happened(b: Backend) {
    use wallet_auth::session::{InvalidReason, RequestContext, Validation};
    let app = spawn_app(b).await;
    let sessions = app.state.sessions();
    let w = Wallet::ethereum();
    let ctx = RequestContext::default();
    let (token, _) = sessions
        .create(
            w.chain,
            &w.address,
            None,
            wallet_auth::verify::WalletType::Eoa,
            &ctx,
        )
        .await
        .unwrap();
    let reason = |v: Validation| match v {
        Validation::Invalid(r) => Some(r),
        Validation::Valid(_) | Validation::Refreshed(_) => None,
    };
    let malformed = sessions.validate("not-a-token", &ctx).await.unwrap();
    assert_eq!(reason(malformed), Some(InvalidReason::Malformed));
    let v = sessions.validate(&token, &ctx).await.unwrap();
    assert!(matches!(v, Validation::Valid(ref a) if a.current), "{v:?}");
    // In its refresh window, the session is extended.
    let cfg = &app.config;
    app.clock
        .advance(cfg.sessions.ttl - cfg.sessions.refresh_window + Duration::from_secs(1));
    let v = sessions.validate(&token, &ctx).await.unwrap();
    assert!(matches!(v, Validation::Refreshed(_)), "{v:?}");
    let v = sessions.validate(&token, &ctx).await.unwrap();
    assert!(matches!(v, Validation::Valid(_)), "{v:?}");
    // Past its expiry it is gone.
    app.clock.advance(cfg.sessions.ttl + Duration::from_secs(1));
    let v = sessions.validate(&token, &ctx).await.unwrap();
    assert!(
        matches!(
            reason(v),
            Some(InvalidReason::Expired | InvalidReason::Unknown)
        ),
        "expired"
    );
}
