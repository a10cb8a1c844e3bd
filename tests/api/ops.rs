//! Health, readiness, metrics, admin routes, security headers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_stores;
use crate::helpers::{spawn_app, spawn_app_with, Backend, Wallet, ADMIN};

both_stores!(
    health_and_ready,
    metrics_count_sign_ins,
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
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
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
    for op in ["take_nonce", "put_nonce", "create_session", "get_session"] {
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
    let app = spawn_app_with(b, |c| c.admin_token = None).await;
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
