//! The session cache of the Redis store (`store::redis_cache`), measured on private Redis
//! servers the harness starts (a single node, then a 3-master cluster):
//!
//! - **revocation reach**: two instances (two cached stores) on one Redis; B has the session
//!   in its cache; A deletes it; B reads it in a tight loop until it stops. Prints the
//!   distribution over `REVOKE_N` tries (default 1000) of the time from A's delete returning
//!   to B's first read that no longer finds it, and of the whole time from A's delete being
//!   sent;
//! - **validation throughput in process**: `WalletSessions::validate` of `SESSIONS` real
//!   sessions (default 2000) from 64 concurrent tasks for `SECS` seconds (default 5), with the
//!   cache off, then on; and the latency of one validation at a time;
//! - **memory per cached session**: the process's resident memory before and after caching
//!   `MEM_SESSIONS` sessions (default 20000; real records as a sign-in writes them).
//!
//! ```text
//! cargo bench --bench session_cache
//! REVOKE_N=5000 SECS=10 cargo bench --bench session_cache
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/harness/mod.rs"]
pub mod harness;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::redis_server::{RedisCluster, RedisServer};
use wallet_auth::clock::SystemClock;
use wallet_auth::config::Config;
use wallet_auth::session::crypto::KeyRing;
use wallet_auth::session::wallet::{RequestContext, Validation, WalletSessions};
use wallet_auth::session::Audit;
use wallet_auth::store::{
    CacheEvent, NewSession, RedisStore, SessionEntry, SessionId, Store, StoreRecorder, TokenHash,
    WalletTag,
};
use wallet_auth::verify::{Chain, WalletType};

const TIMEOUT: Duration = Duration::from_secs(5);

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn cached(url: &str, prefix: &str, entries: usize) -> Arc<RedisStore> {
    let store = Arc::new(
        RedisStore::connect_cached(url, prefix, TIMEOUT, entries)
            .await
            .unwrap(),
    );
    let start = Instant::now();
    while !store.session_cache().unwrap().is_serving() {
        assert!(start.elapsed() < Duration::from_secs(10), "cache never up");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    store
}

/// Counts the cache's hits.
#[derive(Default)]
struct Hits(AtomicU64);

impl StoreRecorder for Hits {
    fn store_op(&self, _: &'static str, _: Duration, _: bool) {}
    fn cache_event(&self, event: CacheEvent, n: u64) {
        if event == CacheEvent::Hit {
            self.0.fetch_add(n, Ordering::SeqCst);
        }
    }
}

fn quantiles(label: &str, mut xs: Vec<Duration>) {
    xs.sort();
    let q = |p: f64| {
        let i = ((xs.len() as f64 - 1.0) * p).round() as usize;
        xs[i]
    };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label}: n={} min={:.0}µs p50={:.0}µs p90={:.0}µs p99={:.0}µs p99.9={:.0}µs max={:.0}µs, over 10ms: {}",
        xs.len(),
        us(q(0.0)),
        us(q(0.5)),
        us(q(0.9)),
        us(q(0.99)),
        us(q(0.999)),
        us(q(1.0)),
        xs.iter().filter(|d| **d > Duration::from_millis(10)).count(),
    );
}

