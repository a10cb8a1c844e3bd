//! The behavioural store suite: every test runs against the in-memory reference store, a real
//! single-node Redis, a real 3-master Redis Cluster and a real PostgreSQL, and must pass
//! identically on all four.
//! The Redis-backed runs also look at the keys themselves (TTLs, index consistency, no orphan
//! records) through a separate raw connection.
//!
//! One Redis server, one cluster and one PostgreSQL server are started per test binary and
//! shared; each test uses its own key prefix (Redis) or database (PostgreSQL) and its own
//! connections (every `#[tokio::test]` has its own runtime).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::harness::backends::{Backend, FromBackend};
use crate::harness::postgres_server::{shared_postgres, PostgresServer};
use crate::harness::redis_server::{shared_cluster, shared_redis, RedisCluster, RedisServer};
use redis::AsyncCommands;
use wallet_auth::clock::ManualClock;
use wallet_auth::store::{
    AccountId, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap, Claimed, CurrentToken,
    IdentityRemoval, IndexEntry, MemoryStore, NewIdentity, NewSession, PostgresStore, RateBudget,
    RateDecision, RedisStore, RolesSet, Rotated, Rotation, SessionClaim, SessionEntry,
    SessionExtras, SessionId, SessionUpdate, Span, Store, StoreError, Swap, TokenHash, WalletTag,
};

/// Per-call bound of the stores under test (generous: the machine is shared).
const TIMEOUT: Duration = Duration::from_secs(5);
const LONG: Duration = Duration::from_secs(60);
/// A TTL short enough to wait out in a test, long enough for the few calls a test makes
/// before it must still be alive.
const SHORT: Duration = Duration::from_millis(300);
/// How long a real backend sleeps to be sure a [`SHORT`] TTL has passed: Redis and PostgreSQL
/// expire to the millisecond by one clock, so a small margin is enough. The memory store moves
/// its clock instead (see [`Fixture::pass`]).
const PAST_SHORT: Duration = Duration::from_millis(350);

static PREFIX_SEQ: AtomicU64 = AtomicU64::new(0);

fn unique_prefix() -> String {
    format!(
        "t{}x{}:",
        std::process::id(),
        PREFIX_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Direct access to the keys a Redis store wrote, bypassing the store.
struct Raw {
    url: String,
    nodes: Vec<String>,
    prefix: String,
}

enum RawConn {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl Raw {
    async fn conn(&self) -> RawConn {
        if self.nodes.len() == 1 {
            let client = redis::Client::open(self.url.as_str()).unwrap();
            RawConn::Single(client.get_multiplexed_async_connection().await.unwrap())
        } else {
            let client = redis::cluster::ClusterClient::new(self.nodes.clone()).unwrap();
            RawConn::Cluster(client.get_async_connection().await.unwrap())
        }
    }

    async fn pttl(&self, key: &str) -> i64 {
        match self.conn().await {
            RawConn::Single(mut c) => c.pttl(key).await.unwrap(),
            RawConn::Cluster(mut c) => c.pttl(key).await.unwrap(),
        }
    }

    async fn hlen(&self, key: &str) -> usize {
        match self.conn().await {
            RawConn::Single(mut c) => c.hlen(key).await.unwrap(),
            RawConn::Cluster(mut c) => c.hlen(key).await.unwrap(),
        }
    }

    /// Every key under the test's prefix (on every node), with its PTTL.
    async fn keys(&self) -> Vec<(String, i64)> {
        let mut out = Vec::new();
        for node in &self.nodes {
            let client = redis::Client::open(node.as_str()).unwrap();
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            let mut cursor: u64 = 0;
            loop {
                let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut c)
                    .await
                    .unwrap();
                for key in batch {
                    let ttl: i64 = c.pttl(&key).await.unwrap();
                    out.push((key, ttl));
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        out.sort();
        out
    }

    /// The session-entry keys of a wallet (records and rotation markers), by token hash.
    async fn record_hashes(&self, tag: &str) -> BTreeSet<String> {
        let records = format!("{}{{{tag}}}:s:", self.prefix);
        self.keys()
            .await
            .into_iter()
            .filter_map(|(k, _)| k.strip_prefix(&records).map(str::to_owned))
            .collect()
    }

    fn index_key(&self, tag: &str) -> String {
        format!("{}{{{tag}}}:i", self.prefix)
    }

    fn retired_key(&self, tag: &str, sid: &str) -> String {
        format!("{}{{{tag}}}:m:{sid}", self.prefix)
    }

    async fn set_px(&self, key: &str, value: &str, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap();
        match self.conn().await {
            RawConn::Single(mut c) => c.pset_ex::<_, _, ()>(key, value, ms).await.unwrap(),
            RawConn::Cluster(mut c) => c.pset_ex::<_, _, ()>(key, value, ms).await.unwrap(),
        }
    }

    async fn zcard(&self, key: &str) -> usize {
        match self.conn().await {
            RawConn::Single(mut c) => c.zcard(key).await.unwrap(),
            RawConn::Cluster(mut c) => c.zcard(key).await.unwrap(),
        }
    }

    /// Runs one command (on a cluster, on the node of its first key).
    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        match self.conn().await {
            RawConn::Single(mut c) => cmd.query_async(&mut c).await.unwrap(),
            RawConn::Cluster(mut c) => cmd.query_async(&mut c).await.unwrap(),
        }
    }

    /// Redis's clock, Unix milliseconds (the clock the audit logs are dated by).
    async fn time_ms(&self) -> i64 {
        let (s, us): (i64, i64) = self.query(&redis::cmd("TIME")).await;
        s * 1000 + us / 1000
    }
}

/// A store under test, plus what is needed to open a second handle on the same data.
struct Fixture {
    store: Arc<dyn Store>,
    /// The memory store's clock, which tests move instead of sleeping.
    clock: Option<Arc<ManualClock>>,
    raw: Option<Raw>,
    /// The database URL of a PostgreSQL store.
    pg: Option<String>,
}

/// How often the PostgreSQL stores under test prune by themselves (never, in a test: the tests
/// that prune call [`PostgresStore::prune`]).
const PRUNE_NEVER: Duration = Duration::from_secs(86_400);

impl Fixture {
    async fn memory() -> Self {
        let clock = Arc::new(ManualClock::starting_now());
        Self {
            store: Arc::new(MemoryStore::with_clock(clock.clone())),
            clock: Some(clock),
            raw: None,
            pg: None,
        }
    }

    /// Lets a [`SHORT`] time to live pass: the memory store's clock moves past it, a real
    /// backend sleeps [`PAST_SHORT`].
    async fn pass_short(&self) {
        match &self.clock {
            Some(clock) => clock.advance(PAST_SHORT),
            None => tokio::time::sleep(PAST_SHORT).await,
        }
    }

    async fn postgres() -> Self {
        let url = shared_postgres().fresh_database().await;
        let store = PostgresStore::connect(&url, TIMEOUT, PRUNE_NEVER)
            .await
            .unwrap();
        Self {
            store: Arc::new(store),
            clock: None,
            raw: None,
            pg: Some(url),
        }
    }

    async fn redis() -> Self {
        let url = shared_redis().url();
        Self::connect(url.clone(), vec![url]).await
    }

    async fn cluster() -> Self {
        let cluster = shared_cluster();
        Self::connect(cluster.url(), cluster.urls()).await
    }

    async fn connect(url: String, nodes: Vec<String>) -> Self {
        let prefix = unique_prefix();
        let store = RedisStore::connect(&url, &prefix, TIMEOUT).await.unwrap();
        Self {
            store: Arc::new(store),
            clock: None,
            raw: Some(Raw { url, nodes, prefix }),
            pg: None,
        }
    }

    /// Another handle on the same data: for Redis a second store with its own connection, for
    /// memory the same instance (a memory store is one process's data).
    async fn second(&self) -> Arc<dyn Store> {
        if let Some(url) = &self.pg {
            return Arc::new(
                PostgresStore::connect(url, TIMEOUT, PRUNE_NEVER)
                    .await
                    .unwrap(),
            );
        }
        match &self.raw {
            Some(raw) => Arc::new(
                RedisStore::connect(&raw.url, &raw.prefix, TIMEOUT)
                    .await
                    .unwrap(),
            ),
            None => Arc::clone(&self.store),
        }
    }
}

/// A wallet tag, by its text.
fn w(tag: &str) -> WalletTag {
    WalletTag::new(tag)
}

/// A token hash, by its text.
fn h(hash: &str) -> TokenHash {
    TokenHash::new(hash)
}

/// A session id, by its text.
fn sid(id: &str) -> SessionId {
    SessionId::new(id)
}

/// A value that lives for the rest of the test binary (the parameter structs of the store
/// borrow their names; the tests name them with literals).
fn leak<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

impl FromBackend for Fixture {
    async fn from_backend(backend: Backend) -> Self {
        match backend {
            Backend::Memory => Self::memory().await,
            Backend::Redis => Self::redis().await,
            Backend::Cluster => Self::cluster().await,
            Backend::Postgres => Self::postgres().await,
        }
    }
}

fn session<'a>(
    id: &str,
    hash: &str,
    created_ms: i64,
    record: &'a [u8],
    ttl: Duration,
) -> NewSession<'a> {
    NewSession {
        session_id: leak(sid(id)),
        token_hash: leak(h(hash)),
        created_ms,
        record,
        ttl,
    }
}

fn entry(id: &str, hash: &str, created_ms: i64) -> IndexEntry {
    IndexEntry {
        session_id: sid(id),
        token_hash: h(hash),
        created_ms,
    }
}

fn live(record: &[u8]) -> Option<SessionEntry> {
    Some(SessionEntry::Live(record.to_vec()))
}

/// A rotation retaining retired tokens for `retain`, with limits no test reaches unless it
/// sets them.
fn rotation<'a>(
    session_id: &str,
    old: &str,
    new: &str,
    record: &'a [u8],
    retain: Duration,
    now_ms: i64,
) -> Rotation<'a> {
    Rotation {
        session_id: leak(sid(session_id)),
        old_hash: leak(h(old)),
        new_hash: leak(h(new)),
        record,
        ttl: LONG,
        retain,
        max_retired: 1000,
        burst: 1000,
        burst_window: Duration::from_secs(1),
        now_ms,
    }
}

/// What a retired token of the session `sid` reads as, with the session's current record.
fn retired(id: &str, at_ms: i64, current: Option<(&str, &[u8])>) -> Option<SessionEntry> {
    Some(SessionEntry::Retired {
        session_id: sid(id),
        at_ms,
        current: current.map(|(hash, record)| CurrentToken {
            token_hash: h(hash),
            record: record.to_vec(),
        }),
    })
}

// ---------------------------------------------------------------------------------------------
// Behaviour shared by every store.

async fn ping_and_kind(f: Fixture) {
    f.store.ping().await.unwrap();
    let expected = match (&f.raw, &f.pg) {
        (Some(_), _) => "redis",
        (None, Some(_)) => "postgres",
        (None, None) => "memory",
    };
    assert_eq!(f.store.kind(), expected);
}

async fn nonce_single_use(f: Fixture) {
    let s = &f.store;
    assert!(s.put_nonce("n1", b"bound-to", LONG).await.unwrap());
    assert_eq!(
        s.take_nonce("n1").await.unwrap(),
        Some(b"bound-to".to_vec())
    );
    assert_eq!(s.take_nonce("n1").await.unwrap(), None);
    assert_eq!(s.take_nonce("never-issued").await.unwrap(), None);
    // An empty binding is a value too.
    assert!(s.put_nonce("n2", b"", LONG).await.unwrap());
    assert_eq!(s.take_nonce("n2").await.unwrap(), Some(Vec::new()));
}

async fn nonce_put_is_nx(f: Fixture) {
    let s = &f.store;
    assert!(s.put_nonce("n", b"first", LONG).await.unwrap());
    assert!(!s.put_nonce("n", b"second", LONG).await.unwrap());
    assert_eq!(s.take_nonce("n").await.unwrap(), Some(b"first".to_vec()));
    assert!(s.put_nonce("n", b"third", LONG).await.unwrap());
}

