//! `examples/embed.rs`, built and run as a new user would: an axum app with its own `/`,
//! `/health` and fallback, embedding wallet-auth on a private redis-server. A real sign-in
//! through the embedded API, then the app's own route reading the session: a refreshed cookie
//! arrives there, with `Cache-Control: no-store`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::harness::evm::Owner;
use crate::harness::redis_server::RedisServer;

/// The example's binary. `cargo test` builds the examples with the tests (with the same
/// profile), before running any; a binary older than the example's source is refused.
fn example_binary() -> PathBuf {
    // This test runs from <target>/<profile>/deps/; examples land in <target>/<profile>/examples/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir.join("examples").join("embed");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/embed.rs");
    let built = std::fs::metadata(&bin).and_then(|m| m.modified());
    let written = std::fs::metadata(source)
        .and_then(|m| m.modified())
        .unwrap();
    assert!(
        built.is_ok_and(|built| built >= written),
        "{} is missing or older than examples/embed.rs: `cargo test` (all targets) builds it, \
         or `cargo build --example embed`",
        bin.display()
    );
    bin
}

/// The running example; killed when dropped.
struct Embedded {
    child: Child,
    base: String,
}

impl Drop for Embedded {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(redis: &RedisServer) -> Embedded {
    let port = free_port();
    let host = format!("127.0.0.1:{port}");
    let mut child = Command::new(example_binary())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("REDIS_URL", redis.url())
        .env("SESSION_ENCRYPTION_KEY", "11".repeat(32))
        .env("BIND_ADDR", &host)
        .env("AUTH_DOMAINS", &host)
        .env("AUTH_URI", format!("http://{host}/"))
        .env("COOKIE_SECURE", "false")
        // Every request falls in the refresh window: each one extends the session.
        .env("WALLET_SESSION_TTL", "1h")
        .env("WALLET_SESSION_REFRESH_WINDOW", "1h")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the example starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on "), "{line:?}");
    Embedded {
        child,
        base: format!("http://{host}"),
    }
}

fn header(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The `wallet_session` cookie a response sets, if any.
fn wallet_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find_map(|v| v.strip_prefix("wallet_session="))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
        .filter(|v| !v.is_empty())
}

#[tokio::test]
async fn an_app_embedding_the_crate_keeps_its_routes_and_reads_wallet_sessions() {
    let redis = RedisServer::start_new();
    let app = start(&redis);
    let http = Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent("embed-test/1")
        .build()
        .unwrap();
    let url = |p: &str| format!("{}{p}", app.base);

    // The app's own routes: merging the crate's router took none of them.
    let res = http.get(url("/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.text().await.unwrap(),
        "the host application's home page"
    );
    let res = http.get(url("/health")).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"app": "up"}));
    let res = http.get(url("/no/such/page")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        res.text().await.unwrap(),
        "the host application has no such page"
    );

    // The app's route without a session: the contract's 401.
    let res = http.get(url("/whoami")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "unauthenticated"
    );

    // A full sign-in through the embedded API.
    let owner = Owner::random();
    let address = owner.address.to_checksum(None);
    let nonce: Value = http
        .post(url("/auth/nonce"))
        .json(&json!({"chain": "ethereum", "address": address}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = nonce["message"].as_str().expect("a message to sign");
    let signature = format!("0x{}", hex::encode(owner.personal_sign(message)));
    let res = http
        .post(url("/auth/verify"))
        .json(&json!({"chain": "ethereum", "message": message, "signature": signature}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = wallet_cookie(&res).expect("the sign-in sets the session cookie");
    let session: Value = res.json().await.unwrap();
    assert_eq!(session["address"], address.as_str());
    let token = session["token"].as_str().unwrap().to_owned();

    // The app's own route reads the session from the cookie; the session is in its refresh
    // window, so the renewed cookie arrives on this route, and nothing personal is cached.
    let res = http
        .get(url("/whoami"))
        .header("cookie", format!("wallet_session={cookie}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "x-session-refreshed").as_deref(), Some("true"));
    assert!(header(&res, "x-session-expires-at").is_some());
    assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"));
    assert_eq!(wallet_cookie(&res).as_deref(), Some(cookie.as_str()));
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set.contains(attribute), "{set}");
    }
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["address"], address.as_str());
    assert_eq!(me["sessionId"], session["sessionId"]);

    // With the bearer token: the same session, marked no-store too.
    let res = http
        .get(url("/whoami"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "cache-control").as_deref(), Some("no-store"));

    // The embedded API itself answers with its contract.
    let res = http
        .get(url("/api/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.json::<Value>().await.unwrap()["address"],
        address.as_str()
    );
}

mod in_process {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use axum::Router;
    use serde_json::Value;
    use tower::ServiceExt as _;
    use wallet_auth::config::Config;
    use wallet_auth::http::{self, AuthState, OptionalWalletSession, WalletSession};
    use wallet_auth::store::MemoryStore;

    fn state() -> AuthState {
        AuthState::new(Config::default(), Arc::new(MemoryStore::new()))
    }

    async fn call(app: &Router, path: &str) -> (StatusCode, Value) {
        let res = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Each of the crate's routers merges into an app with its own `/`, `/health` and
    /// fallback, or beside each other, without a panic: none claims a fallback, and only the
    /// routers asked for claim `/` or `/health`.
    #[tokio::test]
    async fn the_routers_merge_into_an_app() {
        let st = state();
        let host = || {
            Router::new()
                .route("/", get(|| async { "home" }))
                .route("/health", get(|| async { "host health" }))
                .fallback(|| async { (StatusCode::NOT_FOUND, "host 404") })
        };
        let app = host().merge(http::auth_router(st.clone()));
        assert_eq!(
            call(&app, "/auth/session").await.0,
            StatusCode::UNAUTHORIZED
        );
        let app = Router::new()
            .route("/", get(|| async { "home" }))
            .merge(http::auth_router(st.clone()))
            .merge(http::ops_router(st.clone()))
            .fallback(|| async { (StatusCode::NOT_FOUND, "host 404") });
        assert_eq!(call(&app, "/health").await.0, StatusCode::OK);
        let app = Router::new()
            .route("/health", get(|| async { "host health" }))
            .merge(http::demo_router(st.clone()))
            .merge(http::auth_router(st));
        assert_eq!(call(&app, "/").await.0, StatusCode::OK);
    }

    /// An app route reading a wallet session without the session layer fails loudly, signed in
    /// or not, instead of silently never renewing the cookie.
    #[tokio::test]
    async fn a_session_extractor_without_its_layer_fails_loudly() {
        let st = state();
        let app = Router::new()
            .route("/mine", get(|_: WalletSession| async { "mine" }))
            .route("/maybe", get(|_: OptionalWalletSession| async { "maybe" }))
            .with_state(st.clone());
        for path in ["/mine", "/maybe"] {
            let (status, body) = call(&app, path).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{path}");
            assert_eq!(body["error"]["code"], "session_layer_missing", "{path}");
        }
        // With the layer: the contract's answers.
        let app = http::with_session_headers(
            Router::new()
                .route("/mine", get(|_: WalletSession| async { "mine" }))
                .route("/maybe", get(|_: OptionalWalletSession| async { "maybe" })),
        )
        .with_state(st);
        assert_eq!(call(&app, "/mine").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&app, "/maybe").await.0, StatusCode::OK);
    }
}
