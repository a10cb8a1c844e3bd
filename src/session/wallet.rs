//! The wallet session manager: create, validate (with auto-refresh), rotate, invalidate, list,
//! invalidate-all, per-wallet limit, reuse detection, and the wallet's encrypted preferences.
//!
//! The manager records the audit event of everything it does to a session (a sign-in's in the
//! same store call as its session: one atomic step with it, see [`WalletSessions::create`]),
//! so a library caller gets the same audit trail as the HTTP API: every
//! session ended before its time — logout, revocation, eviction, token reuse, strict binding —
//! goes through one private function that deletes it, takes it out of the statistics and
//! audits it.
//!
//! # Tokens
//! A token is `<tag>.<sid>.<secret>`: `tag` is 12 URL-safe characters derived from the wallet
//! (SHA-256 of `chain:address`, first 9 bytes), `sid` the session's public id (22 characters),
//! `secret` 32 random bytes (256 bits) in URL-safe base64. The tag lets the token lead straight
//! to its wallet's keys (one Redis cluster slot) with no cross-slot lookup, and the session id
//! to its session's retired tokens when the token is no longer live; neither is secret. Tokens
//! issued before session ids were part of them (`<tag>.<secret>`) keep working until they
//! expire. The store keeps only the SHA-256 of the whole token (first 16 bytes), never the
//! token.
//!
//! # Rotation and reuse detection
//! `POST /auth/refresh` rotates a session's token. The retired token keeps working for
//! [`ROTATION_GRACE`] (requests in flight; served from the session's current record, never
//! refreshed, never able to rotate); any retired token of a session presented after its grace
//! (a stolen token, or the owner's after a thief rotated it) revokes the whole session. Each
//! session remembers its retired tokens for the grace plus a detection window equal to the
//! session lifetime (a retired token could not have lived longer), in one bounded list: at most
//! [`MAX_RETIRED_TOKENS`] rotations per that window and [`ROTATION_BURST`] per
//! [`ROTATION_BURST_WINDOW`]; beyond that a rotation is refused (`429`), never a retired token
//! forgotten early.
//!
//! # Records
//! A session record holds the wallet, chain id, times, user agent, IP and CSRF token, encoded
//! with postcard and sealed with AES-256-GCM; the storage key is the associated data, so a
//! record cannot be replayed under another key. Binding compares the request's user agent (and
//! IP) with the ones kept in the record.
//!
//! # Hot path
//! Validation is one store read. It writes only when the session enters its refresh window
//! (once, then it is out of the window again), when `lastSeenAt` is older than
//! [`LAST_SEEN_RESOLUTION`], or when its account's roles changed. Roles older than
//! [`ROLES_REFRESH`] come from the directory's per-instance memo (at most one store read per
//! account and period), and are written into the record only when they differ from its own.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::audit::{self, Audit, AuditEvent, AuditKind};
use super::crypto::{ct_eq, hash_b64, random_token, KeyRing};
use super::device::fingerprint;
#[cfg(doc)]
use super::directory::ROLES_REFRESH;
use super::directory::{Directory, Identity, SealedSession};
use crate::clock::{from_unix_ms, unix_ms, Clock};
use crate::config::Binding;
use crate::store::{
    self, AccountId, ActiveMove, Claim, CurrentToken, IndexEntry, Rotated, SessionEntry,
    SessionExtras, SessionId, SessionUpdate, Store, StoreError, TokenHash, WalletTag,
};
use crate::verify::{Chain, WalletType};

/// `lastSeenAt` is written at most this often per session.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::from_secs(60);
/// After a rotation, the old token keeps working this long (in-flight requests).
pub const ROTATION_GRACE: Duration = Duration::from_secs(30);
/// A session rotates at most this many times per grace plus detection window (the session
/// lifetime): every token it retired in that window is remembered.
pub const MAX_RETIRED_TOKENS: usize = 32;
/// A session rotates at most this many times per [`ROTATION_BURST_WINDOW`].
pub const ROTATION_BURST: usize = 5;
/// Window of [`ROTATION_BURST`].
pub const ROTATION_BURST_WINDOW: Duration = Duration::from_secs(60);
/// Length of the wallet tag in a token.
const TAG_LEN: usize = 12;
/// Length of a session id (16 random bytes, base64url), in tokens and records.
const SID_LEN: usize = 22;
/// Length of the random part of a token (32 bytes, base64url).
const SECRET_LEN: usize = 43;
/// Preferences are kept this long after their last write.
pub const PREFERENCES_TTL: Duration = Duration::from_secs(90 * 86_400);
/// Longest user agent kept in a record.
const MAX_USER_AGENT: usize = 256;

/// Lifetimes and limits of wallet sessions: the configuration's, taken as they are.
pub use crate::config::SessionSettings;

/// Where a request comes from, as far as sessions care.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The `User-Agent` header ("" when absent).
    pub user_agent: String,
    /// The client IP as text.
    pub ip: String,
}

/// Why a session operation failed for a reason that is not "no such session".
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The token was presented from another device (or, in strict mode, IP) than it was bound
    /// to. In strict mode the session has been revoked; in device mode it stays valid on its own
    /// device.
    #[error("session used from another device")]
    BindingMismatch,
}

/// The stored session record, encoded with postcard (compact binary: a few bytes of framing
/// instead of JSON's field names) before sealing. Field order is the format: append only.
/// Postcard has no field names and cannot default a missing trailing field, so each older
/// layout is kept as its own type and decoded when the current one does not fit (see
/// [`decode_record`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    /// Session id.
    sid: String,
    chain: Chain,
    addr: String,
    cid: Option<String>,
    /// Created, last seen, expires: Unix ms.
    ca: i64,
    ls: i64,
    ex: i64,
    /// User agent (at most [`MAX_USER_AGENT`] bytes) and IP at sign-in: shown in the session
    /// list, and what the session is bound to.
    ua: String,
    ip: String,
    csrf: String,
    /// Wallet type (added after the first layout: records without it are EOA sessions).
    wt: WalletType,
    /// The account (added with accounts: empty in older records, whose account is found or
    /// created on their next use), its roles, and when they were read (Unix ms).
    acct: String,
    roles: Vec<String>,
    rc: i64,
}

