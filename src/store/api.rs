//! The store's contract: the [`Store`] trait with the obligations every backend keeps, and
//! the types it speaks (typed names, parameter structs, replies, errors). Why apart from
//! `mod.rs`: the backends and decorators all implement it, and `mod.rs` declares them.

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use async_trait::async_trait;

/// Defines a string newtype of the store boundary: the three names the session layer hands
/// the store are all strings, and typing them apart makes passing one for another (a token
/// hash for a session id, say) a compile error instead of a silent miss.
macro_rules! store_name {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value (the store checks nothing of its shape).
            #[must_use]
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The value as an owned `String`.
            #[must_use]
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

store_name!(
    /// A *wallet tag*: the short name of one wallet, under which everything of that wallet
    /// (sessions, index, retired tokens, preferences, audit logs) is stored.
    WalletTag
);
store_name!(
    /// The hash of a session token: the key of the session's live record. The token itself
    /// never reaches the store.
    TokenHash
);
store_name!(
    /// The public id of a wallet session: stable across rotations of its token.
    SessionId
);
store_name!(
    /// The id of an account: opaque, random, stable.
    AccountId
);

/// Which account an identity belongs to: the *claim* kept with the identity's tag (the wallet
/// tag of a wallet; the tag of a password identity for a username). The claim is the one
/// source of truth of identity ownership: an account's list of identities
/// ([`AccountRecord::identities`]) is derived from the claims and may lag behind them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The owning account.
    pub account: AccountId,
    /// The identity's canonical key (`eip155:<address>`, `solana:<address>`,
    /// `password:<username>`): opaque to the store.
    pub identity: String,
}

/// The condition [`Store::create_session_claimed`] puts on the claim of the session's tag.
#[derive(Debug, Clone, Copy)]
pub enum SessionClaim<'a> {
    /// None: the claim is neither read nor written ([`Store::create_session`]).
    Any,
    /// The identity must already belong to this account.
    Existing(&'a AccountId),
    /// The identity must belong to no account: it is given to this claim in the same step (a
    /// first sign-in creates its account). A claim already naming the same account also fits
    /// (a retry).
    New(&'a Claim),
}

/// The result of a conditional change of a claim: done, or refused because the claim was not
/// as required (with the claim there is, `None` for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed<T> {
    /// The condition held and the change was made.
    Done(T),
    /// Nothing changed: the claim there is.
    Mismatch(Option<Claim>),
}

/// A change of one claim (see [`Store::swap_claim`]).
#[derive(Debug, Clone, Copy)]
pub struct ClaimSwap<'a> {
    /// The account the claim must name now (`None`: there must be no claim).
    pub expected: Option<&'a AccountId>,
    /// The claim written (`None`: the claim is deleted).
    pub new: Option<&'a Claim>,
    /// Whether every session of the tag is deleted in the same step (returned).
    pub end_sessions: bool,
}

/// An account as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Its roles (sorted, unique).
    pub roles: Vec<String>,
    /// Its identities as listed: identity key and tag, sorted by key. Derived from the claims
    /// (see [`Claim`]): an entry whose claim names another account is stale.
    pub identities: Vec<(String, WalletTag)>,
}

/// Outcome of [`Store::remove_account_identity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRemoval {
    /// Removed from the list.
    Removed,
    /// It was not listed (or there is no such account).
    NotListed,
    /// Refused: it is the only identity listed.
    Last,
}

/// Outcome of [`Store::set_account_roles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RolesSet {
    /// The roles were written.
    Done,
    /// No such account record.
    NoAccount,
    /// Nothing written: the roles were not the expected ones.
    Conflict,
}

