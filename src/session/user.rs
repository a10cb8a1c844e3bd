//! Legacy username/password users and their sessions, side by side with wallet sessions.
//!
//! Accounts are kept in the same [`Store`] (`user:<name>` → Argon2id PHC string). A user
//! session is a random token (the `sid` cookie, `__Host-sid` when cookies are `Secure`) whose
//! record lives under `usess:<token hash>`, sealed with the session keys: one store, one Redis
//! client, and no way to use one kind of session as the other (different cookies, different
//! keys, different records).
//!
//! # Ending sessions with the credential
//! Each session record keeps a *credential stamp*: a hash of the PHC string the password was
//! checked against. A session is valid only while that stamp equals the stamp of the user's
//! current PHC string. Replacing the password (a new random salt, so a new string even for the
//! same password) or removing the user therefore ends every session of that user at once, on
//! every instance sharing the store, with no per-user index to keep consistent; a stale record
//! is deleted when next presented, or expires with its TTL.
//!
//! # Password checks are bounded
//! An Argon2id check takes ~19 MiB and tens of milliseconds of CPU. At most
//! `PASSWORD_CHECKS_MAX` run at once (default: the CPU count, at most 8), and one client (IP)
//! may hold at most half of them (at least one). A check waits at most
//! [`PASSWORD_CHECK_WAIT`] for a slot; past that, or over its client's share, it is refused
//! ([`CheckError::Busy`], `429` over HTTP). The slot is held until the hashing is done, even
//! when the request that asked is gone, so dropped connections cannot pile up checks.
//!
//! The checks run on as many dedicated threads, started on first use, each reusing one Argon2
//! memory buffer: the memory of password checking is `PASSWORD_CHECKS_MAX` buffers for the
//! life of the process. (On a pool of short-lived threads, each new thread's allocator arena
//! would keep its own ~19 MiB after the check, so memory would grow with the thread count even
//! with few checks in flight.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::crypto::{ct_eq, hash_b64, random_token, KeyRing};

#[cfg(doc)]
use super::directory::ROLES_REFRESH;
use super::directory::{password_tag, Directory, Identity, SealedSession};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::config::default_password_checks;
use crate::store::{
    AccountId, SessionEntry, SessionExtras, SessionId, SessionUpdate, Store, StoreError, TokenHash,
    WalletTag,
};

/// Longest accepted username.
pub const MAX_USERNAME: usize = 64;
/// Longest accepted password (Argon2 cost is bounded by it).
pub const MAX_PASSWORD: usize = 1024;
/// Lifetime of a user session from its sign-in (not extended by use).
pub const USER_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Longest wait for a free password-check slot before the check is refused.
pub const PASSWORD_CHECK_WAIT: Duration = Duration::from_millis(500);
/// Largest Argon2 memory cost (KiB) a stored hash may ask for; a check of a hash asking for
/// more fails (the hashes this server writes use 19 MiB).
pub const MAX_ARGON2_M_COST_KIB: u32 = 256 * 1024;
/// Random bytes of a user session token (256 bits).
const TOKEN_BYTES: usize = 32;
/// Length of a user session token: base64url of [`TOKEN_BYTES`] without padding.
const TOKEN_LEN: usize = 43;

fn account_key(name: &str) -> String {
    format!("user:{name}")
}

/// Whether `name` is an acceptable username: 1–64 of `A-Z a-z 0-9 . _ -`.
#[must_use]
pub fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_USERNAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Why a password could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// Every password-check slot stayed busy (or the client holds its share): retry shortly.
    #[error("too many password checks in flight")]
    Busy,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bound on password checks in flight: a global semaphore and a per-client share; and the
/// threads that run the checks, one per slot.
struct PasswordChecks {
    slots: Arc<Semaphore>,
    max: usize,
    per_client_max: usize,
    per_client: Arc<Mutex<HashMap<String, usize>>>,
    wait: Duration,
    workers: std::sync::OnceLock<std::sync::mpsc::Sender<Job>>,
}

/// One password check for the workers.
struct Job {
    phc: String,
    password: String,
    reply: tokio::sync::oneshot::Sender<bool>,
    /// Released when the worker is done with the job.
    _permit: CheckPermit,
}

