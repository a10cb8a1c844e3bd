//! The PostgreSQL store: [`Store`] over one PostgreSQL database (sqlx, a connection pool),
//! behaving exactly like the in-memory reference store ([`super::MemoryStore`]) but shared by
//! every server instance and kept across restarts.
//!
//! # Schema
//! The schema is in `migrations/` (embedded in the binary, applied at start-up and by
//! `wallet-auth migrate`):
//!
//! | table | one row per | holds | `expires_ms` |
//! |---|---|---|---|
//! | `wa_nonces` | nonce | its binding | the nonce's TTL |
//! | `wa_sessions` | session (`tag`, `session_id`) | token hash, creation time, record: the live record *and* the wallet's index entry | the session's TTL (reset by a refresh or rotation) |
//! | `wa_retired` | retired token (`tag`, `session_id`, `token_hash`) | retirement time (`at_ms`) | `retain` after the session's last rotation, shared by the rows of one list |
//! | `wa_values` | plain value (`prefs:<tag>`, `usess:<hash>`, `user:<name>`, `token-signing-keys`) | the value | as written; `NULL` (never) for users and signing keys |
//! | `wa_rate` | rate budget | its sliding-window log of hits (an array of at most `limit` times) | one window after its last hit |
//! | `wa_audit` | audit event | log name (`security`, `activity`, `w:<tag>:security`, `w:<tag>:activity`), append order, time, event | the log's maximum age after the append |
//! | `wa_event_counts` | event name and minute | occurrences | none: rows older than [`EVENT_COUNT_RETENTION`] are pruned by their minute |
//! | `wa_claims` | identity (its `tag`) | the account it belongs to, its canonical key | never (deleted when unlinked) |
//! | `wa_accounts` | account | creation time, roles | never (deleted with the account) |
//! | `wa_account_identities` | identity listed on an account | its tag | with its account |
//! | `wa_active` | chain and expiry minute | sessions | none: rows of past minutes are pruned by their minute |
//!
//! # TTLs
//! Every row has an expiry in Unix milliseconds by the database's clock (`wa_now_ms()`), except
//! plain values written with `ttl = None`, the event counters (kept [`EVENT_COUNT_RETENTION`]
//! by their minute) and the active-session buckets (kept until their minute has passed). Every
//! read filters on it, so nothing expired is ever returned whatever the pruning rate; a
//! background task deletes expired rows every [`PostgresStore::connect`]'s `prune_interval`,
//! randomized ±50% per instance so that several instances do not prune in step. A session's
//! index entry is its record's row, so the index can neither outlive its sessions nor list a
//! dead one.
//!
//! # Atomicity
//! A nonce is taken with `DELETE … RETURNING` (one statement: of concurrent takers exactly one
//! gets the row). Every change of one wallet's sessions that reads before it writes (creation
//! with eviction, rotation, deletion) is one transaction holding the wallet's advisory lock
//! (`pg_advisory_xact_lock(class, hashtext(tag))`), so the per-wallet limit holds under
//! concurrency and of concurrent rotations exactly one finds the token still current. A rate
//! budget is one `INSERT … ON CONFLICT DO UPDATE` (the row lock orders concurrent hits). A
//! claim is read and written under its tag's advisory lock, in the same transaction as the
//! sessions it goes with; an account's list and roles under its row lock (`FOR UPDATE`).
//!
//! # Failures
//! Each call is bounded by the store's timeout: a pool acquire timeout, a server-side
//! `statement_timeout` on every connection, and a bound on the whole call (which also covers a
//! network that stops answering). Running out of time is [`StoreError::Timeout`]; a
//! connection or server failure [`StoreError::Unavailable`]. The pool opens new connections by
//! itself once the database is back.

use std::str::FromStr as _;
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::PgConnection;
use sqlx::Row as _;

use super::api::{
    active_bucket, AccountId, AccountRecord, ActiveMove, AuditBounds, AuditLog, Claim, ClaimSwap,
    Claimed, CurrentToken, IdentityRemoval, IndexEntry, NewIdentity, NewSession, RateBudget,
    RateDecision, RolesSet, Rotated, Rotation, SessionClaim, SessionEntry, SessionExtras,
    SessionId, SessionUpdate, Span, Store, StoreError, StoreResult, Swap, TokenHash, WalletTag,
    ACTIVE_BUCKET_MS, EVENT_COUNT_RETENTION,
};
use super::memory::rotation_wait;

/// The embedded schema migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Most connections one server instance opens.
pub const POOL_SIZE: u32 = 16;
/// Bound on applying the migrations (they may wait for another instance applying them).
pub const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// Least bound on connecting at start-up (not on the request path: a loaded database may take
/// longer than `STORE_TIMEOUT` to accept a first connection).
pub const STARTUP_CONNECT_MIN: Duration = Duration::from_secs(5);
/// First key of the wallets' advisory locks (the second is the hash of the wallet tag).
const WALLET_LOCK_CLASS: i32 = 0x7761;
/// Longest text of a database error kept in [`StoreError::Unavailable`].
const ERROR_TEXT_MAX: usize = 120;
/// Rows deleted by one statement of the pruning task (it repeats until none is left), so that
/// pruning never holds many locks or runs into the statement timeout.
const PRUNE_BATCH: i64 = 5_000;