/// An identity to list on an account (see [`Store::add_account_identity`]).
#[derive(Debug, Clone, Copy)]
pub struct NewIdentity<'a> {
    /// The identity's canonical key.
    pub identity: &'a str,
    /// The identity's tag (where its claim and sessions are).
    pub tag: &'a WalletTag,
    /// Creation time of the account, should this create its record.
    pub created_ms: i64,
    /// Most identities the account may list: adding one more is refused.
    pub max: usize,
}

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
    WalletSecurity(&'a WalletTag),
    /// The other events of one wallet, by its tag (stored with the wallet's keys).
    WalletActivity(&'a WalletTag),
}

impl AuditLog<'_> {
    /// The wallet whose keys the log is stored with; `None` for a shared log.
    #[must_use]
    pub fn wallet(&self) -> Option<&WalletTag> {
        match self {
            AuditLog::Security | AuditLog::Activity => None,
            AuditLog::WalletSecurity(tag) | AuditLog::WalletActivity(tag) => Some(tag),
        }
    }
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
        session_id: SessionId,
        /// When the token was retired, Unix milliseconds.
        at_ms: i64,
        /// The session's current token and live record; `None` when the session no longer
        /// lives.
        current: Option<CurrentToken>,
    },
}

/// The token a session has now, with its live record (see [`SessionEntry::Retired`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentToken {
    /// Hash of the session's current token.
    pub token_hash: TokenHash,
    /// The session's live (encrypted) record.
    pub record: Vec<u8>,
}

/// A rotation of a session's token (see [`Store::rotate_session`]).
#[derive(Debug, Clone)]
pub struct Rotation<'a> {
    /// Public id of the session.
    pub session_id: &'a SessionId,
    /// Hash of the token being retired: must be the session's live token.
    pub old_hash: &'a TokenHash,
    /// Hash of the new token: the new record's key.
    pub new_hash: &'a TokenHash,
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
    pub session_id: SessionId,
    /// Hash of the session's current token (its record key).
    pub token_hash: TokenHash,
    /// Creation time, Unix milliseconds (eviction order).
    pub created_ms: i64,
}

/// A session to create.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Public session id (unique).
    pub session_id: &'a SessionId,
    /// Hash of the session token: the record's key.
    pub token_hash: &'a TokenHash,
    /// Creation time, Unix milliseconds.
    pub created_ms: i64,
    /// Encrypted session record.
    pub record: &'a [u8],
    /// Time to live of the record.
    pub ttl: Duration,
}

/// A change of a live session record (see [`Store::update_session`]).
#[derive(Debug, Clone, Copy)]
pub struct SessionUpdate<'a> {
    /// Hash of the session's token: the record's key.
    pub token_hash: &'a TokenHash,
    /// The new (encrypted) record.
    pub record: &'a [u8],
    /// A new time to live; `None` keeps the record's.
    pub ttl: Option<Duration>,
}

/// A conditional write of a plain value (see [`Store::compare_and_swap`]).
#[derive(Debug, Clone, Copy)]
pub struct Swap<'a> {
    /// The value that must be there, byte for byte; `None`: there must be none.
    pub expected: Option<&'a [u8]>,
    /// The value written.
    pub value: &'a [u8],
    /// Time to live of the value written (`None`: kept until deleted).
    pub ttl: Option<Duration>,
}

/// A rate-limit budget: at most `limit` hits in any sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateBudget {
    /// Most hits allowed in a window.
    pub limit: u32,
    /// Length of the sliding window.
    pub window: Duration,
}

/// A session's move in the active-session statistics (see [`Store::track_active`]): from the
/// minute of its old expiry to that of its new one, Unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveMove {
    /// The old expiry; `None`: a new session.
    pub from_ms: Option<i64>,
    /// The new expiry; `None`: the session ended.
    pub to_ms: Option<i64>,
}

/// One append of [`SessionExtras::audit`]: the log, its bounds and the event (serialized)
/// appended to it. The event's bytes may differ from log to log (an entry of a wallet's own
/// log need not repeat the wallet).
pub type AuditTarget<'a> = (AuditLog<'a>, AuditBounds, &'a [u8]);

/// What a session write carries besides the session (see [`Store::create_session_with`]):
/// the statistics, counters and audit entries of the event that made the session, written in
/// the same store call so that a sign-in costs one round trip for all of them.
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionExtras<'a> {
    /// A move in the active-session statistics: the chain and the move.
    pub active: Option<(&'a str, ActiveMove)>,
    /// An event counter to count one occurrence in (see [`Store::count_event`]).
    pub count: Option<&'a str>,
    /// The audit appends of the event (none: an empty slice).
    pub audit: &'a [AuditTarget<'a>],
    /// Now, Unix milliseconds (the statistics' and counter's minute).
    pub now_ms: i64,
}

