//! The in-memory store: the reference implementation of [`Store`], and the default when no
//! Redis is configured. One process only; everything is lost at restart.
//!
//! Every operation takes one mutex for its whole duration, which makes each of them atomic by
//! construction. Expiry is checked on read and swept periodically, so memory stays bounded by
//! what is live; nonces are additionally capped at [`MAX_NONCES`], and audit logs at
//! [`MAX_AUDIT_LOGS`].
//!
//! Time to live is measured on an injected [`Clock`] ([`MemoryStore::with_clock`]; the system
//! clock by default), so that tests move a [`crate::clock::ManualClock`] past a TTL instead of
//! sleeping through it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use super::api::{
    active_bucket, AccountId, AccountRecord, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap,
    Claimed, CurrentToken, IdentityRemoval, IndexEntry, NewIdentity, NewSession, RateBudget,
    RateDecision, RolesSet, Rotated, Rotation, SessionClaim, SessionEntry, SessionExtras,
    SessionId, SessionUpdate, Span, Store, StoreResult, Swap, TokenHash, WalletTag,
    EVENT_COUNT_RETENTION,
};
use crate::clock::{unix_ms, Clock, SystemClock};

/// Upper bound on outstanding nonces; beyond it the oldest are dropped.
pub const MAX_NONCES: usize = 200_000;
/// Upper bound on audit logs (two per wallet that had events); beyond it the logs that would
/// expire first are dropped, an eighth of them at a time.
pub const MAX_AUDIT_LOGS: usize = 100_000;
/// Writes between two full sweeps of expired entries.
const SWEEP_EVERY: u64 = 4096;

/// A point in time of the store's clock, Unix milliseconds.
type Ms = i64;

#[derive(Debug)]
struct Expiring<T> {
    value: T,
    expires: Option<Ms>,
}

