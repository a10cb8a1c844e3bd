//! Start-up as an operator meets it, with the real binary and a real redis-server: `serve`
//! keeps running while Redis is down (`/ready` 503, store routes 503) and uses Redis once it
//! comes, logging the outage boundedly; `config check --probe` says which of the store and the
//! nodes answered; the log names the URL a browser should open.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::free_port;
use crate::harness::redis_server::RedisServer;

const BIN: &str = env!("CARGO_BIN_EXE_wallet-auth");

fn command() -> Command {
    let mut c = Command::new(BIN);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SESSION_ENCRYPTION_KEY", "7e".repeat(32))
        .stdin(Stdio::null());
    c
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_waits_for_a_redis_that_starts_later() {
    let mut redis = RedisServer::start_new();
    redis.stop();
    let port = free_port();
    let mut child = command()
        .arg("serve")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("REDIS_URL", redis.url())
        .env("STORE_TIMEOUT", "500ms")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while http.get(format!("{base}/health")).send().await.is_err() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "serve exited while Redis is down"
        );
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Up, not ready; a store-backed route answers 503 too, with Retry-After.
    let (status, body) = get(&http, &format!("{base}/ready")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    let r = http
        .post(format!("{base}/auth/nonce"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "store_unavailable");
    // Some failed attempts while Redis stays down.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(get(&http, &format!("{base}/ready")).await.0, 503);

    redis.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = get(&http, &format!("{base}/ready")).await;
        if status == 200 {
            assert_eq!(body["store"], "redis", "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = http
        .post(format!("{base}/auth/nonce"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);

    std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let count = |needle: &str| {
        lines
            .iter()
            .filter(|l| l["message"].as_str().unwrap_or("").contains(needle))
            .count()
    };
    // Bounded: the first failure, no line per retry (at most one a minute), one when connected.
    assert_eq!(count("cannot reach the session store"), 1, "{out}");
    assert_eq!(count("still unreachable"), 0, "{out}");
    assert_eq!(count("session store connected"), 1, "{out}");
    // The URL to open matches AUTH_DOMAINS (default localhost:8080), beside the bound address.
    let listening = lines
        .iter()
        .find(|l| {
            l["message"]
                .as_str()
                .unwrap_or("")
                .starts_with("wallet-auth listening")
        })
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(listening["url"], "http://localhost:8080/", "{listening}");
    assert_eq!(
        listening["addr"],
        format!("127.0.0.1:{port}"),
        "{listening}"
    );
}

#[test]
fn the_listening_line_names_the_configured_domain_and_scheme() {
    let url = wallet_auth::cli::browser_url(
        "https://app.example.com",
        &["app.example.com".to_owned(), "www.example.com".to_owned()],
    );
    assert_eq!(url, "https://app.example.com/");
}

#[test]
fn config_check_probe_says_which_answered() {
    let mut redis = RedisServer::start_new();
    let dead_node = format!("1=http://127.0.0.1:{}", free_port());
    let run = |redis_url: &str| {
        let out = command()
            .args(["config", "check", "--probe"])
            .env("REDIS_URL", redis_url)
            .env("ETH_RPC_URLS", &dead_node)
            .env("ETH_RPC_TIMEOUT", "500ms")
            .env("STORE_TIMEOUT", "500ms")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = run(&redis.url());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("store redis: answered"), "{out}");
    assert!(out.contains("node of chain 1: did not answer"), "{out}");
    redis.stop();
    let (code, out) = run(&redis.url());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("store redis: did not answer"), "{out}");
    // Without --probe nothing is reached.
    let out = command()
        .args(["config", "check"])
        .env("REDIS_URL", redis.url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("store redis"));
}
