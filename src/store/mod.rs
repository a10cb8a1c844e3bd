//! Storage behind one trait: the in-memory reference store, the Redis store and the PostgreSQL
//! store.
//!
//! The store knows nothing of HTTP, tokens or cryptography: it keeps opaque (already encrypted)
//! byte strings under keys the session layer chooses, with the atomicity each operation
//! documents. Every backend failure becomes a [`StoreError`], so "not found" (`Ok(None)` /
//! `Ok(false)`) and "the store is down" (`Err`) are different types, never strings.
//!
//! # Keys and wallet tags
//! Everything belonging to one wallet (its sessions, its index, its preferences) is addressed by
//! a *wallet tag*, a short string derived from the wallet. The Redis store puts the tag in a
//! `{hash tag}` so that one wallet's keys live in one cluster slot and every multi-key change of
//! one wallet is a single atomic script.

use std::time::Duration;

use async_trait::async_trait;

pub mod lazy;
pub mod memory;
pub mod postgres;
pub mod redis;

pub use self::redis::RedisStore;
pub use lazy::LazyStore;
pub use memory::MemoryStore;
pub use postgres::PostgresStore;

/// A store operation failed for a reason that is not the caller's: the backend is unreachable,
/// timed out, or answered something the store cannot read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or refused the command.
    #[error("session store unavailable: {0}")]
    Unavailable(String),
    /// The backend did not answer within the configured bound.
    #[error("session store timed out")]
    Timeout,
    /// The backend returned data of an unexpected shape.
    #[error("session store returned malformed data: {0}")]
    Corrupt(String),
}

/// Width of a bucket of the active-session statistics.
pub const ACTIVE_BUCKET_MS: i64 = 60_000;

/// The bucket of the active-session statistics that a time falls in.
#[must_use]
pub fn active_bucket(ms: i64) -> i64 {
    ms.div_euclid(ACTIVE_BUCKET_MS)
}

/// How long the per-minute event counters ([`Store::count_event`]) are kept.
pub const EVENT_COUNT_RETENTION: Duration = Duration::from_secs(2 * 3600);

/// One of the audit logs. The logs are kept apart so that no traffic can push the events of
/// one out of another: anonymous traffic writes none of them, a wallet's traffic writes only
/// that wallet's logs and the shared ones, and security events have logs of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditLog<'a> {
    /// Security events of every wallet (binding mismatches, token reuse, revocations, forced
    /// logouts).
    Security,
    /// The other events of every wallet (sign-ins, refreshes, rotations, logouts…).
    Activity,
    /// The security events of one wallet, by its tag (stored with the wallet's keys).
    WalletSecurity(&'a str),
    /// The other events of one wallet, by its tag (stored with the wallet's keys).
    WalletActivity(&'a str),
}

/// Bounds of an audit log: entries beyond the newest `max_len`, or older than `max_age`, are
/// dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditBounds {
    /// Most entries kept.
    pub max_len: usize,
    /// Oldest entry kept.
    pub max_age: Duration,
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// What a session token hash points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEntry {
    /// A live session record (opaque bytes).
    Live(Vec<u8>),
    /// A token retired by a rotation of the session `session_id`, still remembered (see
    /// [`Rotation::retain`]): kept so that a late in-flight request can be served during the
    /// grace period and a replay after it can be detected.
    Retired {
        /// The session the token belonged to.
        session_id: String,
        /// When the token was retired, Unix milliseconds.
        at_ms: i64,
        /// The session's current token hash and live record; `None` when the session no
        /// longer lives.
        current: Option<(String, Vec<u8>)>,
    },
}

/// A rotation of a session's token (see [`Store::rotate_session`]).
#[derive(Debug, Clone)]
pub struct Rotation<'a> {
    /// Public id of the session.
    pub session_id: &'a str,
    /// Hash of the token being retired: must be the session's live token.
    pub old_hash: &'a str,
    /// Hash of the new token: the new record's key.
    pub new_hash: &'a str,
    /// The new (encrypted) record.
    pub record: &'a [u8],
    /// Time to live of the new record.
    pub ttl: Duration,
    /// How long a retired token is remembered after its rotation (grace plus detection
    /// window). It also is the window of [`Rotation::max_retired`].
    pub retain: Duration,
    /// At most this many tokens of one session are remembered: a rotation that would retire one
    /// more inside `retain` is refused ([`Rotated::Limited`]), so no retired token is ever
    /// forgotten before `retain` has passed.
    pub max_retired: usize,
    /// At most `burst` rotations of one session within `burst_window`.
    pub burst: usize,
    /// Window of `burst`.
    pub burst_window: Duration,
    /// Now, Unix milliseconds (the retirement time recorded).
    pub now_ms: i64,
}