/// A client's share of the password checks, released when dropped.
struct ClientShare {
    map: Arc<Mutex<HashMap<String, usize>>>,
    client: String,
}

impl Drop for ClientShare {
    fn drop(&mut self) {
        let mut map = self
            .map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.client) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.client);
            }
        }
    }
}

/// What a running check holds: its slot, and its client's share.
struct CheckPermit {
    _slot: OwnedSemaphorePermit,
    _share: Option<ClientShare>,
}

impl PasswordChecks {
    fn new(max: usize, wait: Duration) -> Self {
        let max = max.max(1);
        PasswordChecks {
            slots: Arc::new(Semaphore::new(max)),
            max,
            per_client_max: (max / 2).max(1),
            per_client: Arc::new(Mutex::new(HashMap::new())),
            wait,
            workers: std::sync::OnceLock::new(),
        }
    }

    /// The job queue of the worker threads, started on first use. The workers stop when the
    /// checks are dropped (the queue closes).
    fn workers(&self) -> &std::sync::mpsc::Sender<Job> {
        self.workers.get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            let rx = Arc::new(Mutex::new(rx));
            for i in 0..self.max {
                let rx = rx.clone();
                if let Err(e) = std::thread::Builder::new()
                    .name(format!("password-check-{i}"))
                    .spawn(move || check_worker(&rx))
                {
                    tracing::error!(error = %e, "cannot start a password-check thread");
                }
            }
            tx
        })
    }

    /// Runs one check on a worker, holding `permit` until it is done. `false` when the check
    /// fails or cannot run.
    async fn run(&self, phc: String, password: String, permit: CheckPermit) -> bool {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job = Job {
            phc,
            password,
            reply,
            _permit: permit,
        };
        if self.workers().send(job).is_err() {
            tracing::error!("no password-check thread is running");
            return false;
        }
        answer.await.unwrap_or(false)
    }

    /// A slot for one check by `client` (`None`: not counted per client).
    async fn acquire(&self, client: Option<&str>) -> Result<CheckPermit, CheckError> {
        let share = match client {
            None => None,
            Some(c) => {
                let mut map = self
                    .per_client
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let n = map.entry(c.to_owned()).or_insert(0);
                if *n >= self.per_client_max {
                    return Err(CheckError::Busy);
                }
                *n += 1;
                Some(ClientShare {
                    map: self.per_client.clone(),
                    client: c.to_owned(),
                })
            }
        };
        match tokio::time::timeout(self.wait, self.slots.clone().acquire_owned()).await {
            Ok(Ok(slot)) => Ok(CheckPermit {
                _slot: slot,
                _share: share,
            }),
            _ => Err(CheckError::Busy),
        }
    }
}

/// A password-check thread: runs jobs until the queue closes, with one Argon2 memory buffer
/// kept for its whole life.
fn check_worker(rx: &Mutex<std::sync::mpsc::Receiver<Job>>) {
    let mut memory: Vec<Block> = Vec::new();
    loop {
        let job = {
            let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match rx.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let Job {
            phc,
            password,
            reply,
            _permit: permit,
        } = job;
        let pw = if password.len() > MAX_PASSWORD {
            &[][..]
        } else {
            password.as_bytes()
        };
        let ok = verify_phc(&phc, pw, &mut memory);
        // The slot is free before the answer is: a client's next check never finds its own
        // previous one still counted.
        drop(permit);
        let _ = reply.send(ok);
    }
}

/// Whether `password` matches the Argon2 PHC string `phc`, computed in `memory` (grown to the
/// hash's memory cost, at most [`MAX_ARGON2_M_COST_KIB`]). Same answer as
/// `Argon2::verify_password`, without allocating the memory on each check.
fn verify_phc(phc: &str, password: &[u8], memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_ARGON2_M_COST_KIB {
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..blocks])
        .is_ok()
        && ct_eq(&out, expected.as_bytes())
}

