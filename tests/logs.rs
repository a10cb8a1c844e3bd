//! Sign-in, use, refresh, logout and failures with every log line captured at TRACE level:
//! no token, key, CSRF token, signature or signed message may appear in any of them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod harness;

use std::io::Write;
use std::sync::{Arc, Mutex};

use harness::app::{spawn_app_with, Backend, Wallet, ADMIN};
use harness::free_port;
use harness::redis_server::kill_tracking;
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
        c.store.encryption_keys =
            wallet_auth::config::EncryptionKeys::from_hex_list(&key_hex).unwrap();
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

    // The session cache's tracking connection dropped by Redis: the instance says so (it
    // validates through Redis until the connection is back).
    let url = app.store_url.clone().unwrap();
    let killed = kill_tracking(&[url], &app.config.store.redis_prefix).await;
    assert!(killed > 0, "no tracking connection");
    let start = std::time::Instant::now();
    while !String::from_utf8_lossy(&capture.0.lock().unwrap()).contains("tracking heartbeat failed")
    {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "no log line for the lost tracking connection"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

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

/// The binary with `LOG_FORMAT=json`: one flat JSON line per request at INFO, with method,
/// route template, status, latency, client address, request id (propagated when sane,
/// generated otherwise, returned on the response) and the error code of an error answer; no
/// header, cookie or token in any line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_logs_one_flat_json_line_per_request() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wallet-auth"))
        .arg("serve")
        .env_clear()
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("ADMIN_TOKEN", "log-test-admin-token-0123456789")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let secret_token = "sekrit-bearer-token-value-0123456789";
    let long_id = "a".repeat(65);
    type Case<'a> = (
        reqwest::Method,
        &'a str,
        Option<&'a str>,
        u16,
        Option<&'a str>,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            reqwest::Method::GET,
            "/health",
            Some("client-id-123"),
            200,
            None,
        ),
        (
            reqwest::Method::GET,
            "/api/me",
            Some("bad id with spaces"),
            401,
            Some("unauthenticated"),
        ),
        (
            reqwest::Method::PUT,
            "/auth/nonce",
            None,
            405,
            Some("method_not_allowed"),
        ),
        (
            reqwest::Method::GET,
            "/nowhere/x",
            Some(long_id.as_str()),
            404,
            Some("not_found"),
        ),
        (
            reqwest::Method::POST,
            "/auth/nonce",
            Some("0123-abcd_ef.gh:ij"),
            200,
            None,
        ),
    ];
    let mut sent = Vec::new();
    for (method, path, id, status, _) in &cases {
        let mut rb = http
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(secret_token)
            .header("cookie", "sid=cookie-secret-value");
        if let Some(id) = id {
            rb = rb.header("x-request-id", *id);
        }
        let r = rb.send().await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{method} {path}");
        let returned = r.headers()["x-request-id"].to_str().unwrap().to_owned();
        match id {
            Some(id) if wallet_auth::http::is_sane_request_id(id.as_bytes()) => {
                assert_eq!(&returned, id);
            }
            _ => {
                assert!(wallet_auth::http::is_sane_request_id(returned.as_bytes()));
                assert_eq!(returned.len(), 36, "a UUID: {returned}");
            }
        }
        sent.push(returned);
    }
    // SIGTERM, then read everything the process wrote.
    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    child.wait().unwrap();
    assert!(!out.contains('\u{1b}'), "no ANSI escape in the log");
    assert!(!out.contains(secret_token) && !out.contains("cookie-secret-value"));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["message"] == "request" && l["level"] == "INFO")
        .collect();
    // The start-up probe of /health plus each case, once each.
    for ((method, path, _, status, code), id) in cases.iter().zip(&sent) {
        let mine: Vec<_> = requests
            .iter()
            .filter(|l| l["request_id"] == **id)
            .collect();
        assert_eq!(mine.len(), 1, "one line for {method} {path}: {out}");
        let l = mine[0];
        assert!(l.get("fields").is_none(), "flat fields: {l}");
        assert_eq!(l["method"], method.as_str(), "{l}");
        let route = if *status == 404 { "unmatched" } else { path };
        assert_eq!(l["route"], route, "{l}");
        assert_eq!(l["status"], *status, "{l}");
        assert!(l["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{l}");
        assert_eq!(l["client_ip"], "127.0.0.1", "{l}");
        match code {
            Some(c) => assert_eq!(l["error_code"], *c, "{l}"),
            None => assert!(l.get("error_code").is_none(), "{l}"),
        }
    }
}

/// Text logs carry no colour codes when standard output is not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pretty_logs_have_no_colour_off_a_terminal() {
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wallet-auth"))
        .arg("serve")
        .env_clear()
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    child.wait().unwrap();
    assert!(out.contains("WARN") && out.contains("route"), "{out}");
    assert!(!out.contains('\u{1b}'), "ANSI escapes in: {out:?}");
}
