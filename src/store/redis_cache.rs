//! The session cache of the Redis store: validation ([`super::Store::get_session`]) answered from
//! this process's memory when it can be, with every change of a session on any instance
//! reaching it within milliseconds.
//!
//! # Why
//! Validating a request costs one Redis round trip, and that round trip bounds how many requests
//! an instance validates per second. Most validations read a record nobody changed since the
//! last one. Redis itself can say when a key changes (server-assisted client-side caching,
//! `CLIENT TRACKING`), so an instance may keep what it read and forget it the moment Redis says
//! it changed, on any instance.
//!
//! # How
//! - **What is cached**: only live records read by `get_session` (`P{tag}:s:<hash>` found
//!   live). Nothing else: a miss (unknown token) is never cached, nor is a retired token (its
//!   answer depends on the index and the retired list), nor any other read.
//! - **Tracking**: one dedicated RESP3 connection per Redis master runs `CLIENT TRACKING ON BCAST
//!   PREFIX P{` (`P` the key prefix). Redis then pushes the name of every key under that
//!   prefix written, deleted, expired or evicted on that node, by anyone, on this connection.
//!   Every key of a wallet starts with `P{tag}` (see the key table in [`super::redis`]), so a
//!   push names the wallet; its cached sessions are dropped (all of them: a wallet has a few).
//!   Pushes are handled inside the connection's reader, before any reply read after them.
//! - **Own writes**: every session write of this instance (create, update, rotate, delete,
//!   delete-all) drops the wallet's cached sessions as soon as it returns, so this instance never
//!   reads its own change late; Redis's push for that write follows and drops them again. The
//!   `lastSeenAt` and refresh-window writes thus stay exactly as they are: they are written on
//!   their schedule, and the next validation reads the record they wrote.
//! - **Fills cannot overtake an invalidation**: a read remembers, before it is sent, the
//!   cache's generation (bumped by every flush) and the epoch of the wallet's shard (bumped by
//!   every invalidation in it). Its answer is kept only if neither moved: an answer read before
//!   a write, arriving after the write's push, is thrown away. Check and insert happen under the
//!   shard's lock, as do invalidations, so none can fall between them.
//! - **Fail closed**: a hit is served only while every tracking connection proved itself
//!   recently: a heartbeat (`PING`, every [`HEARTBEAT`]) on each of them was answered, and the
//!   newest answered one was sent less than [`MAX_LAG`] ago. An answered `PING` proves that
//!   every push Redis queued before it was handled (one connection, in order). A tracking
//!   connection that drops (the library reports it at once, or a heartbeat fails) flushes the
//!   cache and reads go to Redis until it is back and answered a heartbeat; one whose heartbeat
//!   takes longer than [`MAX_LAG`] (lag) flushes too. A `FLUSHALL`/`FLUSHDB` push flushes.
//! - **Bounds**: at most `entries` sessions (when full, a fill drops an arbitrary session of
//!   its shard, or is not kept when its shard holds none),
//!   each kept at most [`MAX_AGE`] after it was read, so a lost invalidation cannot live longer;
//!   the session layer still refuses an expired record by its own expiry.
//! - **Redis Cluster**: a tracking connection to every master (each node pushes only its own
//!   keys' changes); the masters are read with `CLUSTER SLOTS` at start and every
//!   [`TOPOLOGY_EVERY`]; a change of the set of masters flushes the cache. Until every master's
//!   tracking connection is up, nothing is served from the cache.
//!
//! # Why not the library's cache, why broadcast mode
//! redis-rs has client-side caching behind its `cache-aio` feature (marked experimental). It
//! caches single read commands (`GET`, `HGET`…) and not a script's answer, which is what
//! validation reads (one script: the live record, or the retired-token path); it keeps its
//! entries across a reconnection (invalidations sent while the connection was down are lost,
//! and the entries stay until their client-side TTL: not fail closed); it adds a `PTTL` per
//! cached read. So the tracking is driven here, on connections of its own.
//!
//! Default-mode tracking (Redis remembers which keys each client read) would send only the
//! pushes of keys this instance read, but costs Redis memory per key and per reader (the
//! tracking table; it adds to the memory per session), needs every validation read to go on the
//! tracking connection (or one redirecting to it) of the right node, and on a reconnection of a
//! data connection silently stops tracking its reads. Broadcast mode costs no Redis memory per
//! key and lets validation read through the store's ordinary connections. Its price is traffic:
//! every write of a wallet key on a node reaches every instance's tracking connection to that
//! node, whether or not the instance cached that wallet (a sign-in writes about five keys: record,
//! index, the wallet's audit logs; a `lastSeenAt` write one). Redis batches the pushes of
//! one event-loop turn into one message per connection. See BENCHMARKS.md for the arithmetic.
//!
//! Memory and PostgreSQL stores have no cache: the memory store already answers from memory,
//! and PostgreSQL offers no invalidation stream to keep one coherent.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, ProtocolVersion,
    PushInfo, PushKind, Value,
};