/// The second record layout: [`Record`] before accounts.
#[derive(Debug, Clone, Deserialize)]
struct RecordV2 {
    sid: String,
    chain: Chain,
    addr: String,
    cid: Option<String>,
    ca: i64,
    ls: i64,
    ex: i64,
    ua: String,
    ip: String,
    csrf: String,
    wt: WalletType,
}

/// The first record layout: [`Record`] without `wt`. Records written before wallet types
/// existed are EOA sessions.
#[derive(Debug, Clone, Deserialize)]
struct RecordV1 {
    sid: String,
    chain: Chain,
    addr: String,
    cid: Option<String>,
    ca: i64,
    ls: i64,
    ex: i64,
    ua: String,
    ip: String,
    csrf: String,
}

/// Decodes a record of the current layout or of an older one. A current record is always
/// longer than its older form (it has more fields), and postcard refuses input that ends
/// before the last field, so the current layout is tried first.
impl Record {
    /// The session's id, as the store names it.
    fn session_id(&self) -> SessionId {
        SessionId::new(self.sid.as_str())
    }
}

fn decode_record(plain: &[u8]) -> Option<Record> {
    if let Ok(r) = postcard::from_bytes::<Record>(plain) {
        return Some(r);
    }
    let v2 = match postcard::from_bytes::<RecordV2>(plain) {
        Ok(v2) => v2,
        Err(_) => {
            let v1: RecordV1 = postcard::from_bytes(plain).ok()?;
            RecordV2 {
                sid: v1.sid,
                chain: v1.chain,
                addr: v1.addr,
                cid: v1.cid,
                ca: v1.ca,
                ls: v1.ls,
                ex: v1.ex,
                ua: v1.ua,
                ip: v1.ip,
                csrf: v1.csrf,
                wt: WalletType::Eoa,
            }
        }
    };
    Some(Record {
        sid: v2.sid,
        chain: v2.chain,
        addr: v2.addr,
        cid: v2.cid,
        ca: v2.ca,
        ls: v2.ls,
        ex: v2.ex,
        ua: v2.ua,
        ip: v2.ip,
        csrf: v2.csrf,
        wt: v2.wt,
        acct: String::new(),
        roles: Vec::new(),
        rc: 0,
    })
}

/// A wallet session as shown to its owner (never with its token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Public session id.
    pub session_id: String,
    /// Chain of the wallet.
    pub chain: Chain,
    /// Wallet address (EIP-55 or base58).
    pub address: String,
    /// Chain id from the signed message.
    pub chain_id: Option<String>,
    /// How the wallet signed in: EOA or smart-contract wallet.
    pub wallet_type: WalletType,
    /// Sign-in time.
    pub created_at: OffsetDateTime,
    /// Last use, accurate to [`LAST_SEEN_RESOLUTION`].
    pub last_seen_at: OffsetDateTime,
    /// Expiry.
    pub expires_at: OffsetDateTime,
    /// `expires_at` − refresh window.
    pub refresh_after: OffsetDateTime,
    /// CSRF token for cookie-authenticated unsafe requests.
    pub csrf_token: String,
    /// User agent at sign-in.
    pub user_agent: String,
    /// Client IP at sign-in.
    pub ip: String,
    /// The account the session belongs to.
    pub account_id: AccountId,
    /// The account's roles, as last read (at most [`ROLES_REFRESH`] ago).
    pub roles: Vec<String>,
}

/// A request authenticated by a wallet session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The session.
    pub info: SessionInfo,
    /// The wallet tag.
    pub tag: WalletTag,
    /// Hash of the session's current token (the record's key).
    pub token_hash: TokenHash,
    /// Whether the token presented is the session's current one (not a rotated token still
    /// inside its grace period). Only the current token may rotate.
    pub current: bool,
}

/// Result of rotating a session's token.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per request, never stored
pub enum RotateOutcome {
    /// Rotated: the new token (shown once) and the session.
    Rotated(String, SessionInfo),
    /// The token presented is not (or no longer) the session's current one: nothing changed.
    NotCurrent,
    /// The session rotated too often: nothing changed; retry after this long.
    Limited(Duration),
}

/// Result of validating a token.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per request, never stored
pub enum Validation {
    /// A live session.
    Valid(Authenticated),
    /// A live session that this request extended: its expiry moved (a cookie carrying the token
    /// is to be renewed).
    Refreshed(Authenticated),
    /// No live session for that token.
    Invalid(InvalidReason),
}

/// Why a token opens no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    /// Not the shape of a token.
    Malformed,
    /// No such session: never issued, ended, or its record unreadable.
    Unknown,
    /// The session has expired.
    Expired,
    /// A token retired by a rotation, presented after its grace: the session has been ended
    /// (and the reuse audited).
    Replayed,
}

/// The wallet session manager.
#[derive(Clone)]
pub struct WalletSessions {
    store: Arc<dyn Store>,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
    audit: Audit,
    directory: Directory,
}

impl std::fmt::Debug for WalletSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletSessions")
            .field("store", &self.store.kind())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

pub use super::crypto::wallet_tag;

/// Splits a token into its wallet tag and (when it names one) its session id, checking its
/// shape; `None` for anything malformed.
fn token_parts(token: &str) -> Option<(&str, Option<&str>)> {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let mut parts = token.split('.');
    let (tag, second, third) = (parts.next()?, parts.next()?, parts.next());
    if parts.next().is_some() || !ok(tag, TAG_LEN) {
        return None;
    }
    match third {
        // A token issued before tokens named their session.
        None => ok(second, SECRET_LEN).then_some((tag, None)),
        Some(secret) => {
            (ok(second, SID_LEN) && ok(secret, SECRET_LEN)).then_some((tag, Some(second)))
        }
    }
}