/// A span of time, Unix milliseconds from `since_ms` to `now_ms` (see
/// [`Store::count_events_since`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Start of the span.
    pub since_ms: i64,
    /// End of the span: now.
    pub now_ms: i64,
}

impl Span {
    /// The minute buckets of the event counters the span covers: from the minute of
    /// `since_ms`, but at most [`EVENT_COUNT_RETENTION`] back, to the minute of `now_ms`
    /// (empty when `since_ms` is later).
    #[must_use]
    pub fn event_buckets(self) -> RangeInclusive<i64> {
        let retention = i64::try_from(EVENT_COUNT_RETENTION.as_millis()).unwrap_or(i64::MAX);
        let since = self.since_ms.max(self.now_ms.saturating_sub(retention));
        active_bucket(since)..=active_bucket(self.now_ms)
    }
}

impl ActiveMove {
    /// The minute buckets the session leaves and joins: its old expiry's (unless that minute
    /// is already past at `now_ms`, when its bucket is gone) and its new expiry's.
    #[must_use]
    pub fn buckets(self, now_ms: i64) -> (Option<i64>, Option<i64>) {
        let from = self
            .from_ms
            .map(active_bucket)
            .filter(|b| *b >= active_bucket(now_ms));
        (from, self.to_ms.map(active_bucket))
    }
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

