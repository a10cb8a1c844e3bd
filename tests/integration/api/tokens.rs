//! Tokens for other services: `POST /auth/token` and `GET /.well-known/jwks.json`, verified
//! with an independent implementation (the `jsonwebtoken` crate, through the README's example
//! `examples/verify_token.rs`), and the signing keys shared through the store.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use wallet_auth::http::AuthState;
use wallet_auth::session::crypto::KeyRing;
use wallet_auth::session::tokens::{TokenKeys, MIN_PUBLISHED, RETIRE_MARGIN};
use wallet_auth::session::ManualClock;

use crate::harness::app::{open, spawn_app, spawn_app_with, Backend, TestApp, Wallet};
use crate::on_every_backend;

#[path = "../../../examples/verify_token.rs"]
#[expect(
    dead_code,
    reason = "the example's own `main`, run by `cargo run --example`"
)]
mod verify_token;

on_every_backend!(
    wallet_token_verifies_with_every_claim,
    solana_wallet_is_caip10,
    tampered_or_foreign_tokens_fail,
    exp_is_capped_at_the_session_expiry,
    cookie_minting_needs_csrf,
    user_session_mints,
    ended_session_cannot_mint,
    minting_is_rate_limited_per_session,
    keys_generated_once_under_concurrent_first_use,
    rotation_order_and_retirement,
    old_tokens_verify_after_rotation,
);

async fn jwks(app: &TestApp) -> String {
    let r = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    r.text
}

async fn mint(app: &TestApp, bearer: &str) -> Value {
    let r = app.post("/auth/token", Some(bearer), None).await;
    assert_eq!(r.status, StatusCode::OK, "mint: {}", r.body);
    r.body
}

