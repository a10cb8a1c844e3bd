//! The session cache of the Redis store (`store::redis_cache`) on a real single node and the
//! real 3-master cluster: two instances (two stores with their own caches and tracking
//! connections) over one Redis, a change on one must stop the session on the other; the cache
//! fails closed when its tracking connection is lost or lags, reads through meanwhile, and
//! resumes; misses are never cached; the session layer's `lastSeenAt` and refresh writes keep
//! their schedule. Memory and PostgreSQL have no cache (nothing to test there).
//!
//! Bounds are generous (seconds) so that a loaded machine cannot fail them; the latency
//! distribution is measured by `benches/session_cache.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use wallet_auth::clock::ManualClock;
use wallet_auth::config::Config;
use wallet_auth::session::accounts::Directory;
use wallet_auth::session::crypto::KeyRing;
use wallet_auth::session::wallet::{RequestContext, Validation, WalletSessions};
use wallet_auth::session::Audit;
use wallet_auth::store::{
    CacheEvent, MeteredStore, NewSession, RedisStore, Rotated, Rotation, SessionEntry, SessionId,
    SessionUpdate, Store, StoreRecorder, TokenHash, WalletTag,
};
use wallet_auth::verify::{Chain, WalletType};

use crate::harness::backends::Backend;
use crate::harness::redis_server::{
    kill_tracking, shared_cluster, shared_redis, tracking_ids, RedisServer,
};

const TIMEOUT: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(600);
/// How long a change may take to reach the other instance before a test fails: far above
/// the milliseconds it takes, so that a loaded machine cannot fail it.
const GENEROUS: Duration = Duration::from_secs(3);

static SEQ: AtomicU64 = AtomicU64::new(0);

