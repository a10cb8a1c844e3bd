//! Every client mistake gets the documented JSON error, never a 500, never a hang.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::harness::app::{spawn_app, spawn_app_with, Backend, Wallet, DOMAIN};
use crate::on_every_backend;

on_every_backend!(
    malformed_bodies_are_bad_requests,
    wrong_content_type_is_415,
    oversized_body_is_413,
    invalid_message_and_signature,
    unauthenticated_requests,
    unknown_route_is_404,
    rate_limit_answers_429_with_retry_after,
);

async fn malformed_bodies_are_bad_requests(b: Backend) {
    let app = spawn_app(b).await;
    for body in [
        "{",
        "[]",
        "{\"chain\": 5}",
        "{\"chain\":\"ethereum\"}",
        "null",
    ] {
        let r = app
            .send(
                app.request(Method::POST, "/auth/verify")
                    .header("content-type", "application/json")
                    .body(body),
            )
            .await;
        r.assert_error(400, "bad_request");
    }
    app.post(
        "/auth/verify",
        None,
        Some(json!({"chain": "bitcoin", "message": "x", "signature": "y"})),
    )
    .await
    .assert_error(400, "bad_request");
    app.post("/auth/nonce", None, Some(json!({"chain": "dogecoin"})))
        .await
        .assert_error(400, "bad_request");
    app.post(
        "/auth/nonce",
        None,
        Some(json!({"chain": "ethereum", "address": "0x123"})),
    )
    .await
    .assert_error(400, "bad_request");
    app.post(
        "/auth/nonce",
        None,
        Some(json!({"chain": "solana", "address": "0OIl"})),
    )
    .await
    .assert_error(400, "bad_request");
}

async fn wrong_content_type_is_415(b: Backend) {
    let app = spawn_app(b).await;
    let r = app
        .send(
            app.request(Method::POST, "/auth/verify")
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    r.assert_error(415, "unsupported_media_type");
    let r = app
        .send(
            app.request(Method::POST, "/auth/nonce")
                .header("content-type", "application/x-www-form-urlencoded")
                .body("chain=ethereum"),
        )
        .await;
    r.assert_error(415, "unsupported_media_type");
}

async fn oversized_body_is_413(b: Backend) {
    let app = spawn_app(b).await;
    let big = json!({"chain": "ethereum", "message": "a".repeat(20 * 1024), "signature": "0x"});
    app.post("/auth/verify", None, Some(big))
        .await
        .assert_error(413, "payload_too_large");
}

async fn invalid_message_and_signature(b: Backend) {
    let app = spawn_app(b).await;
    app.post(
        "/auth/verify",
        None,
        Some(json!({"chain": "ethereum", "message": "hello", "signature": "0x00"})),
    )
    .await
    .assert_error(400, "invalid_message");
    let w = Wallet::ethereum();
    let n = app.nonce(w.chain, None).await;
    let msg = w.message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now());
    app.post(
        "/auth/verify",
        None,
        Some(json!({"chain": "ethereum", "message": msg, "signature": "0x1234"})),
    )
    .await
    .assert_error(401, "invalid_signature");
    let s = Wallet::solana();
    let n = app.nonce(s.chain, None).await;
    let msg = s.message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now());
    let mut body = s.verify_body(&msg);
    body["publicKey"] = json!(Wallet::solana().address);
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "invalid_signature");
}

async fn unauthenticated_requests(b: Backend) {
    let app = spawn_app(b).await;
    for path in [
        "/api/me",
        "/auth/session",
        "/auth/sessions",
        "/api/preferences",
    ] {
        app.get(path, None)
            .await
            .assert_error(401, "unauthenticated");
        app.get(path, Some("not-a-token"))
            .await
            .assert_error(401, "unauthenticated");
    }
    for path in ["/auth/logout", "/auth/logout-all", "/auth/refresh"] {
        app.post(path, None, None)
            .await
            .assert_error(401, "unauthenticated");
    }
    let r = app
        .send(
            app.request(Method::GET, "/api/me")
                .header("authorization", "Basic abc"),
        )
        .await;
    r.assert_error(401, "unauthenticated");
}

async fn unknown_route_is_404(b: Backend) {
    let app = spawn_app(b).await;
    app.get("/nope", None).await.assert_error(404, "not_found");
    app.get("/auth/verify/x", None)
        .await
        .assert_error(404, "not_found");
}

/// Every path of the contract, asked with a method it does not accept: `405
/// method_not_allowed` in the JSON shape, with `Allow` listing exactly the path's methods.
#[tokio::test]
async fn wrong_method_on_a_known_path_is_405_with_allow() {
    use std::collections::{BTreeMap, BTreeSet};
    let app = spawn_app(Backend::Memory).await;
    let mut paths: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    let doc: serde_json::Value =
        serde_json::from_str(wallet_auth::http::openapi_document()).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                paths
                    .entry(path.as_str())
                    .or_default()
                    .insert(method.to_ascii_uppercase());
            }
        }
    }
    assert!(paths.len() > 10);
    for (path, methods) in &paths {
        let url_path = path.replace("{sessionId}", "s0000").replace(['{', '}'], "");
        for wrong in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
            if methods.contains(wrong) {
                continue;
            }
            let r = app
                .call(
                    reqwest::Method::from_bytes(wrong.as_bytes()).unwrap(),
                    &url_path,
                    None,
                    None,
                )
                .await;
            r.assert_error(405, "method_not_allowed");
            let allow = r
                .header("allow")
                .unwrap_or_else(|| panic!("{wrong} {path}: no Allow header"));
            let mut listed: BTreeSet<String> = allow
                .split(',')
                .map(|m| m.trim().to_owned())
                .filter(|m| m != "HEAD")
                .collect();
            listed.remove("");
            assert_eq!(&listed, methods, "{wrong} {path}: Allow: {allow}");
        }
    }
}

async fn rate_limit_answers_429_with_retry_after(b: Backend) {
    let app = spawn_app_with(b, |c| c.limits.rate_limit_per_min = 3).await;
    for _ in 0..3 {
        assert_eq!(
            app.post("/auth/nonce", None, None).await.status,
            StatusCode::OK
        );
    }
    let r = app.post("/auth/nonce", None, None).await;
    r.assert_error(429, "rate_limited");
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // A separate budget per route.
    let v = app
        .post(
            "/auth/verify",
            None,
            Some(json!({"chain": "ethereum", "message": "x", "signature": "y"})),
        )
        .await;
    assert_ne!(v.status, StatusCode::TOO_MANY_REQUESTS);
}