/// A new token of the session `sid` of the wallet `tag`.
fn new_token(tag: &WalletTag, sid: &str) -> String {
    format!("{tag}.{sid}.{}", random_token(32))
}

fn token_hash(token: &str) -> TokenHash {
    TokenHash::new(hash_b64(token.as_bytes(), 16))
}

/// What a presented token says before the store is asked: its wallet tag, the session it names
/// (tokens issued before tokens named their session name none), and its storage hash; `None`
/// when it is malformed.
fn read_token(token: &str) -> Option<(WalletTag, Option<SessionId>, TokenHash)> {
    let (tag, named_sid) = token_parts(token)?;
    Some((
        WalletTag::new(tag),
        named_sid.map(SessionId::new),
        token_hash(token),
    ))
}

/// The user agent as kept in a record: at most [`MAX_USER_AGENT`] bytes, cut at a character
/// boundary.
fn stored_user_agent(ua: &str) -> &str {
    let mut cut = ua.len().min(MAX_USER_AGENT);
    while !ua.is_char_boundary(cut) {
        cut -= 1;
    }
    &ua[..cut]
}

/// What a session is bound to, as a digest of fixed length compared in constant time: the
/// coarse device fingerprint of the user agent (browser family and system, see
/// [`super::device`]), and in strict mode the client IP. The fingerprint is computed from the
/// user agent as a record keeps it, so records written before fingerprints existed bind the
/// same way.
fn binding_of(binding: Binding, user_agent: &str, ip: &str) -> [u8; 32] {
    if binding == Binding::Strict && ip.parse::<std::net::IpAddr>().is_err() {
        // No known client address (`unknown` behind a proxy that wrote none, or no socket
        // address): strict binding cannot hold, so it matches nothing, not even itself.
        let mut never = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut never);
        return never;
    }
    let device = || fingerprint(stored_user_agent(user_agent));
    let text = match binding {
        Binding::Off => String::new(),
        Binding::Device => format!("device\0{}", device()),
        Binding::Strict => format!("device\0{}\0ip\0{ip}", device()),
    };
    Sha256::digest(text.as_bytes()).into()
}