use super::metered::{CacheEvent, StoreRecorder};

/// Longest time a session read from Redis is served from the cache.
pub const MAX_AGE: Duration = Duration::from_secs(30);
/// Interval of the heartbeat on each tracking connection.
pub const HEARTBEAT: Duration = Duration::from_millis(20);
/// Hits are served only while the newest answered heartbeat of every tracking connection was
/// sent less than this long ago; a heartbeat slower than this flushes the cache.
pub const MAX_LAG: Duration = Duration::from_millis(100);
/// Interval of the check of a cluster's masters.
pub const TOPOLOGY_EVERY: Duration = Duration::from_secs(1);
/// Shards of the cache (each under its own lock).
const SHARDS: usize = 64;
/// First and longest delay between two connection attempts of a tracking connection.
const RECONNECT_MIN: Duration = Duration::from_millis(50);
const RECONNECT_MAX: Duration = Duration::from_secs(2);

/// One cached session.
struct Entry {
    hash: String,
    record: Vec<u8>,
    /// When it was read, in [`SessionCache::now_ns`] time.
    read_ns: u64,
}

#[derive(Default)]
struct Shard {
    /// Bumped by every invalidation of a wallet of this shard.
    epoch: u64,
    len: usize,
    wallets: HashMap<String, Vec<Entry>>,
}

impl Shard {
    fn drop_wallet(&mut self, tag: &str) -> usize {
        self.epoch += 1;
        let n = self.wallets.remove(tag).map_or(0, |v| v.len());
        self.len -= n;
        n
    }
}

/// What a read remembers before it is sent (see the module docs): its answer may be kept only
/// if neither the generation nor the shard's epoch moved meanwhile.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    generation: u64,
    shard: usize,
    epoch: u64,
}

/// One tracking connection's state, shared with its task and its push handler.
struct Tracker {
    /// Where it connects.
    info: ConnectionInfo,
    /// Send time of its newest answered heartbeat; 0: not (or no longer) confirmed.
    confirmed_ns: AtomicU64,
    /// Number of the current connection (a push handler of an older one is ignored).
    conn_seq: AtomicU64,
    /// Set when the tracker is replaced (a cluster's masters changed): its task ends.
    stopped: AtomicBool,
}

