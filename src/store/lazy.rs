//! A store reached in the background: the server starts serving while its store (Redis) is
//! still unreachable, answers `503 store_unavailable` for everything that needs it (`/ready`
//! included), and uses it as soon as a connection succeeds.
//!
//! Connection attempts are retried with a growing delay ([`RETRY_MIN`] to [`RETRY_MAX`]); the
//! log gets the first failure, then at most one line per [`LOG_EVERY`] while it lasts, and one
//! line when the store is connected.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::api::{
    AccountId, AccountRecord, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap, Claimed,
    IdentityRemoval, IndexEntry, NewIdentity, NewSession, RateBudget, RateDecision, RolesSet,
    Rotated, Rotation, SessionClaim, SessionEntry, SessionExtras, SessionId, SessionUpdate, Span,
    Store, StoreError, StoreResult, Swap, TokenHash, WalletTag,
};
use super::metered::StoreRecorder;

/// The recorder handed before the store connected, handed on when it does (under one lock with
/// the connection, so that neither order loses it).
type PendingRecorder = Arc<Mutex<Option<Arc<dyn StoreRecorder>>>>;

/// First delay between two connection attempts.
pub const RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest delay between two connection attempts.
pub const RETRY_MAX: Duration = Duration::from_secs(5);
/// At most one log line per this period while the store stays unreachable.
pub const LOG_EVERY: Duration = Duration::from_secs(60);

/// One connection attempt.
pub type Connect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = StoreResult<Arc<dyn Store>>> + Send>> + Send + Sync,
>;

/// A [`Store`] whose connection is made in the background; until it is, every call fails
/// with [`StoreError::Unavailable`].
pub struct LazyStore {
    kind: &'static str,
    inner: Arc<OnceCell<Arc<dyn Store>>>,
    recorder: PendingRecorder,
}

impl std::fmt::Debug for LazyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyStore")
            .field("kind", &self.kind)
            .field("connected", &self.inner.initialized())
            .finish()
    }
}

impl LazyStore {
    /// A store of `kind` that calls `connect` until it succeeds, in a task of the current
    /// Tokio runtime, after a first attempt the caller made and logged.
    #[must_use]
    pub fn connect_in_background(kind: &'static str, connect: Connect) -> Self {
        let inner = Arc::new(OnceCell::new());
        let cell = inner.clone();
        let recorder: PendingRecorder = Arc::default();
        let pending = recorder.clone();
        tokio::spawn(async move {
            let mut delay = RETRY_MIN;
            // The caller logged the failure of its own first attempt.
            let mut last_log = Instant::now();
            let mut failures: u64 = 0;
            loop {
                tokio::time::sleep(delay).await;
                match connect().await {
                    Ok(store) => {
                        let pending = pending.lock().unwrap_or_else(|e| e.into_inner());
                        if let Some(r) = pending.as_ref() {
                            store.attach_recorder(r.clone());
                        }
                        let _ = cell.set(store);
                        drop(pending);
                        tracing::info!(store = kind, "session store connected");
                        return;
                    }
                    Err(e) => {
                        failures += 1;
                        if last_log.elapsed() >= LOG_EVERY {
                            tracing::warn!(
                                store = kind,
                                error = %e,
                                failed_attempts = failures,
                                "the session store is still unreachable: retrying"
                            );
                            last_log = Instant::now();
                        }
                        delay = (delay * 2).min(RETRY_MAX);
                    }
                }
            }
        });
        LazyStore {
            kind,
            inner,
            recorder,
        }
    }

    /// Whether the store is connected.
    #[must_use]
    pub fn is_connected(&self) -> bool {
        self.inner.initialized()
    }

    fn connected(&self) -> StoreResult<&Arc<dyn Store>> {
        self.inner.get().ok_or_else(|| {
            StoreError::Unavailable("the session store is not connected yet".to_owned())
        })
    }
}

#[async_trait]
impl Store for LazyStore {
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn attach_recorder(&self, recorder: Arc<dyn StoreRecorder>) {
        let mut pending = self.recorder.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = self.inner.get() {
            store.attach_recorder(recorder.clone());
        }
        *pending = Some(recorder);
    }
    async fn ping(&self) -> StoreResult<()> {
        self.connected()?.ping().await
    }
    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        self.connected()?.put_nonce(nonce, value, ttl).await
    }
    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>> {
        self.connected()?.take_nonce(nonce).await
    }
    async fn create_session(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.connected()?.create_session(tag, new, max).await
    }
    async fn get_session(
        &self,
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>> {
        self.connected()?
            .get_session(tag, token_hash, session_id)
            .await
    }
    async fn update_session(
        &self,
        tag: &WalletTag,
        update: SessionUpdate<'_>,
    ) -> StoreResult<bool> {
        self.connected()?.update_session(tag, update).await
    }
    async fn rotate_session(
        &self,
        tag: &WalletTag,
        rotation: Rotation<'_>,
    ) -> StoreResult<Rotated> {
        self.connected()?.rotate_session(tag, rotation).await
    }
    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>> {
        self.connected()?.delete_session(tag, session_id).await
    }
    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.connected()?.list_sessions(tag).await
    }
    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.connected()?.delete_wallet_sessions(tag).await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.connected()?.get(key).await
    }
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        self.connected()?.set(key, value, ttl).await
    }
    async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.connected()?.delete(key).await
    }
    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool> {
        self.connected()?.compare_and_swap(key, swap).await
    }
    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
        now_ms: i64,
    ) -> StoreResult<RateDecision> {
        self.connected()?.rate_limit(key, budget, now_ms).await
    }
    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()> {
        self.connected()?.audit_append(log, event, bounds).await
    }
    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>> {
        self.connected()?.audit_read(log, limit, bounds).await
    }
    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()> {
        self.connected()?.count_event(name, now_ms).await
    }
    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64> {
        self.connected()?.count_events_since(name, span).await
    }
    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()> {
        self.connected()?.track_active(chain, moved, now_ms).await
    }
    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64> {
        self.connected()?.count_active(chain, now_ms).await
    }
    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>> {
        self.connected()?.get_claim(tag).await
    }
    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.connected()?
            .create_session_with(tag, new, max, claim, extras)
            .await
    }
    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.connected()?.swap_claim(tag, swap).await
    }
    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>> {
        self.connected()?.get_account(account).await
    }
    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool> {
        self.connected()?.add_account_identity(account, new).await
    }
    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval> {
        self.connected()?
            .remove_account_identity(account, identity, keep_last)
            .await
    }
    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet> {
        self.connected()?
            .set_account_roles(account, expected, roles)
            .await
    }
    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool> {
        self.connected()?.delete_account(account, only_if).await
    }
}