    /// Hands the store where to report measurements of its own (the Redis store's session
    /// cache); [`super::MeteredStore`] hands it its recorder. By default there are none.
    fn attach_recorder(&self, recorder: std::sync::Arc<dyn super::StoreRecorder>) {
        let _ = recorder;
    }

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
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        match self
            .create_session_claimed(tag, new, max, SessionClaim::Any)
            .await?
        {
            Claimed::Done(evicted) => Ok(evicted),
            // `Any` puts no condition on the claim.
            Claimed::Mismatch(_) => Ok(Vec::new()),
        }
    }

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
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>>;

    /// Replaces the live session record under `update.token_hash`; with `update.ttl`, also
    /// resets its time to live. Returns `false` when there is no live record under that hash
    /// (it was deleted or rotated meanwhile).
    ///
    /// # Errors
    /// Any backend failure.
    async fn update_session(&self, tag: &WalletTag, update: SessionUpdate<'_>)
        -> StoreResult<bool>;

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
    async fn rotate_session(&self, tag: &WalletTag, rotation: Rotation<'_>)
        -> StoreResult<Rotated>;

    /// Deletes one live session of the wallet by its public id (record, index entry and
    /// retired-token list). Returns the deleted
    /// entry with its record, `None` when there was no such live session.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>>;

    /// Lists a wallet's live sessions: index entries with their records, oldest first.
    ///
    /// # Errors
    /// Any backend failure.
    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>>;

    /// Deletes every session of a wallet (records, retired-token lists and index) in one atomic
    /// step; returns the
    /// live sessions there were, with their records.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>>;

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
    /// one atomic step: writes `swap.value` (with `swap.ttl`; `None`: kept until deleted) only
    /// when the value under `key` is exactly `swap.expected` byte for byte, or, with `expected`
    /// `None`, when there is no (live) value under `key` (set-if-absent). Returns whether it wrote; of
    /// concurrent callers expecting the same value, exactly one writes. Used for the token
    /// signing keys, which every instance shares and which must be generated exactly once.
    ///
    /// An implementation needs only a conditional write on one key (Redis: a script comparing
    /// the value; SQL: `INSERT … ON CONFLICT DO NOTHING` for `None`, `UPDATE … WHERE value =
    /// $expected` otherwise).
    ///
    /// # Errors
    /// Any backend failure.
    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool>;

    /// Counts one hit at `now_ms` against the budget `key` (at most `budget.limit` hits in a
    /// sliding window of `budget.window`), atomically across every process sharing the store.
    ///
    /// # Errors
    /// Any backend failure.
    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
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

    /// Occurrences of the event `name` counted from the minute of `span.since_ms` to that of
    /// `span.now_ms` (at most [`EVENT_COUNT_RETENTION`] back).
    ///
    /// # Errors
    /// Any backend failure.
    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64>;

    /// Moves one session of `chain` in the active-session statistics: from the minute bucket of
    /// its old expiry `moved.from_ms` (`None`: a new session) to that of its new expiry
    /// `moved.to_ms` (`None`: it ended); a bucket already past at `now_ms` is left alone. The
    /// statistics cost a counter per chain and minute, not an entry per session.
    ///
    /// # Errors
    /// Any backend failure.
    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()>;

    /// Number of sessions of `chain` tracked as active at `now_ms`, to the minute: sessions whose
    /// expiry falls in the current minute still count. Buckets of past minutes are pruned.
    ///
    /// # Errors
    /// Any backend failure.
    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64>;

    /// The claim of the identity whose tag is `tag`: which account it belongs to.
    ///
    /// # Errors
    /// Any backend failure.
    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>>;

    /// [`Store::create_session`] on a condition on the claim of `tag`, checked (and, for
    /// [`SessionClaim::New`], written) in the same atomic step as the session: nothing is
    /// created ([`Claimed::Mismatch`]) when the claim is not as required. Of concurrent first
    /// sign-ins of one identity, each with its own new account, exactly one claim is written.
    ///
    /// # Errors
    /// Any backend failure.
    async fn create_session_claimed(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.create_session_with(tag, new, max, claim, SessionExtras::default())
            .await
    }

    /// [`Store::create_session_claimed`], and when the session is created, `extras` written in
    /// the same call: the active-session move ([`Store::track_active`]), the counter
    /// ([`Store::count_event`]) and the audit appends ([`Store::audit_append`], same bounds).
    /// Nothing of `extras` is written when the claim does not fit.
    ///
    /// The session, its claim and the audit appends to the wallet's own logs are one atomic
    /// step, like the session alone. The shared keys (the shared audit logs, the counter, the
    /// statistics) are in the same atomic step where the backend can do it (memory, a single
    /// Redis node, PostgreSQL); on Redis Cluster they live in other slots and are written right
    /// after the wallet's step, in the same call, and only once the session is created (a
    /// failure there is logged: the session and the wallet's own events are stored).
    ///
    /// # Errors
    /// Any backend failure.
    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>>;

    /// Changes the claim of `tag` when it names `swap.expected` (compare-and-swap: of
    /// concurrent swaps expecting the same claim, exactly one is done), and with
    /// `swap.end_sessions` deletes every session of the tag in the same atomic step (returned,
    /// as [`Store::delete_wallet_sessions`]). Claims have no time to live.
    ///
    /// # Errors
    /// Any backend failure.
    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>>;

    /// The record of an account; `None` when there is none.
    ///
    /// # Errors
    /// Any backend failure.
    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>>;

    /// Lists an identity on an account, creating the account's record (with
    /// `new.created_ms` and no roles) when there is none. Returns `false` (nothing changed)
    /// when the account already lists `new.max` other identities; `true` when the identity
    /// is listed afterwards (added, or already there).
    ///
    /// # Errors
    /// Any backend failure.
    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool>;

    /// Takes an identity off an account's list; with `keep_last`, refuses to take the only
    /// one ([`IdentityRemoval::Last`]).
    ///
    /// # Errors
    /// Any backend failure.
    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval>;

    /// Writes the roles of an account that has a record, when its roles are `expected`
    /// (`None`: whatever they are). `roles` must be sorted and unique.
    ///
    /// # Errors
    /// Any backend failure.
    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet>;

    /// Deletes an account's record when every identity it lists is among `only_if` (an
    /// identity linked meanwhile keeps the account); whether it was deleted.
    ///
    /// # Errors
    /// Any backend failure.
    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool>;
}

/// Runs one backend call bounded by `timeout`: a backend error becomes a [`StoreError`] through
/// `map_err`, running out of time [`StoreError::Timeout`]. Both are logged at debug level under
/// the backend's name (`store`), never with the call's arguments.
pub(crate) async fn bounded<T, E>(
    store: &'static str,
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
    map_err: impl FnOnce(&E) -> StoreError,
) -> StoreResult<T> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => {
            let err = map_err(&e);
            tracing::debug!(store, error = %err, "store call failed");
            Err(err)
        }
        Err(_) => {
            tracing::debug!(store, "store call timed out");
            Err(StoreError::Timeout)
        }
    }
}