/// The cache (see the module docs). Shared by the store and the tracking tasks; the tasks hold
/// it weakly and end when the store is dropped.
pub struct SessionCache {
    shards: Box<[Mutex<Shard>]>,
    /// Most sessions cached.
    capacity: usize,
    /// Sessions cached, plus the places reserved by fills in progress.
    total: AtomicUsize,
    hasher: RandomState,
    base: Instant,
    /// Bumped by every flush.
    generation: AtomicU64,
    /// Hits are served while `now_ns` is below this (0: not at all).
    fresh_until: AtomicU64,
    trackers: Mutex<Vec<Arc<Tracker>>>,
    /// `P{`: the start of every wallet key.
    wallet_prefix: String,
    timeout: Duration,
    recorder: OnceLock<Arc<dyn StoreRecorder>>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache")
            .field("entries", &self.len())
            .field("serving", &self.is_serving())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl SessionCache {
    /// A cache of at most `entries` sessions for keys starting with `prefix`, kept coherent by
    /// tracking connections to `url`'s node (one URL) or to every master of the cluster
    /// `cluster` reaches. Starts the tracking tasks on the current Tokio runtime; until they
    /// are connected, nothing is served from the cache.
    ///
    /// # Errors
    /// `url` (its first node, for a cluster) is not a Redis URL.
    pub(crate) fn start(
        url: &str,
        prefix: &str,
        entries: usize,
        timeout: Duration,
        cluster: Option<ClusterConnection>,
    ) -> redis::RedisResult<Arc<Self>> {
        let base_info = url.into_connection_info()?;
        let shards = (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect();
        let cache = Arc::new(SessionCache {
            shards,
            capacity: entries.max(1),
            total: AtomicUsize::new(0),
            hasher: RandomState::new(),
            base: Instant::now(),
            generation: AtomicU64::new(0),
            fresh_until: AtomicU64::new(0),
            trackers: Mutex::new(Vec::new()),
            wallet_prefix: format!("{prefix}{{"),
            timeout,
            recorder: OnceLock::new(),
        });
        match cluster {
            None => cache.track(vec![base_info]),
            Some(conn) => {
                tokio::spawn(watch_masters(Arc::downgrade(&cache), conn, base_info));
            }
        }
        Ok(cache)
    }

    /// Hands the cache where to count its hits, misses, invalidations and flushes (the first
    /// recorder handed stays).
    pub(crate) fn attach_recorder(&self, recorder: Arc<dyn StoreRecorder>) {
        let _ = self.recorder.set(recorder);
    }

    fn record(&self, event: CacheEvent, n: u64) {
        if n > 0 {
            if let Some(r) = self.recorder.get() {
                r.cache_event(event, n);
            }
        }
    }

    /// Nanoseconds since the cache was made, never 0.
    fn now_ns(&self) -> u64 {
        nanos(self.base.elapsed()).saturating_add(1)
    }

    fn shard_of(&self, tag: &str) -> usize {
        usize::try_from(self.hasher.hash_one(tag) % SHARDS as u64).unwrap_or(0)
    }

    /// Whether hits may be served now (every tracking connection confirmed recently).
    #[must_use]
    pub fn is_serving(&self) -> bool {
        self.now_ns() < self.fresh_until.load(Ordering::Acquire)
    }

    /// Sessions cached now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len).sum()
    }

    /// Whether no session is cached.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The live record of `hash` in wallet `tag`, when it is cached, younger than [`MAX_AGE`],
    /// and the cache is serving. Counts a hit or a miss.
    pub(crate) fn lookup(&self, tag: &str, hash: &str) -> Option<Vec<u8>> {
        let found = self.is_serving().then(|| {
            let now = self.now_ns();
            let shard = lock(&self.shards[self.shard_of(tag)]);
            shard
                .wallets
                .get(tag)?
                .iter()
                .find(|e| e.hash == hash && now.saturating_sub(e.read_ns) < nanos(MAX_AGE))
                .map(|e| e.record.clone())
        });
        let found = found.flatten();
        self.record(
            if found.is_some() {
                CacheEvent::Hit
            } else {
                CacheEvent::Miss
            },
            1,
        );
        found
    }

    /// Taken before a read of wallet `tag` is sent; `None` when the cache is not serving (the
    /// answer will not be kept).
    pub(crate) fn ticket(&self, tag: &str) -> Option<Ticket> {
        if !self.is_serving() {
            return None;
        }
        let generation = self.generation.load(Ordering::Acquire);
        let shard = self.shard_of(tag);
        let epoch = lock(&self.shards[shard]).epoch;
        Some(Ticket {
            generation,
            shard,
            epoch,
        })
    }

    /// Keeps a live record read with `ticket`, unless an invalidation or a flush came since the
    /// ticket was taken, or the cache stopped serving.
    pub(crate) fn fill(&self, ticket: Ticket, tag: &str, hash: &str, record: &[u8]) {
        let mut shard = lock(&self.shards[ticket.shard]);
        if shard.epoch != ticket.epoch
            || self.generation.load(Ordering::Acquire) != ticket.generation
            || !self.is_serving()
        {
            return;
        }
        let now = self.now_ns();
        let shard = &mut *shard;
        if let Some(entries) = shard.wallets.get_mut(tag) {
            if let Some(e) = entries.iter_mut().find(|e| e.hash == hash) {
                e.record = record.to_vec();
                e.read_ns = now;
                return;
            }
        }
        // A place for it: reserved, or else made by dropping one session of this shard (of
        // an arbitrary wallet), or else the answer is not kept.
        if self.total.fetch_add(1, Ordering::AcqRel) >= self.capacity {
            self.total.fetch_sub(1, Ordering::AcqRel);
            let victim = shard.wallets.keys().next().cloned();
            let Some(victim) = victim else {
                return;
            };
            if let Some(entries) = shard.wallets.get_mut(&victim) {
                entries.pop();
                shard.len -= 1;
                if entries.is_empty() {
                    shard.wallets.remove(&victim);
                }
            }
        }
        shard
            .wallets
            .entry(tag.to_owned())
            .or_default()
            .push(Entry {
                hash: hash.to_owned(),
                record: record.to_vec(),
                read_ns: now,
            });
        shard.len += 1;
    }

    /// Drops the cached sessions of wallet `tag` (and refuses the answers of reads in flight of
    /// its shard): after this instance wrote the wallet, or when Redis says a key of it changed.
    pub(crate) fn forget(&self, tag: &str) {
        let n = lock(&self.shards[self.shard_of(tag)]).drop_wallet(tag);
        self.total.fetch_sub(n, Ordering::AcqRel);
        self.record(CacheEvent::Invalidation, n as u64);
    }

    /// Drops every cached session and refuses the answers of every read in flight.
    pub(crate) fn flush(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in self.shards.iter() {
            let mut s = lock(shard);
            s.epoch += 1;
            self.total.fetch_sub(s.len, Ordering::AcqRel);
            s.len = 0;
            s.wallets.clear();
        }
        self.record(CacheEvent::Flush, 1);
    }

    /// Recomputes until when hits may be served, from every tracker's newest confirmation
    /// (under the trackers' lock, so that a tracker that just lost its confirmation is never
    /// overwritten by an older computation).
    fn refresh_freshness(&self) {
        let trackers = lock(&self.trackers);
        let oldest = trackers
            .iter()
            .map(|t| t.confirmed_ns.load(Ordering::Acquire))
            .min()
            .unwrap_or(0);
        let until = if oldest == 0 {
            0
        } else {
            oldest.saturating_add(nanos(MAX_LAG))
        };
        self.fresh_until.store(until, Ordering::Release);
    }

    /// A tracker lost its connection, or lags: hits stop, the cache is flushed. (A tracker
    /// that was not confirmed kept the cache from serving and filling: nothing to flush.)
    fn lost(&self, tracker: &Tracker) {
        if tracker.confirmed_ns.swap(0, Ordering::AcqRel) != 0 {
            self.refresh_freshness();
            self.flush();
        }
    }

    /// Replaces the tracking connections with one per node of `nodes`, and flushes.
    fn track(self: &Arc<Self>, nodes: Vec<ConnectionInfo>) {
        let fresh: Vec<Arc<Tracker>> = nodes
            .into_iter()
            .map(|info| {
                Arc::new(Tracker {
                    info,
                    confirmed_ns: AtomicU64::new(0),
                    conn_seq: AtomicU64::new(0),
                    stopped: AtomicBool::new(false),
                })
            })
            .collect();
        let replaced = {
            let mut trackers = lock(&self.trackers);
            for old in trackers.iter() {
                old.stopped.store(true, Ordering::Release);
            }
            std::mem::replace(&mut *trackers, fresh.clone())
        };
        self.refresh_freshness();
        if !replaced.is_empty() {
            self.flush();
        }
        for tracker in fresh {
            tokio::spawn(run_tracker(Arc::downgrade(self), tracker));
        }
    }

    /// A push on a tracking connection (`seq`: the connection's number).
    fn on_push(&self, tracker: &Tracker, seq: u64, push: PushInfo) {
        match push.kind {
            PushKind::Invalidate => match push.data.first() {
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Some(tag) = self.wallet_of(key) {
                            self.forget(tag);
                        }
                    }
                }
                // FLUSHALL / FLUSHDB: a null instead of the keys.
                _ => self.flush(),
            },
            PushKind::Disconnection if tracker.conn_seq.load(Ordering::Acquire) == seq => {
                self.lost(tracker);
            }
            _ => {}
        }
    }

    /// The wallet tag of a key `P{tag}…`.
    fn wallet_of<'a>(&self, key: &'a Value) -> Option<&'a str> {
        let bytes = match key {
            Value::BulkString(b) => b.as_slice(),
            Value::SimpleString(s) => s.as_bytes(),
            _ => return None,
        };
        let rest = bytes.strip_prefix(self.wallet_prefix.as_bytes())?;
        let end = rest.iter().position(|b| *b == b'}')?;
        std::str::from_utf8(&rest[..end]).ok()
    }
}