fn payload(token: &str) -> Value {
    let p = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

fn header(token: &str) -> Value {
    let p = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

fn issuer(app: &TestApp) -> String {
    app.config.signin.uri.clone()
}

async fn wallet_token_verifies_with_every_claim(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let signed = app.sign_in(&w).await;
    let bearer = signed.body["token"].as_str().unwrap().to_owned();
    let before = app.clock_now().unix_timestamp();
    let minted = mint(&app, &bearer).await;
    let token = minted["token"].as_str().unwrap();
    let set = jwks(&app).await;
    let iss = issuer(&app);
    let claims = verify_token::verify(token, &set, &iss, &iss).expect("verifies");
    let caip10 = format!("eip155:1:{}", w.address);
    assert_eq!(claims.iss, iss);
    assert_eq!(claims.aud, iss, "audience defaults to the issuer");
    assert_eq!(claims.sub, signed.body["accountId"].as_str().unwrap());
    assert_eq!(claims.wallet.as_deref(), Some(caip10.as_str()));
    assert_eq!(claims.sid, signed.body["sessionId"].as_str().unwrap());
    assert!(claims.roles.is_empty());
    assert!((before..=before + 1).contains(&claims.iat));
    assert_eq!(claims.exp - claims.iat, 300, "TOKEN_TTL default 5m");
    // Exactly the contract's claims, and the header.
    let names: BTreeSet<String> = payload(token)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let want: BTreeSet<String> = ["iss", "aud", "sub", "sid", "iat", "exp", "roles", "wallet"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert_eq!(names, want);
    let h = header(token);
    assert_eq!(h["alg"], "ES256");
    assert_eq!(h["typ"], "JWT");
    let set: Value = serde_json::from_str(&set).unwrap();
    let kids: Vec<&str> = set["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 2, "current and next: {set}");
    assert_ne!(kids[0], kids[1]);
    assert_eq!(h["kid"], kids[0]);
    for k in set["keys"].as_array().unwrap() {
        assert_eq!(k["kty"], "EC");
        assert_eq!(k["crv"], "P-256");
        assert!(k.get("d").is_none(), "no private part");
    }
    // expiresAt is exp.
    let at = OffsetDateTime::parse(minted["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    assert_eq!(at.unix_timestamp(), claims.exp);
    // Configured issuer and audience.
    let mut app2 = spawn_app_with(b, |c| {
        c.tokens.issuer = Some("https://auth.example".into());
        c.tokens.audience = Some("api.example".into());
        c.tokens.ttl = Duration::from_secs(60);
    })
    .await;
    let bearer = app2.token(&Wallet::ethereum()).await;
    let token = mint(&app2, &bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = verify_token::verify(
        &token,
        &jwks(&app2).await,
        "https://auth.example",
        "api.example",
    )
    .unwrap();
    assert_eq!(claims.exp - claims.iat, 60);
    assert!(verify_token::verify(
        &token,
        &jwks(&app2).await,
        "https://auth.example",
        "https://auth.example"
    )
    .is_err());
    app2.stop().await;
}

async fn solana_wallet_is_caip10(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let bearer = app.token(&w).await;
    let token = mint(&app, &bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let iss = issuer(&app);
    let claims = verify_token::verify(&token, &jwks(&app).await, &iss, &iss).unwrap();
    let want = format!("solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp:{}", w.address);
    assert_eq!(claims.wallet.as_deref(), Some(want.as_str()));
    let me = app.get("/api/me", Some(&bearer)).await;
    assert_eq!(claims.sub, me.body["accountId"].as_str().unwrap());
}

async fn tampered_or_foreign_tokens_fail(b: Backend) {
    let app = spawn_app(b).await;
    let bearer = app.token(&Wallet::ethereum()).await;
    let token = mint(&app, &bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let set = jwks(&app).await;
    let iss = issuer(&app);
    assert!(verify_token::verify(&token, &set, &iss, &iss).is_ok());
    // A changed claim.
    let mut claims = payload(&token);
    claims["sub"] = json!("eip155:1:0x0000000000000000000000000000000000000001");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    assert!(verify_token::verify(&forged, &set, &iss, &iss).is_err());
    // A flipped signature bit.
    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[10] ^= 1;
    let flipped = format!("{}.{}.{}", parts[0], parts[1], URL_SAFE_NO_PAD.encode(sig));
    assert!(verify_token::verify(&flipped, &set, &iss, &iss).is_err());
    // alg none.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    assert!(verify_token::verify(&none, &set, &iss, &iss).is_err());
    // Another server's keys.
    let other = spawn_app(Backend::Memory).await;
    assert!(verify_token::verify(&token, &jwks(&other).await, &iss, &iss).is_err());
    // Wrong audience or issuer.
    assert!(verify_token::verify(&token, &set, &iss, "someone-else").is_err());
    assert!(verify_token::verify(&token, &set, "https://evil.example", &iss).is_err());
    // A minted JWT is not a session token.
    app.get("/auth/session", Some(&token))
        .await
        .assert_error(401, "unauthenticated");
}

async fn exp_is_capped_at_the_session_expiry(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.sessions.ttl = Duration::from_secs(120);
        c.sessions.refresh_window = Duration::from_secs(10);
        c.tokens.ttl = Duration::from_secs(3600);
    })
    .await;
    let signed = app.sign_in(&Wallet::ethereum()).await;
    let bearer = signed.body["token"].as_str().unwrap();
    let session_exp =
        OffsetDateTime::parse(signed.body["expiresAt"].as_str().unwrap(), &Rfc3339).unwrap();
    let token = mint(&app, bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = payload(&token);
    assert_eq!(
        claims["exp"].as_i64().unwrap(),
        session_exp.unix_timestamp()
    );
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 120);
}

async fn cookie_minting_needs_csrf(b: Backend) {
    let app = spawn_app(b).await;
    let signed = app.sign_in(&Wallet::ethereum()).await;
    let cookie = format!("wallet_session={}", signed.session_cookie().unwrap());
    let csrf = signed.body["csrfToken"].as_str().unwrap();
    app.with_cookies(Method::POST, "/auth/token", &[&cookie], &[])
        .await
        .assert_error(403, "csrf_failed");
    app.with_cookies(
        Method::POST,
        "/auth/token",
        &[&cookie],
        &[("x-csrf-token", "wrong")],
    )
    .await
    .assert_error(403, "csrf_failed");
    let r = app
        .with_cookies(
            Method::POST,
            "/auth/token",
            &[&cookie],
            &[("x-csrf-token", csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    // No session at all.
    app.post("/auth/token", None, None)
        .await
        .assert_error(401, "unauthenticated");
    app.post("/auth/token", Some("not-a-token"), None)
        .await
        .assert_error(401, "unauthenticated");
}

async fn user_session_mints(b: Backend) {
    let app = spawn_app(b).await;
    app.state.users().add("bob", "pw-bob-123").await.unwrap();
    let r = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "bob", "password": "pw-bob-123"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let login_account = r.body["accountId"].as_str().unwrap().to_owned();
    let sid = format!("sid={}", r.cookie("sid").unwrap());
    let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
    app.with_cookies(Method::POST, "/auth/token", &[&sid], &[])
        .await
        .assert_error(403, "csrf_failed");
    let mut sids = Vec::new();
    for _ in 0..2 {
        let r = app
            .with_cookies(
                Method::POST,
                "/auth/token",
                &[&sid],
                &[("x-csrf-token", &csrf)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let iss = issuer(&app);
        let claims = verify_token::verify(
            r.body["token"].as_str().unwrap(),
            &jwks(&app).await,
            &iss,
            &iss,
        )
        .unwrap();
        assert_eq!(claims.sub, login_account);
        assert!(claims.wallet.is_none());
        assert!(payload(r.body["token"].as_str().unwrap())
            .get("wallet")
            .is_none());
        assert!(claims.sid.starts_with("u-"));
        assert!(!sid.contains(&claims.sid[2..]), "the id is not the token");
        sids.push(claims.sid);
    }
    assert_eq!(sids[0], sids[1], "stable for the session");
    // Changing the password ends the session: no more tokens.
    app.state
        .users()
        .add("bob", "another-pw-456")
        .await
        .unwrap();
    app.with_cookies(
        Method::POST,
        "/auth/token",
        &[&sid],
        &[("x-csrf-token", &csrf)],
    )
    .await
    .assert_error(401, "unauthenticated");
}

async fn ended_session_cannot_mint(b: Backend) {
    let app = spawn_app(b).await;
    let bearer = app.token(&Wallet::ethereum()).await;
    mint(&app, &bearer).await;
    let r = app.post("/auth/logout", Some(&bearer), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.post("/auth/token", Some(&bearer), None)
        .await
        .assert_error(401, "unauthenticated");
}

async fn minting_is_rate_limited_per_session(b: Backend) {
    let app = spawn_app(b).await;
    let bearer = app.token(&Wallet::ethereum()).await;
    let other = app.token(&Wallet::ethereum()).await;
    for _ in 0..wallet_auth::session::tokens::MINTS_PER_MINUTE {
        mint(&app, &bearer).await;
    }
    let r = app.post("/auth/token", Some(&bearer), None).await;
    r.assert_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Another session has its own budget.
    mint(&app, &other).await;
}

/// Several instances over one store start together: the keys are generated once, and every
/// instance signs with (and publishes) the same ones.
async fn keys_generated_once_under_concurrent_first_use(b: Backend) {
    let app = spawn_app(b).await;
    let store = match b {
        Backend::Memory => app.state.store().clone(),
        _ => open(&app.config, app.store_url.as_deref()).await,
    };
    let states: Vec<AuthState> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 {
                store.clone()
            } else {
                app.state.store().clone()
            };
            AuthState::with_clock(app.config.clone(), store, app.clock.clone())
        })
        .collect();
    let start = Arc::new(tokio::sync::Barrier::new(states.len()));
    let tasks: Vec<_> = states
        .iter()
        .map(|s| {
            let (s, start) = (s.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                s.token_keys().kids().await.unwrap()
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    for t in tasks {
        seen.insert(t.await.unwrap());
    }
    assert_eq!(seen.len(), 1, "one key set: {seen:?}");
    let (current, next) = seen.into_iter().next().unwrap();
    assert_eq!(app.state.token_keys().kids().await.unwrap().0, current);
    // What the store holds now is what every instance signs with: no late write replaced it.
    let fresh = keys_of(&app, app.clock.clone(), app.config.tokens.keys_cache);
    assert_eq!(fresh.kids().await.unwrap(), (current, next));
}

fn keys_of(app: &TestApp, clock: Arc<ManualClock>, cache: Duration) -> TokenKeys {
    TokenKeys::new(
        app.state.store().clone(),
        KeyRing::from_config(&app.config.store.encryption_keys),
        clock,
        cache,
        app.config.tokens.ttl,
    )
}

async fn kids_listed(k: &TokenKeys) -> Vec<String> {
    k.jwks().await.unwrap()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["kid"].as_str().unwrap().to_owned())
        .collect()
}

/// next → current → retired; a running instance switches within its key cache; a retired key
/// is published until every token it signed has expired, then dropped.
async fn rotation_order_and_retirement(b: Backend) {
    let app = spawn_app(b).await;
    let clock = app.clock.clone();
    let cache = app.config.tokens.keys_cache;
    let running = keys_of(&app, clock.clone(), cache);
    let admin = keys_of(&app, clock.clone(), cache);
    let (c0, n0) = running.kids().await.unwrap();
    // Too soon: the next key was just published.
    assert!(matches!(
        admin.rotate(false).await,
        Err(wallet_auth::session::tokens::KeysError::TooSoon(_))
    ));
    clock.advance(MIN_PUBLISHED);
    assert_eq!(running.kids().await.unwrap().0, c0, "read again, unchanged");
    let r = admin.rotate(false).await.unwrap();
    assert_eq!(r.current, n0, "the published next key signs now");
    assert_eq!(r.retired, vec![c0.clone()]);
    assert_ne!(r.next, n0);
    assert_ne!(r.next, c0);
    // The running instance still signs with its cached key, then switches.
    assert_eq!(running.kids().await.unwrap().0, c0);
    clock.advance(cache);
    assert_eq!(running.kids().await.unwrap(), (n0.clone(), r.next.clone()));
    assert_eq!(
        kids_listed(&running).await,
        vec![n0.clone(), r.next.clone(), c0.clone()]
    );
    // Retired key: listed until 60 s (instances' cache) + TOKEN_TTL + margin after retirement.
    let lifetime = Duration::from_secs(60) + app.config.tokens.ttl + RETIRE_MARGIN;
    clock.advance(lifetime - cache - Duration::from_secs(1));
    assert!(kids_listed(&running).await.contains(&c0));
    clock.advance(Duration::from_secs(2));
    assert!(
        !kids_listed(&running).await.contains(&c0),
        "dropped after its tokens expired"
    );
    // The next rotation forgets it for good, and retires n0.
    clock.advance(MIN_PUBLISHED);
    let r2 = admin.rotate(false).await.unwrap();
    assert_eq!(r2.current, r.next);
    assert_eq!(r2.retired, vec![n0.clone()]);
    // A forced rotation right away.
    let r3 = admin.rotate(true).await.unwrap();
    assert_eq!(r3.current, r2.next);
    assert_eq!(r3.retired, vec![r2.current.clone(), n0.clone()]);
}

async fn old_tokens_verify_after_rotation(b: Backend) {
    let app = spawn_app(b).await;
    let bearer = app.token(&Wallet::ethereum()).await;
    let old = mint(&app, &bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let old_kid = header(&old)["kid"].as_str().unwrap().to_owned();
    let admin = keys_of(&app, app.clock.clone(), app.config.tokens.keys_cache);
    let before = jwks(&app).await;
    let r = admin.rotate(true).await.unwrap();
    assert!(
        before.contains(&r.current),
        "the new signing key was published before"
    );
    app.clock.advance(app.config.tokens.keys_cache);
    let new = mint(&app, &bearer).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(header(&new)["kid"].as_str().unwrap(), r.current);
    let after = jwks(&app).await;
    let iss = issuer(&app);
    assert!(
        verify_token::verify(&new, &before, &iss, &iss).is_ok(),
        "a cached JWKS verifies the new key"
    );
    assert!(
        verify_token::verify(&old, &after, &iss, &iss).is_ok(),
        "the old key is still listed"
    );
    assert!(after.contains(&old_kid));
}