/// The PostgreSQL store: share it behind an `Arc`; dropping it stops its pruning task.
pub struct PostgresStore {
    pool: PgPool,
    timeout: Duration,
    pruner: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(p) = self.pruner.take() {
            p.abort();
        }
    }
}

/// The names of the store boundary are `text` columns, read and written as their string.
macro_rules! text_column {
    ($($name:ident),*) => {$(
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <String as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <String as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(Self::new(<String as sqlx::Decode<sqlx::Postgres>>::decode(value)?))
            }
        }
    )*};
}
text_column!(WalletTag, TokenHash, SessionId, AccountId);

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn truncated(text: &str) -> String {
    let mut t: String = text.chars().take(ERROR_TEXT_MAX).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    t
}

/// Maps a sqlx error to a [`StoreError`]. The texts kept never hold the connection URL.
fn map_err(e: &sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::PoolTimedOut => StoreError::Timeout,
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // query_canceled (statement_timeout), lock_not_available
            Some("57014" | "55P03") => StoreError::Timeout,
            code => StoreError::Unavailable(truncated(&format!(
                "{} ({})",
                db.message(),
                code.unwrap_or("?")
            ))),
        },
        sqlx::Error::RowNotFound
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_) => StoreError::Corrupt(truncated(&e.to_string())),
        sqlx::Error::Configuration(_) => StoreError::Unavailable("invalid DATABASE_URL".to_owned()),
        other => StoreError::Unavailable(truncated(&other.to_string())),
    }
}

/// The connection options of `url`, with every statement bounded by `statement_timeout`
/// (`None`: the server's default).
fn connect_options(
    url: &str,
    statement_timeout: Option<Duration>,
) -> StoreResult<PgConnectOptions> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Unavailable(
            "DATABASE_URL must start with postgres:// or postgresql://".to_owned(),
        ));
    }
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|_| StoreError::Unavailable("invalid DATABASE_URL".to_owned()))?
        .application_name("wallet-auth");
    if let Some(t) = statement_timeout {
        let t = ms(t).max(1);
        // A transaction left open by a call that ran out of time cannot hold the wallet's lock
        // for long either.
        opts = opts.options([
            ("statement_timeout", t.to_string()),
            (
                "idle_in_transaction_session_timeout",
                (t.saturating_mul(4)).to_string(),
            ),
        ]);
    }
    Ok(opts)
}

/// Applies the embedded migrations to the database at `url` on one connection: connecting is
/// bounded by `connect_timeout`, the migrations by [`MIGRATION_TIMEOUT`]. Concurrent callers
/// (several instances starting together) are serialized by the migrator's own lock.
///
/// # Errors
/// The database cannot be reached, or a migration fails.
pub async fn migrate(url: &str, connect_timeout: Duration) -> StoreResult<()> {
    use sqlx::Connection as _;
    let opts = connect_options(url, None)?;
    let mut conn = tokio::time::timeout(connect_timeout, sqlx::PgConnection::connect_with(&opts))
        .await
        .map_err(|_| StoreError::Timeout)?
        .map_err(|e| map_err(&e))?;
    let run = async {
        let applied = MIGRATOR.run(&mut conn).await;
        let _ = conn.close().await;
        applied.map_err(|e| match e {
            sqlx::migrate::MigrateError::Execute(e) => map_err(&e),
            other => StoreError::Unavailable(truncated(&other.to_string())),
        })
    };
    tokio::time::timeout(MIGRATION_TIMEOUT, run)
        .await
        .map_err(|_| StoreError::Timeout)?
}

/// A random duration within ±50% of `interval`.
fn jittered(interval: Duration) -> Duration {
    let base = interval.max(Duration::from_millis(10));
    base.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://…`), applies the migrations, and starts
    /// the pruning task (every `prune_interval`, randomized ±50%). `timeout` bounds every later
    /// call, each statement on the server, and each wait for a pooled connection; the first
    /// connection gets the larger of `timeout` and [`STARTUP_CONNECT_MIN`], the migrations
    /// [`MIGRATION_TIMEOUT`].
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the URL is invalid, the database cannot be reached or a
    /// migration fails; [`StoreError::Timeout`] when connecting takes too long.
    pub async fn connect(
        url: &str,
        timeout: Duration,
        prune_interval: Duration,
    ) -> StoreResult<Self> {
        // Connecting and migrating prove the database answers; the pool connects lazily.
        migrate(url, timeout.max(STARTUP_CONNECT_MIN)).await?;
        let mut store = Self::pool(url, timeout)?;
        let pool = store.pool.clone();
        // Pruning deletes in batches of statements each bounded by the statement timeout; the
        // whole run gets more room.
        let bound = store.timeout.saturating_mul(20);
        store.pruner = Some(tokio::spawn(async move {
            loop {
                tokio::time::sleep(jittered(prune_interval)).await;
                match tokio::time::timeout(bound, prune(&pool)).await {
                    Ok(Ok(n)) if n > 0 => tracing::debug!(rows = n, "expired rows pruned"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "pruning expired rows failed"),
                    Err(_) => tracing::warn!("pruning expired rows timed out"),
                }
            }
        }));
        Ok(store)
    }

    /// Connects without applying migrations nor pruning (the schema must exist).
    ///
    /// # Errors
    /// As [`PostgresStore::connect`].
    pub async fn connect_without_migrating(url: &str, timeout: Duration) -> StoreResult<Self> {
        let store = Self::pool(url, timeout)?;
        store.ping().await?;
        Ok(store)
    }

    /// The store over a lazily connecting pool.
    fn pool(url: &str, timeout: Duration) -> StoreResult<Self> {
        let opts = connect_options(url, Some(timeout))?;
        let pool = PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .min_connections(0)
            .acquire_timeout(timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .test_before_acquire(false)
            .connect_lazy_with(opts);
        Ok(Self {
            pool,
            timeout,
            pruner: None,
        })
    }

    /// Deletes every expired row now (what the pruning task does); returns how many.
    ///
    /// # Errors
    /// Any database failure.
    pub async fn prune(&self) -> StoreResult<u64> {
        prune(&self.pool).await
    }

    /// Runs `call` on the pool, bounded by the store's timeout.
    async fn run<T, Fut>(&self, call: Fut) -> StoreResult<T>
    where
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        super::api::bounded("postgres", self.timeout, call, map_err).await
    }
}