/// Opens one tracking connection: RESP3, pushes handled by the cache, broadcast tracking of the
/// wallet keys.
async fn open_tracking(
    cache: &Arc<SessionCache>,
    tracker: &Arc<Tracker>,
    seq: u64,
) -> redis::RedisResult<MultiplexedConnection> {
    let redis_settings = tracker
        .info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    let info = tracker.info.clone().set_redis_settings(redis_settings);
    let client = redis::Client::open(info)?;
    let weak = Arc::downgrade(cache);
    let pushed = tracker.clone();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(cache.timeout))
        .set_response_timeout(Some(cache.timeout))
        .set_push_sender(
            move |push: PushInfo| -> Result<(), std::convert::Infallible> {
                if let Some(cache) = weak.upgrade() {
                    cache.on_push(&pushed, seq, push);
                }
                Ok(())
            },
        );
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(tracking_name(
            cache
                .wallet_prefix
                .strip_suffix('{')
                .unwrap_or(&cache.wallet_prefix),
        ))
        .exec_async(&mut conn)
        .await?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(&cache.wallet_prefix)
        .exec_async(&mut conn)
        .await?;
    Ok(conn)
}

/// The client name of the tracking connections of a store with the key prefix `key_prefix`, as
/// `CLIENT LIST` shows it: `wallet-auth-tracking:P`, where `P` keeps only the letters, digits,
/// `:`, `_` and `-` of the prefix (a client name has no spaces).
#[must_use]
pub fn tracking_name(key_prefix: &str) -> String {
    let prefix: String = key_prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("wallet-auth-tracking:{prefix}")
}