/// Legacy user accounts.
#[derive(Clone)]
pub struct UserAccounts {
    store: Arc<dyn Store>,
    /// A hash verified for unknown users, so they take as long as known ones.
    dummy: Arc<str>,
    checks: Arc<PasswordChecks>,
}

impl std::fmt::Debug for UserAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserAccounts")
    }
}

/// Why an account could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// The name is not acceptable.
    #[error("usernames are 1 to 64 characters of A-Z a-z 0-9 . _ -")]
    BadName,
    /// The password is empty or too long.
    #[error("the password must be 1 to 1024 bytes")]
    BadPassword,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("could not hash the password")]
    Hash,
}

fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hash)
}

/// The stamp of a stored credential (a PHC string): what a session keeps to know that the
/// password it was opened with is still the user's password.
fn stamp_of(phc: &[u8]) -> String {
    hash_b64(phc, 24)
}

/// A password that was just checked: whose, and the stamp of the credential it matched.
#[derive(Clone)]
pub struct Verified {
    /// The username.
    pub username: String,
    stamp: String,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl UserAccounts {
    /// Accounts kept in `store`, with the default bound on password checks in flight.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_max_checks(store, default_password_checks())
    }

    /// Accounts kept in `store`, with at most `max_checks` password checks in flight.
    #[must_use]
    pub fn with_max_checks(store: Arc<dyn Store>, max_checks: usize) -> Self {
        let dummy = hash_password("not a real password").unwrap_or_default();
        UserAccounts {
            store,
            dummy: dummy.into(),
            checks: Arc::new(PasswordChecks::new(max_checks, PASSWORD_CHECK_WAIT)),
        }
    }

    /// Adds a user, or replaces the password of an existing one, which ends every session of
    /// that user (even when the new password equals the old one).
    ///
    /// # Errors
    /// Bad name or password, or the store failed.
    pub async fn add(&self, name: &str, password: &str) -> Result<(), AccountError> {
        let hash = self.hash_new(name, password)?;
        self.store
            .set(&account_key(name), hash.as_bytes(), None)
            .await?;
        Ok(())
    }

    /// Checks a new user's name and password and hashes the password (Argon2id).
    ///
    /// # Errors
    /// Bad name or password, or hashing failed.
    pub fn hash_new(&self, name: &str, password: &str) -> Result<String, AccountError> {
        if !valid_username(name) {
            return Err(AccountError::BadName);
        }
        if password.is_empty() || password.len() > MAX_PASSWORD {
            return Err(AccountError::BadPassword);
        }
        hash_password(password)
    }

    /// Whether the user `name` exists.
    ///
    /// # Errors
    /// The store failed.
    pub async fn exists(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self.stamp(name).await?.is_some())
    }

    /// Creates the user `name` with the hash `phc` unless it exists (one atomic step);
    /// whether it was created.
    ///
    /// # Errors
    /// The store failed.
    pub async fn create_if_absent(&self, name: &str, phc: &str) -> Result<bool, StoreError> {
        self.store
            .compare_and_swap(
                &account_key(name),
                crate::store::Swap {
                    expected: None,
                    value: phc.as_bytes(),
                    ttl: None,
                },
            )
            .await
    }

    /// Removes a user, which ends every session of that user; whether it existed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn remove(&self, name: &str) -> Result<bool, StoreError> {
        if !valid_username(name) {
            return Ok(false);
        }
        self.store.delete(&account_key(name)).await
    }

    /// The stamp of `name`'s current credential; `None` for no such user.
    async fn stamp(&self, name: &str) -> Result<Option<String>, StoreError> {
        if !valid_username(name) {
            return Ok(None);
        }
        Ok(self
            .store
            .get(&account_key(name))
            .await?
            .map(|phc| stamp_of(&phc)))
    }

    /// Checks a username and password (see [`UserAccounts::verify`]), without a per-client
    /// share.
    ///
    /// # Errors
    /// [`CheckError::Busy`] when no check slot freed up in time; the store failed.
    pub async fn check(&self, name: &str, password: &str) -> Result<bool, CheckError> {
        Ok(self.verify(name, password, None).await?.is_some())
    }

    /// Checks a username and password for `client` (its IP: at most its share of the checks
    /// in flight). Unknown users cost the same Argon2 verification as known ones and get the
    /// same answer.
    ///
    /// # Errors
    /// [`CheckError::Busy`] when no check slot freed up in time or the client holds its
    /// share; the store failed.
    #[tracing::instrument(skip_all)]
    pub async fn verify(
        &self,
        name: &str,
        password: &str,
        client: Option<&str>,
    ) -> Result<Option<Verified>, CheckError> {
        let permit = self.checks.acquire(client).await?;
        let stored = if valid_username(name) {
            self.store.get(&account_key(name)).await?
        } else {
            None
        };
        let known = stored.as_ref().map(|phc| stamp_of(phc));
        let phc = stored
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_else(|| self.dummy.to_string());
        // The permit goes with the job: it is released when the hashing is done, not when the
        // caller stops waiting.
        let ok = self.checks.run(phc, password.to_owned(), permit).await;
        Ok(match known {
            Some(stamp) if ok => Some(Verified {
                username: name.to_owned(),
                stamp,
            }),
            _ => None,
        })
    }
}