fn unique(what: &str) -> String {
    format!(
        "{what}{}x{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// Counts the cache's events (and store calls by name).
#[derive(Default)]
struct Counts {
    events: [AtomicU64; 4],
    updates: AtomicU64,
}

impl Counts {
    fn get(&self, e: CacheEvent) -> u64 {
        let i = CacheEvent::ALL.iter().position(|x| *x == e).unwrap();
        self.events[i].load(Ordering::SeqCst)
    }
}

impl StoreRecorder for Counts {
    fn store_op(&self, op: &'static str, _: Duration, _: bool) {
        if op == "update_session" {
            self.updates.fetch_add(1, Ordering::SeqCst);
        }
    }
    fn cache_event(&self, event: CacheEvent, n: u64) {
        let i = CacheEvent::ALL.iter().position(|x| *x == event).unwrap();
        self.events[i].fetch_add(n, Ordering::SeqCst);
    }
}

/// One instance: a cached store and what it counted.
struct Instance {
    store: Arc<RedisStore>,
    counts: Arc<Counts>,
}

impl Instance {
    async fn open(url: &str, prefix: &str) -> Self {
        let store = Arc::new(
            RedisStore::connect_cached(url, prefix, TIMEOUT, 10_000)
                .await
                .unwrap(),
        );
        let counts = Arc::new(Counts::default());
        store.attach_recorder(counts.clone());
        let me = Instance { store, counts };
        me.wait_serving().await;
        me
    }

    fn serving(&self) -> bool {
        self.store.session_cache().unwrap().is_serving()
    }

    async fn wait_serving(&self) {
        let start = Instant::now();
        while !self.serving() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the cache never started serving"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn read(&self, s: &Sess) -> Option<SessionEntry> {
        self.store
            .get_session(&s.tag, &s.hash, Some(&s.sid))
            .await
            .unwrap()
    }

    /// Reads `s` until it is answered from the cache (a fill, then a hit).
    async fn cache(&self, s: &Sess) {
        let start = Instant::now();
        loop {
            let hits = self.counts.get(CacheEvent::Hit);
            assert_eq!(
                self.read(s).await,
                Some(SessionEntry::Live(s.record.clone()))
            );
            if self.counts.get(CacheEvent::Hit) > hits {
                return;
            }
            assert!(start.elapsed() < GENEROUS, "never answered from the cache");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Reads `s` in a tight loop until it is no longer the live record `s.record`; how long
    /// that took.
    async fn stops(&self, s: &Sess) -> Duration {
        let start = Instant::now();
        while self.read(s).await == Some(SessionEntry::Live(s.record.clone())) {
            assert!(
                start.elapsed() < GENEROUS,
                "the change did not reach the other instance"
            );
        }
        start.elapsed()
    }
}

struct Sess {
    tag: WalletTag,
    sid: SessionId,
    hash: TokenHash,
    record: Vec<u8>,
}

fn sess() -> Sess {
    Sess {
        tag: WalletTag::new(unique("w")),
        sid: SessionId::new(unique("s")),
        hash: TokenHash::new(unique("h")),
        record: unique("record-").into_bytes(),
    }
}

async fn create(store: &RedisStore, s: &Sess, max: usize) -> usize {
    let created_ms = OffsetDateTime::now_utc().unix_timestamp() * 1000
        + i64::try_from(SEQ.fetch_add(1, Ordering::Relaxed) % 1000).unwrap();
    store
        .create_session(
            &s.tag,
            NewSession {
                session_id: &s.sid,
                token_hash: &s.hash,
                created_ms,
                record: &s.record,
                ttl: LONG,
            },
            max,
        )
        .await
        .unwrap()
        .len()
}

fn url_of(backend: Backend) -> String {
    match backend {
        Backend::Redis => shared_redis().url(),
        Backend::Cluster => shared_cluster().url(),
        _ => unreachable!("the session cache is Redis's"),
    }
}

fn node_urls(backend: Backend) -> Vec<String> {
    url_of(backend).split(',').map(str::to_owned).collect()
}

async fn two(backend: Backend) -> (Instance, Instance, String) {
    let prefix = format!("{}:", unique("c"));
    let url = url_of(backend);
    let a = Instance::open(&url, &prefix).await;
    let b = Instance::open(&url, &prefix).await;
    (a, b, prefix)
}

crate::on_backends!(
    on_redis: Redis, on_cluster: Cluster;
    every_change_on_one_instance_stops_the_session_on_the_other,
    own_writes_are_read_at_once,
    a_miss_is_never_cached,
    losing_the_tracking_connection_flushes_and_resumes,
    last_seen_and_refresh_writes_keep_their_schedule,
    metrics_count_the_cache,
);

async fn every_change_on_one_instance_stops_the_session_on_the_other(backend: Backend) {
    let (a, b, _) = two(backend).await;
    let mut took = Vec::new();

    // Revocation, logout, binding revoke: a delete by session id.
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    assert!(a
        .store
        .delete_session(&s.tag, &s.sid)
        .await
        .unwrap()
        .is_some());
    took.push(("delete", b.stops(&s).await));
    assert_eq!(b.read(&s).await, None);

    // Logout-all.
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    assert_eq!(
        a.store.delete_wallet_sessions(&s.tag).await.unwrap().len(),
        1
    );
    took.push(("delete-all", b.stops(&s).await));

    // Eviction by the per-wallet limit (a new session of the wallet on A).
    let s = sess();
    create(&a.store, &s, 1).await;
    b.cache(&s).await;
    let newer = Sess {
        tag: s.tag.clone(),
        ..sess()
    };
    assert_eq!(
        create(&a.store, &newer, 1).await,
        1,
        "the older one is evicted"
    );
    took.push(("eviction", b.stops(&s).await));

    // Rotation: the old token is now a retired one.
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    let new_hash = TokenHash::new(unique("h"));
    let rotated = a
        .store
        .rotate_session(
            &s.tag,
            Rotation {
                session_id: &s.sid,
                old_hash: &s.hash,
                new_hash: &new_hash,
                record: b"rotated",
                ttl: LONG,
                retain: LONG,
                max_retired: 8,
                burst: 5,
                burst_window: Duration::from_secs(60),
                now_ms: OffsetDateTime::now_utc().unix_timestamp() * 1000,
            },
        )
        .await
        .unwrap();
    assert_eq!(rotated, Rotated::Done);
    took.push(("rotation", b.stops(&s).await));
    assert!(matches!(
        b.read(&s).await,
        Some(SessionEntry::Retired { .. })
    ));

    // Any change of the record (lastSeenAt, refresh): B reads the new one.
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    let update = SessionUpdate {
        token_hash: &s.hash,
        record: b"updated",
        ttl: None,
    };
    assert!(a.store.update_session(&s.tag, update).await.unwrap());
    took.push(("update", b.stops(&s).await));
    assert_eq!(
        b.read(&s).await,
        Some(SessionEntry::Live(b"updated".to_vec()))
    );

    // A change by anyone else (here a raw DEL of every key of the wallet, on its node).
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    raw_del_wallet(backend, &s).await;
    took.push(("raw DEL", b.stops(&s).await));

    assert!(b.counts.get(CacheEvent::Invalidation) >= 6);
    eprintln!("{backend:?}: change → stop on the other instance: {took:?}");
}

/// Deletes the record of `s` behind the stores' backs.
async fn raw_del_wallet(backend: Backend, s: &Sess) {
    let key_end = format!("{{{}}}:s:{}", s.tag, s.hash);
    for url in node_urls(backend) {
        let mut c = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("*{key_end}"))
            .query_async(&mut c)
            .await
            .unwrap();
        for key in keys {
            let _: i64 = redis::cmd("DEL")
                .arg(&key)
                .query_async(&mut c)
                .await
                .unwrap();
        }
    }
}

async fn own_writes_are_read_at_once(backend: Backend) {
    let (a, _b, _) = two(backend).await;
    for round in 0..20 {
        let s = sess();
        create(&a.store, &s, 5).await;
        a.cache(&s).await;
        let record = format!("updated-{round}").into_bytes();
        let update = SessionUpdate {
            token_hash: &s.hash,
            record: &record,
            ttl: None,
        };
        assert!(a.store.update_session(&s.tag, update).await.unwrap());
        // The very next read, with no wait for Redis's push.
        assert_eq!(a.read(&s).await, Some(SessionEntry::Live(record)));
        a.cache(&Sess {
            record: format!("updated-{round}").into_bytes(),
            ..s
        })
        .await;
        let s2 = sess();
        create(&a.store, &s2, 5).await;
        a.cache(&s2).await;
        a.store.delete_session(&s2.tag, &s2.sid).await.unwrap();
        assert_eq!(a.read(&s2).await, None);
    }
}

async fn a_miss_is_never_cached(backend: Backend) {
    let (a, b, _) = two(backend).await;
    let s = sess();
    for _ in 0..5 {
        assert_eq!(b.read(&s).await, None);
    }
    create(&a.store, &s, 5).await;
    // The very next read on B finds it: no "absent" was kept.
    assert_eq!(b.read(&s).await, Some(SessionEntry::Live(s.record.clone())));
}

async fn wait_not_serving(i: &Instance) {
    let start = Instant::now();
    while i.serving() {
        assert!(start.elapsed() < GENEROUS, "the cache kept serving");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Waits (within the bound) for a flush after the first `before`.
async fn wait_for_flush(i: &Instance, before: u64) {
    let start = Instant::now();
    while i.counts.get(CacheEvent::Flush) == before {
        assert!(start.elapsed() < GENEROUS, "no flush");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn losing_the_tracking_connection_flushes_and_resumes(backend: Backend) {
    let (a, b, prefix) = two(backend).await;
    let urls = node_urls(backend);
    // Each instance has one tracking connection per master.
    for url in &urls {
        assert_eq!(tracking_ids(url, &prefix).await.len(), 2, "{url}");
    }
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    let flushes = b.counts.get(CacheEvent::Flush);
    assert_eq!(kill_tracking(&urls, &prefix).await, 2 * urls.len());
    wait_not_serving(&b).await;
    wait_for_flush(&b, flushes).await;
    assert!(b.store.session_cache().unwrap().is_empty());
    // A revocation B's tracking connection cannot have heard of: B must not serve the session.
    a.store.delete_session(&s.tag, &s.sid).await.unwrap();
    assert_eq!(b.read(&s).await, None);
    // The tracking connections come back by themselves, and the cache serves again.
    b.wait_serving().await;
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;
    a.wait_serving().await;
    for url in &urls {
        assert_eq!(tracking_ids(url, &prefix).await.len(), 2, "{url}");
    }
    // ... and hears of changes again.
    a.store.delete_session(&s.tag, &s.sid).await.unwrap();
    b.stops(&s).await;
}

/// While the tracking connection cannot come back (its `CLIENT` commands are refused), reads go
/// to Redis (all misses, all correct) and nothing is served from memory; once it can, the cache
/// resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_go_through_while_tracking_is_down() {
    let server = RedisServer::start_new();
    let url = server.url();
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let acl = |rule: &'static str| {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg("default").arg(rule);
        cmd
    };
    let _: () = redis::cmd("ACL")
        .arg("SETUSER")
        .arg("admin")
        .arg("on")
        .arg(">x")
        .arg("+@all")
        .arg("~*")
        .query_async(&mut admin)
        .await
        .unwrap();
    let _: () = redis::cmd("AUTH")
        .arg("admin")
        .arg("x")
        .query_async(&mut admin)
        .await
        .unwrap();
    let admin_url = url.replace("redis://", "redis://admin:x@");

    let prefix = "down:";
    let a = Instance::open(&url, prefix).await;
    let b = Instance::open(&url, prefix).await;
    let s = sess();
    create(&a.store, &s, 5).await;
    b.cache(&s).await;

    let _: () = acl("-client").query_async(&mut admin).await.unwrap();
    let killed = kill_tracking(std::slice::from_ref(&admin_url), prefix).await;
    assert_eq!(killed, 2);
    wait_not_serving(&b).await;
    a.store.delete_session(&s.tag, &s.sid).await.unwrap();
    assert_eq!(b.read(&s).await, None, "no stale read");

    let hits = b.counts.get(CacheEvent::Hit);
    let misses = b.counts.get(CacheEvent::Miss);
    let s = sess();
    create(&a.store, &s, 5).await;
    for _ in 0..50 {
        assert_eq!(b.read(&s).await, Some(SessionEntry::Live(s.record.clone())));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert!(!b.serving());
    assert_eq!(
        b.counts.get(CacheEvent::Hit),
        hits,
        "nothing from memory while down"
    );
    assert_eq!(b.counts.get(CacheEvent::Miss), misses + 50);
    // A change is seen at once (read through).
    let update = SessionUpdate {
        token_hash: &s.hash,
        record: b"changed",
        ttl: None,
    };
    a.store.update_session(&s.tag, update).await.unwrap();
    assert_eq!(
        b.read(&s).await,
        Some(SessionEntry::Live(b"changed".to_vec()))
    );

    let _: () = acl("+client").query_async(&mut admin).await.unwrap();
    b.wait_serving().await;
    b.cache(&Sess {
        record: b"changed".to_vec(),
        ..s
    })
    .await;
}

/// A tracking connection that lags (here: Redis paused longer than the lag bound) stops the
/// hits and flushes; the cache serves again once it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_tracking_connection_stops_hits() {
    let server = RedisServer::start_new();
    let url = server.url();
    let b = Instance::open(&url, "lag:").await;
    let s = sess();
    create(&b.store, &s, 5).await;
    b.cache(&s).await;
    let flushes = b.counts.get(CacheEvent::Flush);
    let mut admin = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1000)
        .arg("ALL")
        .query_async(&mut admin)
        .await
        .unwrap();
    // Nothing is served from memory once the newest answered heartbeat is older than the bound,
    // though the connection is still open.
    wait_not_serving(&b).await;
    let start = Instant::now();
    b.wait_serving().await;
    assert!(start.elapsed() < Duration::from_secs(10));
    wait_for_flush(&b, flushes).await;
    b.cache(&s).await;
}

/// The session layer over two cached instances: `lastSeenAt` is written once per resolution
/// (not again after the write: the cached record is the one written), and a refresh on one
/// instance is seen by the other (which does not refresh again).
async fn last_seen_and_refresh_writes_keep_their_schedule(backend: Backend) {
    let (a, b, _) = two(backend).await;
    let clock = Arc::new(ManualClock::new(OffsetDateTime::now_utc()));
    let config = Config::default();
    let keys = KeyRing::generate();
    let manager = |i: &Instance| {
        let store: Arc<dyn Store> = Arc::new(MeteredStore::new(i.store.clone(), i.counts.clone()));
        WalletSessions::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            config.sessions.clone(),
            Audit::new(store.clone()),
            Directory::new(store, clock.clone(), Vec::new()),
        )
    };
    let (on_a, on_b) = (manager(&a), manager(&b));
    let ctx = RequestContext {
        user_agent: "ua".to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    let address = "0x52908400098527886E0F7030069857D2E4169EE7";
    let (token, _) = on_a
        .create(Chain::Ethereum, address, None, WalletType::Eoa, &ctx)
        .await
        .unwrap();
    let valid = |v: Validation| match v {
        Validation::Valid(auth) => auth,
        other => panic!("expected a plain validation, got {other:?}"),
    };
    // Fill B's cache, then serve from it.
    let hits = b.counts.get(CacheEvent::Hit);
    for _ in 0..3 {
        valid(on_b.validate(&token, &ctx).await.unwrap());
    }
    assert!(b.counts.get(CacheEvent::Hit) > hits);

    for _ in 0..3 {
        clock.advance(Duration::from_secs(61));
        let now = clock_ms(&clock);
        let updates = b.counts.updates.load(Ordering::SeqCst);
        let auth = valid(on_b.validate(&token, &ctx).await.unwrap());
        assert_eq!(
            b.counts.updates.load(Ordering::SeqCst),
            updates + 1,
            "lastSeenAt written"
        );
        assert_eq!(
            auth.info.last_seen_at.unix_timestamp() * 1000,
            now / 1000 * 1000
        );
        for _ in 0..3 {
            valid(on_b.validate(&token, &ctx).await.unwrap());
        }
        assert_eq!(
            b.counts.updates.load(Ordering::SeqCst),
            updates + 1,
            "written once: the record read after the write is the new one"
        );
    }

    // Into the refresh window: B refreshes; A, which cached the old record, hears of it and
    // sees the new expiry without refreshing again.
    valid(on_a.validate(&token, &ctx).await.unwrap());
    valid(on_a.validate(&token, &ctx).await.unwrap());
    let ttl = config.sessions.ttl;
    clock.advance(ttl - config.sessions.refresh_window + Duration::from_secs(1));
    let refreshed = match on_b.validate(&token, &ctx).await.unwrap() {
        Validation::Refreshed(auth) => auth,
        other => panic!("expected a refresh, got {other:?}"),
    };
    // A dropped its copy when Redis told it (or within the bound).
    let start = Instant::now();
    while !a.store.session_cache().unwrap().is_empty() {
        assert!(start.elapsed() < GENEROUS, "A never heard of B's refresh");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let updates = a.counts.updates.load(Ordering::SeqCst);
    let auth = valid(on_a.validate(&token, &ctx).await.unwrap());
    assert_eq!(auth.info.expires_at, refreshed.info.expires_at);
    assert_eq!(
        a.counts.updates.load(Ordering::SeqCst),
        updates,
        "no second refresh"
    );
}

fn clock_ms(clock: &ManualClock) -> i64 {
    use wallet_auth::clock::Clock;
    wallet_auth::clock::unix_ms(clock.now())
}

/// The value of the cache counter `event` in a `/metrics` text.
fn cache_metric(text: &str, event: &str) -> u64 {
    let series = format!("wallet_auth_session_cache_events_total{{event=\"{event}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series} in /metrics"))
        .trim()
        .parse()
        .unwrap()
}

/// `/metrics` counts the cache's hits, misses, invalidations and flushes.
async fn metrics_count_the_cache(backend: Backend) {
    use crate::harness::app::{spawn_app, Wallet};
    let app = spawn_app(backend).await;
    let before = app.get("/metrics", None).await.text;
    let t = app.token(&Wallet::ethereum()).await;
    let metric = |text: &str, event: &str| cache_metric(text, event) - cache_metric(&before, event);
    if !backend.is_redis() {
        for _ in 0..5 {
            assert_eq!(app.get("/api/me", Some(&t)).await.status, 200);
        }
        let after = app.get("/metrics", None).await.text;
        for event in ["hit", "miss", "invalidation", "flush"] {
            assert_eq!(metric(&after, event), 0, "{event}: no cache on {backend:?}");
        }
        return;
    }
    // Validations until one is answered from the cache (once its tracking is up).
    let start = Instant::now();
    let mut requests = 0;
    let after = loop {
        assert_eq!(app.get("/api/me", Some(&t)).await.status, 200);
        requests += 1;
        let text = app.get("/metrics", None).await.text;
        if metric(&text, "hit") > 0 {
            break text;
        }
        assert!(start.elapsed() < GENEROUS, "no hit counted");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(metric(&after, "miss") > 0, "the first read is a miss");
    assert_eq!(metric(&after, "hit") + metric(&after, "miss"), requests);
    assert_eq!(app.post("/auth/logout", Some(&t), None).await.status, 204);
    let text = app.get("/metrics", None).await.text;
    assert!(
        metric(&text, "invalidation") > 0,
        "the logout dropped the cached session"
    );
    app.get("/api/me", Some(&t))
        .await
        .assert_error(401, "unauthenticated");
}

crate::on_backends!(on_memory: Memory, on_postgres: Postgres; metrics_count_the_cache);