/// The task of one tracking connection: connects (again and again, with a growing delay), then
/// confirms it with a heartbeat until it fails; ends when the cache is dropped or the tracker
/// replaced.
async fn run_tracker(cache: Weak<SessionCache>, tracker: Arc<Tracker>) {
    let mut delay = RECONNECT_MIN;
    let mut failures: u64 = 0;
    loop {
        if tracker.stopped.load(Ordering::Acquire) {
            return;
        }
        let Some(strong) = cache.upgrade() else {
            return;
        };
        let seq = tracker.conn_seq.fetch_add(1, Ordering::AcqRel) + 1;
        let opened = tokio::time::timeout(strong.timeout, open_tracking(&strong, &tracker, seq))
            .await
            .map_err(|_| "timed out".to_owned())
            .and_then(|r| r.map_err(|e| e.to_string()));
        drop(strong);
        match opened {
            Ok(conn) => {
                if failures > 0 {
                    tracing::info!("session cache: tracking connection back");
                }
                failures = 0;
                delay = RECONNECT_MIN;
                heartbeat(&cache, &tracker, conn).await;
            }
            Err(error) => {
                if failures == 0 {
                    tracing::warn!(%error, "session cache: tracking connection failed; validating through Redis");
                }
                failures += 1;
            }
        }
        if tracker.stopped.load(Ordering::Acquire) {
            return;
        }
        if let Some(strong) = cache.upgrade() {
            strong.lost(&tracker);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(RECONNECT_MAX);
    }
}

/// Confirms a tracking connection every [`HEARTBEAT`] until a heartbeat fails or the tracker is
/// stopped. A slow heartbeat flushes the cache (what was cached may have missed a change for
/// that long) but keeps the connection.
async fn heartbeat(cache: &Weak<SessionCache>, tracker: &Tracker, mut conn: MultiplexedConnection) {
    loop {
        if tracker.stopped.load(Ordering::Acquire) {
            return;
        }
        let Some(strong) = cache.upgrade() else {
            return;
        };
        let sent = strong.now_ns();
        let timeout = strong.timeout;
        drop(strong);
        let answered =
            tokio::time::timeout(timeout, redis::cmd("PING").query_async::<Value>(&mut conn)).await;
        let Some(strong) = cache.upgrade() else {
            return;
        };
        let failure = match answered {
            Ok(Ok(_)) => None,
            Ok(Err(error)) => Some(error.to_string()),
            Err(_) => Some(format!("no answer within {} ms", timeout.as_millis())),
        };
        if let Some(error) = failure {
            // The connection is reopened by the caller; until then nothing is served from the
            // cache.
            tracing::warn!(%error, "session cache: tracking heartbeat failed; reconnecting, validating through Redis meanwhile");
            return;
        }
        if strong.now_ns().saturating_sub(sent) > nanos(MAX_LAG) {
            strong.lost(tracker);
        }
        tracker.confirmed_ns.store(sent, Ordering::Release);
        strong.refresh_freshness();
        drop(strong);
        tokio::time::sleep(HEARTBEAT).await;
    }
}

/// The task that keeps one tracking connection per master of a cluster: reads the masters
/// every [`TOPOLOGY_EVERY`], and replaces the trackers (flushing) when they changed.
async fn watch_masters(
    cache: Weak<SessionCache>,
    mut conn: ClusterConnection,
    base: ConnectionInfo,
) {
    let mut current: Option<HashSet<(String, u16)>> = None;
    loop {
        let timeout = match cache.upgrade() {
            Some(c) => c.timeout,
            None => return,
        };
        let slots = tokio::time::timeout(
            timeout,
            redis::cmd("CLUSTER")
                .arg("SLOTS")
                .query_async::<Value>(&mut conn),
        )
        .await;
        match slots {
            Ok(Ok(value)) => {
                let masters = masters_of(&value);
                if !masters.is_empty() && current.as_ref() != Some(&masters) {
                    let Some(strong) = cache.upgrade() else {
                        return;
                    };
                    let nodes = masters
                        .iter()
                        .map(|(host, port)| node_info(&base, host, *port))
                        .collect();
                    strong.track(nodes);
                    current = Some(masters);
                }
            }
            Ok(Err(error)) => {
                tracing::debug!(%error, "session cache: CLUSTER SLOTS failed");
            }
            Err(_) => tracing::debug!("session cache: CLUSTER SLOTS timed out"),
        }
        tokio::time::sleep(TOPOLOGY_EVERY).await;
    }
}

/// The masters (host, port) of a `CLUSTER SLOTS` answer.
fn masters_of(slots: &Value) -> HashSet<(String, u16)> {
    let mut out = HashSet::new();
    let Value::Array(ranges) = slots else {
        return out;
    };
    for range in ranges {
        let Value::Array(items) = range else { continue };
        let Some(Value::Array(master)) = items.get(2) else {
            continue;
        };
        let host = match master.first() {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            _ => continue,
        };
        let port = match master.get(1) {
            Some(Value::Int(p)) => u16::try_from(*p).ok(),
            _ => None,
        };
        if let (false, Some(port)) = (host.is_empty(), port) {
            out.insert((host, port));
        }
    }
    out
}

/// `base` (credentials, database, TLS) pointed at another node.
fn node_info(base: &ConnectionInfo, host: &str, port: u16) -> ConnectionInfo {
    let addr = match base.addr() {
        ConnectionAddr::TcpTls {
            insecure,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host: host.to_owned(),
            port,
            insecure: *insecure,
            tls_params: tls_params.clone(),
        },
        _ => ConnectionAddr::Tcp(host.to_owned(), port),
    };
    base.clone().set_addr(addr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cache(entries: usize) -> SessionCache {
        SessionCache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            capacity: entries.max(1),
            total: AtomicUsize::new(0),
            hasher: RandomState::new(),
            base: Instant::now(),
            generation: AtomicU64::new(0),
            fresh_until: AtomicU64::new(u64::MAX),
            trackers: Mutex::new(Vec::new()),
            wallet_prefix: "wa:{".to_owned(),
            timeout: Duration::from_secs(1),
            recorder: OnceLock::new(),
        }
    }

    #[test]
    fn a_fill_after_an_invalidation_is_refused() {
        let c = cache(100);
        let t = c.ticket("w").unwrap();
        c.forget("w");
        c.fill(t, "w", "h", b"old");
        assert_eq!(c.lookup("w", "h"), None);
        let t = c.ticket("w").unwrap();
        c.fill(t, "w", "h", b"new");
        assert_eq!(c.lookup("w", "h").as_deref(), Some(&b"new"[..]));
    }

    #[test]
    fn a_fill_after_a_flush_is_refused() {
        let c = cache(100);
        let t = c.ticket("w").unwrap();
        c.flush();
        c.fill(t, "w", "h", b"old");
        assert!(c.is_empty());
    }

    #[test]
    fn nothing_is_served_or_kept_while_not_serving() {
        let c = cache(100);
        let t = c.ticket("w").unwrap();
        c.fill(t, "w", "h", b"r");
        assert!(c.lookup("w", "h").is_some());
        c.fresh_until.store(0, Ordering::Release);
        assert_eq!(c.lookup("w", "h"), None);
        assert!(c.ticket("w").is_none());
    }

    #[test]
    fn entries_are_bounded() {
        for capacity in [1, 7, 100, 1000] {
            let c = cache(capacity);
            for i in 0..10_000 {
                let tag = format!("w{}", i % 3000);
                let t = c.ticket(&tag).unwrap();
                c.fill(t, &tag, &format!("h{i}"), b"r");
                assert!(c.len() <= capacity, "{} > {capacity}", c.len());
            }
            // Full, less at most one shard's worth of fills that found their shard empty.
            assert!(c.len() + SHARDS >= capacity.min(SHARDS * 4), "{}", c.len());
            c.forget("w1");
            c.flush();
            assert_eq!(c.total.load(Ordering::SeqCst), 0);
        }
    }

    #[test]
    fn invalidation_pushes_name_the_wallet() {
        let c = cache(100);
        let key = |k: &str| Value::BulkString(k.as_bytes().to_vec());
        assert_eq!(c.wallet_of(&key("wa:{abc}:s:h1")), Some("abc"));
        assert_eq!(c.wallet_of(&key("wa:{abc}:i")), Some("abc"));
        assert_eq!(c.wallet_of(&key("wa:v:prefs:abc")), None);
        assert_eq!(c.wallet_of(&key("xx:{abc}:i")), None);
        for (tag, hash) in [("abc", "h1"), ("abc", "h2"), ("def", "h1")] {
            let t = c.ticket(tag).unwrap();
            c.fill(t, tag, hash, b"r");
        }
        let tracker = Tracker {
            info: "redis://127.0.0.1:1".into_connection_info().unwrap(),
            confirmed_ns: AtomicU64::new(1),
            conn_seq: AtomicU64::new(1),
            stopped: AtomicBool::new(false),
        };
        let push = |data| PushInfo {
            kind: PushKind::Invalidate,
            data,
        };
        c.on_push(
            &tracker,
            1,
            push(vec![Value::Array(vec![key("wa:{abc}:s:h1")])]),
        );
        assert_eq!(c.lookup("abc", "h2"), None);
        assert!(c.lookup("def", "h1").is_some());
        c.on_push(&tracker, 1, push(vec![Value::Nil]));
        assert!(c.is_empty());
    }

    #[test]
    fn cluster_slots_give_the_masters() {
        let node = |h: &str, p: i64| {
            Value::Array(vec![
                Value::BulkString(h.as_bytes().to_vec()),
                Value::Int(p),
            ])
        };
        let slots = Value::Array(vec![
            Value::Array(vec![
                Value::Int(0),
                Value::Int(5460),
                node("127.0.0.1", 7000),
                node("127.0.0.1", 7003),
            ]),
            Value::Array(vec![
                Value::Int(5461),
                Value::Int(10922),
                node("127.0.0.1", 7001),
            ]),
            Value::Array(vec![Value::Int(10923), Value::Int(16383), node("", 7002)]),
        ]);
        let masters = masters_of(&slots);
        assert_eq!(masters.len(), 2);
        assert!(masters.contains(&("127.0.0.1".to_owned(), 7000)));
        assert!(masters.contains(&("127.0.0.1".to_owned(), 7001)));
    }
}