fn ttl_until(now_ms: i64, until_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(until_ms - now_ms).unwrap_or(0).max(1))
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl WalletSessions {
    /// A manager over `store`.
    #[must_use]
    pub fn new(
        store: Arc<dyn Store>,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        settings: SessionSettings,
        audit: Audit,
        directory: Directory,
    ) -> Self {
        WalletSessions {
            store,
            keys,
            clock,
            settings,
            audit,
            directory,
        }
    }

    /// The accounts the sessions belong to.
    #[must_use]
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn aad(tag: &WalletTag, hash: &TokenHash) -> Vec<u8> {
        format!("s:{tag}:{hash}").into_bytes()
    }

    fn seal(&self, tag: &WalletTag, hash: &TokenHash, r: &Record) -> Vec<u8> {
        // Serializing a plain struct of strings and integers cannot fail.
        let plain = postcard::to_allocvec(r).unwrap_or_default();
        self.keys.seal(&plain, &Self::aad(tag, hash))
    }

    fn open(&self, tag: &WalletTag, hash: &TokenHash, sealed: &[u8]) -> Option<Record> {
        let plain = self.keys.open(sealed, &Self::aad(tag, hash))?;
        decode_record(&plain)
    }

    fn info(&self, r: &Record) -> SessionInfo {
        let expires_at = from_unix_ms(r.ex);
        SessionInfo {
            session_id: r.sid.clone(),
            chain: r.chain,
            address: r.addr.clone(),
            chain_id: r.cid.clone(),
            wallet_type: r.wt,
            created_at: from_unix_ms(r.ca),
            last_seen_at: from_unix_ms(r.ls),
            expires_at,
            refresh_after: expires_at - self.settings.refresh_window,
            csrf_token: r.csrf.clone(),
            user_agent: r.ua.clone(),
            ip: r.ip.clone(),
            account_id: AccountId::new(r.acct.as_str()),
            roles: r.roles.clone(),
        }
    }

    /// Opens a session for a wallet that just signed in, and records the sign-in (audit event,
    /// counter, active-session statistics) in the same store call. Returns the token (shown
    /// once) and the session; the sessions evicted by the per-wallet limit are ended and
    /// audited.
    ///
    /// # Errors
    /// The store failed; nothing was created.
    pub async fn create(
        &self,
        chain: Chain,
        address: &str,
        chain_id: Option<String>,
        wallet_type: WalletType,
        ctx: &RequestContext,
    ) -> Result<(String, SessionInfo), StoreError> {
        self.create_with_claim(chain, address, chain_id, wallet_type, ctx, None)
            .await
    }

    /// [`Self::create`], given the wallet's claim when the caller has just read it (`None`:
    /// read it here).
    #[tracing::instrument(skip_all, fields(chain = %chain))]
    pub(crate) async fn create_with_claim(
        &self,
        chain: Chain,
        address: &str,
        chain_id: Option<String>,
        wallet_type: WalletType,
        ctx: &RequestContext,
        known: Option<Option<Claim>>,
    ) -> Result<(String, SessionInfo), StoreError> {
        let now_t = self.clock.now();
        let now = unix_ms(now_t);
        let tag = wallet_tag(chain, address);
        let sid = random_token(16);
        let token = new_token(&tag, &sid);
        let hash = token_hash(&token);
        let ex = now + dur_ms(self.settings.ttl);
        let event = AuditEvent::new(AuditKind::SignIn, now_t)
            .wallet(chain, address)
            .session(&sid)
            .ip(&ctx.ip);
        let mut record = Record {
            sid,
            chain,
            addr: address.to_owned(),
            cid: chain_id,
            ca: now,
            ls: now,
            ex,
            ua: stored_user_agent(&ctx.user_agent).to_owned(),
            ip: ctx.ip.clone(),
            csrf: random_token(24),
            wt: wallet_type,
            acct: String::new(),
            roles: Vec::new(),
            rc: now,
        };
        let stored = audit::activity_appends(&event, &tag);
        let appends = stored.targets();
        let extras = SessionExtras {
            active: Some((
                chain.as_str(),
                ActiveMove {
                    from_ms: None,
                    to_ms: Some(ex),
                },
            )),
            count: audit::counter_of(AuditKind::SignIn),
            audit: &appends,
            now_ms: now,
        };
        let (account, roles, evicted) = self
            .directory
            .open_session(
                &Identity::wallet(chain, address),
                self.settings.max_per_wallet,
                |account, roles| {
                    let mut r = record.clone();
                    r.acct = account.as_str().to_owned();
                    r.roles.clone_from(&roles.roles);
                    r.rc = unix_ms(roles.read_at);
                    SealedSession {
                        session_id: r.session_id(),
                        token_hash: hash.clone(),
                        created_ms: now,
                        record: self.seal(&tag, &hash, &r),
                        ttl: self.settings.ttl,
                    }
                },
                extras,
                known,
            )
            .await?;
        audit::trace(&event);
        record.acct = account.into_string();
        record.roles = roles;
        for ended in &evicted {
            let event = AuditEvent::new(AuditKind::Eviction, self.clock.now())
                .wallet(chain, address)
                .session(ended.0.session_id.as_str());
            self.ended(&tag, chain, ended, Some(event)).await;
        }
        Ok((token, self.info(&record)))
    }

    /// Ends the session `session_id` of the wallet `tag` (see [`Self::ended`]); whether it
    /// existed. The one way a session ends before its time, whoever ends it.
    async fn end(
        &self,
        tag: &WalletTag,
        chain: Chain,
        session_id: &SessionId,
        event: AuditEvent,
    ) -> Result<bool, StoreError> {
        let Some(ended) = self.store.delete_session(tag, session_id).await? else {
            return Ok(false);
        };
        self.ended(tag, chain, &ended, Some(event)).await;
        Ok(true)
    }

    /// What follows the deletion of a session of the wallet `tag`: it leaves the statistics,
    /// and `event` (if any) goes to the audit trail.
    async fn ended(
        &self,
        tag: &WalletTag,
        chain: Chain,
        (entry, sealed): &(IndexEntry, Vec<u8>),
        event: Option<AuditEvent>,
    ) {
        let expiry = self.open(tag, &entry.token_hash, sealed).map(|r| r.ex);
        self.track(chain, expiry, None).await;
        if let Some(event) = event {
            self.audit.record(event).await;
        }
    }

    /// Statistics are best effort: a failure to record them never fails a request.
    /// `from`/`to`: the session's expiry before and after (`None`: did not exist / ended).
    async fn track(&self, chain: Chain, from: Option<i64>, to: Option<i64>) {
        let now = unix_ms(self.clock.now());
        let moved = ActiveMove {
            from_ms: from,
            to_ms: to,
        };
        if let Err(e) = self.store.track_active(chain.as_str(), moved, now).await {
            tracing::warn!(error = %e, "could not update the active-session statistics");
        }
    }

    /// Validates a token presented with a request: reads its session, refuses it when it is
    /// expired or presented from another device, serves a retired token during its grace (and
    /// ends its session after it), and keeps a live session alive (see [`Self::keep_alive`]).
    ///
    /// # Errors
    /// The store failed, or the token was presented from another device than it is bound to
    /// (in strict mode the session is then revoked).
    #[tracing::instrument(skip_all)]
    pub async fn validate(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<Validation, SessionError> {
        let Some((tag, named_sid, hash)) = read_token(token) else {
            return Ok(Validation::Invalid(InvalidReason::Malformed));
        };
        let tag = &tag;
        let now = self.clock.now();
        let record = match self
            .store
            .get_session(tag, &hash, named_sid.as_ref())
            .await?
        {
            None => return Ok(Validation::Invalid(InvalidReason::Unknown)),
            Some(SessionEntry::Live(sealed)) => match self.open(tag, &hash, &sealed) {
                Some(r) if named_sid.as_ref().is_none_or(|sid| sid.as_str() == r.sid) => r,
                _ => return Ok(Validation::Invalid(InvalidReason::Unknown)),
            },
            Some(SessionEntry::Retired {
                session_id,
                at_ms,
                current,
            }) => {
                let current = current.and_then(|CurrentToken { token_hash, record }| {
                    self.open(tag, &token_hash, &record)
                        .filter(|r| r.sid == session_id.as_str())
                        .map(|r| (token_hash, r))
                });
                return self.validate_retired(tag, at_ms, current, ctx, now).await;
            }
        };
        if record.ex <= unix_ms(now) {
            return Ok(Validation::Invalid(InvalidReason::Expired));
        }
        self.check_binding(tag, &record, ctx).await?;
        self.keep_alive(tag, hash, record, now).await
    }

    /// A token that a rotation retired at `at_ms`, of the session whose current token and record
    /// are `current` (`None`: the session is gone, nothing left to protect). Inside its grace it
    /// is served from the current record (an in-flight request: never refreshed, never able to
    /// rotate); after it — whichever rotation retired it — it was stolen, or the client is
    /// broken: either way the session can no longer be trusted, and ends.
    async fn validate_retired(
        &self,
        tag: &WalletTag,
        at_ms: i64,
        current: Option<(TokenHash, Record)>,
        ctx: &RequestContext,
        now_t: OffsetDateTime,
    ) -> Result<Validation, SessionError> {
        let Some((current_hash, r)) = current else {
            return Ok(Validation::Invalid(InvalidReason::Unknown));
        };
        let now = unix_ms(now_t);
        if now - at_ms <= dur_ms(ROTATION_GRACE) {
            if r.ex <= now {
                return Ok(Validation::Invalid(InvalidReason::Expired));
            }
            self.check_binding(tag, &r, ctx).await?;
            return Ok(Validation::Valid(Authenticated {
                info: self.info(&r),
                tag: tag.clone(),
                token_hash: current_hash,
                current: false,
            }));
        }
        let event = AuditEvent::new(AuditKind::TokenReuse, now_t)
            .wallet(r.chain, &r.addr)
            .session(&r.sid)
            .ip(&ctx.ip);
        self.end(tag, r.chain, &r.session_id(), event).await?;
        Ok(Validation::Invalid(InvalidReason::Replayed))
    }

    /// Keeps a live session presented with its current token alive: extends it when it is in
    /// its refresh window ([`Validation::Refreshed`], audited), else writes `lastSeenAt` when
    /// it is older than [`LAST_SEEN_RESOLUTION`]; brings its roles up to date (see
    /// [`Self::reread_account`]), writing the record for them only when they changed. A
    /// validation that changes nothing writes nothing.
    async fn keep_alive(
        &self,
        tag: &WalletTag,
        hash: TokenHash,
        mut record: Record,
        now_t: OffsetDateTime,
    ) -> Result<Validation, SessionError> {
        let now = unix_ms(now_t);
        let extension = self.extension(&record, now);
        let last_seen_due = now - record.ls >= dur_ms(LAST_SEEN_RESOLUTION);
        let writing = extension.is_some() || last_seen_due;
        let changed = self.reread_account(&mut record, now_t, writing).await?;
        let refreshed = match extension {
            Some(new_ex) => self.extend(tag, &hash, &mut record, new_ex, now_t).await?,
            None => false,
        };
        if !refreshed && (changed || last_seen_due) {
            record.ls = now;
            let sealed = self.seal(tag, &hash, &record);
            self.store
                .update_session(
                    tag,
                    SessionUpdate {
                        token_hash: &hash,
                        record: &sealed,
                        ttl: None,
                    },
                )
                .await?;
        }
        let auth = Authenticated {
            info: self.info(&record),
            tag: tag.clone(),
            token_hash: hash,
            current: true,
        };
        Ok(if refreshed {
            Validation::Refreshed(auth)
        } else {
            Validation::Valid(auth)
        })
    }

    /// Brings the account and roles of `record` up to date (a record written before accounts
    /// gets its account, created on this first use when the wallet has none): the roles are
    /// taken from the directory (its memo, else the store) when they are [`ROLES_REFRESH`] old
    /// or changed on this instance since they were read, and from its memo when the record is
    /// `writing` anyway and the memo's are newer; `rc` says when whatever roles the record
    /// holds were read. Whether the record changed and is to be written for it.
    async fn reread_account(
        &self,
        record: &mut Record,
        now_t: OffsetDateTime,
        writing: bool,
    ) -> Result<bool, StoreError> {
        let mut changed = false;
        if record.acct.is_empty() {
            let identity = Identity::wallet(record.chain, &record.addr);
            record.acct = self.directory.account_for(&identity).await?.into_string();
            changed = true;
        }
        let roles_changed = self
            .directory
            .refresh_roles(
                &record.acct,
                &mut record.roles,
                &mut record.rc,
                now_t,
                writing,
            )
            .await?;
        Ok(changed || roles_changed)
    }

    /// The expiry `record` gets when it is in its refresh window at `now` (Unix ms): a
    /// lifetime from now, within its cap since sign-in; `None` when it is not in its window or
    /// has reached its cap.
    fn extension(&self, record: &Record, now: i64) -> Option<i64> {
        if now < record.ex - dur_ms(self.settings.refresh_window) {
            return None;
        }
        let cap = record.ca + dur_ms(self.settings.max_lifetime);
        let new_ex = (now + dur_ms(self.settings.ttl)).min(cap);
        (new_ex > record.ex).then_some(new_ex)
    }

    /// Extends `record` (stored under `hash`) to `new_ex` (see [`Self::extension`]); whether
    /// the store took the extension.
    async fn extend(
        &self,
        tag: &WalletTag,
        hash: &TokenHash,
        record: &mut Record,
        new_ex: i64,
        now_t: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let now = unix_ms(now_t);
        let old_ex = record.ex;
        record.ex = new_ex;
        record.ls = now;
        let sealed = self.seal(tag, hash, record);
        if !self
            .store
            .update_session(
                tag,
                SessionUpdate {
                    token_hash: hash,
                    record: &sealed,
                    ttl: Some(ttl_until(now, new_ex)),
                },
            )
            .await?
        {
            // Ended meanwhile: nothing to extend (and `lastSeenAt` is not written either).
            return Ok(false);
        }
        self.track(record.chain, Some(old_ex), Some(new_ex)).await;
        self.audit
            .record(
                AuditEvent::new(AuditKind::Refresh, now_t)
                    .wallet(record.chain, &record.addr)
                    .session(&record.sid),
            )
            .await;
        Ok(true)
    }

    /// Checks the request against what the session is bound to. On a mismatch the request is
    /// refused and audited; with [`Binding::Strict`] the session is also revoked, with
    /// [`Binding::Device`] it stays valid on its own device (a token forwarded by a server, or
    /// replayed from elsewhere, must not log the owner out).
    async fn check_binding(
        &self,
        tag: &WalletTag,
        record: &Record,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        let binding = self.settings.binding;
        let bound = binding_of(binding, &record.ua, &record.ip);
        let presented = binding_of(binding, &ctx.user_agent, &ctx.ip);
        if ct_eq(&presented, &bound) {
            return Ok(());
        }
        let same_device = ct_eq(
            &binding_of(Binding::Device, &ctx.user_agent, ""),
            &binding_of(Binding::Device, &record.ua, ""),
        );
        let event = AuditEvent::new(AuditKind::BindingMismatch, self.clock.now())
            .wallet(record.chain, &record.addr)
            .session(&record.sid)
            .code(if same_device {
                "ip_mismatch"
            } else {
                "device_mismatch"
            })
            .device(&fingerprint(stored_user_agent(&ctx.user_agent)))
            .ip(&ctx.ip);
        if binding == Binding::Strict {
            // Audited when this request ended the session (a concurrent one may have).
            self.end(tag, record.chain, &record.session_id(), event.count(1))
                .await?;
        } else {
            self.audit.record(event).await;
        }
        Err(SessionError::BindingMismatch)
    }

    /// Rotates the token of an authenticated session: a new token with a fresh expiry; the old
    /// one works for [`ROTATION_GRACE`] more, and is treated as stolen after that (until the
    /// session's lifetime has passed once more). [`RotateOutcome::NotCurrent`] when the session was
    /// rotated or ended meanwhile, or when the request came with a rotated token inside its grace
    /// (of concurrent rotations of one token, exactly one wins); [`RotateOutcome::Limited`] when the
    /// session rotated too often (see [`MAX_RETIRED_TOKENS`], [`ROTATION_BURST`]).
    ///
    /// # Errors
    /// The store failed; nothing changed.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(&self, auth: &Authenticated) -> Result<RotateOutcome, StoreError> {
        if !auth.current {
            return Ok(RotateOutcome::NotCurrent);
        }
        let now_t = self.clock.now();
        let now = unix_ms(now_t);
        let Some(SessionEntry::Live(sealed)) = self
            .store
            .get_session(
                &auth.tag,
                &auth.token_hash,
                Some(&SessionId::new(auth.info.session_id.as_str())),
            )
            .await?
        else {
            return Ok(RotateOutcome::NotCurrent);
        };
        let Some(mut record) = self.open(&auth.tag, &auth.token_hash, &sealed) else {
            return Ok(RotateOutcome::NotCurrent);
        };
        let cap = record.ca + dur_ms(self.settings.max_lifetime);
        let old_ex = record.ex;
        record.ex = (now + dur_ms(self.settings.ttl)).min(cap);
        record.ls = now;
        if record.ex <= now {
            return Ok(RotateOutcome::NotCurrent);
        }
        let token = new_token(&auth.tag, &record.sid);
        let new_hash = token_hash(&token);
        let sealed = self.seal(&auth.tag, &new_hash, &record);
        let outcome = self
            .store
            .rotate_session(
                &auth.tag,
                store::Rotation {
                    session_id: &record.session_id(),
                    old_hash: &auth.token_hash,
                    new_hash: &new_hash,
                    record: &sealed,
                    ttl: ttl_until(now, record.ex),
                    // A retired token could have lived one lifetime more: it is watched that long.
                    retain: ROTATION_GRACE.saturating_add(self.settings.ttl),
                    max_retired: MAX_RETIRED_TOKENS,
                    burst: ROTATION_BURST,
                    burst_window: ROTATION_BURST_WINDOW,
                    now_ms: now,
                },
            )
            .await?;
        match outcome {
            Rotated::Done => {}
            Rotated::NotCurrent => return Ok(RotateOutcome::NotCurrent),
            Rotated::Limited { retry_after } => return Ok(RotateOutcome::Limited(retry_after)),
        }
        self.track(record.chain, Some(old_ex), Some(record.ex))
            .await;
        self.audit
            .record(
                AuditEvent::new(AuditKind::Rotation, now_t)
                    .wallet(record.chain, &record.addr)
                    .session(&record.sid),
            )
            .await;
        Ok(RotateOutcome::Rotated(token, self.info(&record)))
    }

    /// Ends the session of `auth` at its owner's request (logout); whether it still existed.
    /// Audited as [`AuditKind::Logout`].
    ///
    /// # Errors
    /// The store failed.
    pub async fn logout(&self, auth: &Authenticated) -> Result<bool, StoreError> {
        let s = &auth.info;
        let event = AuditEvent::new(AuditKind::Logout, self.clock.now())
            .wallet(s.chain, &s.address)
            .session(&s.session_id);
        self.end(
            &auth.tag,
            s.chain,
            &SessionId::new(s.session_id.as_str()),
            event,
        )
        .await
    }

    /// Ends one session of the wallet (`chain`, `address`) by id; whether it existed. Audited
    /// as [`AuditKind::Revoke`].
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke(
        &self,
        chain: Chain,
        address: &str,
        session_id: &str,
    ) -> Result<bool, StoreError> {
        let event = AuditEvent::new(AuditKind::Revoke, self.clock.now())
            .wallet(chain, address)
            .session(session_id);
        self.end(
            &wallet_tag(chain, address),
            chain,
            &SessionId::new(session_id),
            event,
        )
        .await
    }

    /// Ends every session of the wallet of `auth` at its owner's request, everywhere; how many
    /// there were. Audited as [`AuditKind::LogoutAll`].
    ///
    /// # Errors
    /// The store failed.
    pub async fn logout_all(&self, auth: &Authenticated) -> Result<usize, StoreError> {
        let s = &auth.info;
        let n = self.end_all(s.chain, &s.address).await?;
        self.audit
            .record(
                AuditEvent::new(AuditKind::LogoutAll, self.clock.now())
                    .wallet(s.chain, &s.address)
                    .session(&s.session_id)
                    .count(n),
            )
            .await;
        Ok(n)
    }

    /// Ends every session of a wallet, everywhere, by an operator's decision (not the
    /// owner's); how many there were. Audited as [`AuditKind::ForcedLogout`].
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke_all(&self, chain: Chain, address: &str) -> Result<usize, StoreError> {
        let n = self.end_all(chain, address).await?;
        self.audit
            .record(
                AuditEvent::new(AuditKind::ForcedLogout, self.clock.now())
                    .wallet(chain, address)
                    .count(n),
            )
            .await;
        Ok(n)
    }

    /// Ends every session of a wallet (for an account-wide logout, which audits the whole);
    /// how many there were.
    ///
    /// # Errors
    /// The store failed.
    pub async fn end_all_of(&self, chain: Chain, address: &str) -> Result<usize, StoreError> {
        self.end_all(chain, address).await
    }

    /// Sessions of the wallet `tag` deleted by another step (a claim moved with its sessions)
    /// leave the statistics.
    pub(crate) async fn forget(
        &self,
        tag: &WalletTag,
        chain: Chain,
        ended: &[(IndexEntry, Vec<u8>)],
    ) {
        for e in ended {
            self.ended(tag, chain, e, None).await;
        }
    }

    /// Ends every session of a wallet; how many there were. The caller audits the whole.
    async fn end_all(&self, chain: Chain, address: &str) -> Result<usize, StoreError> {
        let tag = wallet_tag(chain, address);
        let deleted = self.store.delete_wallet_sessions(&tag).await?;
        for ended in &deleted {
            self.ended(&tag, chain, ended, None).await;
        }
        Ok(deleted.len())
    }

    /// The live sessions of the wallet `tag`, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn list(&self, tag: &WalletTag) -> Result<Vec<SessionInfo>, StoreError> {
        let now = unix_ms(self.clock.now());
        Ok(self
            .store
            .list_sessions(tag)
            .await?
            .into_iter()
            .filter_map(|(e, sealed): (IndexEntry, Vec<u8>)| self.open(tag, &e.token_hash, &sealed))
            .filter(|r| r.ex > now)
            .map(|r| self.info(&r))
            .collect())
    }

    fn prefs_key(tag: &WalletTag) -> String {
        format!("prefs:{tag}")
    }

    /// The wallet's preferences (`{}` when none were saved).
    ///
    /// # Errors
    /// The store failed.
    pub async fn preferences(&self, tag: &WalletTag) -> Result<serde_json::Value, StoreError> {
        let key = Self::prefs_key(tag);
        let Some(sealed) = self.store.get(&key).await? else {
            return Ok(serde_json::json!({}));
        };
        Ok(self
            .keys
            .open(&sealed, key.as_bytes())
            .and_then(|p| serde_json::from_slice(&p).ok())
            .unwrap_or_else(|| serde_json::json!({})))
    }

    /// Saves the wallet's preferences, encrypted, for [`PREFERENCES_TTL`] after this write.
    ///
    /// # Errors
    /// The store failed.
    pub async fn set_preferences(
        &self,
        tag: &WalletTag,
        value: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let key = Self::prefs_key(tag);
        let plain = serde_json::to_vec(value).unwrap_or_default();
        let sealed = self.keys.seal(&plain, key.as_bytes());
        self.store.set(&key, &sealed, Some(PREFERENCES_TTL)).await
    }

    /// Active sessions of `chain` now (statistics).
    ///
    /// # Errors
    /// The store failed.
    pub async fn count_active(&self, chain: Chain) -> Result<u64, StoreError> {
        self.store
            .count_active(chain.as_str(), unix_ms(self.clock.now()))
            .await
    }
}

