//! Health, readiness, metrics, admin routes, security headers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::app::{spawn_app, spawn_app_with, Backend, Wallet, ADMIN};
use crate::on_every_backend;

on_every_backend!(
    health_and_ready,
    metrics_count_sign_ins,
    metrics_pass_promtool_in_the_text_format_and_speak_openmetrics_when_asked,
    metrics_token_guards_metrics,
    admin_routes,
    admin_off_without_token,
    security_headers
);

async fn health_and_ready(b: Backend) {
    let app = spawn_app(b).await;
    let h = app.get("/health", None).await;
    assert_eq!(h.body, json!({"status": "ok"}));
    let r = app.get("/ready", None).await;
    let kind = match b {
        Backend::Memory => "memory",
        Backend::Redis | Backend::Cluster => "redis",
        Backend::Postgres => "postgres",
    };
    assert_eq!(
        r.body,
        json!({"status": "ready", "store": kind, "verifiers": {}})
    );
}

async fn metrics_count_sign_ins(b: Backend) {
    let app = spawn_app(b).await;
    app.token(&Wallet::ethereum()).await;
    app.token(&Wallet::solana()).await;
    app.post(
        "/auth/verify",
        None,
        Some(json!({"chain": "ethereum", "message": "bad", "signature": "0x"})),
    )
    .await;
    let r = app.get("/metrics", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text;
    assert!(
        text.contains(
            "wallet_auth_signins_total{chain=\"ethereum\",wallet_type=\"eoa\",outcome=\"ok\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "wallet_auth_signins_total{chain=\"solana\",wallet_type=\"eoa\",outcome=\"ok\"} 1"
    ));
    assert!(text.contains("wallet_type=\"unknown\",outcome=\"invalid_message\""));
    assert!(text.contains("wallet_auth_active_sessions{chain=\"ethereum\"} 1"));
    assert!(text.contains("wallet_auth_http_requests_total{"));
    assert!(text.contains("route=\"/auth/verify\""));
    assert!(text.contains("wallet_auth_store_operation_duration_seconds"));
    for op in [
        "take_nonce",
        "put_nonce",
        "create_session_with",
        "get_session",
    ] {
        assert!(
            text.contains(&format!(
                "wallet_auth_store_operation_duration_seconds_count{{op=\"{op}\"}}"
            )),
            "store op {op} timed"
        );
    }
    assert!(text.contains("wallet_auth_store_errors_total{op=\"get_session\"} 0"));
}

async fn admin_routes(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let t1 = app.token(&w).await;
    let t2 = app.token(&w).await;
    app.token(&Wallet::solana()).await;
    app.post(
        "/auth/verify",
        None,
        Some(json!({"chain": "solana", "message": "bad", "signature": "x"})),
    )
    .await;
    app.get("/admin/sessions/stats", None)
        .await
        .assert_error(401, "unauthenticated");
    app.get("/admin/sessions/stats", Some("wrong-token-wrong-token"))
        .await
        .assert_error(403, "forbidden");
    app.get("/admin/sessions/stats", Some(&t1))
        .await
        .assert_error(403, "forbidden");
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.body);
    assert_eq!(s.body["activeSessions"]["total"], 3);
    assert_eq!(s.body["activeSessions"]["byChain"]["ethereum"], 2);
    assert_eq!(s.body["lastHour"]["signIns"], 3);
    assert_eq!(s.body["lastHour"]["failures"], 1);
    let path = format!(
        "/admin/wallets/ethereum/{}/logout-all",
        w.address.to_lowercase()
    );
    let r = app.post(&path, Some(ADMIN), None).await;
    assert_eq!(r.body, json!({"revoked": 2}));
    app.get("/api/me", Some(&t1))
        .await
        .assert_error(401, "unauthenticated");
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(
        s.body["activeSessions"]["total"], 1,
        "ended sessions leave the count"
    );
    app.get("/api/me", Some(&t2))
        .await
        .assert_error(401, "unauthenticated");
    let a = app
        .get(
            &format!("/admin/audit?wallet={}&limit=50", w.address),
            Some(ADMIN),
        )
        .await;
    let kinds: Vec<String> = a.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        kinds.first().map(String::as_str),
        Some("forced_logout"),
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| *k == "sign_in").count(), 2);
    let all = app.get("/admin/audit?limit=2", Some(ADMIN)).await;
    assert_eq!(all.body["events"].as_array().unwrap().len(), 2);
    // The anonymous failure was counted (above), not stored.
    let fail = app.get("/admin/audit", Some(ADMIN)).await;
    assert!(!fail.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "sign_in_failure"));
    app.call(
        Method::POST,
        "/admin/wallets/bitcoin/x/logout-all",
        Some(ADMIN),
        None,
    )
    .await
    .assert_error(400, "bad_request");
}

async fn admin_off_without_token(b: Backend) {
    let app = spawn_app_with(b, |c| c.ops.admin_token = None).await;
    app.get("/admin/sessions/stats", Some(ADMIN))
        .await
        .assert_error(404, "not_found");
}