async fn revocation(kind: &str, url: &str) {
    let n = env("REVOKE_N", 1000);
    let prefix = "rv:";
    let a = cached(url, prefix, 100_000).await;
    let b = cached(url, prefix, 100_000).await;
    let hits = Arc::new(Hits::default());
    b.attach_recorder(hits.clone());
    let mut after_ack = Vec::new();
    let mut from_send = Vec::new();
    for i in 0..n {
        let tag = WalletTag::new(format!("w{i}"));
        let sid = SessionId::new(format!("s{i}"));
        let hash = TokenHash::new(format!("h{i}"));
        let record = vec![b'r'; 200];
        a.create_session(
            &tag,
            NewSession {
                session_id: &sid,
                token_hash: &hash,
                created_ms: 1,
                record: &record,
                ttl: Duration::from_secs(600),
            },
            5,
        )
        .await
        .unwrap();
        // Into B's cache: read until a read is answered from memory (two reads: a fill and a
        // hit, unless a push of the creation came between).
        loop {
            let before = hits.0.load(Ordering::SeqCst);
            b.get_session(&tag, &hash, Some(&sid)).await.unwrap();
            if hits.0.load(Ordering::SeqCst) > before {
                break;
            }
        }
        let sent = Instant::now();
        a.delete_session(&tag, &sid).await.unwrap();
        let acked = Instant::now();
        while let Some(SessionEntry::Live(_)) =
            b.get_session(&tag, &hash, Some(&sid)).await.unwrap()
        {
            assert!(sent.elapsed() < Duration::from_secs(30), "never stopped");
        }
        let stopped = Instant::now();
        after_ack.push(stopped - acked);
        from_send.push(stopped - sent);
    }
    quantiles(
        &format!("{kind}: revoke on A acknowledged → B stops"),
        after_ack,
    );
    quantiles(&format!("{kind}: revoke on A sent → B stops"), from_send);
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn manager(store: Arc<dyn Store>, keys: &KeyRing, config: &Config) -> WalletSessions {
    WalletSessions::new(
        store.clone(),
        keys.clone(),
        Arc::new(SystemClock),
        config.sessions.clone(),
        Audit::new(store),
    )
}

/// Creates `n` real sessions (one wallet each) through the session layer.
async fn sign_ins(sessions: &WalletSessions, n: usize) -> Vec<String> {
    use futures::stream::{self, StreamExt as _};
    let ctx = RequestContext {
        user_agent: "bench".to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    stream::iter(0..n)
        .map(|i| {
            let ctx = ctx.clone();
            async move {
                let address = format!("0x{:040x}", i + 1);
                sessions
                    .create(Chain::Ethereum, &address, None, WalletType::Eoa, &ctx)
                    .await
                    .unwrap()
                    .0
            }
        })
        .buffer_unordered(64)
        .collect()
        .await
}

async fn throughput(kind: &str, url: &str) {
    let n = usize::try_from(env("SESSIONS", 2000)).unwrap();
    let secs = env("SECS", 5);
    let mut config = Config::default();
    config.sessions.binding = wallet_auth::config::Binding::Off;
    let keys = KeyRing::generate();
    let prefix = "tp:";
    let plain: Arc<dyn Store> = Arc::new(RedisStore::connect(url, prefix, TIMEOUT).await.unwrap());
    let tokens = Arc::new(sign_ins(&manager(plain.clone(), &keys, &config), n).await);
    let cached_store: Arc<dyn Store> = cached(url, prefix, 100_000).await;
    let ctx = RequestContext {
        user_agent: "bench".to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    for (label, store) in [("off", plain.clone()), ("on", cached_store)] {
        let sessions = Arc::new(manager(store, &keys, &config));
        // Warm up (fills the cache when on).
        for t in tokens.iter() {
            sessions.validate(t, &ctx).await.unwrap();
        }
        // One at a time.
        let mut lat = Vec::new();
        for t in tokens.iter().cycle().take(5000) {
            let s = Instant::now();
            let v = sessions.validate(t, &ctx).await.unwrap();
            lat.push(s.elapsed());
            assert!(matches!(v, Validation::Valid(_) | Validation::Refreshed(_)));
        }
        quantiles(
            &format!("{kind}: validate, one at a time, cache {label}"),
            lat,
        );
        // 64 tasks.
        let done = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..64)
            .map(|w| {
                let (sessions, tokens, done, stop, ctx) = (
                    sessions.clone(),
                    tokens.clone(),
                    done.clone(),
                    stop.clone(),
                    ctx.clone(),
                );
                tokio::spawn(async move {
                    let mut i = w * 31;
                    while !stop.load(Ordering::Relaxed) {
                        let t = &tokens[i % tokens.len()];
                        let v = sessions.validate(t, &ctx).await.unwrap();
                        assert!(matches!(v, Validation::Valid(_) | Validation::Refreshed(_)));
                        done.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                    }
                })
            })
            .collect();
        let start = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        let rate = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        println!("{kind}: validate, 64 tasks, cache {label}: {rate:.0}/s ({n} sessions, {secs}s)");
    }
}

async fn memory(url: &str) {
    let n = usize::try_from(env("MEM_SESSIONS", 20_000)).unwrap();
    let config = Config::default();
    let keys = KeyRing::generate();
    let prefix = "mem:";
    let plain: Arc<dyn Store> = Arc::new(RedisStore::connect(url, prefix, TIMEOUT).await.unwrap());
    let tokens = sign_ins(&manager(plain, &keys, &config), n).await;
    let store = cached(url, prefix, n * 2).await;
    let sessions = manager(store.clone(), &keys, &config);
    let ctx = RequestContext {
        user_agent: "bench".to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    // Warm the allocator and the connection with a first pass over a few.
    for t in tokens.iter().take(100) {
        sessions.validate(t, &ctx).await.unwrap();
    }
    let before = rss_bytes();
    let cached_before = store.session_cache().unwrap().len();
    for t in &tokens {
        sessions.validate(t, &ctx).await.unwrap();
    }
    let cached_n = store.session_cache().unwrap().len() - cached_before;
    let after = rss_bytes();
    println!(
        "memory: {cached_n} sessions cached, resident {} → {} bytes: {:.0} bytes per cached session",
        before,
        after,
        (after.saturating_sub(before)) as f64 / cached_n.max(1) as f64
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let single = RedisServer::start_new();
    revocation("single", &single.url()).await;
    let cluster = RedisCluster::start_new();
    revocation("cluster", &cluster.url()).await;
    throughput("single", &single.url()).await;
    throughput("cluster", &cluster.url()).await;
    memory(&single.url()).await;
}