/// The steps of [`WalletSessions::validate`] one at a time, so that the benchmarks
/// (benches/validation.rs) time each step alone on the crate's own code. Hidden from the docs:
/// not part of the API, and nothing in the crate calls it.
#[doc(hidden)]
pub mod steps {
    use super::{SessionId, TokenHash, WalletSessions, WalletTag};

    /// Reads a token and hashes it (see `read_token`).
    #[must_use]
    pub fn read_token(token: &str) -> Option<(WalletTag, Option<SessionId>, TokenHash)> {
        super::read_token(token)
    }

    /// Decrypts and decodes a stored record as `validate` does; whether it opened.
    #[must_use]
    pub fn open_record(
        sessions: &WalletSessions,
        tag: &WalletTag,
        hash: &TokenHash,
        sealed: &[u8],
    ) -> bool {
        sessions.open(tag, hash, sealed).is_some()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_shape() {
        let tag = wallet_tag(Chain::Ethereum, "0xabc");
        assert_eq!(tag.as_str().len(), TAG_LEN);
        let sid = random_token(16);
        assert_eq!(sid.len(), SID_LEN);
        let token = new_token(&tag, &sid);
        assert_eq!(
            token_parts(&token),
            Some((tag.as_str(), Some(sid.as_str())))
        );
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        // Tokens issued before tokens named their session.
        let old = format!("{tag}.{}", random_token(32));
        assert_eq!(token_parts(&old), Some((tag.as_str(), None)));
        assert_eq!(token_parts("nodot"), None);
        assert_eq!(token_parts(&format!("{tag}.short")), None);
        assert_eq!(token_parts(&format!("{tag}x.{}", random_token(32))), None);
        assert_eq!(
            token_parts(&format!("{tag}.{}!", &random_token(32)[1..])),
            None
        );
        assert_eq!(token_parts(&format!("{token}.x")), None);
        assert_eq!(
            token_parts(&format!("{tag}.{sid}x.{}", random_token(32))),
            None
        );
        assert_eq!(
            token_parts(&format!("{tag}.{sid}.{}", random_token(31))),
            None
        );
        assert_eq!(token_parts(&format!("{tag}..{}", random_token(32))), None);
    }

    #[test]
    fn tags_differ_by_chain_and_address() {
        assert_ne!(
            wallet_tag(Chain::Ethereum, "A"),
            wallet_tag(Chain::Solana, "A")
        );
        assert_ne!(
            wallet_tag(Chain::Ethereum, "A"),
            wallet_tag(Chain::Ethereum, "B")
        );
    }

    #[test]
    fn bindings() {
        const CHROME_120: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        const CHROME_131: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36";
        const FIREFOX: &str =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        // Off binds nothing.
        assert_eq!(
            binding_of(Binding::Off, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Off, FIREFOX, "2.2.2.2")
        );
        // Device: the browser family and system, not the version nor the IP.
        assert_eq!(
            binding_of(Binding::Device, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Device, CHROME_131, "2.2.2.2")
        );
        assert_ne!(
            binding_of(Binding::Device, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Device, FIREFOX, "1.1.1.1")
        );
        // An empty user agent matches no browser, and no other client.
        for ua in [CHROME_120, FIREFOX, "curl/8.4.0"] {
            assert_ne!(
                binding_of(Binding::Device, "", ""),
                binding_of(Binding::Device, ua, "")
            );
        }
        // Strict: the fingerprint and the IP.
        assert_eq!(
            binding_of(Binding::Strict, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Strict, CHROME_131, "1.1.1.1")
        );
        assert_ne!(
            binding_of(Binding::Strict, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Strict, CHROME_120, "2.2.2.2")
        );
        assert_ne!(
            binding_of(Binding::Strict, CHROME_120, "1.1.1.1"),
            binding_of(Binding::Strict, FIREFOX, "1.1.1.1")
        );
        // A long user agent binds by what the record keeps of it.
        let long = format!("{CHROME_120} {}", "é".repeat(300));
        let kept = stored_user_agent(&long);
        assert!(kept.len() <= MAX_USER_AGENT && long.starts_with(kept));
        assert_eq!(
            binding_of(Binding::Device, &long, ""),
            binding_of(Binding::Device, kept, "")
        );
    }

    #[test]
    fn strict_binding_never_holds_without_a_client_address() {
        let ua = "Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0";
        assert_eq!(
            binding_of(Binding::Strict, ua, "203.0.113.9"),
            binding_of(Binding::Strict, ua, "203.0.113.9")
        );
        for ip in ["unknown", "", "203.0.113.9:80"] {
            assert_ne!(
                binding_of(Binding::Strict, ua, ip),
                binding_of(Binding::Strict, ua, ip),
                "{ip:?}"
            );
        }
        assert_eq!(
            binding_of(Binding::Device, ua, "unknown"),
            binding_of(Binding::Device, ua, "unknown")
        );
    }

    #[test]
    fn record_is_compact() {
        let r = Record {
            sid: random_token(16),
            chain: Chain::Ethereum,
            addr: "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f".into(),
            cid: Some("1".into()),
            ca: 1_795_000_000_000,
            ls: 1_795_000_000_000,
            ex: 1_795_007_200_000,
            ua: "Mozilla/5.0".into(),
            ip: "203.0.113.7".into(),
            csrf: random_token(24),
            wt: WalletType::Contract,
            acct: random_token(16),
            roles: vec!["admin".into()],
            rc: 1_795_000_000_000,
        };
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert!(bytes.len() < 200, "{} bytes", bytes.len());
        let back: Record = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.addr, r.addr);
        assert_eq!(back.ex, r.ex);
        assert!(postcard::from_bytes::<Record>(&bytes[..bytes.len() - 3]).is_err());
        assert_eq!(decode_record(&bytes).unwrap().wt, WalletType::Contract);
    }