impl<T> Expiring<T> {
    fn live(&self, now: Ms) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

/// A retired token: its hash and retirement time (Unix ms).
type Retired = (TokenHash, i64);

/// An audit log's entries, oldest first, with their append time.
type AuditEntries = VecDeque<(Ms, Vec<u8>)>;

#[derive(Debug, Default)]
struct Inner {
    values: HashMap<String, Expiring<Vec<u8>>>,
    nonces: HashMap<String, Expiring<Vec<u8>>>,
    nonce_order: VecDeque<String>,
    /// Live session records by (wallet tag, token hash).
    sessions: HashMap<(WalletTag, TokenHash), Expiring<Vec<u8>>>,
    index: HashMap<WalletTag, Vec<IndexEntry>>,
    /// Retired tokens by (wallet tag, session id): token hash and retirement time (Unix ms),
    /// oldest first.
    retired: HashMap<(WalletTag, SessionId), Expiring<Vec<Retired>>>,
    rate: HashMap<String, Expiring<VecDeque<i64>>>,
    /// Audit logs by name: entries with their append time, and the log's expiry.
    audit: HashMap<String, Expiring<AuditEntries>>,
    /// Per event name: minute → occurrences.
    counters: HashMap<String, BTreeMap<i64, u64>>,
    /// Per chain: expiry minute → sessions.
    active: HashMap<String, BTreeMap<i64, i64>>,
    /// Identity claims by tag (no expiry).
    claims: HashMap<WalletTag, Claim>,
    /// Account records (no expiry).
    accounts: HashMap<AccountId, AccountRecord>,
    writes: u64,
}

impl Inner {
    fn wrote(&mut self, now: Ms) {
        self.writes += 1;
        if self.writes % SWEEP_EVERY == 0 {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: Ms) {
        self.values.retain(|_, v| v.live(now));
        self.nonces.retain(|_, v| v.live(now));
        let nonces = &self.nonces;
        self.nonce_order.retain(|n| nonces.contains_key(n));
        self.sessions.retain(|_, v| v.live(now));
        self.retired.retain(|_, v| v.live(now));
        self.rate.retain(|_, v| v.live(now));
        self.audit.retain(|_, v| v.live(now));
        let tags: Vec<WalletTag> = self.index.keys().cloned().collect();
        for tag in tags {
            self.prune_index(&tag, now);
        }
    }

    fn live_session(&self, tag: &WalletTag, hash: &TokenHash, now: Ms) -> Option<&Vec<u8>> {
        self.sessions
            .get(&(tag.clone(), hash.clone()))
            .filter(|e| e.live(now))
            .map(|e| &e.value)
    }

    /// Removes a session's record and retired-token list, returning its record when it was
    /// live.
    fn take_live(&mut self, tag: &WalletTag, entry: &IndexEntry, now: Ms) -> Option<Vec<u8>> {
        self.retired
            .remove(&(tag.clone(), entry.session_id.clone()));
        self.sessions
            .remove(&(tag.clone(), entry.token_hash.clone()))
            .filter(|e| e.live(now))
            .map(|e| e.value)
    }

    /// When `hash` is a retired token of the session `sid`: its retirement time.
    fn retired_at(
        &self,
        tag: &WalletTag,
        sid: &SessionId,
        hash: &TokenHash,
        now: Ms,
    ) -> Option<i64> {
        self.retired
            .get(&(tag.clone(), sid.clone()))
            .filter(|l| l.live(now))
            .and_then(|l| l.value.iter().find(|(h, _)| h == hash))
            .map(|(_, at)| *at)
    }

    /// Deletes every session of `tag`; the live ones, oldest first.
    fn delete_all(&mut self, tag: &WalletTag, now: Ms) -> Vec<(IndexEntry, Vec<u8>)> {
        let entries = self.index.remove(tag).unwrap_or_default();
        entries
            .into_iter()
            .filter_map(|e| self.take_live(tag, &e, now).map(|record| (e, record)))
            .collect()
    }

    /// Drops index entries whose record is gone, and the index when it is empty.
    fn prune_index(&mut self, tag: &WalletTag, now: Ms) {
        let Some(entries) = self.index.get(tag) else {
            return;
        };
        let keep: Vec<IndexEntry> = entries
            .iter()
            .filter(|e| self.live_session(tag, &e.token_hash, now).is_some())
            .cloned()
            .collect();
        if keep.is_empty() {
            self.index.remove(tag);
        } else {
            self.index.insert(tag.clone(), keep);
        }
    }
}

/// The name of an audit log in [`Inner::audit`].
fn audit_name(log: AuditLog<'_>) -> String {
    match log {
        AuditLog::Security => "security".to_owned(),
        AuditLog::Activity => "activity".to_owned(),
        AuditLog::WalletSecurity(tag) => format!("{tag}:security"),
        AuditLog::WalletActivity(tag) => format!("{tag}:activity"),
    }
}

impl Inner {
    /// [`Store::audit_append`] at `now`.
    fn audit_append(&mut self, log: AuditLog<'_>, event: &[u8], bounds: AuditBounds, now: Ms) {
        let name = audit_name(log);
        if !self.audit.get(&name).is_some_and(|l| l.live(now)) {
            self.audit.remove(&name);
            self.make_room_for_audit_log(now);
        }
        let entries = self.audit.entry(name).or_insert_with(|| Expiring {
            value: VecDeque::new(),
            expires: None,
        });
        entries.value.push_back((now, event.to_vec()));
        while entries.value.len() > bounds.max_len
            || entries
                .value
                .front()
                .is_some_and(|(at, _)| now - *at > ms(bounds.max_age))
        {
            entries.value.pop_front();
        }
        entries.expires = deadline(now, bounds.max_age);
    }

    /// [`Store::count_event`].
    fn count_event(&mut self, name: &str, now_ms: i64) {
        let bucket = active_bucket(now_ms);
        let oldest = active_bucket(now_ms - retention_ms());
        let counts = self.counters.entry(name.to_owned()).or_default();
        *counts.entry(bucket).or_default() += 1;
        counts.retain(|b, _| *b >= oldest);
    }

    /// [`Store::track_active`].
    fn track_active(&mut self, chain: &str, moved: ActiveMove, now_ms: i64) {
        let (from, to) = moved.buckets(now_ms);
        let buckets = self.active.entry(chain.to_owned()).or_default();
        if let Some(b) = from {
            *buckets.entry(b).or_default() -= 1;
        }
        if let Some(b) = to {
            *buckets.entry(b).or_default() += 1;
        }
    }