/// Most live sessions of one user: a sign-in beyond it ends the oldest.
pub const MAX_USER_SESSIONS: usize = 16;

/// A live user session.
#[derive(Clone)]
pub struct UserSession {
    /// The signed-in user.
    pub username: String,
    /// The session's public id.
    pub session_id: String,
    /// The session's CSRF token (for `X-CSRF-Token`).
    pub csrf_token: String,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// The account the user's password belongs to.
    pub account_id: AccountId,
    /// The account's roles, as last read (at most [`ROLES_REFRESH`] ago).
    pub roles: Vec<String>,
}

impl std::fmt::Debug for UserSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserSession")
            .field("username", &self.username)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A user session record as stored (sealed JSON). Under `usess:<token hash>` it is the
/// session's *pointer*: since accounts, the live record is kept (with the account and roles)
/// in the session index of the user's password identity, under the same token hash, and the
/// pointer names it by `sid`. A pointer without `sid` is a whole session written before
/// accounts: it is moved into the index on its first use.
#[derive(Clone, Serialize, Deserialize)]
struct Record {
    username: String,
    csrf: String,
    stamp: String,
    created_ms: i64,
    expires_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    roles: Vec<String>,
    /// When the roles were read, Unix ms.
    #[serde(default)]
    rc: i64,
}

/// Legacy user sessions over the [`Store`], records sealed with the session keys.
#[derive(Clone)]
pub struct UserSessions {
    store: Arc<dyn Store>,
    keys: KeyRing,
    accounts: UserAccounts,
    clock: Arc<dyn Clock>,
    directory: Directory,
}

impl std::fmt::Debug for UserSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserSessions")
    }
}

