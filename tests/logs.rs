//! Sign-in, use, refresh, logout and failures with every log line captured at TRACE level:
//! no token, key, CSRF token, signature or signed message may appear in any of them.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "support/mod.rs"]
mod support;

#[path = "api/helpers.rs"]
mod helpers;

use std::io::Write;
use std::sync::{Arc, Mutex};

use helpers::{spawn_app_with, Backend, Wallet, ADMIN};
use reqwest::StatusCode;
use serde_json::json;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let key_hex = "5a".repeat(32);
    let app = spawn_app_with(Backend::Redis, |c| {
        c.keys = wallet_auth::session::crypto::KeyRing::from_hex_list(&key_hex).unwrap();
    })
    .await;
    let mut secrets: Vec<String> = vec![key_hex.clone(), ADMIN.to_owned()];
    for w in [Wallet::ethereum(), Wallet::solana()] {
        let body = app.signed_body(&w).await;
        secrets.push(body["message"].as_str().unwrap().to_owned());
        secrets.push(body["signature"].as_str().unwrap().to_owned());
        let r = app.post("/auth/verify", None, Some(body.clone())).await;
        assert_eq!(r.status, StatusCode::OK);
        let token = r.body["token"].as_str().unwrap().to_owned();
        secrets.push(token.clone());
        secrets.push(r.body["csrfToken"].as_str().unwrap().to_owned());
        // Replay (nonce used), use, rotate, use, logout.
        app.post("/auth/verify", None, Some(body))
            .await
            .assert_error(401, "nonce_invalid");
        assert_eq!(
            app.get("/api/me", Some(&token)).await.status,
            StatusCode::OK
        );
        let r = app.post("/auth/refresh", Some(&token), None).await;
        let new = r.body["token"].as_str().unwrap().to_owned();
        secrets.push(new.clone());
        assert_eq!(app.get("/api/me", Some(&new)).await.status, StatusCode::OK);
        assert_eq!(
            app.post("/auth/logout", Some(&new), None).await.status,
            StatusCode::NO_CONTENT
        );
        app.get("/api/me", Some(&new))
            .await
            .assert_error(401, "unauthenticated");
    }
    // A forged signature and a user login.
    let w = Wallet::ethereum();
    let mut body = app.signed_body(&w).await;
    body["signature"] = json!(Wallet::ethereum().sign(body["message"].as_str().unwrap()));
    secrets.push(body["message"].as_str().unwrap().to_owned());
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "invalid_signature");
    app.state
        .users()
        .add("carol", "carols-password-xyz")
        .await
        .unwrap();
    secrets.push("carols-password-xyz".into());
    let r = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "carol", "password": "carols-password-xyz"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.get("/admin/audit", Some(ADMIN)).await.status,
        StatusCode::OK
    );

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.lines().count() > 20,
        "the capture saw the logs: {} lines",
        logs.lines().count()
    );
    assert!(logs.contains("audit"), "audit events are logged");
    for s in &secrets {
        assert!(
            !logs.contains(s.as_str()),
            "a secret reached the logs: {}…",
            &s[..s.len().min(12)]
        );
    }
    // Not even the first line of a signed message (domain + account) with its nonce part.
    for line in logs.lines() {
        assert!(
            !line.contains("wants you to sign in"),
            "signed message text in: {line}"
        );
    }
}
