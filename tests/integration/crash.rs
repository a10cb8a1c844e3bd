//! Crash consistency: the `wallet-auth` binary is SIGKILLed in the middle of concurrent
//! sign-ins over a real redis-server; the keys left in Redis must still be consistent (every
//! index entry has its live record, every live record is indexed, every key but plain values
//! has a TTL), and after a restart a session opened before the crash still works.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::harness::app::Wallet;
use crate::harness::redis_server::RedisServer;

const DOMAIN: &str = "app.test:8080";
const UA: &str = "wallet-auth-crash-test/1.0";
const PREFIX: &str = "crash:";
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// The server process; SIGKILLed when dropped.
struct ServerProcess {
    child: Child,
    base: String,
}

impl ServerProcess {
    async fn start(redis_url: &str) -> Self {
        let port = crate::harness::free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_wallet-auth"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("REDIS_URL", redis_url)
            .env("REDIS_PREFIX", PREFIX)
            .env("SESSION_ENCRYPTION_KEY", KEY)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("AUTH_DOMAINS", DOMAIN)
            .env("AUTH_URI", format!("http://{DOMAIN}/login"))
            .env("RATE_LIMIT_PER_MIN", "0")
            .env("COOKIE_SECURE", "false")
            .env("MAX_SESSIONS_PER_WALLET", "3")
            .env("SESSION_BINDING", "device")
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "error")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the wallet-auth binary");
        let server = ServerProcess {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let http = client();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(r) = http.get(format!("{}/health", server.base)).send().await {
                if r.status().is_success() {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "the server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(UA)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// One sign-in; `None` when any step fails (the server may be gone).
async fn sign_in(http: &reqwest::Client, base: &str, wallet: &Wallet) -> Option<String> {
    let r = http
        .post(format!("{base}/auth/nonce"))
        .json(&json!({ "chain": "ethereum" }))
        .send()
        .await
        .ok()?;
    let n: Value = r.json().await.ok()?;
    let message = wallet.message(DOMAIN, n["nonce"].as_str()?, OffsetDateTime::now_utc());
    let body = wallet.verify_body(&message);
    let r = http
        .post(format!("{base}/auth/verify"))
        .json(&body)
        .send()
        .await
        .ok()?;
    if !r.status().is_success() {
        return None;
    }
    let v: Value = r.json().await.ok()?;
    v["token"].as_str().map(str::to_owned)
}

async fn me(http: &reqwest::Client, base: &str, token: &str) -> reqwest::StatusCode {
    http.get(format!("{base}/api/me"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET /api/me")
        .status()
}

/// Splits `P{tag}:rest` into `(tag, rest)`.
fn tagged(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?.strip_prefix('{')?;
    let (tag, rest) = rest.split_once('}')?;
    Some((tag, rest.strip_prefix(':')?))
}

async fn check_consistency(redis_url: &str) -> usize {
    let client = redis::Client::open(redis_url).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis");
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{PREFIX}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .expect("SCAN");
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();

    // Index: tag -> token hashes listed.
    let mut indexed: HashMap<String, HashSet<String>> = HashMap::new();
    let mut records: Vec<(String, String, Vec<u8>)> = Vec::new();
    for key in &keys {
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .expect("PTTL");
        // Users, account records and identity claims have their own lifecycle (no TTL).
        let kept = key.starts_with(&format!("{PREFIX}v:user:"))
            || key.starts_with(&format!("{PREFIX}acct:"))
            || key.ends_with("}:a");
        if !kept {
            assert!(pttl > 0, "{key} has no TTL (PTTL {pttl})");
        }
        let Some((tag, rest)) = tagged(key) else {
            continue;
        };
        if rest == "i" {
            let entries: HashMap<String, String> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .expect("HGETALL");
            assert!(!entries.is_empty(), "{key}: an empty index was left behind");
            for (sid, v) in entries {
                let (hash, created) = v
                    .rsplit_once('|')
                    .unwrap_or_else(|| panic!("{key}: malformed entry {sid} → {v}"));
                assert!(
                    created.parse::<i64>().is_ok(),
                    "{key}: bad creation time {v}"
                );
                indexed
                    .entry(tag.to_owned())
                    .or_default()
                    .insert(hash.to_owned());
            }
        } else if let Some(hash) = rest.strip_prefix("s:") {
            let v: Option<Vec<u8>> = redis::cmd("GET")
                .arg(key)
                .query_async(&mut conn)
                .await
                .expect("GET");
            let v = v.unwrap_or_else(|| panic!("{key} vanished"));
            records.push((tag.to_owned(), hash.to_owned(), v));
        }
    }
    let by_key: HashMap<(String, String), &Vec<u8>> = records
        .iter()
        .map(|(t, h, v)| ((t.clone(), h.clone()), v))
        .collect();
    // Every index entry has its live record.
    for (tag, hashes) in &indexed {
        for hash in hashes {
            let v = by_key.get(&(tag.clone(), hash.clone())).unwrap_or_else(|| {
                panic!("index of {{{tag}}} lists {hash} but {PREFIX}{{{tag}}}:s:{hash} is missing")
            });
            assert_eq!(
                v.first(),
                Some(&b'L'),
                "index of {{{tag}}} lists {hash}, which is not a live record"
            );
        }
    }
    // Every live record is listed by its wallet's index.
    let mut live = 0;
    for (tag, hash, v) in &records {
        match v.first() {
            Some(b'L') => {
                live += 1;
                assert!(
                    indexed.get(tag).is_some_and(|s| s.contains(hash)),
                    "live record {PREFIX}{{{tag}}}:s:{hash} is not in its wallet's index"
                );
            }
            Some(b'R') => {}
            other => panic!("{PREFIX}{{{tag}}}:s:{hash}: unknown entry type {other:?}"),
        }
    }
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_sign_ins_leaves_redis_consistent_and_sessions_survive_restart() {
    let redis = RedisServer::start_new();
    let url = redis.url();
    let mut server = ServerProcess::start(&url).await;
    let http = client();

    let first = Wallet::ethereum();
    let token = sign_in(&http, &server.base, &first)
        .await
        .expect("sign-in before the crash");
    assert_eq!(me(&http, &server.base, &token).await, 200);

    // Concurrent sign-ins over a few wallets (the per-wallet limit of 3 makes them evict),
    // until the server is killed.
    let wallets: Arc<Vec<Wallet>> = Arc::new((0..6).map(|_| Wallet::ethereum()).collect());
    let ok = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for t in 0..12 {
        let (http, base, wallets, ok) = (
            http.clone(),
            server.base.clone(),
            wallets.clone(),
            ok.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while sign_in(&http, &base, &wallets[i % wallets.len()])
                .await
                .is_some()
            {
                ok.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while ok.load(Ordering::Relaxed) < 60 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.kill();
    for t in tasks {
        t.await.expect("sign-in task");
    }
    assert!(
        ok.load(Ordering::Relaxed) >= 20,
        "too few sign-ins before the kill"
    );

    let live = check_consistency(&url).await;
    eprintln!(
        "{} sign-ins before the kill; {live} live sessions left, consistent",
        ok.load(Ordering::Relaxed)
    );
    // The first wallet's session plus at most 3 per busy wallet.
    assert!(
        (2..=1 + 3 * wallets.len()).contains(&live),
        "{live} live sessions"
    );

    let server = ServerProcess::start(&url).await;
    assert_eq!(
        me(&http, &server.base, &token).await,
        200,
        "a session opened before the crash works after the restart"
    );
    assert!(sign_in(&http, &server.base, &Wallet::ethereum())
        .await
        .is_some());
    check_consistency(&url).await;
}