/// Deletes expired rows, in batches.
async fn prune(pool: &PgPool) -> StoreResult<u64> {
    let retention_minutes = ms(EVENT_COUNT_RETENTION) / ACTIVE_BUCKET_MS + 1;
    let expired = |table: &str| {
        format!(
            "DELETE FROM {table} WHERE ctid IN \
             (SELECT ctid FROM {table} WHERE expires_ms <= wa_now_ms() LIMIT $1)"
        )
    };
    let statements = [
        expired("wa_nonces"),
        expired("wa_sessions"),
        expired("wa_retired"),
        expired("wa_values"),
        expired("wa_rate"),
        expired("wa_audit"),
        format!(
            "DELETE FROM wa_event_counts WHERE ctid IN (SELECT ctid FROM wa_event_counts \
             WHERE minute < div(wa_now_ms(), {ACTIVE_BUCKET_MS}) - {retention_minutes} LIMIT $1)"
        ),
        format!(
            "DELETE FROM wa_active WHERE ctid IN (SELECT ctid FROM wa_active \
             WHERE minute < div(wa_now_ms(), {ACTIVE_BUCKET_MS}) - 1 LIMIT $1)"
        ),
    ];
    let mut total = 0;
    for sql in &statements {
        loop {
            let done = sqlx::query(sql)
                .bind(PRUNE_BATCH)
                .execute(pool)
                .await
                .map_err(|e| map_err(&e))?
                .rows_affected();
            total += done;
            if done < PRUNE_BATCH.unsigned_abs() {
                break;
            }
        }
    }
    Ok(total)
}

/// An index entry and record from a row of `session_id, token_hash, created_ms, record`.
fn session_row(row: &PgRow) -> Result<(IndexEntry, Vec<u8>), sqlx::Error> {
    Ok((
        IndexEntry {
            session_id: row.try_get(0)?,
            token_hash: row.try_get(1)?,
            created_ms: row.try_get(2)?,
        },
        row.try_get(3)?,
    ))
}

/// The name of an audit log.
fn audit_name(log: AuditLog<'_>) -> String {
    match log {
        AuditLog::Security => "security".to_owned(),
        AuditLog::Activity => "activity".to_owned(),
        AuditLog::WalletSecurity(tag) => format!("w:{tag}:security"),
        AuditLog::WalletActivity(tag) => format!("w:{tag}:activity"),
    }
}

async fn lock_wallet(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tag: &WalletTag,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(WALLET_LOCK_CLASS)
        .bind(tag)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Deletes every session of `tag` (inside its lock); the live ones, oldest first.
async fn delete_all(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tag: &WalletTag,
) -> Result<Vec<(IndexEntry, Vec<u8>)>, sqlx::Error> {
    let rows = sqlx::query(
        "WITH d AS (
             DELETE FROM wa_sessions WHERE tag = $1
             RETURNING session_id, token_hash, created_ms, record, expires_ms
         ), r AS (
             DELETE FROM wa_retired WHERE tag = $1
         )
         SELECT session_id, token_hash, created_ms, record FROM d
         WHERE expires_ms > wa_now_ms() ORDER BY created_ms, session_id",
    )
    .bind(tag)
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(session_row).collect()
}

