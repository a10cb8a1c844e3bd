//! A store decorator that times every operation and counts its failures.
//!
//! Why here: it is a [`Store`] like the others and wraps any of them, so it lives with the
//! store, not with whoever reads its numbers. What it measures goes to a [`StoreRecorder`]
//! (the server's Prometheus registry implements it), so the store depends on no metrics
//! library and on nothing above it.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::api::{
    AccountId, AccountRecord, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap, Claimed,
    IdentityRemoval, IndexEntry, NewIdentity, NewSession, RateBudget, RateDecision, RolesSet,
    Rotated, Rotation, SessionClaim, SessionEntry, SessionExtras, SessionId, SessionUpdate, Span,
    Store, StoreResult, Swap, TokenHash, WalletTag,
};

/// Receives one measurement per store operation.
pub trait StoreRecorder: Send + Sync + 'static {
    /// One call of the [`Store`] method `op` took `elapsed` and succeeded (`ok`) or failed.
    fn store_op(&self, op: &'static str, elapsed: Duration, ok: bool);

    /// `n` events of the Redis store's session cache (see [`super::redis_cache`]).
    fn cache_event(&self, event: CacheEvent, n: u64) {
        let _ = (event, n);
    }
}

/// What the session cache of the Redis store counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheEvent {
    /// A validation read answered from the cache.
    Hit,
    /// A validation read that went to Redis (not cached, too old, or the cache not serving).
    Miss,
    /// A cached session dropped because it changed (a push from Redis, or a write of this
    /// instance).
    Invalidation,
    /// The whole cache dropped (a tracking connection lost or lagging, a flush of Redis, a
    /// change of the cluster's masters).
    Flush,
}

impl CacheEvent {
    /// Every event, in a fixed order.
    pub const ALL: [CacheEvent; 4] = [
        CacheEvent::Hit,
        CacheEvent::Miss,
        CacheEvent::Invalidation,
        CacheEvent::Flush,
    ];

    /// The event's name as a metric label.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            CacheEvent::Hit => "hit",
            CacheEvent::Miss => "miss",
            CacheEvent::Invalidation => "invalidation",
            CacheEvent::Flush => "flush",
        }
    }
}

/// A [`Store`] that reports the latency and outcome of every operation of `inner` to a
/// [`StoreRecorder`], under the name of the [`Store`] method.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    recorder: Arc<dyn StoreRecorder>,
}

impl std::fmt::Debug for MeteredStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredStore")
            .field("kind", &self.inner.kind())
            .finish_non_exhaustive()
    }
}

impl MeteredStore {
    /// Wraps `inner`, reporting to `recorder`.
    #[must_use]
    pub fn new(inner: Arc<dyn Store>, recorder: Arc<dyn StoreRecorder>) -> Self {
        inner.attach_recorder(recorder.clone());
        MeteredStore { inner, recorder }
    }

    async fn timed<T>(
        &self,
        op: &'static str,
        fut: impl Future<Output = StoreResult<T>> + Send,
    ) -> StoreResult<T> {
        let started = Instant::now();
        let r = fut.await;
        self.recorder.store_op(op, started.elapsed(), r.is_ok());
        r
    }
}

#[async_trait]
impl Store for MeteredStore {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn attach_recorder(&self, recorder: Arc<dyn StoreRecorder>) {
        self.inner.attach_recorder(recorder);
    }
    async fn ping(&self) -> StoreResult<()> {
        self.timed("ping", self.inner.ping()).await
    }
    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        self.timed("put_nonce", self.inner.put_nonce(nonce, value, ttl))
            .await
    }
    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>> {
        self.timed("take_nonce", self.inner.take_nonce(nonce)).await
    }
    async fn create_session(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.timed("create_session", self.inner.create_session(tag, new, max))
            .await
    }
    async fn get_session(
        &self,
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>> {
        self.timed(
            "get_session",
            self.inner.get_session(tag, token_hash, session_id),
        )
        .await
    }
    async fn update_session(
        &self,
        tag: &WalletTag,
        update: SessionUpdate<'_>,
    ) -> StoreResult<bool> {
        self.timed("update_session", self.inner.update_session(tag, update))
            .await
    }
    async fn rotate_session(
        &self,
        tag: &WalletTag,
        rotation: Rotation<'_>,
    ) -> StoreResult<Rotated> {
        self.timed("rotate_session", self.inner.rotate_session(tag, rotation))
            .await
    }
    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>> {
        self.timed("delete_session", self.inner.delete_session(tag, session_id))
            .await
    }
    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.timed("list_sessions", self.inner.list_sessions(tag))
            .await
    }
    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.timed(
            "delete_wallet_sessions",
            self.inner.delete_wallet_sessions(tag),
        )
        .await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.timed("get", self.inner.get(key)).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        self.timed("set", self.inner.set(key, value, ttl)).await
    }
    async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.timed("delete", self.inner.delete(key)).await
    }
    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool> {
        self.timed("compare_and_swap", self.inner.compare_and_swap(key, swap))
            .await
    }
    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
        now_ms: i64,
    ) -> StoreResult<RateDecision> {
        self.timed("rate_limit", self.inner.rate_limit(key, budget, now_ms))
            .await
    }
    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()> {
        self.timed("audit_append", self.inner.audit_append(log, event, bounds))
            .await
    }
    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>> {
        self.timed("audit_read", self.inner.audit_read(log, limit, bounds))
            .await
    }
    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()> {
        self.timed("count_event", self.inner.count_event(name, now_ms))
            .await
    }
    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64> {
        self.timed(
            "count_events_since",
            self.inner.count_events_since(name, span),
        )
        .await
    }
    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()> {
        self.timed(
            "track_active",
            self.inner.track_active(chain, moved, now_ms),
        )
        .await
    }
    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64> {
        self.timed("count_active", self.inner.count_active(chain, now_ms))
            .await
    }
    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>> {
        self.timed("get_claim", self.inner.get_claim(tag)).await
    }
    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.timed(
            "create_session_with",
            self.inner.create_session_with(tag, new, max, claim, extras),
        )
        .await
    }
    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.timed("swap_claim", self.inner.swap_claim(tag, swap))
            .await
    }
    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>> {
        self.timed("get_account", self.inner.get_account(account))
            .await
    }
    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool> {
        self.timed(
            "add_account_identity",
            self.inner.add_account_identity(account, new),
        )
        .await
    }
    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval> {
        self.timed(
            "remove_account_identity",
            self.inner
                .remove_account_identity(account, identity, keep_last),
        )
        .await
    }
    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet> {
        self.timed(
            "set_account_roles",
            self.inner.set_account_roles(account, expected, roles),
        )
        .await
    }
    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool> {
        self.timed(
            "delete_account",
            self.inner.delete_account(account, only_if),
        )
        .await
    }
}