    /// Makes room for one more audit log: drops the expired ones and, when that is not enough,
    /// the eighth that would expire first.
    fn make_room_for_audit_log(&mut self, now: Ms) {
        if self.audit.len() < MAX_AUDIT_LOGS {
            return;
        }
        self.audit.retain(|_, v| v.live(now));
        if self.audit.len() < MAX_AUDIT_LOGS {
            return;
        }
        let mut expiries: Vec<Option<Ms>> = self.audit.values().map(|v| v.expires).collect();
        let cut = (MAX_AUDIT_LOGS / 8).max(1);
        // `None` (never expires) sorts first: such logs do not exist, but would be dropped
        // last if they did.
        let (_, nth, _) = expiries.select_nth_unstable_by(cut, |a, b| match (a, b) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        });
        let cutoff = *nth;
        self.audit.retain(|_, v| match (v.expires, cutoff) {
            (Some(e), Some(c)) => e > c,
            _ => true,
        });
    }
}

/// The in-memory store. Cheap to create; share it behind an `Arc`.
pub struct MemoryStore {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose times to live run on `clock`.
    #[must_use]
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            clock,
        }
    }

    /// Now, by the store's clock.
    fn now(&self) -> Ms {
        unix_ms(self.clock.now())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change visible (each
        // operation mutates at the end), so a poisoned lock is safe to keep using.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn retention_ms() -> i64 {
    i64::try_from(EVENT_COUNT_RETENTION.as_millis()).unwrap_or(i64::MAX)
}

fn deadline(now: Ms, ttl: Duration) -> Option<Ms> {
    now.checked_add(ms(ttl))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds until a rotation of a session is allowed (0: allowed now), given the
/// retirement times it remembers within `retain`, oldest first.
pub(super) fn rotation_wait(times: &[i64], rot: &Rotation<'_>) -> i64 {
    let now = rot.now_ms;
    let mut wait = 0;
    if times.len() >= rot.max_retired.max(1) {
        // The list is full: its oldest entry must leave the retention window first.
        wait = times[0].saturating_add(ms(rot.retain)) - now;
    }
    let burst = rot.burst.max(1);
    let window = ms(rot.burst_window);
    let recent = times
        .iter()
        .filter(|at| **at > now.saturating_sub(window))
        .count();
    if recent >= burst {
        // The oldest of the newest `burst` rotations must leave the burst window first.
        wait = wait.max(times[times.len() - burst].saturating_add(window) - now);
    }
    wait
}

#[async_trait]
impl Store for MemoryStore {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        let now = self.now();
        let mut g = self.lock();
        if g.nonces.get(nonce).is_some_and(|e| e.live(now)) {
            return Ok(false);
        }
        while g.nonces.len() >= MAX_NONCES {
            match g.nonce_order.pop_front() {
                Some(old) => {
                    g.nonces.remove(&old);
                }
                None => break,
            }
        }
        g.nonces.insert(
            nonce.to_owned(),
            Expiring {
                value: value.to_vec(),
                expires: deadline(now, ttl),
            },
        );
        g.nonce_order.push_back(nonce.to_owned());
        g.wrote(now);
        Ok(true)
    }

    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>> {
        let now = self.now();
        let mut g = self.lock();
        Ok(g.nonces
            .remove(nonce)
            .filter(|e| e.live(now))
            .map(|e| e.value))
    }

    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        let now = self.now();
        let mut g = self.lock();
        let current = g.claims.get(tag);
        match claim {
            SessionClaim::Any => {}
            SessionClaim::Existing(account) => {
                if current.is_none_or(|c| &c.account != account) {
                    return Ok(Claimed::Mismatch(current.cloned()));
                }
            }
            SessionClaim::New(wanted) => match current {
                None => {
                    g.claims.insert(tag.clone(), wanted.clone());
                }
                Some(c) if c.account == wanted.account => {}
                Some(c) => return Ok(Claimed::Mismatch(Some(c.clone()))),
            },
        }
        g.prune_index(tag, now);
        let mut entries = g.index.remove(tag).unwrap_or_default();
        // A session id is unique; should it come again, it replaces the old session.
        if let Some(pos) = entries.iter().position(|e| &e.session_id == new.session_id) {
            let old = entries.remove(pos);
            g.take_live(tag, &old, now);
        }
        g.sessions.insert(
            (tag.clone(), new.token_hash.clone()),
            Expiring {
                value: new.record.to_vec(),
                expires: deadline(now, new.ttl),
            },
        );
        entries.push(IndexEntry {
            session_id: new.session_id.clone(),
            token_hash: new.token_hash.clone(),
            created_ms: new.created_ms,
        });
        entries.sort_by_key(|e| e.created_ms);
        let excess = entries.len().saturating_sub(max.max(1));
        let mut evicted = Vec::with_capacity(excess);
        for e in entries.drain(..excess) {
            let record = g.take_live(tag, &e, now).unwrap_or_default();
            evicted.push((e, record));
        }
        g.index.insert(tag.clone(), entries);
        if let Some((chain, moved)) = extras.active {
            g.track_active(chain, moved, extras.now_ms);
        }
        if let Some(name) = extras.count {
            g.count_event(name, extras.now_ms);
        }
        for &(log, bounds, event) in extras.audit {
            g.audit_append(log, event, bounds, now);
        }
        g.wrote(now);
        Ok(Claimed::Done(evicted))
    }

    async fn get_session(
        &self,
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>> {
        let now = self.now();
        let g = self.lock();
        if let Some(r) = g.live_session(tag, token_hash, now) {
            return Ok(Some(SessionEntry::Live(r.clone())));
        }
        let index = g.index.get(tag).map(Vec::as_slice).unwrap_or_default();
        let found = match session_id {
            Some(sid) => g
                .retired_at(tag, sid, token_hash, now)
                .map(|at| (sid.clone(), at)),
            None => index.iter().find_map(|e| {
                g.retired_at(tag, &e.session_id, token_hash, now)
                    .map(|at| (e.session_id.clone(), at))
            }),
        };
        let Some((sid, at_ms)) = found else {
            return Ok(None);
        };
        let current = index.iter().find(|e| e.session_id == sid).and_then(|e| {
            g.live_session(tag, &e.token_hash, now)
                .map(|r| CurrentToken {
                    token_hash: e.token_hash.clone(),
                    record: r.clone(),
                })
        });
        Ok(Some(SessionEntry::Retired {
            session_id: sid,
            at_ms,
            current,
        }))
    }

    async fn update_session(
        &self,
        tag: &WalletTag,
        update: SessionUpdate<'_>,
    ) -> StoreResult<bool> {
        let now = self.now();
        let mut g = self.lock();
        let key = (tag.clone(), update.token_hash.clone());
        match g.sessions.get_mut(&key) {
            Some(e) if e.live(now) => {
                e.value = update.record.to_vec();
                if let Some(ttl) = update.ttl {
                    e.expires = deadline(now, ttl);
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn rotate_session(&self, tag: &WalletTag, rot: Rotation<'_>) -> StoreResult<Rotated> {
        let now = self.now();
        let mut g = self.lock();
        if g.live_session(tag, rot.old_hash, now).is_none() {
            return Ok(Rotated::NotCurrent);
        }
        let owns = g.index.get(tag).is_some_and(|es| {
            es.iter()
                .any(|e| &e.session_id == rot.session_id && &e.token_hash == rot.old_hash)
        });
        if !owns {
            return Ok(Rotated::NotCurrent);
        }
        let key = (tag.clone(), rot.session_id.clone());
        let oldest_kept = rot.now_ms.saturating_sub(ms(rot.retain));
        let mut list: Vec<Retired> = g
            .retired
            .get(&key)
            .filter(|l| l.live(now))
            .map(|l| l.value.clone())
            .unwrap_or_default();
        list.retain(|(_, at)| *at > oldest_kept);
        list.sort_by_key(|(_, at)| *at);
        let times: Vec<i64> = list.iter().map(|(_, at)| *at).collect();
        let wait = rotation_wait(&times, &rot);
        if wait > 0 {
            return Ok(Rotated::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
            });
        }
        if let Some(e) = g
            .index
            .get_mut(tag)
            .and_then(|es| es.iter_mut().find(|e| &e.session_id == rot.session_id))
        {
            e.token_hash = rot.new_hash.clone();
        }
        g.sessions.remove(&(tag.clone(), rot.old_hash.clone()));
        g.sessions.insert(
            (tag.clone(), rot.new_hash.clone()),
            Expiring {
                value: rot.record.to_vec(),
                expires: deadline(now, rot.ttl),
            },
        );
        list.push((rot.old_hash.clone(), rot.now_ms));
        g.retired.insert(
            key,
            Expiring {
                value: list,
                expires: deadline(now, rot.retain),
            },
        );
        g.wrote(now);
        Ok(Rotated::Done)
    }

    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>> {
        let now = self.now();
        let mut g = self.lock();
        g.prune_index(tag, now);
        let Some(entries) = g.index.get_mut(tag) else {
            return Ok(None);
        };
        let Some(pos) = entries.iter().position(|e| &e.session_id == session_id) else {
            return Ok(None);
        };
        let entry = entries.remove(pos);
        if entries.is_empty() {
            g.index.remove(tag);
        }
        let record = g.take_live(tag, &entry, now).unwrap_or_default();
        Ok(Some((entry, record)))
    }

    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        let now = self.now();
        let g = self.lock();
        let Some(entries) = g.index.get(tag) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .iter()
            .filter_map(|e| {
                g.live_session(tag, &e.token_hash, now)
                    .map(|r| (e.clone(), r.clone()))
            })
            .collect())
    }

    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        let now = self.now();
        Ok(self.lock().delete_all(tag, now))
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let now = self.now();
        let g = self.lock();
        Ok(g.values
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.clone()))
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        let now = self.now();
        let mut g = self.lock();
        g.values.insert(
            key.to_owned(),
            Expiring {
                value: value.to_vec(),
                expires: ttl.and_then(|t| deadline(now, t)),
            },
        );
        g.wrote(now);
        Ok(())
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let now = self.now();
        let mut g = self.lock();
        Ok(g.values.remove(key).is_some_and(|e| e.live(now)))
    }

    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool> {
        let now = self.now();
        let mut g = self.lock();
        let current = g
            .values
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| e.value.as_slice());
        if current != swap.expected {
            return Ok(false);
        }
        g.values.insert(
            key.to_owned(),
            Expiring {
                value: swap.value.to_vec(),
                expires: swap.ttl.and_then(|t| deadline(now, t)),
            },
        );
        g.wrote(now);
        Ok(true)
    }

    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
        now_ms: i64,
    ) -> StoreResult<RateDecision> {
        let now = self.now();
        let RateBudget { limit, window } = budget;
        let window_ms = ms(window);
        let mut g = self.lock();
        let slot = g.rate.entry(key.to_owned()).or_insert_with(|| Expiring {
            value: VecDeque::new(),
            expires: None,
        });
        let hits = &mut slot.value;
        while hits.front().is_some_and(|t| *t <= now_ms - window_ms) {
            hits.pop_front();
        }
        let decision = if hits.len() >= limit as usize {
            let oldest = hits.front().copied().unwrap_or(now_ms);
            let wait = (oldest + window_ms - now_ms).max(1);
            RateDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
            }
        } else {
            hits.push_back(now_ms);
            RateDecision::Allowed
        };
        slot.expires = deadline(now, window);
        g.wrote(now);
        Ok(decision)
    }

    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()> {
        let now = self.now();
        let mut g = self.lock();
        g.audit_append(log, event, bounds, now);
        g.wrote(now);
        Ok(())
    }

    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let now = self.now();
        let g = self.lock();
        let Some(entries) = g.audit.get(&audit_name(log)).filter(|l| l.live(now)) else {
            return Ok(Vec::new());
        };
        Ok(entries
            .value
            .iter()
            .rev()
            .take_while(|(at, _)| now - *at <= ms(bounds.max_age))
            .take(limit)
            .map(|(_, e)| e.clone())
            .collect())
    }

    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()> {
        self.lock().count_event(name, now_ms);
        Ok(())
    }

    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64> {
        let g = self.lock();
        Ok(g.counters
            .get(name)
            .map_or(0, |c| c.range(span.event_buckets()).map(|(_, n)| *n).sum()))
    }

    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()> {
        self.lock().track_active(chain, moved, now_ms);
        Ok(())
    }

    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64> {
        let mut g = self.lock();
        let Some(buckets) = g.active.get_mut(chain) else {
            return Ok(0);
        };
        let current = active_bucket(now_ms);
        buckets.retain(|b, _| *b >= current);
        let sum: i64 = buckets.values().sum();
        Ok(u64::try_from(sum).unwrap_or(0))
    }

    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>> {
        Ok(self.lock().claims.get(tag).cloned())
    }

    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        let now = self.now();
        let mut g = self.lock();
        let current = g.claims.get(tag);
        if current.map(|c| &c.account) != swap.expected {
            return Ok(Claimed::Mismatch(current.cloned()));
        }
        match swap.new {
            Some(c) => g.claims.insert(tag.clone(), c.clone()),
            None => g.claims.remove(tag),
        };
        let ended = if swap.end_sessions {
            g.delete_all(tag, now)
        } else {
            Vec::new()
        };
        g.wrote(now);
        Ok(Claimed::Done(ended))
    }

    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>> {
        Ok(self.lock().accounts.get(account).cloned())
    }

    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool> {
        let mut g = self.lock();
        let record = g
            .accounts
            .entry(account.clone())
            .or_insert_with(|| AccountRecord {
                created_ms: new.created_ms,
                roles: Vec::new(),
                identities: Vec::new(),
            });
        match record
            .identities
            .binary_search_by(|(k, _)| k.as_str().cmp(new.identity))
        {
            Ok(_) => Ok(true),
            Err(_) if record.identities.len() >= new.max => Ok(false),
            Err(at) => {
                record
                    .identities
                    .insert(at, (new.identity.to_owned(), new.tag.clone()));
                Ok(true)
            }
        }
    }

    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval> {
        let mut g = self.lock();
        let Some(record) = g.accounts.get_mut(account) else {
            return Ok(IdentityRemoval::NotListed);
        };
        let Some(at) = record.identities.iter().position(|(k, _)| k == identity) else {
            return Ok(IdentityRemoval::NotListed);
        };
        if keep_last && record.identities.len() == 1 {
            return Ok(IdentityRemoval::Last);
        }
        record.identities.remove(at);
        Ok(IdentityRemoval::Removed)
    }

    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet> {
        let mut g = self.lock();
        let Some(record) = g.accounts.get_mut(account) else {
            return Ok(RolesSet::NoAccount);
        };
        if expected.is_some_and(|e| e != record.roles.as_slice()) {
            return Ok(RolesSet::Conflict);
        }
        record.roles = roles.to_vec();
        Ok(RolesSet::Done)
    }

    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool> {
        let mut g = self.lock();
        let deletable = g.accounts.get(account).is_some_and(|r| {
            r.identities
                .iter()
                .all(|(k, _)| only_if.iter().any(|o| o == k))
        });
        if deletable {
            g.accounts.remove(account);
        }
        Ok(deletable)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn audit_logs_are_capped_in_number() {
        let s = MemoryStore::new();
        let bounds = AuditBounds {
            max_len: 10,
            max_age: Duration::from_secs(3600),
        };
        for i in 0..=MAX_AUDIT_LOGS {
            let tag = WalletTag::new(format!("w{i}"));
            s.audit_append(AuditLog::WalletActivity(&tag), b"e", bounds)
                .await
                .unwrap();
        }
        let n = s.lock().audit.len();
        assert!(n <= MAX_AUDIT_LOGS && n > MAX_AUDIT_LOGS / 2, "{n} logs");
        // The newest log is kept, and one that would expire first is gone.
        let newest = WalletTag::new(format!("w{MAX_AUDIT_LOGS}"));
        assert_eq!(
            s.audit_read(AuditLog::WalletActivity(&newest), 10, bounds)
                .await
                .unwrap(),
            vec![b"e".to_vec()]
        );
        assert!(s
            .audit_read(AuditLog::WalletActivity(&WalletTag::new("w0")), 10, bounds)
            .await
            .unwrap()
            .is_empty());
    }
}