/// Outcome of [`Store::rotate_session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotated {
    /// This call rotated the session.
    Done,
    /// Nothing changed: the old hash is not the session's live token (rotated or ended
    /// meanwhile, or never was).
    NotCurrent,
    /// Nothing changed: the session rotated too often; retry after this long.
    Limited {
        /// Time until a rotation would be allowed.
        retry_after: Duration,
    },
}

/// One entry of a wallet's session index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Public session id.
    pub session_id: String,
    /// Hash of the session's current token (its record key).
    pub token_hash: String,
    /// Creation time, Unix milliseconds (eviction order).
    pub created_ms: i64,
}

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Public session id (unique).
    pub session_id: &'a str,
    /// Hash of the session token: the record's key.
    pub token_hash: &'a str,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Encrypted session record.
    pub record: &'a [u8],
    /// Time to live of the record.
    pub ttl: Duration,
}

/// Outcome of a rate-limit check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The request fits in the budget.
    Allowed,
    /// Over budget; retry after this long.
    Limited {
        /// Time until a request would be allowed again.
        retry_after: Duration,
    },
}

/// Storage for nonces, wallet sessions, preferences, legacy user sessions, rate-limit counters
/// and the audit trail.
///
/// # Obligations of every implementation
/// - **TTL everywhere**: every value stored has an expiry; nothing outlives it, and a wallet's
///   index never outlives the last session it lists.
/// - **Atomicity**: each method is one atomic step as seen by every other caller, in every
///   process sharing the store. In particular [`Store::take_nonce`] returns a given nonce to
///   exactly one caller, [`Store::create_session`] never leaves a wallet with more than `max`
///   sessions, and [`Store::rotate_session`] succeeds for exactly one of concurrent callers.
/// - **Bounded growth per session**: a session costs its record, its index entry and at most one
///   retired-token list (at most [`Rotation::max_retired`] hashes with their retirement times,
///   kept [`Rotation::retain`] after the latest rotation), whatever the rotation rate. Deleting
///   a session (by id, by eviction, or with its wallet) deletes its list too.
/// - **Bounded time**: every call returns (possibly with [`StoreError::Timeout`]) within the
///   store's configured timeout.
/// - A crash between calls leaves nothing half-written: a multi-key change is one script or
///   transaction.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `"memory"`, `"redis"` or `"postgres"`.
    fn kind(&self) -> &'static str;

    /// Checks that the backend answers.
    ///
    /// # Errors
    /// Any backend failure.
    async fn ping(&self) -> StoreResult<()>;

    /// Stores a fresh nonce with `value` (its binding) for `ttl`. Returns `false` (and changes
    /// nothing) when the nonce already exists.
    ///
    /// # Errors
    /// Any backend failure.
    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool>;

    /// Removes and returns a nonce in one atomic step: of concurrent callers, at most one gets
    /// `Some`.
    ///
    /// # Errors
    /// Any backend failure.
    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Creates a session of the wallet `tag` and adds it to the wallet's index. When the wallet
    /// then has more than `max` live sessions, the oldest (by `created_ms`) are deleted (with
    /// their retired-token lists) in the same atomic step and returned with their records. Index
    /// entries whose record has expired are pruned.
    ///
    /// # Errors
    /// Any backend failure.
    async fn create_session(
        &self,
        tag: &str,
        new: NewSession<'_>,
        max: usize,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>>;

    /// Reads what a token hash points at, in one atomic step: the live record under
    /// `token_hash`, or else, when `token_hash` is a retired token of the session `session_id`,
    /// a [`SessionEntry::Retired`] with the session's current record. Without `session_id`
    /// (tokens issued before tokens named their session), the retired tokens of every session
    /// in the wallet's index are searched.
    ///
    /// # Errors
    /// Any backend failure.
    async fn get_session(
        &self,
        tag: &str,
        token_hash: &str,
        session_id: Option<&str>,
    ) -> StoreResult<Option<SessionEntry>>;

    /// Replaces a live session record; with `ttl`, also resets its time to live. Returns `false`
    /// when there is no live record under `token_hash` (it was deleted or rotated meanwhile).
    ///
    /// # Errors
    /// Any backend failure.
    async fn update_session(
        &self,
        tag: &str,
        token_hash: &str,
        record: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool>;

    /// Moves the live session `rotation.session_id` from `old_hash` to `new_hash` in one atomic
    /// step: the new record is written with `ttl`, the index entry points at `new_hash`, the old
    /// record is deleted and `old_hash` joins the session's retired-token list with `now_ms`
    /// (entries older than `retain` are dropped, and the list itself expires `retain` after this
    /// rotation). [`Rotated::NotCurrent`] (nothing changed) when `old_hash` is not the live
    /// record of that session (its index entry must point at `old_hash`): of concurrent
    /// rotations exactly one succeeds. [`Rotated::Limited`] (nothing changed) when the list
    /// already holds `max_retired` entries inside `retain`, or `burst` inside `burst_window`.
    ///
    /// # Errors
    /// Any backend failure.
    async fn rotate_session(&self, tag: &str, rotation: Rotation<'_>) -> StoreResult<Rotated>;

    /// Deletes one live session of the wallet by its public id (record, index entry and
    /// retired-token list). Returns the deleted
    /// entry with its record, `None` when there was no such live session.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete_session(
        &self,
        tag: &str,
        session_id: &str,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>>;

    /// Lists a wallet's live sessions: index entries with their records, oldest first.
    ///
    /// # Errors
    /// Any backend failure.
    async fn list_sessions(&self, tag: &str) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>>;

    /// Deletes every session of a wallet (records, retired-token lists and index) in one atomic
    /// step; returns the
    /// live sessions there were, with their records.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete_wallet_sessions(&self, tag: &str) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>>;

    /// Reads a plain value (preferences, legacy user sessions, users).
    ///
    /// # Errors
    /// Any backend failure.
    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Writes a plain value with an optional time to live (`None`: kept until deleted — only for
    /// data with its own lifecycle, such as legacy user accounts).
    ///
    /// # Errors
    /// Any backend failure.
    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()>;

    /// Deletes a plain value; returns whether it existed.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete(&self, key: &str) -> StoreResult<bool>;

    /// Compare-and-swap of a plain value (the values of [`Store::get`] / [`Store::set`]), in
    /// one atomic step: writes `value` (with `ttl`; `None`: kept until deleted) only when the
    /// value under `key` is exactly `expected` byte for byte, or, with `expected` `None`, when
    /// there is no (live) value under `key` (set-if-absent). Returns whether it wrote; of
    /// concurrent callers expecting the same value, exactly one writes. Used for the token
    /// signing keys, which every instance shares and which must be generated exactly once.
    ///
    /// An implementation needs only a conditional write on one key (Redis: a script comparing
    /// the value; SQL: `INSERT … ON CONFLICT DO NOTHING` for `None`, `UPDATE … WHERE value =
    /// $expected` otherwise).
    ///
    /// # Errors
    /// Any backend failure.
    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: &[u8],
        ttl: Option<Duration>,
    ) -> StoreResult<bool>;

    /// Counts one hit against the budget `key` (sliding window of `window`, at most `limit`
    /// hits), atomically across every process sharing the store.
    ///
    /// # Errors
    /// Any backend failure.
    async fn rate_limit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now_ms: i64,
    ) -> StoreResult<RateDecision>;

    /// Appends an event to the audit log `log`, then drops its entries beyond the newest
    /// `bounds.max_len` and those older than `bounds.max_age`; the log itself expires
    /// `bounds.max_age` after its last append.
    ///
    /// # Errors
    /// Any backend failure.
    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()>;

    /// Reads up to `limit` events of the audit log `log`, newest first, none older than
    /// `bounds.max_age`.
    ///
    /// # Errors
    /// Any backend failure.
    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>>;

    /// Counts one occurrence of the event `name` (for example failed sign-ins) in the minute
    /// of `now_ms`. A counter costs one number per name and minute, kept
    /// [`EVENT_COUNT_RETENTION`].
    ///
    /// # Errors
    /// Any backend failure.
    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()>;

    /// Occurrences of the event `name` counted from the minute of `since_ms` to that of
    /// `now_ms` (at most [`EVENT_COUNT_RETENTION`] back).
    ///
    /// # Errors
    /// Any backend failure.
    async fn count_events_since(&self, name: &str, since_ms: i64, now_ms: i64) -> StoreResult<u64>;

    /// Moves one session of `chain` in the active-session statistics: from the minute bucket of
    /// its old expiry `from_ms` (`None`: a new session) to that of its new expiry `to_ms`
    /// (`None`: it ended). The statistics cost a counter per chain and minute, not an entry per
    /// session.
    ///
    /// # Errors
    /// Any backend failure.
    async fn track_active(
        &self,
        chain: &str,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        now_ms: i64,
    ) -> StoreResult<()>;

    /// Number of sessions of `chain` tracked as active at `now_ms`, to the minute: sessions whose
    /// expiry falls in the current minute still count. Buckets of past minutes are pruned.
    ///
    /// # Errors
    /// Any backend failure.
    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64>;
}