    /// The first layout, as it was written before wallet types existed.
    #[derive(Serialize)]
    struct WrittenV1<'a> {
        sid: &'a str,
        chain: Chain,
        addr: &'a str,
        cid: Option<&'a str>,
        ca: i64,
        ls: i64,
        ex: i64,
        ua: &'a str,
        ip: &'a str,
        csrf: &'a str,
    }

    #[test]
    fn records_without_a_wallet_type_are_eoa_sessions() {
        let old = WrittenV1 {
            sid: "sid-0123456789abcdef",
            chain: Chain::Ethereum,
            addr: "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            cid: Some("1"),
            ca: 1_795_000_000_000,
            ls: 1_795_000_060_000,
            ex: 1_795_007_200_000,
            ua: "Mozilla/5.0",
            ip: "203.0.113.7",
            csrf: "csrf-token-0123456789",
        };
        let bytes = postcard::to_allocvec(&old).unwrap();
        // The current layout alone cannot read it: postcard has no defaults.
        assert!(postcard::from_bytes::<Record>(&bytes).is_err());
        let r = decode_record(&bytes).unwrap();
        assert_eq!(r.wt, WalletType::Eoa);
        assert_eq!(
            (
                r.sid.as_str(),
                r.addr.as_str(),
                r.cid.as_deref(),
                r.ls,
                r.ex
            ),
            (old.sid, old.addr, old.cid, old.ls, old.ex)
        );
        assert_eq!(
            (r.ua.as_str(), r.ip.as_str(), r.csrf.as_str()),
            (old.ua, old.ip, old.csrf)
        );
        assert!(r.acct.is_empty(), "its account is found on first use");
        // Written back, it is a current record that keeps its type (and, empty, the account
        // fields: one byte each).
        let again = postcard::to_allocvec(&r).unwrap();
        assert_eq!(again.len(), bytes.len() + 4);
        assert_eq!(decode_record(&again).unwrap().wt, WalletType::Eoa);
        // A truncated record is still refused, whatever the layout.
        assert!(decode_record(&bytes[..bytes.len() - 1]).is_none());
    }

    /// The second layout, as the release before accounts wrote it (with the wallet type).
    #[derive(Serialize)]
    struct WrittenV2<'a> {
        v1: WrittenV1<'a>,
        wt: WalletType,
    }

    #[test]
    fn records_without_an_account_keep_their_fields() {
        let old = WrittenV2 {
            v1: WrittenV1 {
                sid: "sid-0123456789abcdef",
                chain: Chain::Solana,
                addr: "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM",
                cid: None,
                ca: 1_795_000_000_000,
                ls: 1_795_000_060_000,
                ex: 1_795_007_200_000,
                ua: "Mozilla/5.0",
                ip: "203.0.113.7",
                csrf: "csrf-token-0123456789",
            },
            wt: WalletType::Contract,
        };
        let bytes = postcard::to_allocvec(&old).unwrap();
        assert!(postcard::from_bytes::<Record>(&bytes).is_err());
        let r = decode_record(&bytes).unwrap();
        assert_eq!(r.wt, WalletType::Contract);
        assert_eq!((r.addr.as_str(), r.ex), (old.v1.addr, old.v1.ex));
        assert!(r.acct.is_empty() && r.roles.is_empty() && r.rc == 0);
    }
}