async fn nonce_expires(f: Fixture) {
    let s = &f.store;
    assert!(s.put_nonce("short", b"v", SHORT).await.unwrap());
    assert!(s.put_nonce("long", b"v", LONG).await.unwrap());
    f.pass_short().await;
    assert_eq!(s.take_nonce("short").await.unwrap(), None);
    assert!(s.put_nonce("short", b"again", LONG).await.unwrap());
    assert_eq!(s.take_nonce("long").await.unwrap(), Some(b"v".to_vec()));
}

async fn nonce_concurrent_take(f: Fixture) {
    let other = f.second().await;
    assert!(f.store.put_nonce("race", b"v", LONG).await.unwrap());
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            tokio::spawn(async move { s.take_nonce("race").await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for t in tasks {
        if let Some(v) = t.await.unwrap() {
            assert_eq!(v, b"v");
            winners += 1;
        }
    }
    assert_eq!(
        winners, 1,
        "exactly one concurrent take_nonce gets the nonce"
    );
}

async fn session_crud(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    let evicted = s
        .create_session(&w("w"), session("s1", "h1", t0, b"r1", LONG), 5)
        .await
        .unwrap();
    assert!(evicted.is_empty());
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        live(b"r1")
    );
    assert_eq!(
        s.get_session(&w("w"), &h("nope"), None).await.unwrap(),
        None
    );
    assert_eq!(
        s.get_session(&w("other"), &h("h1"), None).await.unwrap(),
        None
    );

    assert!(s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("h1"),
                record: b"r2",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        live(b"r2")
    );
    assert!(!s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("nope"),
                record: b"x",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(
        s.get_session(&w("w"), &h("nope"), None).await.unwrap(),
        None
    );

    assert_eq!(
        s.list_sessions(&w("w")).await.unwrap(),
        vec![(entry("s1", "h1", t0), b"r2".to_vec())]
    );
    assert!(s.list_sessions(&w("other")).await.unwrap().is_empty());

    assert!(s
        .delete_session(&w("w"), &sid("unknown"))
        .await
        .unwrap()
        .is_none());
    assert!(s
        .delete_session(&w("w"), &sid("s1"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(s.get_session(&w("w"), &h("h1"), None).await.unwrap(), None);
    assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
    assert!(s
        .delete_session(&w("w"), &sid("s1"))
        .await
        .unwrap()
        .is_none());

    if let Some(raw) = &f.raw {
        assert!(
            raw.keys().await.is_empty(),
            "a wallet without sessions leaves no key behind"
        );
    }
}

async fn session_records_are_binary(f: Fixture) {
    let s = &f.store;
    let record: Vec<u8> = (0..=255u8).chain([b'|', b'R', b'L', 0]).collect();
    s.create_session(&w("w"), session("s1", "h1", now_ms(), &record, LONG), 5)
        .await
        .unwrap();
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        live(&record)
    );
    let listed = s.list_sessions(&w("w")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].1, record);
}

async fn update_session_ttl(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r", SHORT), 5)
        .await
        .unwrap();
    s.create_session(&w("w"), session("s2", "h2", t0 + 1, b"r", SHORT), 5)
        .await
        .unwrap();
    assert!(s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("h1"),
                record: b"r1",
                ttl: Some(LONG)
            }
        )
        .await
        .unwrap());
    assert!(s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("h2"),
                record: b"r2",
                ttl: None
            }
        )
        .await
        .unwrap());
    if let Some(raw) = &f.raw {
        let ttl = raw.pttl(&raw.index_key("w")).await;
        assert!(ttl > 50_000, "index TTL follows its longest session: {ttl}");
    }
    f.pass_short().await;
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        live(b"r1")
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h2"), None).await.unwrap(),
        None,
        "an update without ttl keeps the old expiry"
    );
    assert!(!s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("h2"),
                record: b"late",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(
        s.list_sessions(&w("w")).await.unwrap(),
        vec![(entry("s1", "h1", t0), b"r1".to_vec())]
    );
}

async fn eviction_keeps_newest(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    for i in 0..3 {
        let (id, hash) = (format!("s{i}"), format!("h{i}"));
        let evicted = s
            .create_session(&w("w"), session(&id, &hash, t0 + i, b"r", LONG), 3)
            .await
            .unwrap();
        assert!(evicted.is_empty());
    }
    let evicted = s
        .create_session(&w("w"), session("s3", "h3", t0 + 3, b"r", LONG), 3)
        .await
        .unwrap();
    assert_eq!(
        evicted,
        vec![(entry("s0", "h0", t0), b"r".to_vec())],
        "with its record"
    );
    let evicted = s
        .create_session(&w("w"), session("s4", "h4", t0 + 4, b"r", LONG), 2)
        .await
        .unwrap();
    let entries: Vec<_> = evicted.into_iter().map(|(e, _)| e).collect();
    assert_eq!(
        entries,
        vec![entry("s1", "h1", t0 + 1), entry("s2", "h2", t0 + 2)],
        "oldest first"
    );
    // A session older than all the others is itself the one evicted.
    let evicted = s
        .create_session(&w("w"), session("old", "hold", t0 - 10, b"r", LONG), 2)
        .await
        .unwrap();
    let entries: Vec<_> = evicted.into_iter().map(|(e, _)| e).collect();
    assert_eq!(entries, vec![entry("old", "hold", t0 - 10)]);
    for gone in ["h0", "h1", "h2", "hold"] {
        assert_eq!(
            s.get_session(&w("w"), &h(gone), None).await.unwrap(),
            None,
            "{gone}"
        );
    }
    let ids: Vec<String> = s
        .list_sessions(&w("w"))
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.session_id.into_string())
        .collect();
    assert_eq!(ids, ["s3", "s4"]);
    if let Some(raw) = &f.raw {
        assert_eq!(raw.hlen(&raw.index_key("w")).await, 2);
        assert_eq!(
            raw.record_hashes("w").await,
            BTreeSet::from(["h3".to_owned(), "h4".to_owned()])
        );
    }
}

async fn eviction_under_concurrency(f: Fixture) {
    let other = f.second().await;
    let t0 = now_ms();
    let tasks: Vec<_> = (0..30i64)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            tokio::spawn(async move {
                let (id, hash) = (format!("s{i:02}"), format!("h{i:02}"));
                s.create_session(&w("w"), session(&id, &hash, t0 + i, b"r", LONG), 5)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut evicted = BTreeSet::new();
    for t in tasks {
        for (e, _) in t.await.unwrap() {
            assert!(evicted.insert(e.session_id), "evicted twice");
        }
    }
    assert_eq!(evicted.len(), 25);
    let listed = f.store.list_sessions(&w("w")).await.unwrap();
    let kept: Vec<&str> = listed.iter().map(|(e, _)| e.session_id.as_str()).collect();
    assert_eq!(kept, ["s25", "s26", "s27", "s28", "s29"], "the newest five");
    for id in &evicted {
        let hash = id.as_str().replace('s', "h");
        assert_eq!(
            f.store.get_session(&w("w"), &h(&hash), None).await.unwrap(),
            None
        );
    }
    for (e, _) in &listed {
        assert_eq!(
            f.store
                .get_session(&w("w"), &e.token_hash, None)
                .await
                .unwrap(),
            live(b"r")
        );
    }
    if let Some(raw) = &f.raw {
        assert_eq!(raw.hlen(&raw.index_key("w")).await, 5);
        let expected: BTreeSet<String> = listed
            .iter()
            .map(|(e, _)| e.token_hash.to_string())
            .collect();
        assert_eq!(raw.record_hashes("w").await, expected, "no orphan record");
    }
}

async fn rotate_session(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r1", LONG), 5)
        .await
        .unwrap();
    let at = t0 + 5;
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h1", "h2", b"r2", LONG, at))
            .await
            .unwrap(),
        Rotated::Done
    );
    for named in [Some("s1"), None] {
        assert_eq!(
            s.get_session(&w("w"), &h("h1"), named.map(sid).as_ref())
                .await
                .unwrap(),
            retired("s1", at, Some(("h2", b"r2"))),
            "the retired token leads to the session's current record ({named:?})"
        );
    }
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), Some(&sid("s9")))
            .await
            .unwrap(),
        None,
        "a retired token is found only under its own session"
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h2"), None).await.unwrap(),
        live(b"r2")
    );
    assert_eq!(
        s.list_sessions(&w("w")).await.unwrap(),
        vec![(entry("s1", "h2", t0), b"r2".to_vec())],
        "the index follows the rotation and keeps the creation time"
    );
    // The old token is no longer live: it can be neither rotated again nor updated.
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h1", "h3", b"x", LONG, at))
            .await
            .unwrap(),
        Rotated::NotCurrent
    );
    assert!(!s
        .update_session(
            &w("w"),
            SessionUpdate {
                token_hash: &h("h1"),
                record: b"x",
                ttl: None
            }
        )
        .await
        .unwrap());
    // Unknown session id, unknown hash.
    for (sid, old) in [("nope", "h2"), ("s1", "unknown")] {
        assert_eq!(
            s.rotate_session(&w("w"), rotation(sid, old, "h3", b"x", LONG, at))
                .await
                .unwrap(),
            Rotated::NotCurrent
        );
    }
    assert_eq!(s.get_session(&w("w"), &h("h3"), None).await.unwrap(), None);
    // A rotated session rotates again: every token it retired still leads to it.
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h2", "h3", b"r3", LONG, at + 1))
            .await
            .unwrap(),
        Rotated::Done
    );
    for named in [Some("s1"), None] {
        assert_eq!(
            s.get_session(&w("w"), &h("h1"), named.map(sid).as_ref())
                .await
                .unwrap(),
            retired("s1", at, Some(("h3", b"r3")))
        );
        assert_eq!(
            s.get_session(&w("w"), &h("h2"), named.map(sid).as_ref())
                .await
                .unwrap(),
            retired("s1", at + 1, Some(("h3", b"r3")))
        );
    }
    if let Some(raw) = &f.raw {
        assert_eq!(
            raw.record_hashes("w").await,
            BTreeSet::from(["h3".to_owned()]),
            "a rotation leaves no record behind"
        );
        assert_eq!(raw.zcard(&raw.retired_key("w", "s1")).await, 2);
    }
    // Deleted by its id, with its retired tokens.
    assert!(s
        .delete_session(&w("w"), &sid("s1"))
        .await
        .unwrap()
        .is_some());
    for hash in ["h1", "h2", "h3"] {
        assert_eq!(
            s.get_session(&w("w"), &h(hash), Some(&sid("s1")))
                .await
                .unwrap(),
            None
        );
    }
    assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
    if let Some(raw) = &f.raw {
        assert!(
            raw.keys().await.is_empty(),
            "nothing is left of the session"
        );
    }
}

/// A retired token of a session that ended (expired) leads nowhere: no current record.
async fn retired_token_of_an_ended_session(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r1", LONG), 5)
        .await
        .unwrap();
    let mut rot = rotation("s1", "h1", "h2", b"r2", LONG, t0);
    rot.ttl = SHORT;
    assert_eq!(s.rotate_session(&w("w"), rot).await.unwrap(), Rotated::Done);
    f.pass_short().await;
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), Some(&sid("s1")))
            .await
            .unwrap(),
        retired("s1", t0, None)
    );
}

/// A rotation names the session and the token it rotates; a token of another session of the
/// same wallet is refused and nothing changes.
async fn rotate_checks_the_session_owns_the_token(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r1", LONG), 5)
        .await
        .unwrap();
    s.create_session(&w("w"), session("s2", "h2", t0 + 1, b"r2", LONG), 5)
        .await
        .unwrap();
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h2", "h3", b"x", LONG, t0))
            .await
            .unwrap(),
        Rotated::NotCurrent
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        live(b"r1")
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h2"), None).await.unwrap(),
        live(b"r2")
    );
    assert_eq!(s.get_session(&w("w"), &h("h3"), None).await.unwrap(), None);
    assert_eq!(
        s.list_sessions(&w("w")).await.unwrap(),
        vec![
            (entry("s1", "h1", t0), b"r1".to_vec()),
            (entry("s2", "h2", t0 + 1), b"r2".to_vec())
        ]
    );
}

