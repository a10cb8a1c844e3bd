//! What only a shared, persistent store can do: restarts, outages, several instances.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::harness::app::{open, spawn_app_with, spawn_on, spawn_sibling, Backend, Wallet};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_keeps_redis_sessions() {
    let key = "44".repeat(32);
    let mut app = spawn_app_with(Backend::Redis, |c| {
        c.store.encryption_keys = wallet_auth::config::EncryptionKeys::from_hex_list(&key).unwrap();
    })
    .await;
    let t = app.token(&Wallet::ethereum()).await;
    let redis = app.redis.take();
    let config = app.config.clone();
    let clock = app.clock.clone();
    app.stop().await;
    drop(app);
    let url = redis.as_ref().unwrap().url();
    let store = open(&config, Some(&url)).await;
    let again = spawn_on(config, store, redis, Some(url), clock).await;
    assert_eq!(again.get("/api/me", Some(&t)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_gives_503_then_recovers() {
    // The bound under test: the default store timeout, not the test apps' generous one.
    let mut app = spawn_app_with(Backend::Redis, |c| {
        c.store.timeout = Duration::from_millis(500);
    })
    .await;
    let t = app.token(&Wallet::solana()).await;
    app.redis.as_mut().unwrap().stop();
    for path in ["/api/me", "/ready"] {
        let start = Instant::now();
        let r = app.get(path, Some(&t)).await;
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{path} answered within 1 s"
        );
        r.assert_error(503, "store_unavailable");
        assert!(r.header("retry-after").is_some());
        assert!(
            !r.body.to_string().to_lowercase().contains("redis"),
            "no internals: {}",
            r.body
        );
    }
    let r = app.post("/auth/nonce", None, None).await;
    r.assert_error(503, "store_unavailable");
    assert_eq!(app.get("/health", None).await.status, StatusCode::OK);
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK, "metrics stay up");
    let text = metrics.text;
    assert!(
        !text.contains("wallet_auth_store_errors_total{op=\"get_session\"} 0"),
        "store errors counted"
    );
    let r = app.get("/api/public/hello", Some(&t)).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "optional auth degrades to anonymous"
    );
    // The test Redis has no persistence: it comes back empty, so recovery is shown by
    // readiness and a fresh sign-in (persistence across restarts is its own test).
    app.redis.as_mut().unwrap().start();
    let back = Instant::now();
    loop {
        let r = app.get("/ready", None).await;
        if r.status == StatusCode::OK {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(2),
            "ready within 2 s of Redis returning: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let t = app.token(&Wallet::solana()).await;
    assert_eq!(app.get("/api/me", Some(&t)).await.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_sessions_and_rate_budget() {
    let app = spawn_app_with(Backend::Redis, |c| c.limits.rate_limit_per_min = 4).await;
    let sib = spawn_sibling(&app).await;
    // Sign in on one, use / rotate on the other.
    let t = app.token(&Wallet::ethereum()).await;
    assert_eq!(sib.get("/api/me", Some(&t)).await.status, StatusCode::OK);
    let r = sib.post("/auth/refresh", Some(&t), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let t2 = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/api/me", Some(&t2)).await.status, StatusCode::OK);
    // The nonce budget (4/min): token() used one on `app`; three more across both instances.
    assert_eq!(
        sib.post("/auth/nonce", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.post("/auth/nonce", None, None).await.status,
        StatusCode::OK
    );
    assert_eq!(
        sib.post("/auth/nonce", None, None).await.status,
        StatusCode::OK
    );
    app.post("/auth/nonce", None, None)
        .await
        .assert_error(429, "rate_limited");
    sib.post("/auth/nonce", None, None)
        .await
        .assert_error(429, "rate_limited");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_with_aof_keeps_sessions() {
    let redis = crate::harness::redis_server::RedisServer::start_with_aof();
    let url = redis.url();
    let config = crate::harness::app::test_config();
    let store = open(&config, Some(&url)).await;
    let clock = std::sync::Arc::new(wallet_auth::session::ManualClock::new(
        time::OffsetDateTime::now_utc(),
    ));
    let mut app = spawn_on(config, store, Some(redis), Some(url), clock).await;
    let w = Wallet::ethereum();
    let t = app.token(&w).await;
    let r = app
        .call(
            reqwest::Method::PUT,
            "/api/preferences",
            Some(&t),
            Some(serde_json::json!({"theme": "dark"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Redis goes down and comes back from its append-only file; the app never restarts.
    let redis = app.redis.as_mut().unwrap();
    redis.stop();
    redis.start();
    let back = Instant::now();
    loop {
        let r = app.get("/api/me", Some(&t)).await;
        if r.status == StatusCode::OK {
            assert_eq!(r.body["address"], w.address);
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(3),
            "session back: {}",
            r.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.get("/api/preferences", Some(&t)).await.body,
        serde_json::json!({"theme": "dark"})
    );
}
