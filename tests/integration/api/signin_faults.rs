//! A store failure while a sign-in opens its session, on a real Redis and a real Redis Cluster:
//! the answer is `503 store_unavailable`, and the same signed message signs in once the store
//! is back (the nonce taken for it is put back), within the nonce's lifetime.
//!
//! The fault is real: an ACL rule on the test's own server removes the scripting commands (every
//! session write is a script) from the app's user, so reading and taking the nonce work and
//! opening the session fails. The in-memory store cannot fail, so it has no such test.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::app::{open, spawn_app, spawn_on, test_config, Backend, TestApp, Wallet};
use crate::harness::redis_server::RedisCluster;

/// Applies ACL rules to the `default` user on every node behind `url`.
async fn acl(url: &str, rules: &[&str]) {
    for node in url.split(',') {
        let client = redis::Client::open(node).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg("default");
        for r in rules {
            cmd.arg(*r);
        }
        let _: () = cmd.query_async(&mut c).await.unwrap();
    }
}

/// Whether the nonce of a sign-in is in the store, read on every node behind `url`.
async fn nonce_stored(app: &TestApp, url: &str, nonce: &str) -> bool {
    let key = format!("{}n:{nonce}", app.config.store.redis_prefix);
    for node in url.split(',') {
        let client = redis::Client::open(node).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        // A cluster node that does not own the key answers MOVED.
        let found: Result<bool, _> = redis::cmd("EXISTS").arg(&key).query_async(&mut c).await;
        if found.is_ok_and(|f| f) {
            return true;
        }
    }
    false
}

fn nonce_of(body: &Value) -> String {
    let message = body["message"].as_str().unwrap();
    let line = message
        .lines()
        .find_map(|l| l.strip_prefix("Nonce: "))
        .unwrap();
    line.to_owned()
}

async fn store_failure_keeps_the_signed_message_usable(app: TestApp) {
    let url = app.store_url.clone().unwrap();
    let w = Wallet::ethereum();
    let body = app.signed_body(&w).await;
    let nonce = nonce_of(&body);

    // Sessions cannot be written: 503, however often it is retried, never `nonce_invalid`.
    acl(&url, &["-@scripting"]).await;
    for _ in 0..3 {
        app.post("/auth/verify", None, Some(body.clone()))
            .await
            .assert_error(503, "store_unavailable");
        assert!(
            nonce_stored(&app, &url, &nonce).await,
            "the nonce was put back"
        );
    }
    // The store is back: the same signed message signs in, once.
    acl(&url, &["+@all"]).await;
    let r = app.post("/auth/verify", None, Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(
        app.get("/api/me", Some(&token)).await.status,
        StatusCode::OK
    );
    app.post("/auth/verify", None, Some(body.clone()))
        .await
        .assert_error(401, "nonce_invalid");

    // Down for longer: the nonce cannot even be put back at once. It is put back in the
    // background once the store answers again, and the message then signs in.
    let body = app.signed_body(&w).await;
    let nonce = nonce_of(&body);
    acl(&url, &["-@scripting", "-set"]).await;
    app.post("/auth/verify", None, Some(body.clone()))
        .await
        .assert_error(503, "store_unavailable");
    assert!(!nonce_stored(&app, &url, &nonce).await);
    acl(&url, &["+@all"]).await;
    let back = Instant::now();
    while !nonce_stored(&app, &url, &nonce).await {
        assert!(
            back.elapsed() < Duration::from_secs(10),
            "the nonce was not put back once the store answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let r = app.post("/auth/verify", None, Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_store_failure_keeps_the_signed_message_usable() {
    store_failure_keeps_the_signed_message_usable(spawn_app(Backend::Redis).await).await;
}

/// On a cluster of its own (the rules apply to every node; the shared cluster serves other
/// tests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_store_failure_keeps_the_signed_message_usable() {
    let cluster = RedisCluster::start_new();
    let config = test_config();
    let store = open(&config, Some(&cluster.url())).await;
    let app = spawn_on(
        config,
        store,
        None,
        Some(cluster.url()),
        std::sync::Arc::new(wallet_auth::session::ManualClock::new(
            time::OffsetDateTime::now_utc(),
        )),
    )
    .await;
    store_failure_keeps_the_signed_message_usable(app).await;
    drop(cluster);
}