async fn rotation_marker_expires(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r1", LONG), 5)
        .await
        .unwrap();
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h1", "h2", b"r2", SHORT, t0))
            .await
            .unwrap(),
        Rotated::Done
    );
    if let Some(raw) = &f.raw {
        let ttl = raw.pttl(&raw.retired_key("w", "s1")).await;
        assert!(ttl > 0 && ttl <= 300, "the list lives `retain`: {ttl}");
    }
    f.pass_short().await;
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), Some(&sid("s1")))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h2"), None).await.unwrap(),
        live(b"r2")
    );
}

/// Whatever the rotation rate, a session keeps at most `max_retired` retired tokens (and the
/// keys of a session stay three on Redis: record, index, list); a rotation beyond a limit is
/// refused with the time to wait, and nothing changes. No retired token is forgotten before
/// `retain` has passed.
async fn rotation_history_is_bounded(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h0", t0, b"r", LONG), 5)
        .await
        .unwrap();
    let retain = Duration::from_secs(100);
    fn limited<'a>(sid: &'a str, old: &'a str, new: &'a str, now: i64) -> Rotation<'a> {
        Rotation {
            max_retired: 8,
            burst: 3,
            burst_window: Duration::from_secs(1),
            ..rotation(sid, old, new, b"r", Duration::from_secs(100), now)
        }
    }
    let mut current = 0;
    let mut retired_at = Vec::new();
    let mut refused = 0;
    // 1,000 attempts 50 ms apart (50 s in all): three rotations per second pass until the
    // eighth, then the history is full for the rest of the 100 s window.
    for i in 0..1000 {
        let now = t0 + i * 50;
        let (old, new) = (format!("h{current}"), format!("h{}", current + 1));
        match s
            .rotate_session(&w("w"), limited("s1", &old, &new, now))
            .await
            .unwrap()
        {
            Rotated::Done => {
                retired_at.push((old, now));
                current += 1;
            }
            Rotated::Limited { retry_after } => {
                assert!(
                    retry_after > Duration::ZERO && retry_after <= retain,
                    "{retry_after:?}"
                );
                refused += 1;
            }
            Rotated::NotCurrent => panic!("attempt {i}: the current token was refused"),
        }
    }
    let times: Vec<i64> = retired_at.iter().map(|(_, at)| at - t0).collect();
    assert_eq!(times, [0, 50, 100, 1000, 1050, 1100, 2000, 2050]);
    assert_eq!(refused, 992);
    // Refused: the burst limit says when the oldest of the last three (1100, 2000, 2050) leaves
    // its window...
    let (old, new) = (format!("h{current}"), "x".to_owned());
    assert_eq!(
        s.rotate_session(
            &w("w"),
            Rotation {
                max_retired: 100,
                ..limited("s1", &old, &new, t0 + 2060)
            }
        )
        .await
        .unwrap(),
        Rotated::Limited {
            retry_after: Duration::from_millis(40)
        }
    );
    // ... and the full history when its oldest leaves the retention window.
    assert_eq!(
        s.rotate_session(&w("w"), limited("s1", &old, &new, t0 + 2060))
            .await
            .unwrap(),
        Rotated::Limited {
            retry_after: Duration::from_millis(97_940)
        }
    );
    assert_eq!(
        s.get_session(&w("w"), &h("x"), None).await.unwrap(),
        None,
        "refused: nothing changed"
    );
    // Every token retired inside the window is still recognised.
    for (hash, at) in &retired_at {
        assert_eq!(
            s.get_session(&w("w"), &h(hash), Some(&sid("s1")))
                .await
                .unwrap(),
            retired("s1", *at, Some((&old, b"r"))),
            "{hash}"
        );
    }
    if let Some(raw) = &f.raw {
        let keys = raw.keys().await;
        assert_eq!(keys.len(), 3, "one record, one index, one list: {keys:?}");
        assert_eq!(raw.zcard(&raw.retired_key("w", "s1")).await, 8);
    }
    // Once the oldest has left the window, a rotation passes and the oldest is forgotten.
    assert_eq!(
        s.rotate_session(&w("w"), limited("s1", &old, &new, t0 + 100_001))
            .await
            .unwrap(),
        Rotated::Done
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h0"), Some(&sid("s1")))
            .await
            .unwrap(),
        None
    );
    assert!(s
        .get_session(&w("w"), &h("h1"), Some(&sid("s1")))
        .await
        .unwrap()
        .is_some());
    if let Some(raw) = &f.raw {
        assert_eq!(raw.keys().await.len(), 3);
        assert_eq!(raw.zcard(&raw.retired_key("w", "s1")).await, 8);
    }
}

async fn rotate_concurrently(f: Fixture) {
    let other = f.second().await;
    let t0 = now_ms();
    f.store
        .create_session(&w("w"), session("s1", "h0", t0, b"r0", LONG), 5)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            tokio::spawn(async move {
                let new = format!("n{i:02}");
                let won = s
                    .rotate_session(&w("w"), rotation("s1", "h0", &new, b"r1", LONG, t0 + 1))
                    .await
                    .unwrap()
                    == Rotated::Done;
                (new, won)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for t in tasks {
        let (new, won) = t.await.unwrap();
        if won {
            winners.push(new);
        } else {
            losers.push(new);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins: {winners:?}");
    let winner = &winners[0];
    assert_eq!(
        f.store
            .get_session(&w("w"), &h("h0"), Some(&sid("s1")))
            .await
            .unwrap(),
        retired("s1", t0 + 1, Some((winner, b"r1")))
    );
    assert_eq!(
        f.store
            .get_session(&w("w"), &h(winner), None)
            .await
            .unwrap(),
        live(b"r1")
    );
    for l in &losers {
        assert_eq!(
            f.store.get_session(&w("w"), &h(l), None).await.unwrap(),
            None
        );
    }
    assert_eq!(
        f.store.list_sessions(&w("w")).await.unwrap(),
        vec![(entry("s1", winner, t0), b"r1".to_vec())]
    );
    if let Some(raw) = &f.raw {
        assert_eq!(
            raw.record_hashes("w").await,
            BTreeSet::from([winner.clone()]),
            "only the winner's record exists"
        );
        assert_eq!(raw.zcard(&raw.retired_key("w", "s1")).await, 1);
        assert_eq!(raw.hlen(&raw.index_key("w")).await, 1);
    }
}

async fn delete_wallet_sessions(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    for i in 0..3 {
        let (id, hash) = (format!("s{i}"), format!("h{i}"));
        s.create_session(&w("w"), session(&id, &hash, t0 + i, b"r", LONG), 5)
            .await
            .unwrap();
    }
    s.create_session(&w("other"), session("s9", "h9", t0, b"r", LONG), 5)
        .await
        .unwrap();
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h1", "h1b", b"r", LONG, t0))
            .await
            .unwrap(),
        Rotated::Done
    );
    assert_eq!(s.delete_wallet_sessions(&w("w")).await.unwrap().len(), 3);
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), Some(&sid("s1")))
            .await
            .unwrap(),
        None
    );
    for hash in ["h0", "h1b", "h2"] {
        assert_eq!(
            s.get_session(&w("w"), &h(hash), None).await.unwrap(),
            None,
            "{hash}"
        );
    }
    assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
    assert_eq!(s.delete_wallet_sessions(&w("w")).await.unwrap().len(), 0);
    assert_eq!(s.list_sessions(&w("other")).await.unwrap().len(), 1);
    assert_eq!(
        s.delete_wallet_sessions(&w("nobody")).await.unwrap().len(),
        0
    );
    if let Some(raw) = &f.raw {
        assert_eq!(raw.hlen(&raw.index_key("w")).await, 0);
        assert!(
            raw.keys().await.iter().all(|(k, _)| !k.contains("{w}")),
            "nothing is left of the wallet, retired tokens included"
        );
    }
}

async fn expired_sessions_are_pruned(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r", SHORT), 5)
        .await
        .unwrap();
    s.create_session(&w("w"), session("s2", "h2", t0 + 1, b"r", LONG), 5)
        .await
        .unwrap();
    f.pass_short().await;
    assert_eq!(
        s.list_sessions(&w("w")).await.unwrap(),
        vec![(entry("s2", "h2", t0 + 1), b"r".to_vec())]
    );
    if let Some(raw) = &f.raw {
        assert_eq!(raw.hlen(&raw.index_key("w")).await, 1, "pruned from index");
    }
    assert!(s
        .delete_session(&w("w"), &sid("s1"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(s.delete_wallet_sessions(&w("w")).await.unwrap().len(), 1);
}

async fn expired_sessions_do_not_count(f: Fixture) {
    let s = &f.store;
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r", SHORT), 2)
        .await
        .unwrap();
    s.create_session(&w("w"), session("s2", "h2", t0 + 1, b"r", LONG), 2)
        .await
        .unwrap();
    f.pass_short().await;
    let evicted = s
        .create_session(&w("w"), session("s3", "h3", t0 + 2, b"r", LONG), 2)
        .await
        .unwrap();
    assert!(
        evicted.is_empty(),
        "an expired session is not evicted: {evicted:?}"
    );
    let ids: Vec<String> = s
        .list_sessions(&w("w"))
        .await
        .unwrap()
        .into_iter()
        .map(|(e, _)| e.session_id.into_string())
        .collect();
    assert_eq!(ids, ["s2", "s3"]);
}

async fn index_dies_with_its_sessions(f: Fixture) {
    let s = &f.store;
    s.create_session(&w("w"), session("s1", "h1", now_ms(), b"r", SHORT), 5)
        .await
        .unwrap();
    if let Some(raw) = &f.raw {
        let ttl = raw.pttl(&raw.index_key("w")).await;
        assert!(ttl > 0 && ttl <= 300, "index TTL is its session's: {ttl}");
    }
    f.pass_short().await;
    assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
    if let Some(raw) = &f.raw {
        assert!(raw.keys().await.is_empty(), "nothing outlives the session");
    }
}

async fn plain_values(f: Fixture) {
    let s = &f.store;
    assert_eq!(s.get("k").await.unwrap(), None);
    s.set("k", b"v1", None).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(b"v1".to_vec()));
    s.set("k", b"v2", Some(LONG)).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), Some(b"v2".to_vec()));
    assert!(s.delete("k").await.unwrap());
    assert!(!s.delete("k").await.unwrap());
    assert_eq!(s.get("k").await.unwrap(), None);

    s.set("short", b"v", Some(SHORT)).await.unwrap();
    s.set("kept", b"v", Some(SHORT)).await.unwrap();
    s.set("kept", b"forever", None).await.unwrap();
    assert_eq!(s.get("short").await.unwrap(), Some(b"v".to_vec()));
    f.pass_short().await;
    assert_eq!(s.get("short").await.unwrap(), None);
    assert!(!s.delete("short").await.unwrap());
    assert_eq!(
        s.get("kept").await.unwrap(),
        Some(b"forever".to_vec()),
        "a write without ttl drops the earlier expiry"
    );
}