/// Whether `token` has the shape of a user session token (checked before any store call).
fn token_shaped(token: &str) -> bool {
    token.len() == TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl UserSessions {
    /// Sessions kept in `store`, checked against `accounts`, belonging to the accounts of
    /// `directory`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        keys: KeyRing,
        accounts: UserAccounts,
        clock: Arc<dyn Clock>,
        directory: Directory,
    ) -> Self {
        UserSessions {
            store,
            keys,
            accounts,
            clock,
            directory,
        }
    }

    fn key(token: &str) -> String {
        format!("usess:{}", hash_b64(token.as_bytes(), 24))
    }

    /// The hash the live record of `token` is stored under in its user's index.
    fn index_hash(token: &str) -> TokenHash {
        TokenHash::new(hash_b64(token.as_bytes(), 24))
    }

    fn seal(&self, aad: &[u8], r: &Record) -> Result<Vec<u8>, StoreError> {
        let plain = serde_json::to_vec(r)
            .map_err(|e| StoreError::Corrupt(format!("user session record: {e}")))?;
        Ok(self.keys.seal(&plain, aad))
    }

    fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Record> {
        self.keys
            .open(sealed, aad)
            .and_then(|p| serde_json::from_slice::<Record>(&p).ok())
    }

    fn live_aad(tag: &WalletTag, hash: &TokenHash) -> Vec<u8> {
        format!("us:{tag}:{hash}").into_bytes()
    }

    /// Opens a session for a just-verified password; the token and the session. The pointer
    /// and then the live record are written before this returns.
    ///
    /// # Errors
    /// The store failed (no session exists then).
    pub async fn create(&self, who: &Verified) -> Result<(String, UserSession), StoreError> {
        let token = random_token(TOKEN_BYTES);
        let now = self.clock.now();
        let ttl = time::Duration::try_from(USER_SESSION_TTL).unwrap_or(time::Duration::HOUR);
        let record = Record {
            username: who.username.clone(),
            csrf: random_token(TOKEN_BYTES),
            stamp: who.stamp.clone(),
            created_ms: unix_ms(now),
            expires_ms: unix_ms(now + ttl),
            sid: Some(random_token(16)),
            account: String::new(),
            roles: Vec::new(),
            rc: unix_ms(now),
        };
        let record = self.index(&token, record, USER_SESSION_TTL).await?;
        Ok((token, Self::session(record)))
    }

    /// Writes the pointer of `token`, then its live record in the user's index (with its
    /// account, created on first use); the record as written.
    async fn index(
        &self,
        token: &str,
        record: Record,
        ttl: std::time::Duration,
    ) -> Result<Record, StoreError> {
        let key = Self::key(token);
        self.store
            .set(&key, &self.seal(key.as_bytes(), &record)?, Some(ttl))
            .await?;
        let identity = Identity::password(&record.username);
        let tag = identity.tag();
        let hash = Self::index_hash(token);
        let sid = SessionId::new(record.sid.clone().unwrap_or_default());
        let aad = Self::live_aad(&tag, &hash);
        let (account, roles, _evicted) = self
            .directory
            .open_session(
                &identity,
                MAX_USER_SESSIONS,
                |account, roles| {
                    let mut r = record.clone();
                    r.account = account.as_str().to_owned();
                    r.roles.clone_from(&roles.roles);
                    r.rc = unix_ms(roles.read_at);
                    SealedSession {
                        session_id: sid.clone(),
                        token_hash: hash.clone(),
                        created_ms: record.created_ms,
                        record: self.seal(&aad, &r).unwrap_or_default(),
                        ttl,
                    }
                },
                SessionExtras::default(),
                None,
            )
            .await?;
        Ok(Record {
            account: account.into_string(),
            roles,
            ..record
        })
    }

    fn session(r: Record) -> UserSession {
        UserSession {
            username: r.username,
            session_id: r.sid.unwrap_or_default(),
            csrf_token: r.csrf,
            created_at: from_unix_ms(r.created_ms),
            expires_at: from_unix_ms(r.expires_ms),
            account_id: AccountId::new(r.account),
            roles: r.roles,
        }
    }

    /// The live session of `token`: `None` when unknown, expired, ended, tampered with, or
    /// when the user's credential changed or the user is gone since sign-in (such a record is
    /// deleted). Its roles are brought up to date when older than [`ROLES_REFRESH`] or changed
    /// on this instance since they were read (from the directory's memo); the record is
    /// rewritten only when they changed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn validate(&self, token: &str) -> Result<Option<UserSession>, StoreError> {
        if !token_shaped(token) {
            return Ok(None);
        }
        let key = Self::key(token);
        let Some(sealed) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let Some(pointer) = self.open(key.as_bytes(), &sealed) else {
            return Ok(None);
        };
        let now_t = self.clock.now();
        let now = unix_ms(now_t);
        if pointer.expires_ms <= now {
            self.store.delete(&key).await?;
            return Ok(None);
        }
        let current = self.accounts.stamp(&pointer.username).await?;
        if !current.is_some_and(|s| ct_eq(s.as_bytes(), pointer.stamp.as_bytes())) {
            self.end(token).await?;
            return Ok(None);
        }
        let tag = password_tag(&pointer.username);
        let hash = Self::index_hash(token);
        let mut record = match &pointer.sid {
            // Written before accounts: moved into the index now.
            None => {
                let left = pointer.expires_ms - now;
                let ttl = std::time::Duration::from_millis(u64::try_from(left).unwrap_or(1));
                let moved = Record {
                    sid: Some(random_token(16)),
                    rc: now,
                    ..pointer
                };
                self.index(token, moved, ttl).await?
            }
            Some(sid) => {
                let entry = self
                    .store
                    .get_session(&tag, &hash, Some(&SessionId::new(sid.as_str())))
                    .await?;
                let Some(SessionEntry::Live(sealed)) = entry else {
                    // Ended (logout-all of the account, user removed): the pointer goes too.
                    self.store.delete(&key).await?;
                    return Ok(None);
                };
                let Some(r) = self.open(&Self::live_aad(&tag, &hash), &sealed) else {
                    return Ok(None);
                };
                r
            }
        };
        if self
            .directory
            .refresh_roles(
                &record.account,
                &mut record.roles,
                &mut record.rc,
                now_t,
                false,
            )
            .await?
        {
            let sealed = self.seal(&Self::live_aad(&tag, &hash), &record)?;
            self.store
                .update_session(
                    &tag,
                    SessionUpdate {
                        token_hash: &hash,
                        record: &sealed,
                        ttl: None,
                    },
                )
                .await?;
        }
        Ok(Some(Self::session(record)))
    }

    /// Ends the session of `token`; whether there was one.
    ///
    /// # Errors
    /// The store failed.
    pub async fn end(&self, token: &str) -> Result<bool, StoreError> {
        if !token_shaped(token) {
            return Ok(false);
        }
        let key = Self::key(token);
        let pointer = match self.store.get(&key).await? {
            Some(sealed) => self.open(key.as_bytes(), &sealed),
            None => None,
        };
        if let Some(Record {
            username,
            sid: Some(sid),
            ..
        }) = &pointer
        {
            self.store
                .delete_session(&password_tag(username), &SessionId::new(sid.as_str()))
                .await?;
        }
        self.store.delete(&key).await
    }

    /// The live sessions of `username`, oldest first (for listing an account's sessions).
    ///
    /// # Errors
    /// The store failed.
    pub async fn list(&self, username: &str) -> Result<Vec<UserSession>, StoreError> {
        let tag = password_tag(username);
        let now = unix_ms(self.clock.now());
        let stamp = self.accounts.stamp(username).await?;
        Ok(self
            .store
            .list_sessions(&tag)
            .await?
            .into_iter()
            .filter_map(|(e, sealed)| self.open(&Self::live_aad(&tag, &e.token_hash), &sealed))
            .filter(|r| r.expires_ms > now)
            .filter(|r| {
                stamp
                    .as_deref()
                    .is_some_and(|s| ct_eq(s.as_bytes(), r.stamp.as_bytes()))
            })
            .map(Self::session)
            .collect())
    }

    /// Ends every session of `username`; how many there were.
    ///
    /// # Errors
    /// The store failed.
    pub async fn end_all(&self, username: &str) -> Result<usize, StoreError> {
        Ok(self
            .store
            .delete_wallet_sessions(&password_tag(username))
            .await?
            .len())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::clock::SystemClock;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn accounts() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let users = UserAccounts::new(store.clone());
        users.add("alice", "correct horse").await.unwrap();
        assert!(users.check("alice", "correct horse").await.unwrap());
        assert!(!users.check("alice", "wrong").await.unwrap());
        assert!(!users.check("bob", "correct horse").await.unwrap());
        assert!(!users.check("../x", "y").await.unwrap());
        let stored = store.get("user:alice").await.unwrap().unwrap();
        let phc = String::from_utf8(stored).unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(matches!(
            users.add("bad name", "x").await,
            Err(AccountError::BadName)
        ));
        assert!(users.remove("alice").await.unwrap());
        assert!(!users.check("alice", "correct horse").await.unwrap());
    }

    #[test]
    fn verify_phc_agrees_with_argon2() {
        use argon2::PasswordVerifier as _;
        let mut memory = Vec::new();
        let phc = hash_password("correct horse").unwrap();
        let small = {
            let params = Params::new(64, 1, 1, Some(16)).unwrap();
            let salt = SaltString::generate(&mut OsRng);
            Argon2::new(Algorithm::Argon2i, Version::V0x10, params)
                .hash_password(b"old scheme", &salt)
                .unwrap()
                .to_string()
        };
        for (phc, pw) in [
            (&phc, "correct horse"),
            (&phc, "correct horsf"),
            (&phc, ""),
            (&small, "old scheme"),
            (&small, "correct horse"),
        ] {
            let expected = PasswordHash::new(phc)
                .map(|h| Argon2::default().verify_password(pw.as_bytes(), &h).is_ok())
                .unwrap();
            assert_eq!(
                verify_phc(phc, pw.as_bytes(), &mut memory),
                expected,
                "{pw}"
            );
        }
        assert!(verify_phc(&phc, b"correct horse", &mut memory));
        assert_eq!(
            memory.len(),
            19 * 1024,
            "one buffer, grown to the largest cost"
        );
        for bad in [
            "",
            "$argon2id$",
            "not a hash",
            &phc.replace("m=19456", "m=999999999"),
        ] {
            assert!(!verify_phc(bad, b"x", &mut memory), "{bad}");
        }
    }

    #[tokio::test]
    async fn password_checks_are_bounded_globally_and_per_client() {
        let checks = PasswordChecks::new(4, Duration::from_millis(50));
        // One client holds at most half of the slots; the refusal is immediate.
        let a1 = checks.acquire(Some("198.51.100.1")).await.unwrap();
        let a2 = checks.acquire(Some("198.51.100.1")).await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            checks.acquire(Some("198.51.100.1")).await,
            Err(CheckError::Busy)
        ));
        assert!(started.elapsed() < Duration::from_millis(40));
        // Other clients take the rest; then everyone waits briefly and is refused.
        let b1 = checks.acquire(Some("198.51.100.2")).await.unwrap();
        let c1 = checks.acquire(None).await.unwrap();
        let started = std::time::Instant::now();
        assert!(matches!(
            checks.acquire(Some("198.51.100.3")).await,
            Err(CheckError::Busy)
        ));
        assert!(started.elapsed() >= Duration::from_millis(50));
        // The refused client's share was given back; a released slot is reused.
        drop(c1);
        let c3 = checks.acquire(Some("198.51.100.3")).await.unwrap();
        drop((a1, a2, b1, c3));
        assert!(checks.per_client.lock().unwrap().is_empty(), "no leftovers");
        assert_eq!(checks.slots.available_permits(), 4);
    }

    #[tokio::test]
    async fn sessions_end_with_the_credential() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let users = UserAccounts::with_max_checks(store.clone(), 2);
        let sessions = UserSessions::new(
            store.clone(),
            KeyRing::generate(),
            users.clone(),
            Arc::new(SystemClock),
            Directory::new(store.clone(), Arc::new(SystemClock), Vec::new()),
        );
        users.add("carol", "pw-1").await.unwrap();
        let who = users.verify("carol", "pw-1", None).await.unwrap().unwrap();
        let (token, s) = sessions.create(&who).await.unwrap();
        assert_eq!(s.username, "carol");
        assert!(sessions.validate(&token).await.unwrap().is_some());
        assert!(sessions.validate("x").await.unwrap().is_none());
        assert!(sessions
            .validate(&"A".repeat(TOKEN_LEN))
            .await
            .unwrap()
            .is_none());
        // The token itself is not the key.
        assert!(store
            .get(&format!("usess:{token}"))
            .await
            .unwrap()
            .is_none());
        users.add("carol", "pw-1").await.unwrap();
        assert!(sessions.validate(&token).await.unwrap().is_none());
        assert!(
            store
                .get(&UserSessions::key(&token))
                .await
                .unwrap()
                .is_none(),
            "the stale record is deleted"
        );
        let who = users.verify("carol", "pw-1", None).await.unwrap().unwrap();
        let (token, _) = sessions.create(&who).await.unwrap();
        assert!(sessions.end(&token).await.unwrap());
        assert!(sessions.validate(&token).await.unwrap().is_none());
    }
}
