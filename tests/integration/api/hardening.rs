//! What an outside attacker can do without credentials: hold connections open by being slow or
//! many, grow `/metrics` with invented methods and paths, have input reflected in error
//! messages, or make a request panic. The store does not matter here: memory only.

use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use axum::routing::get;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt as _;

use crate::harness::app::{spawn_app_with, Backend, ADMIN};
use crate::harness::raw;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_closed_at_the_header_timeout() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.header_timeout = Duration::from_millis(300);
        c.http.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut s = raw::connect(app.addr()).await;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: app.test\r\n")
        .await
        .unwrap();
    let got = raw::read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(
        !String::from_utf8_lossy(&got).contains("200 OK"),
        "a half-sent head was served"
    );

    // Trickling the head byte by byte does not reset the bound: it runs from the first byte.
    let mut s = raw::connect(app.addr()).await;
    let started = Instant::now();
    let trickle = async {
        for b in b"GET /health HTTP/1.1\r\nHost: app.test\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let res = tokio::time::timeout(Duration::from_secs(5), trickle).await;
    assert!(
        res.is_ok(),
        "a head trickled byte by byte was kept open for {:?}",
        started.elapsed()
    );
}

/// The head bound runs from the head's first byte even when that byte comes long after the
/// connection went idle: the connection closes at that byte + `HTTP_HEADER_TIMEOUT`, neither
/// sooner nor at the (much longer) idle deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_begun_after_an_idle_spell_is_bounded_from_its_first_byte() {
    let header = Duration::from_secs(1);
    let app = spawn_app_with(Backend::Memory, move |c| {
        c.http.header_timeout = header;
        c.http.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut s = raw::connect(app.addr()).await;
    raw::is_open_and_serving(&mut s).await;
    // Idle for longer than the head bound, and not a whole multiple of it: a watchdog that only
    // looked every `header` would see this head 0.8 s late.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    s.write_all(b"GET /health HTTP/1.1\r\n").await.unwrap();
    let first_byte = Instant::now();
    let got = raw::read_until_closed(&mut s, Duration::from_secs(10)).await;
    let closed_after = first_byte.elapsed();
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert!(
        closed_after >= header - Duration::from_millis(50),
        "closed {closed_after:?} after the head's first byte"
    );
    assert!(
        closed_after < header + Duration::from_millis(400),
        "closed {closed_after:?} after the head's first byte, bound {header:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_at_the_idle_timeout() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.header_timeout = Duration::from_secs(60);
        c.http.idle_timeout = Duration::from_millis(300);
    })
    .await;
    // Never sending anything counts as idle.
    let mut s = raw::connect(app.addr()).await;
    raw::read_until_closed(&mut s, Duration::from_secs(5)).await;
    // Neither does keep-alive after a response.
    let mut s = raw::connect(app.addr()).await;
    raw::is_open_and_serving(&mut s).await;
    let rest = raw::read_until_closed(&mut s, Duration::from_secs(5)).await;
    assert!(rest.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_outlives_the_header_timeout() {
    // The head timeout counts from a head's first byte, not from the end of the last response.
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.header_timeout = Duration::from_millis(200);
        c.http.idle_timeout = Duration::from_secs(60);
    })
    .await;
    let mut s = raw::connect(app.addr()).await;
    raw::is_open_and_serving(&mut s).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    raw::is_open_and_serving(&mut s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_body_times_out_with_json_408() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.request_timeout = Duration::from_millis(300);
    })
    .await;
    let mut s = raw::connect(app.addr()).await;
    s.write_all(
        b"POST /auth/verify HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/json\r\n\
          Content-Length: 100\r\n\r\n{\"chain\":",
    )
    .await
    .unwrap();
    let res = raw::read_response(&mut s).await;
    assert!(res.starts_with("HTTP/1.1 408"), "{res}");
    assert_eq!(
        raw::json_body(&res)["error"]["code"],
        "request_timeout",
        "{res}"
    );
    assert!(res
        .to_ascii_lowercase()
        .contains("content-type: application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_do_not_block_other_clients() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.max_connections_per_ip = 3;
        c.http.idle_timeout = Duration::from_secs(60);
        c.http.header_timeout = Duration::from_secs(60);
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = raw::connect_from(app.addr(), [127, 0, 0, 1]).await;
        raw::is_open_and_serving(&mut s).await;
        held.push(s);
    }
    // One more from the same address: answered 429 and closed at once.
    for _ in 0..5 {
        let mut s = raw::connect_from(app.addr(), [127, 0, 0, 1]).await;
        let got = raw::read_until_closed(&mut s, Duration::from_secs(5)).await;
        let got = String::from_utf8_lossy(&got);
        assert!(got.starts_with("HTTP/1.1 429"), "{got}");
        assert!(got.contains(r#""code":"rate_limited""#), "{got}");
    }
    // Another client is served at once.
    let mut other = raw::connect_from(app.addr(), [127, 0, 0, 2]).await;
    raw::is_open_and_serving(&mut other).await;
    // The held connections still work, and closing one frees its place.
    for s in &mut held {
        raw::is_open_and_serving(s).await;
    }
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = raw::connect_from(app.addr(), [127, 0, 0, 1]).await;
        s.write_all(raw::GET_HEALTH).await.unwrap();
        let mut buf = [0u8; 12];
        if s.read_exact(&mut buf).await.is_ok() && buf.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the freed place was not reused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_global_cap_the_idlest_connection_makes_room() {
    let app = spawn_app_with(Backend::Memory, |c| {
        c.http.max_connections = 4;
        c.http.max_connections_per_ip = 4;
        c.http.idle_timeout = Duration::from_secs(60);
        c.http.header_timeout = Duration::from_secs(60);
    })
    .await;
    // Four idle connections from four addresses fill the server.
    let mut idle = Vec::new();
    for i in 1..=4u8 {
        let mut s = raw::connect_from(app.addr(), [127, 0, 0, i]).await;
        raw::is_open_and_serving(&mut s).await;
        idle.push(s);
    }
    // A fifth client is still served: the connection idle the longest was closed for it.
    let mut s = raw::connect_from(app.addr(), [127, 0, 0, 5]).await;
    raw::is_open_and_serving(&mut s).await;
    let first = raw::read_until_closed(&mut idle[0], Duration::from_secs(5)).await;
    assert!(first.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_within_its_deadline_while_a_client_holds_a_half_sent_request() {
    let mut app = spawn_app_with(Backend::Memory, |c| {
        c.http.header_timeout = Duration::from_secs(120);
        c.http.idle_timeout = Duration::from_secs(120);
        c.http.request_timeout = Duration::from_secs(120);
        c.http.shutdown_timeout = Duration::from_millis(500);
    })
    .await;
    let mut half_head = raw::connect(app.addr()).await;
    half_head
        .write_all(b"GET /health HTTP/1.1\r\nHost: app.test\r\n")
        .await
        .unwrap();
    let mut half_body = raw::connect(app.addr()).await;
    half_body
        .write_all(
            b"POST /auth/verify HTTP/1.1\r\nHost: app.test\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    // Let the server take both in.
    let mut probe = raw::connect(app.addr()).await;
    raw::is_open_and_serving(&mut probe).await;
    let stopped = tokio::time::timeout(Duration::from_secs(5), app.stop()).await;
    assert!(stopped.is_ok(), "shutdown did not finish");
    raw::read_until_closed(&mut half_head, Duration::from_secs(1)).await;
    raw::read_until_closed(&mut half_body, Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_idle_connections_without_waiting_for_the_deadline() {
    let mut app = spawn_app_with(Backend::Memory, |c| {
        c.http.idle_timeout = Duration::from_secs(120);
        c.http.shutdown_timeout = Duration::from_secs(120);
    })
    .await;
    let mut idle = raw::connect(app.addr()).await;
    raw::is_open_and_serving(&mut idle).await;
    let stopped = tokio::time::timeout(Duration::from_secs(5), app.stop()).await;
    assert!(stopped.is_ok(), "shutdown waited on an idle connection");
    raw::read_until_closed(&mut idle, Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_labels_never_carry_request_text() {
    let app = spawn_app_with(Backend::Memory, |_| {}).await;
    let scrape = || async {
        app.http
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let invented = |i: usize| {
        (
            reqwest::Method::from_bytes(format!("INVENTED{i}{}", "M".repeat(4000)).as_bytes())
                .unwrap(),
            format!("/invented-path-{i}/{}", "p".repeat(2000)),
        )
    };
    // One round first, so the `other` / `unmatched` series exist in the baseline.
    let mut before = String::new();
    for i in 0..=40 {
        if i == 1 {
            // Twice: the first scrape adds the series of `/metrics` itself.
            scrape().await;
            before = scrape().await;
        }
        let (method, path) = invented(i);
        let r = app
            .http
            .request(method.clone(), app.url(&path))
            .send()
            .await;
        if let Ok(r) = r {
            assert!(r.status().is_client_error(), "{}", r.status());
        }
        let _ = app
            .http
            .request(method, app.url("/auth/nonce"))
            .send()
            .await;
        let _ = app.http.get(app.url(&path)).send().await;
        let _ = app
            .http
            .delete(app.url(&format!("/auth/sessions/invented-{i}")))
            .send()
            .await;
    }
    let after = scrape().await;
    assert!(
        after.len() < before.len() + 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    for needle in ["INVENTED", "invented-path", "invented-"] {
        assert!(!after.contains(needle), "{needle} is a label");
    }
    assert!(after.contains(r#"method="other""#), "{after}");
}

/// A marker that must never come back in a response.
const CANARY: &str = "CANARY-7f3a";

fn long_canary() -> String {
    format!("{CANARY}{}", "x".repeat(3000))
}

async fn assert_no_echo(what: &str, r: reqwest::Response) {
    let status = r.status();
    let headers = format!("{:?}", r.headers());
    let body = r.text().await.unwrap();
    assert!(status.is_client_error(), "{what}: {status} {body}");
    let json: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("{what}: {body}"));
    assert!(json["error"]["code"].is_string(), "{what}: {body}");
    for needle in [CANARY, "31337", "9876543210"] {
        assert!(!body.contains(needle), "{what} echoed input: {body}");
        assert!(!headers.contains(needle), "{what} echoed input: {headers}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_never_echo_input() {
    let app = spawn_app_with(Backend::Memory, |_| {}).await;
    let long = long_canary();
    let json_bodies: Vec<(&str, Value)> = vec![
        (
            "/auth/user/login",
            json!({"username": "alice", "password": 9_876_543_210_u64}),
        ),
        (
            "/auth/user/login",
            json!({"username": "alice", "password": [long]}),
        ),
        (
            "/auth/user/login",
            json!({"username": {"k": long}, "password": "x"}),
        ),
        ("/auth/user/login", json!({"username": 31337})),
        ("/auth/nonce", json!({"chain": long})),
        ("/auth/nonce", json!({"chain": 31337})),
        ("/auth/nonce", json!({"address": 31337})),
        ("/auth/nonce", json!({"address": long})),
        ("/auth/nonce", json!({"chainId": long})),
        ("/auth/nonce", json!({"chainId": 31337.5})),
        ("/auth/nonce", json!({"chain": "solana", "chainId": long})),
        ("/auth/nonce", {
            let mut m = serde_json::Map::new();
            m.insert(long.clone(), json!(1));
            Value::Object(m)
        }),
        (
            "/auth/nonce",
            json!({"chain": "ethereum", "CANARY-7f3a": 1}),
        ),
        (
            "/auth/verify",
            json!({"chain": long, "message": "m", "signature": "s"}),
        ),
        (
            "/auth/verify",
            json!({"chain": "ethereum", "message": 31337, "signature": "s"}),
        ),
        (
            "/auth/verify",
            json!({"chain": "ethereum", "message": "m", "signature": [long]}),
        ),
        (
            "/auth/verify",
            json!({"chain": "ethereum", "message": long, "signature": "0x00"}),
        ),
        (
            "/auth/verify",
            json!({"chain": "solana", "message": "m", "signature": "s", "publicKey": 31337}),
        ),
    ];
    for (path, body) in json_bodies {
        let r = app
            .http
            .post(app.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_no_echo(&format!("POST {path} {:.80}", body.to_string()), r).await;
    }
    // Raw bodies that are not JSON.
    for raw in [
        long.clone(),
        format!("{{\"chain\": {long}}}"),
        format!("\"{long}\""),
    ] {
        let r = app
            .http
            .post(app.url("/auth/nonce"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_no_echo("raw body", r).await;
    }
    // Query strings, path segments and headers.
    let admin = |m: reqwest::Method, p: &str| {
        app.http
            .request(m, app.url(p))
            .header("authorization", format!("Bearer {ADMIN}"))
    };
    for q in [
        format!("/admin/audit?limit={long}"),
        "/admin/audit?limit=-31337".to_owned(),
        format!("/admin/audit?limit=1&limit={long}"),
        "/admin/audit?limit=%FF%FE31337".to_owned(),
    ] {
        let r = admin(reqwest::Method::GET, &q).send().await.unwrap();
        assert_no_echo(&q, r).await;
    }
    for p in [
        format!("/admin/wallets/{long}/0xabc/logout-all"),
        format!("/admin/wallets/ethereum/{long}/logout-all"),
        "/admin/wallets/%FF31337/x/logout-all".to_owned(),
        "/admin/wallets/solana/31337%FF/logout-all".to_owned(),
    ] {
        let r = admin(reqwest::Method::POST, &p).send().await.unwrap();
        assert_no_echo(&p, r).await;
    }
    let token = app.token(&crate::harness::app::Wallet::ethereum()).await;
    for p in [
        "/auth/sessions/%FF%FE31337".to_owned(),
        format!("/auth/sessions/{long}"),
    ] {
        let r = app
            .http
            .delete(app.url(&p))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_no_echo(&p, r).await;
    }
    for (name, value) in [
        ("authorization", format!("Bearer {long}")),
        ("authorization", format!("{long} x")),
        ("cookie", format!("wallet_session={long}")),
        ("content-type", long.clone()),
    ] {
        let r = app
            .http
            .post(app.url("/auth/logout"))
            .header(name, value)
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_no_echo(name, r).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_out_of_range_configured_duration_cannot_panic_a_request() {
    // Set in code, past what the environment reader accepts: clamped, never a panic.
    let app = spawn_app_with(Backend::Memory, |c| {
        c.signin.nonce_ttl = Duration::MAX;
        c.sessions.ttl = Duration::MAX;
        c.sessions.refresh_window = Duration::MAX;
        c.sessions.max_lifetime = Duration::MAX;
        c.signin.clock_skew = Duration::MAX;
    })
    .await;
    let r = app.post("/auth/nonce", None, Some(json!({}))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let wallet = crate::harness::app::Wallet::ethereum();
    let r = app.sign_in(&wallet).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let token = r.body["token"].as_str().unwrap().to_owned();
    let r = app.get("/auth/session", Some(&token)).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
}

/// A tiny app with the server's protective layers, to reach the paths no real route takes.
fn protected() -> axum::Router {
    let app = axum::Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("boom {}", 31337);
                }
                "unreachable"
            }),
        )
        .route(
            "/bare500",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/bare503",
            get(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/bare413",
            get(|| async { (StatusCode::PAYLOAD_TOO_LARGE, "too big: CANARY-7f3a") }),
        )
        .route(
            "/text400",
            get(|| async { (StatusCode::BAD_REQUEST, "you sent CANARY-7f3a") }),
        )
        .route(
            "/bare429",
            get(|| async { (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "7")]) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "late"
            }),
        )
        .route(
            "/json409",
            get(|| async {
                (
                    StatusCode::CONFLICT,
                    axum::Json(json!({"error": {"code": "identity_in_use", "message": "m"}})),
                )
            }),
        )
        .route("/ok", get(|| async { "fine" }));
    wallet_auth::http::protect(app, Duration::from_millis(200))
}

async fn call(app: &axum::Router, method: &str, path: &str) -> (u16, Value, String) {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status().as_u16();
    let headers = format!("{:?}", res.headers());
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, headers)
}

#[tokio::test]
async fn a_panic_answers_json_500_internal() {
    let app = protected();
    let (status, body, _) = call(&app, "GET", "/boom").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "internal");
    assert_eq!(body["error"]["message"], "internal error");
    assert!(!body.to_string().contains("31337"), "{body}");
    // The app still answers afterwards.
    assert_eq!(call(&app, "GET", "/ok").await.0, 200);
}

#[tokio::test]
async fn every_error_response_has_the_json_shape() {
    let app = protected();
    for (path, method, status, code) in [
        ("/bare500", "GET", 500, "internal"),
        ("/bare503", "GET", 500, "internal"),
        ("/bare413", "GET", 413, "payload_too_large"),
        ("/text400", "GET", 400, "bad_request"),
        ("/bare429", "GET", 429, "rate_limited"),
        ("/slow", "GET", 408, "request_timeout"),
        ("/ok", "POST", 405, "method_not_allowed"),
        ("/nowhere", "GET", 404, "not_found"),
        ("/json409", "GET", 409, "identity_in_use"),
    ] {
        let (got, body, headers) = call(&app, method, path).await;
        assert_eq!(got, status, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
        assert!(!body.to_string().contains(CANARY), "{path}: {body}");
        assert!(
            headers.contains(r#""content-type": "application/json""#),
            "{path}: {headers}"
        );
        if path == "/bare429" {
            assert!(headers.contains(r#""retry-after": "7""#), "{headers}");
        }
        if status == 405 {
            assert!(headers.contains(r#""allow""#), "{headers}");
        }
    }
    let (status, _, headers) = call(&app, "GET", "/ok").await;
    assert_eq!(status, 200);
    assert!(!headers.contains("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_does_not_drop_the_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, protected()).await;
    });
    let mut s = raw::connect(addr).await;
    for _ in 0..3 {
        s.write_all(b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        let res = raw::read_response(&mut s).await;
        assert!(res.starts_with("HTTP/1.1 500"), "{res}");
        assert!(res.contains(r#""code":"internal""#), "{res}");
    }
    s.write_all(b"GET /ok HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    assert!(raw::read_response(&mut s).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_router_answers_json_for_framework_errors() {
    let app = spawn_app_with(Backend::Memory, |_| {}).await;
    // Wrong method on a known path, a body far over the limit on a route that reads it.
    let r = app.send(app.request(Method::PUT, "/auth/nonce")).await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    app.send(
        app.request(Method::POST, "/auth/verify")
            .header("content-type", "application/json")
            .body(vec![b' '; 64 * 1024]),
    )
    .await
    .assert_error(413, "payload_too_large");
}