async fn compare_and_swap_values(f: Fixture) {
    let s = &f.store;
    // Set-if-absent.
    assert!(s
        .compare_and_swap(
            "c",
            Swap {
                expected: None,
                value: b"v1",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert!(!s
        .compare_and_swap(
            "c",
            Swap {
                expected: None,
                value: b"other",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(s.get("c").await.unwrap(), Some(b"v1".to_vec()));
    // Swap only from the exact expected value.
    assert!(!s
        .compare_and_swap(
            "c",
            Swap {
                expected: Some(b"v"),
                value: b"x",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert!(!s
        .compare_and_swap(
            "c",
            Swap {
                expected: Some(b"v1\0"),
                value: b"x",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert!(!s
        .compare_and_swap(
            "absent",
            Swap {
                expected: Some(b"v1"),
                value: b"x",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(s.get("absent").await.unwrap(), None);
    assert!(s
        .compare_and_swap(
            "c",
            Swap {
                expected: Some(b"v1"),
                value: b"v2",
                ttl: None
            }
        )
        .await
        .unwrap());
    assert_eq!(s.get("c").await.unwrap(), Some(b"v2".to_vec()));
    assert!(!s
        .compare_and_swap(
            "c",
            Swap {
                expected: Some(b"v1"),
                value: b"v3",
                ttl: None
            }
        )
        .await
        .unwrap());
    // Binary values, and a time to live.
    let bin = [0u8, 255, 1, 0x80];
    assert!(s
        .compare_and_swap(
            "c",
            Swap {
                expected: Some(b"v2"),
                value: &bin,
                ttl: Some(SHORT)
            }
        )
        .await
        .unwrap());
    assert_eq!(s.get("c").await.unwrap(), Some(bin.to_vec()));
    f.pass_short().await;
    assert_eq!(s.get("c").await.unwrap(), None);
    assert!(
        s.compare_and_swap(
            "c",
            Swap {
                expected: None,
                value: b"again",
                ttl: None
            }
        )
        .await
        .unwrap(),
        "an expired value is absent"
    );
}

/// Of concurrent set-if-absent writers (over two connections), exactly one writes; of
/// concurrent swaps from the same value, exactly one swaps.
async fn compare_and_swap_concurrently(f: Fixture) {
    let other = f.second().await;
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            tokio::spawn(async move {
                let v = format!("w{i}");
                s.compare_and_swap(
                    "once",
                    Swap {
                        expected: None,
                        value: v.as_bytes(),
                        ttl: None,
                    },
                )
                .await
                .unwrap()
                .then_some(v)
            })
        })
        .collect();
    let mut won = Vec::new();
    for t in tasks {
        won.extend(t.await.unwrap());
    }
    assert_eq!(won.len(), 1, "exactly one writer: {won:?}");
    assert_eq!(
        f.store.get("once").await.unwrap(),
        Some(won[0].as_bytes().to_vec())
    );
    let from = won[0].clone();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            let from = from.clone();
            tokio::spawn(async move {
                s.compare_and_swap(
                    "once",
                    Swap {
                        expected: Some(from.as_bytes()),
                        value: format!("s{i}").as_bytes(),
                        ttl: None,
                    },
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut swaps = 0;
    for t in tasks {
        swaps += usize::from(t.await.unwrap());
    }
    assert_eq!(swaps, 1);
}

async fn rate_limit_window(f: Fixture) {
    let s = &f.store;
    let window = Duration::from_secs(1);
    let t0 = now_ms();
    for i in 0..3 {
        assert_eq!(
            s.rate_limit("ip", RateBudget { limit: 3, window }, t0 + i)
                .await
                .unwrap(),
            RateDecision::Allowed
        );
    }
    assert_eq!(
        s.rate_limit("ip", RateBudget { limit: 3, window }, t0 + 3)
            .await
            .unwrap(),
        RateDecision::Limited {
            retry_after: Duration::from_millis(997)
        }
    );
    // Other budgets are independent.
    assert_eq!(
        s.rate_limit("other", RateBudget { limit: 3, window }, t0 + 3)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
    // Once the oldest hit leaves the window, one more is allowed.
    assert_eq!(
        s.rate_limit("ip", RateBudget { limit: 3, window }, t0 + 1000)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        s.rate_limit("ip", RateBudget { limit: 3, window }, t0 + 1000).await.unwrap(),
        RateDecision::Limited { retry_after } if retry_after > Duration::ZERO
    ));
}

async fn rate_limit_is_shared(f: Fixture) {
    let other = f.second().await;
    let t0 = now_ms();
    for i in 0..4 {
        let s = if i % 2 == 0 { &f.store } else { &other };
        assert_eq!(
            s.rate_limit(
                "ip",
                RateBudget {
                    limit: 4,
                    window: LONG
                },
                t0 + i
            )
            .await
            .unwrap(),
            RateDecision::Allowed
        );
    }
    for s in [&f.store, &other] {
        assert!(matches!(
            s.rate_limit("ip", RateBudget { limit: 4, window: LONG }, t0 + 10).await.unwrap(),
            RateDecision::Limited { retry_after } if retry_after > Duration::ZERO
        ));
    }
}

async fn rate_limit_concurrent(f: Fixture) {
    let other = f.second().await;
    let t0 = now_ms();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = if i % 2 == 0 {
                Arc::clone(&f.store)
            } else {
                Arc::clone(&other)
            };
            tokio::spawn(async move {
                s.rate_limit(
                    "ip",
                    RateBudget {
                        limit: 10,
                        window: LONG,
                    },
                    t0,
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() == RateDecision::Allowed {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 10, "hits in the same millisecond count separately");
}

/// Bounds of an audit log that a test can wait out.
const LOG: AuditBounds = AuditBounds {
    max_len: 3,
    max_age: LONG,
};

/// Every log, shared or a wallet's, reads newest first, up to the limit, keeps its newest
/// `max_len` events, and keeps each event byte for byte (separators and zero bytes included).
async fn audit_trail(f: Fixture) {
    let s = &f.store;
    let logs = [
        AuditLog::Security,
        AuditLog::Activity,
        AuditLog::WalletSecurity(&w("w")),
        AuditLog::WalletActivity(&w("w")),
    ];
    for log in logs {
        assert!(s.audit_read(log, 10, LOG).await.unwrap().is_empty());
    }
    for log in logs {
        for i in 1..=5 {
            s.audit_append(log, format!("e{i}|x").as_bytes(), LOG)
                .await
                .unwrap();
        }
        let events = |names: &[&str]| -> Vec<Vec<u8>> {
            names
                .iter()
                .map(|n| format!("{n}|x").into_bytes())
                .collect()
        };
        let read = |limit| s.audit_read(log, limit, LOG);
        assert_eq!(
            read(10).await.unwrap(),
            events(&["e5", "e4", "e3"]),
            "{log:?}"
        );
        assert_eq!(
            read(3).await.unwrap(),
            events(&["e5", "e4", "e3"]),
            "{log:?}"
        );
        assert_eq!(read(2).await.unwrap(), events(&["e5", "e4"]), "{log:?}");
        assert_eq!(read(1).await.unwrap(), events(&["e5"]), "{log:?}");
        assert!(read(0).await.unwrap().is_empty(), "{log:?}");
        assert_eq!(
            read(usize::MAX).await.unwrap(),
            events(&["e5", "e4", "e3"]),
            "{log:?}"
        );
        let binary: Vec<u8> = (0..=255u8).collect();
        s.audit_append(log, &binary, LOG).await.unwrap();
        s.audit_append(log, b"", LOG).await.unwrap();
        let mut newest = vec![b"".to_vec(), binary];
        newest.extend(events(&["e5"]));
        assert_eq!(read(10).await.unwrap(), newest, "{log:?}");
    }
}

/// The logs are kept apart: filling one never pushes anything out of another.
async fn audit_logs_are_separate(f: Fixture) {
    let s = &f.store;
    let logs = [
        AuditLog::Security,
        AuditLog::Activity,
        AuditLog::WalletSecurity(&w("w1")),
        AuditLog::WalletActivity(&w("w1")),
        AuditLog::WalletSecurity(&w("w2")),
        AuditLog::WalletActivity(&w("w2")),
    ];
    for (i, log) in logs.iter().enumerate() {
        s.audit_append(*log, format!("first{i}").as_bytes(), LOG)
            .await
            .unwrap();
    }
    // Flood one of them.
    for i in 0..50 {
        s.audit_append(
            AuditLog::WalletActivity(&w("w1")),
            format!("x{i}").as_bytes(),
            LOG,
        )
        .await
        .unwrap();
    }
    for (i, log) in logs.iter().enumerate() {
        let got = s.audit_read(*log, 10, LOG).await.unwrap();
        if *log == AuditLog::WalletActivity(&w("w1")) {
            assert_eq!(got, vec![b"x49".to_vec(), b"x48".to_vec(), b"x47".to_vec()]);
        } else {
            assert_eq!(got, vec![format!("first{i}").into_bytes()], "{log:?}");
        }
    }
}

/// Entries older than the log's age are not read, and a log expires that long after its last
/// append.
async fn audit_logs_age_out(f: Fixture) {
    let s = &f.store;
    let short = AuditBounds {
        max_len: 100,
        max_age: SHORT,
    };
    s.audit_append(AuditLog::WalletSecurity(&w("w")), b"old", short)
        .await
        .unwrap();
    f.pass_short().await;
    s.audit_append(AuditLog::WalletSecurity(&w("w")), b"new", short)
        .await
        .unwrap();
    assert_eq!(
        s.audit_read(AuditLog::WalletSecurity(&w("w")), 10, short)
            .await
            .unwrap(),
        vec![b"new".to_vec()]
    );
    if let Some(raw) = &f.raw {
        let key = format!("{}{{w}}:ls", raw.prefix);
        let ttl = raw.pttl(&key).await;
        assert!(ttl > 0 && ttl <= 300, "{key}: {ttl}");
    }
    f.pass_short().await;
    assert!(s
        .audit_read(AuditLog::WalletSecurity(&w("w")), 10, short)
        .await
        .unwrap()
        .is_empty());
}

async fn event_counters(f: Fixture) {
    use wallet_auth::store::ACTIVE_BUCKET_MS as MIN;
    let s = &f.store;
    let now = now_ms() / MIN * MIN + MIN / 2;
    assert_eq!(
        s.count_events_since(
            "fail",
            Span {
                since_ms: now - 3_600_000,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        0
    );
    for _ in 0..3 {
        s.count_event("fail", now).await.unwrap();
    }
    s.count_event("fail", now - 30 * MIN).await.unwrap();
    s.count_event("fail", now - 90 * MIN).await.unwrap();
    s.count_event("ok", now).await.unwrap();
    let hour = now - 60 * MIN;
    assert_eq!(
        s.count_events_since(
            "fail",
            Span {
                since_ms: hour,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        4
    );
    assert_eq!(
        s.count_events_since(
            "fail",
            Span {
                since_ms: now - 100 * MIN,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        5
    );
    assert_eq!(
        s.count_events_since(
            "fail",
            Span {
                since_ms: now,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        3
    );
    assert_eq!(
        s.count_events_since(
            "ok",
            Span {
                since_ms: hour,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        1
    );
    // Never further back than the retention.
    s.count_event("fail", now - 200 * MIN).await.unwrap();
    assert_eq!(
        s.count_events_since(
            "fail",
            Span {
                since_ms: 0,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        5
    );
    // Concurrent counts are all kept.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let st = Arc::clone(&f.store);
        tasks.push(tokio::spawn(
            async move { st.count_event("burst", now).await },
        ));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        s.count_events_since(
            "burst",
            Span {
                since_ms: hour,
                now_ms: now
            }
        )
        .await
        .unwrap(),
        20
    );
}

async fn active_sessions(f: Fixture) {
    use wallet_auth::store::ACTIVE_BUCKET_MS as MIN;
    let s = &f.store;
    // The start of a minute, so that "+ n minutes" lands in predictable buckets.
    let now = now_ms() / MIN * MIN;
    for (chain, to) in [
        ("ethereum", now + 10 * MIN),
        ("ethereum", now + 20 * MIN),
        ("ethereum", now - 2 * MIN),
        ("solana", now + 10 * MIN),
    ] {
        s.track_active(
            chain,
            ActiveMove {
                from_ms: None,
                to_ms: Some(to),
            },
            now,
        )
        .await
        .unwrap();
    }
    assert_eq!(
        s.count_active("ethereum", now).await.unwrap(),
        2,
        "the expired one is not counted"
    );
    assert_eq!(s.count_active("solana", now).await.unwrap(), 1);
    assert_eq!(s.count_active("ethereum", now + 15 * MIN).await.unwrap(), 1);
    // A refresh moves a session to a later bucket; an end removes it.
    s.track_active(
        "ethereum",
        ActiveMove {
            from_ms: Some(now + 20 * MIN),
            to_ms: Some(now + 30 * MIN),
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(s.count_active("ethereum", now + 25 * MIN).await.unwrap(), 1);
    s.track_active(
        "ethereum",
        ActiveMove {
            from_ms: Some(now + 30 * MIN),
            to_ms: None,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(s.count_active("ethereum", now + 25 * MIN).await.unwrap(), 0);
    // Ending a session whose bucket has already passed changes nothing.
    s.track_active(
        "solana",
        ActiveMove {
            from_ms: Some(now - 5 * MIN),
            to_ms: None,
        },
        now,
    )
    .await
    .unwrap();
    assert_eq!(s.count_active("solana", now).await.unwrap(), 1);
    assert_eq!(s.count_active("nochain", now).await.unwrap(), 0);
    // Many sessions cost one counter per minute, not one entry per session.
    for _ in 0..50 {
        s.track_active(
            "solana",
            ActiveMove {
                from_ms: None,
                to_ms: Some(now + 10 * MIN + 1),
            },
            now,
        )
        .await
        .unwrap();
    }
    assert_eq!(s.count_active("solana", now).await.unwrap(), 51);
}

crate::on_every_backend!(
    ping_and_kind,
    nonce_single_use,
    nonce_put_is_nx,
    nonce_expires,
    nonce_concurrent_take,
    session_crud,
    session_records_are_binary,
    update_session_ttl,
    eviction_keeps_newest,
    eviction_under_concurrency,
    rotate_session,
    retired_token_of_an_ended_session,
    rotate_checks_the_session_owns_the_token,
    rotation_marker_expires,
    rotation_history_is_bounded,
    rotate_concurrently,
    delete_wallet_sessions,
    expired_sessions_are_pruned,
    expired_sessions_do_not_count,
    index_dies_with_its_sessions,
    plain_values,
    compare_and_swap_values,
    compare_and_swap_concurrently,
    rate_limit_window,
    rate_limit_is_shared,
    rate_limit_concurrent,
    audit_trail,
    audit_logs_are_separate,
    audit_logs_age_out,
    event_counters,
    active_sessions,
);

// ---------------------------------------------------------------------------------------------
// Redis only: what the keys look like, and failures.

/// Runs every kind of write, then checks that every key under the prefix has a TTL, except the
/// plain value written with `ttl = None`.
async fn every_key_has_a_ttl(f: Fixture) {
    let s = &f.store;
    let raw = f.raw.as_ref().unwrap();
    let t0 = now_ms();
    s.put_nonce("n1", b"v", LONG).await.unwrap();
    s.put_nonce("n2", b"v", LONG).await.unwrap();
    s.take_nonce("n2").await.unwrap();
    for i in 0..4 {
        let (id, hash) = (format!("s{i}"), format!("h{i}"));
        s.create_session(&w("w"), session(&id, &hash, t0 + i, b"r", LONG), 3)
            .await
            .unwrap();
    }
    s.create_session(&w("w2"), session("x", "hx", t0, b"r", LONG), 3)
        .await
        .unwrap();
    s.update_session(
        &w("w"),
        SessionUpdate {
            token_hash: &h("h1"),
            record: b"r",
            ttl: None,
        },
    )
    .await
    .unwrap();
    s.update_session(
        &w("w"),
        SessionUpdate {
            token_hash: &h("h2"),
            record: b"r",
            ttl: Some(LONG),
        },
    )
    .await
    .unwrap();
    s.rotate_session(&w("w"), rotation("s3", "h3", "h3b", b"r", LONG, t0))
        .await
        .unwrap();
    s.list_sessions(&w("w")).await.unwrap();
    s.delete_session(&w("w"), &sid("s1")).await.unwrap();
    s.delete_wallet_sessions(&w("w2")).await.unwrap();
    s.set("with-ttl", b"v", Some(LONG)).await.unwrap();
    s.set("forever", b"v", None).await.unwrap();
    s.rate_limit(
        "ip",
        RateBudget {
            limit: 2,
            window: LONG,
        },
        t0,
    )
    .await
    .unwrap();
    s.rate_limit(
        "ip",
        RateBudget {
            limit: 2,
            window: LONG,
        },
        t0,
    )
    .await
    .unwrap();
    s.rate_limit(
        "ip",
        RateBudget {
            limit: 2,
            window: LONG,
        },
        t0,
    )
    .await
    .unwrap();
    for log in [
        AuditLog::Security,
        AuditLog::Activity,
        AuditLog::WalletSecurity(&w("w")),
        AuditLog::WalletActivity(&w("w")),
    ] {
        s.audit_append(log, b"event", LOG).await.unwrap();
    }
    s.count_event("fail", t0).await.unwrap();
    s.track_active(
        "ethereum",
        ActiveMove {
            from_ms: None,
            to_ms: Some(t0 + 60_000),
        },
        t0,
    )
    .await
    .unwrap();
    s.track_active(
        "solana",
        ActiveMove {
            from_ms: None,
            to_ms: Some(t0 + 60_000),
        },
        t0,
    )
    .await
    .unwrap();
    s.track_active(
        "solana",
        ActiveMove {
            from_ms: Some(t0 + 60_000),
            to_ms: None,
        },
        t0,
    )
    .await
    .unwrap();
    s.count_active("ethereum", t0).await.unwrap();

    let keys = raw.keys().await;
    let names: BTreeSet<String> = keys
        .iter()
        .filter_map(|(k, _)| k.strip_prefix(&raw.prefix).map(str::to_owned))
        .collect();
    let count_key = format!(
        "count:{{fail}}:{}",
        t0 / wallet_auth::store::ACTIVE_BUCKET_MS
    );
    let expected: BTreeSet<String> = [
        "n:n1",
        "{w}:s:h2",
        "{w}:s:h3b",
        "{w}:m:s3",
        "{w}:i",
        "v:with-ttl",
        "v:forever",
        "r:ip",
        "audit:security",
        "audit:activity",
        "{w}:ls",
        "{w}:la",
        count_key.as_str(),
        "active:ethereum",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(names, expected, "the documented key layout");
    let forever = format!("{}v:forever", raw.prefix);
    for (key, ttl) in &keys {
        if *key == forever {
            assert_eq!(*ttl, -1, "{key} was written without a ttl");
        } else {
            assert!(*ttl > 0, "{key} has no TTL ({ttl})");
        }
    }
}

/// Rotation markers written by servers before retired tokens were kept per session
/// (`R<to>|<at>` under the retired token's key) are still followed, through several rotations
/// and through a rotation made since, to the session they belong to.
async fn older_rotation_markers_are_followed(f: Fixture) {
    let s = &f.store;
    let raw = f.raw.as_ref().unwrap();
    let t0 = now_ms();
    s.create_session(&w("w"), session("s1", "h2", t0, b"r2", LONG), 5)
        .await
        .unwrap();
    let record = |h: &str| format!("{}{{w}}:s:{h}", raw.prefix);
    // h0 was rotated to h1, then h1 to h2, by an older server.
    raw.set_px(&record("h0"), &format!("Rh1|{t0}"), LONG).await;
    raw.set_px(&record("h1"), &format!("Rh2|{}", t0 + 1), LONG)
        .await;
    let found = |at| retired("s1", at, Some(("h2", b"r2")));
    assert_eq!(
        s.get_session(&w("w"), &h("h0"), None).await.unwrap(),
        found(t0)
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h1"), None).await.unwrap(),
        found(t0 + 1)
    );
    // h2 is rotated by this server: h0 still leads to the session.
    assert_eq!(
        s.rotate_session(&w("w"), rotation("s1", "h2", "h3", b"r3", LONG, t0 + 2))
            .await
            .unwrap(),
        Rotated::Done
    );
    assert_eq!(
        s.get_session(&w("w"), &h("h0"), None).await.unwrap(),
        retired("s1", t0, Some(("h3", b"r3")))
    );
    // A marker leading nowhere, or malformed, is an unknown token.
    raw.set_px(&record("h8"), "Rgone|1", LONG).await;
    raw.set_px(&record("h9"), "Rno-time", LONG).await;
    assert_eq!(s.get_session(&w("w"), &h("h8"), None).await.unwrap(), None);
    assert_eq!(s.get_session(&w("w"), &h("h9"), None).await.unwrap(), None);
}

/// A wallet's two logs, by the store's name and the key suffixes of their list and of the
/// stream that servers before the lists wrote.
fn wallet_logs(tag: &WalletTag) -> [(AuditLog<'_>, &'static str, &'static str); 2] {
    [
        (AuditLog::WalletSecurity(tag), "ls", "as"),
        (AuditLog::WalletActivity(tag), "la", "aa"),
    ]
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap()
}

/// A list entry's append time.
fn dated(entry: &str) -> i64 {
    entry.split_once('|').unwrap().0.parse().unwrap()
}

/// Each wallet's logs are capped lists of entries dated by Redis's clock: a read skips the
/// entries past the log's age (to the millisecond); an append drops them from the tail, trims
/// the list to its length, gives the key the log's age again, and dates its entry no earlier
/// than the newest one (as stream ids), so that the oldest are always at the tail.
async fn wallet_audit_logs_are_dated_lists(f: Fixture) {
    let s = &f.store;
    let raw = f.raw.as_ref().unwrap();
    let tag = w("w");
    let age = ms(LOG.max_age);
    for (log, list, stream) in wallet_logs(&tag) {
        let key = format!("{}{{w}}:{list}", raw.prefix);
        let t0 = raw.time_ms().await;
        // Newest first: one entry 2 s inside the age, one 1 ms past it.
        let mut push = redis::cmd("RPUSH");
        push.arg(&key)
            .arg(format!("{}|kept", t0 - age + 2000))
            .arg(format!("{}|gone", t0 - age - 1));
        raw.query::<()>(&push).await;
        assert_eq!(
            s.audit_read(log, 10, LOG).await.unwrap(),
            vec![b"kept".to_vec()],
            "{log:?}"
        );

        let _: () = raw.query(redis::cmd("PEXPIRE").arg(&key).arg(1000)).await;
        s.audit_append(log, b"new", LOG).await.unwrap();
        let entries: Vec<String> = raw
            .query(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1))
            .await;
        assert_eq!(
            entries.len(),
            2,
            "the entry past the age is dropped: {entries:?}"
        );
        assert!(
            entries[0].ends_with("|new") && entries[1].ends_with("|kept"),
            "{entries:?}"
        );
        let at = dated(&entries[0]);
        assert!(at >= t0 && at <= raw.time_ms().await, "{entries:?}");
        let ttl = raw.pttl(&key).await;
        assert!(
            ttl > age - 5000 && ttl <= age,
            "the append gives the log its age: {ttl}"
        );

        // A head dated later than Redis's clock (the clock stepped back): the next entry is
        // dated with it, and the list is trimmed to its length.
        let ahead = t0 + 3_600_000;
        let _: () = raw
            .query(redis::cmd("LPUSH").arg(&key).arg(format!("{ahead}|ahead")))
            .await;
        s.audit_append(log, b"next", LOG).await.unwrap();
        let entries: Vec<String> = raw
            .query(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1))
            .await;
        assert_eq!(entries.len(), LOG.max_len, "{entries:?}");
        assert_eq!(entries[0], format!("{ahead}|next"));
        assert_eq!(
            s.audit_read(log, 10, LOG).await.unwrap(),
            vec![b"next".to_vec(), b"ahead".to_vec(), b"new".to_vec()]
        );

        let kind: String = raw.query(redis::cmd("TYPE").arg(&key)).await;
        assert_eq!(kind, "list");
        let old = format!("{}{{w}}:{stream}", raw.prefix);
        let exists: i64 = raw.query(redis::cmd("EXISTS").arg(&old)).await;
        assert_eq!(
            exists, 0,
            "nothing is written to the streams of older servers"
        );
    }
}

/// Upgrading from servers that kept each wallet's logs as streams (`{tag}:as`, `{tag}:aa`):
/// a read merges what such a stream holds with the list, newest first, under the same limit
/// and age, also while a server of the older release still appends to the stream; the new
/// server never writes it, and once it expires the list alone is read.
async fn wallet_audit_streams_of_older_servers_are_read(f: Fixture) {
    let s = &f.store;
    let raw = f.raw.as_ref().unwrap();
    let tag = w("w");
    let age = ms(LOG.max_age);
    let bounds = AuditBounds {
        max_len: 10,
        max_age: LOG.max_age,
    };
    // Appends from an older server, as it wrote them, in a later millisecond than the
    // previous step so that the order by time is the order of the steps.
    let older_append = |key: String, event: &'static str| async move {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&key)
            .arg("MAXLEN")
            .arg(200)
            .arg("*")
            .arg("e")
            .arg(event);
        raw.query::<String>(&xadd).await;
        let _: () = raw.query(redis::cmd("PEXPIRE").arg(&key).arg(age)).await;
        tokio::time::sleep(Duration::from_millis(3)).await;
    };
    for (log, _, stream) in wallet_logs(&tag) {
        let old = format!("{}{{w}}:{stream}", raw.prefix);
        let past = raw.time_ms().await - age - 1;
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&old)
            .arg(format!("{past}-0"))
            .arg("e")
            .arg("past the age");
        raw.query::<String>(&xadd).await;
        older_append(old.clone(), "s1").await;
        older_append(old.clone(), "s2").await;
        assert_eq!(
            s.audit_read(log, 10, bounds).await.unwrap(),
            vec![b"s2".to_vec(), b"s1".to_vec()],
            "{log:?}: before any append by this server"
        );
        s.audit_append(log, b"l1", bounds).await.unwrap();
        older_append(old.clone(), "s3").await;
        s.audit_append(log, b"l2", bounds).await.unwrap();
        let merged: Vec<Vec<u8>> = ["l2", "s3", "l1", "s2", "s1"]
            .iter()
            .map(|e| e.as_bytes().to_vec())
            .collect();
        assert_eq!(
            s.audit_read(log, 10, bounds).await.unwrap(),
            merged,
            "{log:?}"
        );
        for limit in 1..=5 {
            assert_eq!(
                s.audit_read(log, limit, bounds).await.unwrap(),
                merged[..limit],
                "{log:?}, limit {limit}"
            );
        }
        let len: usize = raw.query(redis::cmd("XLEN").arg(&old)).await;
        assert_eq!(len, 4, "this server never appends to the stream");

        let _: () = raw.query(redis::cmd("PEXPIRE").arg(&old).arg(1)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            s.audit_read(log, 10, bounds).await.unwrap(),
            vec![b"l2".to_vec(), b"l1".to_vec()],
            "{log:?}: the stream expired"
        );
    }
}

crate::on_backends!(
    redis_legacy: Redis, cluster_legacy: Cluster;
    older_rotation_markers_are_followed,
    wallet_audit_streams_of_older_servers_are_read,
);

crate::on_backends!(
    redis_audit: Redis, cluster_audit: Cluster;
    wallet_audit_logs_are_dated_lists,
);

crate::on_backends!(redis_keys: Redis, cluster_keys: Cluster; every_key_has_a_ttl);

fn is_failure(r: &Result<impl std::fmt::Debug, StoreError>) -> bool {
    matches!(r, Err(StoreError::Unavailable(_) | StoreError::Timeout))
}

/// Redis dies under a connected store: calls fail within the timeout instead of hanging, and
/// the same store works again once Redis is back on the same port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_fails_fast_and_recovers() {
    let timeout = Duration::from_millis(500);
    let bound = timeout + Duration::from_millis(500);
    let mut server = RedisServer::start_new();
    let store = RedisStore::connect(&server.url(), "outage:", timeout)
        .await
        .unwrap();
    store.set("k", b"v", Some(LONG)).await.unwrap();

    server.stop();
    for round in 0..3 {
        let started = Instant::now();
        let r = store.get("k").await;
        assert!(is_failure(&r), "round {round}: {r:?}");
        let started2 = Instant::now();
        let r2 = store
            .create_session(&w("w"), session("s", "h", now_ms(), b"r", LONG), 5)
            .await;
        assert!(is_failure(&r2), "round {round}: {r2:?}");
        assert!(started.elapsed() < bound * 2, "round {round} took too long");
        assert!(started2.elapsed() < bound);
        let started3 = Instant::now();
        assert!(is_failure(&store.ping().await));
        assert!(started3.elapsed() < bound);
    }

    server.start();
    let back = Instant::now();
    loop {
        if store.ping().await.is_ok() && store.set("k", b"v2", Some(LONG)).await.is_ok() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the store did not recover after Redis came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered = back.elapsed();
    assert!(
        recovered < Duration::from_secs(2),
        "recovery took {recovered:?}"
    );
    assert_eq!(store.get("k").await.unwrap(), Some(b"v2".to_vec()));
    store
        .create_session(&w("w"), session("s", "h", now_ms(), b"r", LONG), 5)
        .await
        .unwrap();
    assert_eq!(store.list_sessions(&w("w")).await.unwrap().len(), 1);
}

/// With nothing listening, connecting fails promptly (the server decides what to do).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_a_dead_redis_fails_fast() {
    let timeout = Duration::from_millis(700);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    for url in [
        format!("redis://127.0.0.1:{port}"),
        format!("redis://127.0.0.1:{port},redis://127.0.0.1:{port}"),
    ] {
        let started = Instant::now();
        let r = RedisStore::connect(&url, "x:", timeout).await;
        assert!(is_failure(&r), "{url}: {r:?}");
        assert!(started.elapsed() < timeout + Duration::from_millis(500));
    }
}

#[tokio::test]
async fn connect_rejects_bad_input() {
    let url = shared_redis().url();
    for prefix in ["a{b:", "c}:"] {
        let r = RedisStore::connect(&url, prefix, TIMEOUT).await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{prefix}");
    }
    assert!(RedisStore::connect("", "p:", TIMEOUT).await.is_err());
    assert!(RedisStore::connect("not a url", "p:", TIMEOUT)
        .await
        .is_err());
}

/// One master of a cluster dies: calls for its slots fail within the timeout, calls for the
/// other masters' slots are still served, and once the node is back (empty, on the same port)
/// every slot is served again by the same store, scripts included (the node lost its script
/// cache, so `EVALSHA` falls back to loading them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_node_outage_fails_fast_and_recovers() {
    let timeout = Duration::from_millis(500);
    let bound = timeout + Duration::from_millis(500);
    let mut cluster = RedisCluster::start_new();
    let store = RedisStore::connect(&cluster.url(), "outage:", timeout)
        .await
        .unwrap();
    let tags: Vec<String> = (0..9).map(|i| format!("wallet{i}")).collect();
    for tag in &tags {
        store
            .create_session(&w(tag), session("s", "h", now_ms(), b"r", LONG), 5)
            .await
            .unwrap();
    }

    cluster.nodes_mut()[1].stop();
    let (mut served, mut failed) = (0, 0);
    for tag in &tags {
        let started = Instant::now();
        match store.get_session(&w(tag), &h("h"), None).await {
            Ok(found) => {
                assert_eq!(found, live(b"r"));
                served += 1;
            }
            Err(e) => {
                assert!(
                    matches!(e, StoreError::Unavailable(_) | StoreError::Timeout),
                    "{e:?}"
                );
                failed += 1;
            }
        }
        assert!(
            started.elapsed() < bound,
            "{tag} took {:?}",
            started.elapsed()
        );
    }
    assert!(failed > 0, "some wallets live on the stopped node");
    assert!(served > 0, "the other nodes keep serving");

    cluster.nodes_mut()[1].start();
    let back = Instant::now();
    'recovering: loop {
        for tag in &tags {
            if store
                .create_session(&w(tag), session("s2", "h2", now_ms(), b"r2", LONG), 5)
                .await
                .is_err()
            {
                assert!(
                    back.elapsed() < Duration::from_secs(10),
                    "the cluster store did not recover"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue 'recovering;
            }
        }
        break;
    }
    for tag in &tags {
        assert_eq!(
            store.get_session(&w(tag), &h("h2"), None).await.unwrap(),
            live(b"r2")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL only: the rows themselves, pruning, restarts and failures.

/// Rows of `table` in the database at `url`.
async fn pg_rows(url: &str, table: &str) -> i64 {
    use sqlx::Connection as _;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(&mut c)
        .await
        .unwrap();
    let _ = c.close().await;
    n
}

const PG_TABLES: [&str; 8] = [
    "wa_nonces",
    "wa_sessions",
    "wa_retired",
    "wa_values",
    "wa_rate",
    "wa_audit",
    "wa_event_counts",
    "wa_active",
];

/// Every kind of write with a short life, then the pruning: nothing is left but what was
/// written to last (and the value written without a TTL). Deleting a session leaves no row of
/// it behind, before any pruning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_prune_deletes_expired_rows() {
    let url = shared_postgres().fresh_database().await;
    let store = PostgresStore::connect(&url, TIMEOUT, PRUNE_NEVER)
        .await
        .unwrap();
    let s: &dyn Store = &store;
    let t0 = now_ms();
    let short_audit = AuditBounds {
        max_len: 10,
        max_age: SHORT,
    };
    s.put_nonce("n", b"v", SHORT).await.unwrap();
    s.create_session(&w("w"), session("s1", "h1", t0, b"r1", SHORT), 5)
        .await
        .unwrap();
    s.create_session(&w("w"), session("s2", "h2", t0, b"r2", LONG), 5)
        .await
        .unwrap();
    let mut rot = rotation("s1", "h1", "h1b", b"r1b", SHORT, t0);
    rot.ttl = SHORT;
    assert_eq!(s.rotate_session(&w("w"), rot).await.unwrap(), Rotated::Done);
    s.set("v:short", b"v", Some(SHORT)).await.unwrap();
    s.set("v:forever", b"v", None).await.unwrap();
    s.rate_limit(
        "r",
        RateBudget {
            limit: 5,
            window: SHORT,
        },
        t0,
    )
    .await
    .unwrap();
    s.audit_append(AuditLog::WalletActivity(&w("w")), b"e", short_audit)
        .await
        .unwrap();
    // A deleted session leaves nothing behind, at once.
    s.create_session(&w("x"), session("s3", "h3", t0, b"r3", LONG), 5)
        .await
        .unwrap();
    let rot = rotation("s3", "h3", "h3b", b"r3b", LONG, t0);
    assert_eq!(s.rotate_session(&w("x"), rot).await.unwrap(), Rotated::Done);
    assert!(s
        .delete_session(&w("x"), &sid("s3"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(pg_rows(&url, "wa_sessions").await, 2);
    assert_eq!(pg_rows(&url, "wa_retired").await, 1);

    tokio::time::sleep(PAST_SHORT).await;
    let pruned = store.prune().await.unwrap();
    // The nonce, session s1, its retired token, the value, the budget and the audit entry.
    assert_eq!(pruned, 6);
    for table in PG_TABLES {
        let expected = match table {
            "wa_sessions" | "wa_values" => 1,
            _ => 0,
        };
        assert_eq!(pg_rows(&url, table).await, expected, "{table}");
    }
    assert_eq!(s.get("v:forever").await.unwrap(), Some(b"v".to_vec()));
    assert_eq!(s.list_sessions(&w("w")).await.unwrap().len(), 1);
}

/// The counters and active-session buckets are pruned by their minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_prune_drops_old_counters() {
    use wallet_auth::store::ACTIVE_BUCKET_MS as MIN;
    let url = shared_postgres().fresh_database().await;
    let store = PostgresStore::connect(&url, TIMEOUT, PRUNE_NEVER)
        .await
        .unwrap();
    let now = now_ms();
    store.count_event("fail", now - 200 * MIN).await.unwrap();
    store.count_event("fail", now).await.unwrap();
    store
        .track_active(
            "ethereum",
            ActiveMove {
                from_ms: None,
                to_ms: Some(now - 5 * MIN),
            },
            now - 10 * MIN,
        )
        .await
        .unwrap();
    store
        .track_active(
            "ethereum",
            ActiveMove {
                from_ms: None,
                to_ms: Some(now + 5 * MIN),
            },
            now,
        )
        .await
        .unwrap();
    assert_eq!(store.prune().await.unwrap(), 2);
    assert_eq!(pg_rows(&url, "wa_event_counts").await, 1);
    assert_eq!(pg_rows(&url, "wa_active").await, 1);
    assert_eq!(store.count_active("ethereum", now).await.unwrap(), 1);
}

/// The pruning task runs by itself at its interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_prunes_by_itself() {
    let url = shared_postgres().fresh_database().await;
    let store = PostgresStore::connect(&url, TIMEOUT, Duration::from_millis(200))
        .await
        .unwrap();
    store
        .put_nonce("n", b"v", Duration::from_millis(50))
        .await
        .unwrap();
    store.put_nonce("kept", b"v", LONG).await.unwrap();
    let started = Instant::now();
    while pg_rows(&url, "wa_nonces").await != 1 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the expired nonce was not pruned"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A call waiting on a wallet's lock held elsewhere returns `Timeout` within the bound, and
/// the store is usable right after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_are_bounded_by_the_timeout() {
    use sqlx::Connection as _;
    let url = shared_postgres().fresh_database().await;
    let timeout = Duration::from_millis(300);
    let store = PostgresStore::connect(&url, timeout, PRUNE_NEVER)
        .await
        .unwrap();
    let mut holder = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(30561, hashtext('w'))")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = Instant::now();
    let r = store
        .create_session(&w("w"), session("s", "h", now_ms(), b"r", LONG), 5)
        .await;
    assert!(matches!(r, Err(StoreError::Timeout)), "{r:?}");
    assert!(started.elapsed() < timeout + Duration::from_millis(400));
    // Another wallet is not held up, and the held one works once released.
    store
        .create_session(&w("v"), session("s", "h", now_ms(), b"r", LONG), 5)
        .await
        .unwrap();
    let _ = holder.close().await;
    store
        .create_session(&w("w"), session("s", "h", now_ms(), b"r", LONG), 5)
        .await
        .unwrap();
    assert_eq!(store.list_sessions(&w("w")).await.unwrap().len(), 1);
}

/// PostgreSQL stops under a connected store: calls fail within the timeout instead of hanging;
/// once it is back, the same store works again and what was written before is still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_fast_and_recovers() {
    let timeout = Duration::from_millis(500);
    let bound = timeout + Duration::from_millis(500);
    let mut server = PostgresServer::start_with_template();
    let url = server.fresh_database().await;
    let store = PostgresStore::connect(&url, timeout, PRUNE_NEVER)
        .await
        .unwrap();
    store.set("k", b"v", Some(LONG)).await.unwrap();
    store
        .create_session(&w("w"), session("s0", "h0", now_ms(), b"r0", LONG), 5)
        .await
        .unwrap();

    server.stop();
    for round in 0..3 {
        let started = Instant::now();
        let r = store.get("k").await;
        assert!(is_failure(&r), "round {round}: {r:?}");
        assert!(started.elapsed() < bound, "round {round} took too long");
        let started = Instant::now();
        let r = store
            .create_session(&w("w"), session("s", "h", now_ms(), b"r", LONG), 5)
            .await;
        assert!(is_failure(&r), "round {round}: {r:?}");
        assert!(started.elapsed() < bound, "round {round} took too long");
        let started = Instant::now();
        assert!(is_failure(&store.ping().await));
        assert!(started.elapsed() < bound);
    }

    server.start();
    let back = Instant::now();
    loop {
        if store.ping().await.is_ok() && store.set("k2", b"v2", Some(LONG)).await.is_ok() {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the store did not recover after PostgreSQL came back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.get("k").await.unwrap(), Some(b"v".to_vec()));
    assert_eq!(store.list_sessions(&w("w")).await.unwrap().len(), 1);
    // A new store on the same database (a restarted server) sees the same data.
    let again = PostgresStore::connect(&url, timeout, PRUNE_NEVER)
        .await
        .unwrap();
    assert_eq!(
        again
            .get_session(&w("w"), &h("h0"), Some(&sid("s0")))
            .await
            .unwrap(),
        live(b"r0")
    );
}

/// With nothing listening, connecting fails promptly; a URL that is not PostgreSQL's is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connect_fails_fast() {
    let timeout = Duration::from_millis(700);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let started = Instant::now();
    let r = PostgresStore::connect(
        &format!("postgres://postgres@127.0.0.1:{port}/x"),
        timeout,
        PRUNE_NEVER,
    )
    .await;
    assert!(is_failure(&r), "{r:?}");
    assert!(started.elapsed() < timeout + Duration::from_millis(500));
    for bad in ["redis://127.0.0.1:1", "postgres://[bad", ""] {
        let r = PostgresStore::connect(bad, timeout, PRUNE_NEVER).await;
        assert!(matches!(r, Err(StoreError::Unavailable(_))), "{bad}: {r:?}");
    }
}

/// Accounts: identity claims and account records.
mod accounts {
    use super::*;

    fn acct(id: &str) -> AccountId {
        AccountId::new(id)
    }

    fn claim(account: &str, identity: &str) -> Claim {
        Claim {
            account: acct(account),
            identity: identity.to_owned(),
        }
    }

    fn ident<'a>(identity: &'a str, tag: &'a WalletTag, max: usize) -> NewIdentity<'a> {
        NewIdentity {
            identity,
            tag,
            created_ms: 1_700_000_000_000,
            max,
        }
    }

    /// A first sign-in writes the claim with its session; later ones must name the same account;
    /// a refused condition creates nothing.
    async fn sessions_check_claims(f: Fixture) {
        let s = &f.store;
        let t0 = now_ms();
        let a = claim("acc-a", "eip155:0xA");
        assert_eq!(s.get_claim(&w("w")).await.unwrap(), None);
        // `Existing` needs a claim.
        let r = s
            .create_session_claimed(
                &w("w"),
                session("s0", "h0", t0, b"r", LONG),
                5,
                SessionClaim::Existing(&acct("acc-a")),
            )
            .await
            .unwrap();
        assert_eq!(r, Claimed::Mismatch(None));
        assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
        // `New` writes it with the session.
        let r = s
            .create_session_claimed(
                &w("w"),
                session("s1", "h1", t0, b"r", LONG),
                5,
                SessionClaim::New(&a),
            )
            .await
            .unwrap();
        assert_eq!(r, Claimed::Done(vec![]));
        assert_eq!(s.get_claim(&w("w")).await.unwrap(), Some(a.clone()));
        // The same account again (a retry) fits, another does not.
        for (id, c, ok) in [
            ("s2", SessionClaim::New(&a), true),
            ("s3", SessionClaim::Existing(&acct("acc-a")), true),
            (
                "s4",
                SessionClaim::New(leak(claim("acc-b", "eip155:0xA"))),
                false,
            ),
            ("s5", SessionClaim::Existing(leak(acct("acc-b"))), false),
            ("s6", SessionClaim::Any, true),
        ] {
            let r = s
                .create_session_claimed(
                    &w("w"),
                    session(id, &format!("h-{id}"), t0, b"r", LONG),
                    9,
                    c,
                )
                .await
                .unwrap();
            if ok {
                assert_eq!(r, Claimed::Done(vec![]), "{id}");
            } else {
                assert_eq!(r, Claimed::Mismatch(Some(a.clone())), "{id}");
            }
        }
        let ids: Vec<String> = s
            .list_sessions(&w("w"))
            .await
            .unwrap()
            .into_iter()
            .map(|(e, _)| e.session_id.into_string())
            .collect();
        assert_eq!(ids.len(), 4, "{ids:?}");
        assert!(!ids.iter().any(|i| i == "s4" || i == "s5"), "{ids:?}");
        // The claim has no time to live, and sits with the wallet's keys.
        if let Some(raw) = &f.raw {
            let key = format!("{}{{w}}:a", raw.prefix);
            assert_eq!(raw.pttl(&key).await, -1);
        }
    }

    /// Concurrent first sign-ins of one identity, each with a new account: one claim wins, and
    /// only sessions of that account are created.
    async fn first_claims_race(f: Fixture) {
        let t0 = now_ms();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let s = f.second().await;
            tasks.push(tokio::spawn(async move {
                let c = leak(claim(&format!("acc-{i}"), "solana:W"));
                let r = s
                    .create_session_claimed(
                        &w("w"),
                        session(&format!("s{i}"), &format!("h{i}"), t0, b"r", LONG),
                        20,
                        SessionClaim::New(c),
                    )
                    .await
                    .unwrap();
                (i, r)
            }));
        }
        let mut winners = Vec::new();
        for t in tasks {
            let (i, r) = t.await.unwrap();
            if let Claimed::Done(_) = r {
                winners.push(i);
            }
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        let won = f.store.get_claim(&w("w")).await.unwrap().unwrap();
        assert_eq!(won.account, acct(&format!("acc-{}", winners[0])));
        assert_eq!(f.store.list_sessions(&w("w")).await.unwrap().len(), 1);
    }

    /// Concurrent first sign-ins of one new identity through the account directory: each
    /// attempt with a new account writes that account's record beside its session, so every
    /// account whose claim lost must leave no record behind. The `seal` step sees each
    /// attempt's account. A sign-in that wrongly believed the identity unclaimed (its read
    /// raced a first sign-in) ends in the existing account too.
    async fn new_accounts_that_lose_leave_no_record(f: Fixture) {
        use std::sync::Mutex;
        use wallet_auth::session::accounts::{AccountRoles, Directory, Identity, SealedSession};
        use wallet_auth::verify::Chain;

        let clock: Arc<dyn wallet_auth::clock::Clock> =
            Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let identity =
            Identity::wallet(Chain::Solana, "So1anaWa11et111111111111111111111111111111");
        let tried: Arc<Mutex<Vec<AccountId>>> = Arc::default();
        let open = |store: Arc<dyn Store>, i: usize, known: Option<Option<Claim>>| {
            let (identity, tried, clock) = (identity.clone(), tried.clone(), clock.clone());
            async move {
                let directory = Directory::new(store, clock, Vec::new());
                let seal = |account: &AccountId, _: &AccountRoles| {
                    tried.lock().unwrap().push(account.clone());
                    SealedSession {
                        session_id: SessionId::new(format!("s{i}")),
                        token_hash: TokenHash::new(format!("h{i}")),
                        created_ms: now_ms(),
                        record: b"r".to_vec(),
                        ttl: LONG,
                    }
                };
                directory
                    .open_session(&identity, 20, seal, SessionExtras::default(), known)
                    .await
                    .unwrap()
                    .0
            }
        };
        let mut tasks = Vec::new();
        for i in 0..8 {
            tasks.push(tokio::spawn(open(f.second().await, i, None)));
        }
        let mut accounts = BTreeSet::new();
        for t in tasks {
            accounts.insert(t.await.unwrap());
        }
        assert_eq!(accounts.len(), 1, "{accounts:?}");
        let won = accounts.pop_first().unwrap();
        // Believed unclaimed: the attempt's new account loses to the claim, and is retried in
        // the existing one.
        let late = open(f.store.clone(), 8, Some(None)).await;
        assert_eq!(late, won);
        let record = f.store.get_account(&won).await.unwrap().unwrap();
        assert_eq!(
            record
                .identities
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            [identity.key().as_str()]
        );
        let tried = tried.lock().unwrap().clone();
        assert!(tried.len() > 9, "every attempt sealed: {tried:?}");
        for account in tried.iter().filter(|a| **a != won) {
            assert_eq!(
                f.store.get_account(account).await.unwrap(),
                None,
                "the record of {account:?}, which lost its claim"
            );
        }
    }

    /// An identity whose account lost its listing (a crash between the claim and the list) is
    /// listed again at its next sign-in that reads the account.
    async fn a_lost_listing_is_repaired_at_the_next_sign_in(f: Fixture) {
        use wallet_auth::session::accounts::{AccountRoles, Directory, Identity, SealedSession};
        use wallet_auth::verify::Chain;

        let clock: Arc<dyn wallet_auth::clock::Clock> =
            Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
        let identity =
            Identity::wallet(Chain::Solana, "So1anaWa11et111111111111111111111111111111");
        let sign_in = |i: usize| {
            // A directory of its own: an instance that has not read the account yet.
            let directory = Directory::new(f.store.clone(), clock.clone(), Vec::new());
            let identity = identity.clone();
            async move {
                let seal = |_: &AccountId, _: &AccountRoles| SealedSession {
                    session_id: SessionId::new(format!("s{i}")),
                    token_hash: TokenHash::new(format!("h{i}")),
                    created_ms: now_ms(),
                    record: b"r".to_vec(),
                    ttl: LONG,
                };
                directory
                    .open_session(&identity, 20, seal, SessionExtras::default(), None)
                    .await
                    .unwrap()
                    .0
            }
        };
        let account = sign_in(0).await;
        assert!(f
            .store
            .delete_account(&account, std::slice::from_ref(&identity.key()))
            .await
            .unwrap());
        assert_eq!(sign_in(1).await, account);
        let record = f.store.get_account(&account).await.unwrap().unwrap();
        assert_eq!(
            record
                .identities
                .iter()
                .map(|(k, _)| k.as_str())
                .collect::<Vec<_>>(),
            [identity.key().as_str()]
        );
    }

    /// A claim changes only from the expected account; ending the sessions goes with it.
    async fn claims_swap(f: Fixture) {
        let s = &f.store;
        let t0 = now_ms();
        let a = claim("acc-a", "eip155:0xA");
        let b = claim("acc-b", "eip155:0xA");
        let swap =
            |expected: Option<&'static AccountId>, new: Option<&'static Claim>, end| ClaimSwap {
                expected,
                new,
                end_sessions: end,
            };
        // From none.
        assert_eq!(
            s.swap_claim(
                &w("w"),
                swap(Some(leak(acct("acc-a"))), Some(leak(a.clone())), false)
            )
            .await
            .unwrap(),
            Claimed::Mismatch(None)
        );
        assert_eq!(
            s.swap_claim(&w("w"), swap(None, Some(leak(a.clone())), false))
                .await
                .unwrap(),
            Claimed::Done(vec![])
        );
        for i in 0..2 {
            s.create_session(
                &w("w"),
                session(&format!("s{i}"), &format!("h{i}"), t0 + i, b"r", LONG),
                5,
            )
            .await
            .unwrap();
        }
        // A wrong expectation changes nothing, sessions included.
        assert_eq!(
            s.swap_claim(&w("w"), swap(None, Some(leak(b.clone())), true))
                .await
                .unwrap(),
            Claimed::Mismatch(Some(a.clone()))
        );
        assert_eq!(s.list_sessions(&w("w")).await.unwrap().len(), 2);
        // Moved, and the sessions end in the same step.
        let Claimed::Done(ended) = s
            .swap_claim(
                &w("w"),
                swap(Some(leak(acct("acc-a"))), Some(leak(b.clone())), true),
            )
            .await
            .unwrap()
        else {
            panic!("swap refused");
        };
        assert_eq!(ended.len(), 2);
        assert!(s.list_sessions(&w("w")).await.unwrap().is_empty());
        assert_eq!(s.get_claim(&w("w")).await.unwrap(), Some(b.clone()));
        // Deleted.
        assert_eq!(
            s.swap_claim(&w("w"), swap(Some(leak(acct("acc-b"))), None, false))
                .await
                .unwrap(),
            Claimed::Done(vec![])
        );
        assert_eq!(s.get_claim(&w("w")).await.unwrap(), None);
    }

    /// Concurrent moves of one identity to two accounts: exactly one is done.
    async fn claims_swap_race(f: Fixture) {
        let a = claim("acc-a", "solana:W");
        f.store
            .swap_claim(
                &w("w"),
                ClaimSwap {
                    expected: None,
                    new: Some(&a),
                    end_sessions: false,
                },
            )
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..6 {
            let s = f.second().await;
            tasks.push(tokio::spawn(async move {
                let to = leak(claim(&format!("to-{i}"), "solana:W"));
                let r = s
                    .swap_claim(
                        &w("w"),
                        ClaimSwap {
                            expected: Some(leak(acct("acc-a"))),
                            new: Some(to),
                            end_sessions: true,
                        },
                    )
                    .await
                    .unwrap();
                matches!(r, Claimed::Done(_))
            }));
        }
        let mut done = 0;
        for t in tasks {
            done += usize::from(t.await.unwrap());
        }
        assert_eq!(done, 1);
    }

    /// Account records: created by their first identity, bounded, the last identity kept on
    /// request, roles written on a condition, deleted only when nothing else is listed.
    async fn account_records(f: Fixture) {
        let s = &f.store;
        let (ta, tb, tc) = (w("ta"), w("tb"), w("tc"));
        assert_eq!(s.get_account(&acct("x")).await.unwrap(), None);
        assert!(s
            .add_account_identity(&acct("x"), ident("eip155:0xA", &ta, 2))
            .await
            .unwrap());
        assert!(s
            .add_account_identity(&acct("x"), ident("eip155:0xA", &ta, 2))
            .await
            .unwrap());
        assert!(s
            .add_account_identity(&acct("x"), ident("solana:B", &tb, 2))
            .await
            .unwrap());
        assert!(!s
            .add_account_identity(&acct("x"), ident("password:c", &tc, 2))
            .await
            .unwrap());
        let r = s.get_account(&acct("x")).await.unwrap().unwrap();
        assert_eq!(r.created_ms, 1_700_000_000_000);
        assert!(r.roles.is_empty());
        assert_eq!(
            r.identities,
            vec![
                ("eip155:0xA".to_owned(), ta.clone()),
                ("solana:B".to_owned(), tb.clone())
            ]
        );
        // Roles.
        let roles = vec!["admin".to_owned(), "editor".to_owned()];
        assert_eq!(
            s.set_account_roles(&acct("nobody"), None, &roles)
                .await
                .unwrap(),
            RolesSet::NoAccount
        );
        assert_eq!(
            s.set_account_roles(&acct("x"), Some(&roles), &roles)
                .await
                .unwrap(),
            RolesSet::Conflict
        );
        assert_eq!(
            s.set_account_roles(&acct("x"), Some(&[]), &roles)
                .await
                .unwrap(),
            RolesSet::Done
        );
        assert_eq!(
            s.get_account(&acct("x")).await.unwrap().unwrap().roles,
            roles
        );
        assert_eq!(
            s.set_account_roles(&acct("x"), None, &[]).await.unwrap(),
            RolesSet::Done
        );
        assert!(s
            .get_account(&acct("x"))
            .await
            .unwrap()
            .unwrap()
            .roles
            .is_empty());
        // Removal.
        assert_eq!(
            s.remove_account_identity(&acct("x"), "password:c", true)
                .await
                .unwrap(),
            IdentityRemoval::NotListed
        );
        assert_eq!(
            s.remove_account_identity(&acct("x"), "solana:B", true)
                .await
                .unwrap(),
            IdentityRemoval::Removed
        );
        assert_eq!(
            s.remove_account_identity(&acct("x"), "eip155:0xA", true)
                .await
                .unwrap(),
            IdentityRemoval::Last
        );
        // Deletion only when nothing else is listed.
        assert!(!s.delete_account(&acct("x"), &[]).await.unwrap());
        assert!(s.get_account(&acct("x")).await.unwrap().is_some());
        assert!(s
            .delete_account(&acct("x"), &["eip155:0xA".to_owned()])
            .await
            .unwrap());
        assert_eq!(s.get_account(&acct("x")).await.unwrap(), None);
        assert!(!s.delete_account(&acct("x"), &[]).await.unwrap());
        assert_eq!(
            s.remove_account_identity(&acct("x"), "eip155:0xA", false)
                .await
                .unwrap(),
            IdentityRemoval::NotListed
        );
        // Without `keep_last`, the last one goes too.
        assert!(s
            .add_account_identity(&acct("y"), ident("solana:B", &tb, 2))
            .await
            .unwrap());
        assert_eq!(
            s.remove_account_identity(&acct("y"), "solana:B", false)
                .await
                .unwrap(),
            IdentityRemoval::Removed
        );
        assert!(s
            .get_account(&acct("y"))
            .await
            .unwrap()
            .unwrap()
            .identities
            .is_empty());
    }

    /// Concurrent additions never list more identities than the bound.
    async fn account_bound_under_concurrency(f: Fixture) {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let s = f.second().await;
            tasks.push(tokio::spawn(async move {
                let tag = leak(w(&format!("t{i}")));
                let id = leak(format!("solana:{i}"));
                s.add_account_identity(&acct("x"), ident(id, tag, 4))
                    .await
                    .unwrap()
            }));
        }
        let mut added = 0;
        for t in tasks {
            added += usize::from(t.await.unwrap());
        }
        assert_eq!(added, 4);
        let r = f.store.get_account(&acct("x")).await.unwrap().unwrap();
        assert_eq!(r.identities.len(), 4);
    }

    /// [`Store::create_session_with`] writes the session's records (statistics, counter,
    /// audit appends) with it, and none of them when the claim refuses the session.
    async fn sessions_carry_their_records(f: Fixture) {
        let s = &f.store;
        let t0 = now_ms();
        let tag = w("carried");
        let a = claim("acc-a", "eip155:0xC");
        let bounds = AuditBounds {
            max_len: 10,
            max_age: LONG,
        };
        let logs = [
            (AuditLog::WalletActivity(&tag), bounds, b"own".as_slice()),
            (AuditLog::Activity, bounds, b"signed in".as_slice()),
        ];
        let extras = SessionExtras {
            active: Some((
                "chain-c",
                ActiveMove {
                    from_ms: None,
                    to_ms: Some(t0 + 3_600_000),
                },
            )),
            count: Some("carried"),
            audit: &logs,
            now_ms: t0,
        };
        let span = Span {
            since_ms: t0 - 60_000,
            now_ms: t0,
        };
        let written = || async {
            (
                s.count_events_since("carried", span).await.unwrap(),
                s.count_active("chain-c", t0).await.unwrap(),
                s.audit_read(logs[0].0, 10, bounds).await.unwrap().len(),
                s.audit_read(logs[1].0, 10, bounds).await.unwrap().len(),
            )
        };
        let refused = s
            .create_session_with(
                &tag,
                session("s0", "h0", t0, b"r", LONG),
                5,
                SessionClaim::Existing(&acct("acc-b")),
                extras,
            )
            .await
            .unwrap();
        assert_eq!(refused, Claimed::Mismatch(None));
        assert_eq!(written().await, (0, 0, 0, 0));
        for (id, c) in [
            ("s1", SessionClaim::New(&a)),
            ("s2", SessionClaim::Existing(&a.account)),
        ] {
            let done = s
                .create_session_with(
                    &tag,
                    session(id, &format!("h-{id}"), t0, b"r", LONG),
                    5,
                    c,
                    extras,
                )
                .await
                .unwrap();
            assert_eq!(done, Claimed::Done(vec![]), "{id}");
        }
        assert_eq!(written().await, (2, 2, 2, 2));
        // Each log gets the bytes given for it.
        for (log, _, event) in logs {
            assert_eq!(
                s.audit_read(log, 10, bounds).await.unwrap(),
                vec![event.to_vec(); 2]
            );
        }
        assert_eq!(s.list_sessions(&tag).await.unwrap().len(), 2);
    }

    crate::on_every_backend!(
        sessions_carry_their_records,
        sessions_check_claims,
        first_claims_race,
        new_accounts_that_lose_leave_no_record,
        a_lost_listing_is_repaired_at_the_next_sign_in,
        claims_swap,
        claims_swap_race,
        account_records,
        account_bound_under_concurrency,
    );
}