/// [`Store::audit_append`] on `conn`.
async fn audit_append(
    conn: &mut PgConnection,
    log: AuditLog<'_>,
    event: &[u8],
    bounds: AuditBounds,
) -> Result<(), sqlx::Error> {
    let name = audit_name(log);
    let age = ms(bounds.max_age);
    let keep_existing = i64::try_from(bounds.max_len).unwrap_or(i64::MAX);
    if keep_existing == 0 {
        sqlx::query("DELETE FROM wa_audit WHERE log = $1")
            .bind(&name)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    // One statement: the new entry, and the log trimmed to the newest `max_len - 1` entries
    // before it, none older than `max_age`.
    sqlx::query(
        "WITH ins AS (
             INSERT INTO wa_audit (log, at_ms, expires_ms, event)
             VALUES ($1, wa_now_ms(), wa_now_ms() + $2, $3)
         )
         DELETE FROM wa_audit WHERE log = $1 AND (
             at_ms < wa_now_ms() - $2
             OR seq <= (SELECT seq FROM wa_audit WHERE log = $1
                        ORDER BY seq DESC OFFSET $4 - 1 LIMIT 1))",
    )
    .bind(&name)
    .bind(age)
    .bind(event)
    .bind(keep_existing)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// [`Store::count_event`] on `conn`.
async fn count_event(conn: &mut PgConnection, name: &str, now_ms: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO wa_event_counts (name, minute, n) VALUES ($1, $2, 1)
         ON CONFLICT (name, minute) DO UPDATE SET n = wa_event_counts.n + 1",
    )
    .bind(name)
    .bind(active_bucket(now_ms))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The changes of [`Store::track_active`]: minutes and their deltas, in minute order so that
/// concurrent calls lock rows in one order (empty: nothing to change).
fn active_moves(moved: ActiveMove, now_ms: i64) -> (Vec<i64>, Vec<i64>) {
    let (from, to) = moved.buckets(now_ms);
    let mut moves: Vec<(i64, i64)> = match (from, to) {
        (Some(a), Some(b)) if a == b => Vec::new(),
        (a, b) => a
            .map(|m| (m, -1))
            .into_iter()
            .chain(b.map(|m| (m, 1)))
            .collect(),
    };
    moves.sort_unstable();
    moves.into_iter().unzip()
}

/// [`Store::track_active`] on `conn`.
async fn track_active(
    conn: &mut PgConnection,
    chain: &str,
    moved: ActiveMove,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let (minutes, deltas) = active_moves(moved, now_ms);
    if minutes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO wa_active (chain, minute, n)
         SELECT $1, m, d FROM unnest($2::bigint[], $3::bigint[]) AS t(m, d)
         ON CONFLICT (chain, minute) DO UPDATE SET n = wa_active.n + excluded.n",
    )
    .bind(chain)
    .bind(&minutes)
    .bind(&deltas)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The claim of `tag` (read inside the tag's lock).
async fn read_claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tag: &WalletTag,
) -> Result<Option<Claim>, sqlx::Error> {
    let row: Option<(AccountId, String)> =
        sqlx::query_as("SELECT account, identity FROM wa_claims WHERE tag = $1")
            .bind(tag)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row.map(|(account, identity)| Claim { account, identity }))
}

/// Writes (or with `None` deletes) the claim of `tag` (inside the tag's lock).
async fn write_claim(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    tag: &WalletTag,
    claim: Option<&Claim>,
) -> Result<(), sqlx::Error> {
    match claim {
        Some(c) => sqlx::query(
            "INSERT INTO wa_claims (tag, account, identity) VALUES ($1, $2, $3)
             ON CONFLICT (tag) DO UPDATE SET account = $2, identity = $3",
        )
        .bind(tag)
        .bind(&c.account)
        .bind(&c.identity),
        None => sqlx::query("DELETE FROM wa_claims WHERE tag = $1").bind(tag),
    }
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Locks an account's row for the rest of the transaction; whether it exists.
async fn lock_account(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    account: &AccountId,
) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 FROM wa_accounts WHERE account = $1 FOR UPDATE")
            .bind(account)
            .fetch_optional(&mut **tx)
            .await?
            .is_some(),
    )
}

/// The identities an account lists (inside its lock).
async fn account_identities(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    account: &AccountId,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT identity FROM wa_account_identities WHERE account = $1")
        .bind(account)
        .fetch_all(&mut **tx)
        .await
}

/// Deletes sessions (with their retired-token lists) of `tag` by id; returns the live ones
/// deleted, oldest first.
const DELETE_SESSIONS: &str = "
WITH d AS (
    DELETE FROM wa_sessions WHERE tag = $1 AND session_id = ANY($2)
    RETURNING session_id, token_hash, created_ms, record, expires_ms
), r AS (
    DELETE FROM wa_retired WHERE tag = $1 AND session_id = ANY($2)
)
SELECT session_id, token_hash, created_ms, record FROM d
WHERE expires_ms > wa_now_ms() ORDER BY created_ms, session_id";