async fn security_headers(b: Backend) {
    let app = spawn_app(b).await;
    for path in ["/health", "/auth/nonce", "/nope"] {
        let r = app
            .call(
                if path == "/auth/nonce" {
                    Method::POST
                } else {
                    Method::GET
                },
                path,
                None,
                None,
            )
            .await;
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
    }
    let r = app.post("/auth/nonce", None, None).await;
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
}

/// `promtool check metrics` on a scrape; panics with its output when it finds a problem.
fn promtool_check(scrape: &str) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is installed (scripts/ensure-promtool.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && report.trim().is_empty(),
        "promtool check metrics: {report}\n{scrape}"
    );
}

async fn scrape(app: &crate::harness::app::TestApp, accept: Option<&str>) -> (String, String) {
    let mut rb = app.http.get(app.url("/metrics"));
    if let Some(a) = accept {
        rb = rb.header("accept", a);
    }
    let r = app.send(rb).await;
    assert_eq!(r.status, StatusCode::OK);
    (r.header("content-type").unwrap(), r.text)
}

async fn metrics_pass_promtool_in_the_text_format_and_speak_openmetrics_when_asked(b: Backend) {
    // A configured node (never called here): its latency series is exposed from the start.
    let app = spawn_app_with(b, |c| {
        c.contract_wallets.rpc_urls =
            vec![(1, wallet_auth::config::Secret::new("http://127.0.0.1:9"))];
    })
    .await;
    // Traffic of every kind: sign-ins, store calls, client and server-side errors.
    app.token(&Wallet::ethereum()).await;
    app.token(&Wallet::solana()).await;
    app.get("/api/me", Some("not-a-token")).await;
    app.get("/nowhere", None).await;
    app.call(Method::PUT, "/auth/nonce", None, None).await;
    for accept in [
        None,
        Some("text/plain;version=0.0.4"),
        Some("text/plain"),
        Some("*/*"),
        Some("application/openmetrics-text;q=0, text/plain;version=0.0.4"),
    ] {
        let (ct, text) = scrape(&app, accept).await;
        assert_eq!(ct, "text/plain; version=0.0.4; charset=utf-8", "{accept:?}");
        promtool_check(&text);
        assert!(!text.contains("# EOF"), "{accept:?}");
        assert!(!text.contains("# UNIT"), "{accept:?}");
        // Prometheus naming: counters end in `_total`, latencies are histograms in seconds,
        // every family is documented.
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut f = line.split(' ').skip(2);
            let (name, kind) = (f.next().unwrap(), f.next().unwrap());
            assert!(name.starts_with("wallet_auth_"), "{line}");
            match kind {
                "counter" => assert!(name.ends_with("_total"), "{line}"),
                "histogram" => assert!(name.ends_with("_seconds"), "{line}"),
                "gauge" => {}
                other => panic!("unexpected type {other}: {line}"),
            }
            assert!(text.contains(&format!("# HELP {name} ")), "no help: {name}");
        }
        // The node latency of contract-wallet checks is part of the exposition.
        assert!(
            text.contains("# TYPE wallet_auth_node_call_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            text.contains(
                "wallet_auth_node_call_duration_seconds_count{chain_id=\"1\",method=\"eth_call\"} 0"
            ),
            "{text}"
        );
        assert!(text.contains(
            "wallet_auth_http_requests_total{method=\"PUT\",route=\"/auth/nonce\",status=\"405\"} 1"
        ));
    }
    for accept in [
        "application/openmetrics-text",
        "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3",
    ] {
        let (ct, text) = scrape(&app, Some(accept)).await;
        assert_eq!(
            ct, "application/openmetrics-text; version=1.0.0; charset=utf-8",
            "{accept}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE wallet_auth_http_requests counter"));
        assert!(text.contains("wallet_auth_http_requests_total{"));
    }
}

async fn metrics_token_guards_metrics(b: Backend) {
    const TOKEN: &str = "metrics-token-0123456789abcdef";
    let app = spawn_app_with(b, |c| {
        c.ops.metrics_token = Some(wallet_auth::config::Secret::new(TOKEN));
    })
    .await;
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789abcdef".to_owned()),
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
        Some(format!("Bearer {ADMIN}")),
    ] {
        let mut rb = app.http.get(app.url("/metrics"));
        if let Some(a) = &auth {
            rb = rb.header("authorization", a);
        }
        let r = app.send(rb).await;
        r.assert_error(401, "unauthenticated");
        assert!(!r.body.to_string().contains("wallet_auth_"), "{auth:?}");
    }
    let r = app.get("/metrics", Some(TOKEN)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("wallet_auth_http_requests_total"));
    // Without METRICS_TOKEN, /metrics stays public (the default of the contract).
    let open = spawn_app(b).await;
    assert_eq!(open.get("/metrics", None).await.status, StatusCode::OK);
}