#[async_trait]
impl Store for PostgresStore {
    fn kind(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.run(async {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }

    async fn put_nonce(&self, nonce: &str, value: &[u8], ttl: Duration) -> StoreResult<bool> {
        self.run(async {
            let done = sqlx::query(
                "INSERT INTO wa_nonces (nonce, value, expires_ms) VALUES ($1, $2, wa_now_ms() + $3)
                 ON CONFLICT (nonce) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms
                 WHERE wa_nonces.expires_ms <= wa_now_ms()",
            )
            .bind(nonce)
            .bind(value)
            .bind(ms(ttl))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn take_nonce(&self, nonce: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(async {
            let row = sqlx::query(
                "DELETE FROM wa_nonces WHERE nonce = $1 RETURNING value, expires_ms > wa_now_ms()",
            )
            .bind(nonce)
            .fetch_optional(&self.pool)
            .await?;
            match row {
                Some(r) if r.try_get::<bool, _>(1)? => Ok(Some(r.try_get(0)?)),
                _ => Ok(None),
            }
        })
        .await
    }

    async fn create_session_with(
        &self,
        tag: &WalletTag,
        new: NewSession<'_>,
        max: usize,
        claim: SessionClaim<'_>,
        extras: SessionExtras<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        let max = i64::try_from(max.max(1)).unwrap_or(i64::MAX);
        self.run(async {
            let mut tx = self.pool.begin().await?;
            lock_wallet(&mut tx, tag).await?;
            if !matches!(claim, SessionClaim::Any) {
                let current = read_claim(&mut tx, tag).await?;
                let fits = match (claim, &current) {
                    (SessionClaim::Existing(a), Some(c)) => &c.account == a,
                    (SessionClaim::New(wanted), Some(c)) => c.account == wanted.account,
                    (SessionClaim::New(wanted), None) => {
                        write_claim(&mut tx, tag, Some(wanted)).await?;
                        true
                    }
                    _ => false,
                };
                if !fits {
                    return Ok(Claimed::Mismatch(current));
                }
            }
            // A session id is unique; should it come again, it replaces the old session (and
            // its retired-token list).
            sqlx::query(
                "WITH r AS (DELETE FROM wa_retired WHERE tag = $1 AND session_id = $2)
                 DELETE FROM wa_sessions WHERE tag = $1 AND (session_id = $2 OR expires_ms <= wa_now_ms())",
            )
            .bind(tag)
            .bind(new.session_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO wa_sessions (tag, session_id, token_hash, created_ms, record, expires_ms)
                 VALUES ($1, $2, $3, $4, $5, wa_now_ms() + $6)",
            )
            .bind(tag)
            .bind(new.session_id)
            .bind(new.token_hash)
            .bind(new.created_ms)
            .bind(new.record)
            .bind(ms(new.ttl))
            .execute(&mut *tx)
            .await?;
            // The oldest beyond `max` (among equal creation times, the new session last).
            let excess: Vec<String> = sqlx::query_scalar(
                "SELECT session_id FROM wa_sessions WHERE tag = $1 AND expires_ms > wa_now_ms()
                 ORDER BY created_ms, session_id = $2, session_id
                 LIMIT greatest((SELECT count(*) FROM wa_sessions WHERE tag = $1 AND expires_ms > wa_now_ms()) - $3, 0)",
            )
            .bind(tag)
            .bind(new.session_id)
            .bind(max)
            .fetch_all(&mut *tx)
            .await?;
            let evicted = if excess.is_empty() {
                Vec::new()
            } else {
                sqlx::query(DELETE_SESSIONS)
                    .bind(tag)
                    .bind(&excess)
                    .fetch_all(&mut *tx)
                    .await?
                    .iter()
                    .map(session_row)
                    .collect::<Result<Vec<_>, _>>()?
            };
            // The wallet's own audit logs first; the rows every sign-in shares (shared logs,
            // counter, statistics) last, so that their row locks are held only until the
            // commit right after.
            let (own, shared): (Vec<_>, Vec<_>) =
                extras.audit.iter().partition(|(log, ..)| log.wallet().is_some());
            for &(log, bounds, event) in own.into_iter().chain(shared) {
                audit_append(&mut tx, log, event, bounds).await?;
            }
            if let Some(name) = extras.count {
                count_event(&mut tx, name, extras.now_ms).await?;
            }
            if let Some((chain, moved)) = extras.active {
                track_active(&mut tx, chain, moved, extras.now_ms).await?;
            }
            tx.commit().await?;
            Ok(Claimed::Done(evicted))
        })
        .await
    }

    async fn get_session(
        &self,
        tag: &WalletTag,
        token_hash: &TokenHash,
        session_id: Option<&SessionId>,
    ) -> StoreResult<Option<SessionEntry>> {
        self.run(async {
            let row = sqlx::query(
                "(SELECT 'L' AS k, NULL::text AS sid, NULL::bigint AS at, NULL::text AS h, record
                  FROM wa_sessions WHERE tag = $1 AND token_hash = $2 AND expires_ms > wa_now_ms())
                 UNION ALL
                 (SELECT 'R', r.session_id, r.at_ms, s.token_hash, s.record
                  FROM wa_retired r
                  LEFT JOIN wa_sessions s
                    ON s.tag = r.tag AND s.session_id = r.session_id AND s.expires_ms > wa_now_ms()
                  WHERE r.tag = $1 AND r.token_hash = $2 AND r.expires_ms > wa_now_ms()
                    AND (CASE WHEN $3::text IS NULL THEN s.session_id IS NOT NULL
                              ELSE r.session_id = $3 END)
                  ORDER BY r.at_ms DESC LIMIT 1)
                 ORDER BY k LIMIT 1",
            )
            .bind(tag)
            .bind(token_hash)
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            let kind: String = row.try_get(0)?;
            if kind == "L" {
                return Ok(Some(SessionEntry::Live(row.try_get(4)?)));
            }
            let current = match (
                row.try_get::<Option<TokenHash>, _>(3)?,
                row.try_get::<Option<Vec<u8>>, _>(4)?,
            ) {
                (Some(token_hash), Some(record)) => Some(CurrentToken { token_hash, record }),
                _ => None,
            };
            Ok(Some(SessionEntry::Retired {
                session_id: row.try_get(1)?,
                at_ms: row.try_get(2)?,
                current,
            }))
        })
        .await
    }

    async fn update_session(
        &self,
        tag: &WalletTag,
        update: SessionUpdate<'_>,
    ) -> StoreResult<bool> {
        self.run(async {
            let done = sqlx::query(
                "UPDATE wa_sessions SET record = $3,
                     expires_ms = CASE WHEN $4::bigint IS NULL THEN expires_ms ELSE wa_now_ms() + $4 END
                 WHERE tag = $1 AND token_hash = $2 AND expires_ms > wa_now_ms()",
            )
            .bind(tag)
            .bind(update.token_hash)
            .bind(update.record)
            .bind(update.ttl.map(ms))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
    }

    async fn rotate_session(&self, tag: &WalletTag, rot: Rotation<'_>) -> StoreResult<Rotated> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            lock_wallet(&mut tx, tag).await?;
            let current: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM wa_sessions
                 WHERE tag = $1 AND session_id = $2 AND token_hash = $3 AND expires_ms > wa_now_ms()",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(rot.old_hash)
            .fetch_optional(&mut *tx)
            .await?;
            if current.is_none() {
                return Ok(Rotated::NotCurrent);
            }
            let oldest_kept = rot.now_ms.saturating_sub(ms(rot.retain));
            let times: Vec<i64> = sqlx::query_scalar(
                "SELECT at_ms FROM wa_retired
                 WHERE tag = $1 AND session_id = $2 AND expires_ms > wa_now_ms() AND at_ms > $3
                 ORDER BY at_ms",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(oldest_kept)
            .fetch_all(&mut *tx)
            .await?;
            let wait = rotation_wait(&times, &rot);
            if wait > 0 {
                return Ok(Rotated::Limited {
                    retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
                });
            }
            sqlx::query(
                "UPDATE wa_sessions SET token_hash = $3, record = $4, expires_ms = wa_now_ms() + $5
                 WHERE tag = $1 AND session_id = $2",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(rot.new_hash)
            .bind(rot.record)
            .bind(ms(rot.ttl))
            .execute(&mut *tx)
            .await?;
            // The list keeps its entries inside `retain`, gains the old token, and lives
            // `retain` from now.
            sqlx::query(
                "DELETE FROM wa_retired WHERE tag = $1 AND session_id = $2
                   AND (expires_ms <= wa_now_ms() OR at_ms <= $3)",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(oldest_kept)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO wa_retired (tag, session_id, token_hash, at_ms, expires_ms)
                 VALUES ($1, $2, $3, $4, wa_now_ms() + $5)
                 ON CONFLICT (tag, session_id, token_hash) DO UPDATE SET at_ms = excluded.at_ms",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(rot.old_hash)
            .bind(rot.now_ms)
            .bind(ms(rot.retain))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE wa_retired SET expires_ms = wa_now_ms() + $3 WHERE tag = $1 AND session_id = $2",
            )
            .bind(tag)
            .bind(rot.session_id)
            .bind(ms(rot.retain))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Rotated::Done)
        })
        .await
    }

    async fn delete_session(
        &self,
        tag: &WalletTag,
        session_id: &SessionId,
    ) -> StoreResult<Option<(IndexEntry, Vec<u8>)>> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            lock_wallet(&mut tx, tag).await?;
            let rows = sqlx::query(DELETE_SESSIONS)
                .bind(tag)
                .bind(&[session_id.as_str()][..])
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            rows.first().map(session_row).transpose()
        })
        .await
    }

    async fn list_sessions(&self, tag: &WalletTag) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.run(async {
            sqlx::query(
                "SELECT session_id, token_hash, created_ms, record FROM wa_sessions
                 WHERE tag = $1 AND expires_ms > wa_now_ms() ORDER BY created_ms, session_id",
            )
            .bind(tag)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(session_row)
            .collect()
        })
        .await
    }

    async fn delete_wallet_sessions(
        &self,
        tag: &WalletTag,
    ) -> StoreResult<Vec<(IndexEntry, Vec<u8>)>> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            lock_wallet(&mut tx, tag).await?;
            let deleted = delete_all(&mut tx, tag).await?;
            tx.commit().await?;
            Ok(deleted)
        })
        .await
    }

    async fn get(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        self.run(async {
            sqlx::query_scalar(
                "SELECT value FROM wa_values
                 WHERE key = $1 AND (expires_ms IS NULL OR expires_ms > wa_now_ms())",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await
        })
        .await
    }

    async fn set(&self, key: &str, value: &[u8], ttl: Option<Duration>) -> StoreResult<()> {
        self.run(async {
            sqlx::query(
                "INSERT INTO wa_values (key, value, expires_ms)
                 VALUES ($1, $2, CASE WHEN $3::bigint IS NULL THEN NULL ELSE wa_now_ms() + $3 END)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_ms = excluded.expires_ms",
            )
            .bind(key)
            .bind(value)
            .bind(ttl.map(ms))
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        self.run(async {
            let live: Option<bool> = sqlx::query_scalar(
                "DELETE FROM wa_values WHERE key = $1
                 RETURNING expires_ms IS NULL OR expires_ms > wa_now_ms()",
            )
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
            Ok(live.unwrap_or(false))
        })
        .await
    }

    async fn compare_and_swap(&self, key: &str, swap: Swap<'_>) -> StoreResult<bool> {
        let Swap {
            expected,
            value,
            ttl,
        } = swap;
        self.run(async {
            let wrote: Option<i32> = match expected {
                // Set-if-absent: an expired row counts as absent and is replaced.
                None => {
                    sqlx::query_scalar(
                        "INSERT INTO wa_values (key, value, expires_ms)
                         VALUES ($1, $2, CASE WHEN $3::bigint IS NULL THEN NULL ELSE wa_now_ms() + $3 END)
                         ON CONFLICT (key) DO UPDATE
                           SET value = excluded.value, expires_ms = excluded.expires_ms
                           WHERE wa_values.expires_ms IS NOT NULL AND wa_values.expires_ms <= wa_now_ms()
                         RETURNING 1",
                    )
                    .bind(key)
                    .bind(value)
                    .bind(ttl.map(ms))
                    .fetch_optional(&self.pool)
                    .await?
                }
                // The row is locked by the UPDATE: of concurrent swaps from one value, one wins.
                Some(old) => {
                    sqlx::query_scalar(
                        "UPDATE wa_values
                         SET value = $2,
                             expires_ms = CASE WHEN $3::bigint IS NULL THEN NULL ELSE wa_now_ms() + $3 END
                         WHERE key = $1 AND value = $4
                           AND (expires_ms IS NULL OR expires_ms > wa_now_ms())
                         RETURNING 1",
                    )
                    .bind(key)
                    .bind(value)
                    .bind(ttl.map(ms))
                    .bind(old)
                    .fetch_optional(&self.pool)
                    .await?
                }
            };
            Ok(wrote.is_some())
        })
        .await
    }

    async fn rate_limit(
        &self,
        key: &str,
        budget: RateBudget,
        now_ms: i64,
    ) -> StoreResult<RateDecision> {
        let RateBudget { limit, window } = budget;
        let window_ms = ms(window);
        if limit == 0 {
            return Ok(RateDecision::Limited {
                retry_after: Duration::from_millis(u64::try_from(window_ms.max(1)).unwrap_or(1)),
            });
        }
        let (hits, allowed): (Vec<i64>, bool) = self
            .run(async {
                // The hits inside the window, oldest first; the new one joins them when they
                // are fewer than `limit` (`allowed` records which). One statement: the row lock
                // of the upsert orders concurrent hits on one budget.
                let row = sqlx::query(
                    "INSERT INTO wa_rate AS b (key, hits, allowed, expires_ms)
                     VALUES ($1, ARRAY[$2::bigint], true, wa_now_ms() + $3)
                     ON CONFLICT (key) DO UPDATE SET
                       hits = (SELECT CASE WHEN cardinality(k.a) >= $4 THEN k.a ELSE k.a || $2::bigint END
                               FROM (SELECT array(SELECT h FROM unnest(b.hits) AS h
                                                  WHERE h > $2 - $3 ORDER BY h) AS a) AS k),
                       allowed = (SELECT count(*) < $4 FROM unnest(b.hits) AS h WHERE h > $2 - $3),
                       expires_ms = wa_now_ms() + $3
                     RETURNING hits, allowed",
                )
                .bind(key)
                .bind(now_ms)
                .bind(window_ms)
                .bind(i64::from(limit))
                .fetch_one(&self.pool)
                .await?;
                Ok((row.try_get(0)?, row.try_get(1)?))
            })
            .await?;
        if allowed {
            return Ok(RateDecision::Allowed);
        }
        let oldest = hits.first().copied().unwrap_or(now_ms);
        let wait = (oldest + window_ms - now_ms).max(1);
        Ok(RateDecision::Limited {
            retry_after: Duration::from_millis(u64::try_from(wait).unwrap_or(1)),
        })
    }

    async fn audit_append(
        &self,
        log: AuditLog<'_>,
        event: &[u8],
        bounds: AuditBounds,
    ) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.pool.acquire().await?;
            audit_append(&mut conn, log, event, bounds).await
        })
        .await
    }

    async fn audit_read(
        &self,
        log: AuditLog<'_>,
        limit: usize,
        bounds: AuditBounds,
    ) -> StoreResult<Vec<Vec<u8>>> {
        let name = audit_name(log);
        // Concurrent appends may briefly leave one more entry than `max_len`: never read more.
        let limit = i64::try_from(limit.min(bounds.max_len)).unwrap_or(i64::MAX);
        self.run(async {
            sqlx::query_scalar(
                "SELECT event FROM wa_audit WHERE log = $1 AND at_ms >= wa_now_ms() - $2
                 ORDER BY seq DESC LIMIT $3",
            )
            .bind(&name)
            .bind(ms(bounds.max_age))
            .bind(limit)
            .fetch_all(&self.pool)
            .await
        })
        .await
    }

    async fn count_event(&self, name: &str, now_ms: i64) -> StoreResult<()> {
        self.run(async {
            let mut conn = self.pool.acquire().await?;
            count_event(&mut conn, name, now_ms).await
        })
        .await
    }

    async fn count_events_since(&self, name: &str, span: Span) -> StoreResult<u64> {
        let (from, to) = span.event_buckets().into_inner();
        let n: i64 = self
            .run(async {
                sqlx::query_scalar(
                    "SELECT coalesce(sum(n), 0)::bigint FROM wa_event_counts
                     WHERE name = $1 AND minute BETWEEN $2 AND $3",
                )
                .bind(name)
                .bind(from)
                .bind(to)
                .fetch_one(&self.pool)
                .await
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn track_active(&self, chain: &str, moved: ActiveMove, now_ms: i64) -> StoreResult<()> {
        if active_moves(moved, now_ms).0.is_empty() {
            return Ok(());
        }
        self.run(async {
            let mut conn = self.pool.acquire().await?;
            track_active(&mut conn, chain, moved, now_ms).await
        })
        .await
    }

    async fn count_active(&self, chain: &str, now_ms: i64) -> StoreResult<u64> {
        let n: i64 = self
            .run(async {
                sqlx::query_scalar(
                    "SELECT coalesce(sum(n), 0)::bigint FROM wa_active WHERE chain = $1 AND minute >= $2",
                )
                .bind(chain)
                .bind(active_bucket(now_ms))
                .fetch_one(&self.pool)
                .await
            })
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn get_claim(&self, tag: &WalletTag) -> StoreResult<Option<Claim>> {
        self.run(async {
            let row: Option<(AccountId, String)> =
                sqlx::query_as("SELECT account, identity FROM wa_claims WHERE tag = $1")
                    .bind(tag)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(row.map(|(account, identity)| Claim { account, identity }))
        })
        .await
    }

    async fn swap_claim(
        &self,
        tag: &WalletTag,
        swap: ClaimSwap<'_>,
    ) -> StoreResult<Claimed<Vec<(IndexEntry, Vec<u8>)>>> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            lock_wallet(&mut tx, tag).await?;
            let current = read_claim(&mut tx, tag).await?;
            if current.as_ref().map(|c| &c.account) != swap.expected {
                return Ok(Claimed::Mismatch(current));
            }
            write_claim(&mut tx, tag, swap.new).await?;
            let ended = if swap.end_sessions {
                delete_all(&mut tx, tag).await?
            } else {
                Vec::new()
            };
            tx.commit().await?;
            Ok(Claimed::Done(ended))
        })
        .await
    }

    async fn get_account(&self, account: &AccountId) -> StoreResult<Option<AccountRecord>> {
        self.run(async {
            let Some((created_ms, mut roles)): Option<(i64, Vec<String>)> =
                sqlx::query_as("SELECT created_ms, roles FROM wa_accounts WHERE account = $1")
                    .bind(account)
                    .fetch_optional(&self.pool)
                    .await?
            else {
                return Ok(None);
            };
            let identities: Vec<(String, WalletTag)> = sqlx::query_as(
                "SELECT identity, tag FROM wa_account_identities WHERE account = $1
                 ORDER BY identity COLLATE \"C\"",
            )
            .bind(account)
            .fetch_all(&self.pool)
            .await?;
            roles.sort();
            Ok(Some(AccountRecord {
                created_ms,
                roles,
                identities,
            }))
        })
        .await
    }

    async fn add_account_identity(
        &self,
        account: &AccountId,
        new: NewIdentity<'_>,
    ) -> StoreResult<bool> {
        let max = i64::try_from(new.max).unwrap_or(i64::MAX);
        self.run(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO wa_accounts (account, created_ms) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .bind(account)
            .bind(new.created_ms)
            .execute(&mut *tx)
            .await?;
            lock_account(&mut tx, account).await?;
            let listed = account_identities(&mut tx, account).await?;
            if listed.iter().any(|i| i == new.identity) {
                return Ok(true);
            }
            if i64::try_from(listed.len()).unwrap_or(i64::MAX) >= max {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO wa_account_identities (account, identity, tag) VALUES ($1, $2, $3)",
            )
            .bind(account)
            .bind(new.identity)
            .bind(new.tag)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn remove_account_identity(
        &self,
        account: &AccountId,
        identity: &str,
        keep_last: bool,
    ) -> StoreResult<IdentityRemoval> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            if !lock_account(&mut tx, account).await? {
                return Ok(IdentityRemoval::NotListed);
            }
            let listed = account_identities(&mut tx, account).await?;
            if !listed.iter().any(|i| i == identity) {
                return Ok(IdentityRemoval::NotListed);
            }
            if keep_last && listed.len() == 1 {
                return Ok(IdentityRemoval::Last);
            }
            sqlx::query("DELETE FROM wa_account_identities WHERE account = $1 AND identity = $2")
                .bind(account)
                .bind(identity)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(IdentityRemoval::Removed)
        })
        .await
    }

    async fn set_account_roles(
        &self,
        account: &AccountId,
        expected: Option<&[String]>,
        roles: &[String],
    ) -> StoreResult<RolesSet> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            if !lock_account(&mut tx, account).await? {
                return Ok(RolesSet::NoAccount);
            }
            let updated = sqlx::query(
                "UPDATE wa_accounts SET roles = $3
                 WHERE account = $1 AND ($2::text[] IS NULL OR roles = $2)",
            )
            .bind(account)
            .bind(expected)
            .bind(roles)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(if updated == 0 {
                RolesSet::Conflict
            } else {
                RolesSet::Done
            })
        })
        .await
    }

    async fn delete_account(&self, account: &AccountId, only_if: &[String]) -> StoreResult<bool> {
        self.run(async {
            let mut tx = self.pool.begin().await?;
            if !lock_account(&mut tx, account).await? {
                return Ok(false);
            }
            let listed = account_identities(&mut tx, account).await?;
            if !listed.iter().all(|i| only_if.contains(i)) {
                return Ok(false);
            }
            sqlx::query("DELETE FROM wa_accounts WHERE account = $1")
                .bind(account)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }
}
