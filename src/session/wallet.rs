//! The wallet session manager: create, validate (with auto-refresh), rotate, invalidate, list,
//! invalidate-all, per-wallet limit, reuse detection, and the wallet's encrypted preferences.
//!
//! # Tokens
//! A token is `<tag>.<secret>`: `tag` is 12 URL-safe characters derived from the wallet
//! (SHA-256 of `chain:address`, first 9 bytes), `secret` 32 random bytes (256 bits) in URL-safe
//! base64. The tag lets the token lead straight to its wallet's keys (one Redis cluster slot)
//! with no cross-slot lookup; it is not secret (it identifies a wallet, as the address does).
//! The store keeps only the SHA-256 of the whole token (first 16 bytes), never the token.
//!
//! # Records
//! A session record holds the wallet, chain id, times, user agent, IP and CSRF token, encoded
//! with postcard and sealed with AES-256-GCM; the storage key is the associated data, so a
//! record cannot be replayed under another key. Binding compares the request's user agent (and
//! IP) with the ones kept in the record.
//!
//! # Hot path
//! Validation is one store read. It writes only when the session enters its refresh window
//! (once, then it is out of the window again) or when `lastSeenAt` is older than
//! [`LAST_SEEN_RESOLUTION`].

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::audit::{Audit, AuditEvent, AuditKind};
use super::crypto::{ct_eq, hash_b64, random_token, KeyRing};
use super::{from_unix_ms, unix_ms, Clock};
use crate::config::Binding;
use crate::store::{IndexEntry, NewSession, SessionEntry, Store, StoreError};
use crate::verify::{Chain, WalletType};

/// `lastSeenAt` is written at most this often per session.
pub const LAST_SEEN_RESOLUTION: Duration = Duration::from_secs(60);
/// After a rotation, the old token keeps working this long (in-flight requests).
pub const ROTATION_GRACE: Duration = Duration::from_secs(30);
/// Length of the wallet tag in a token.
const TAG_LEN: usize = 12;
/// Length of the random part of a token (32 bytes, base64url).
const SECRET_LEN: usize = 43;
/// Preferences are kept this long after their last write.
pub const PREFERENCES_TTL: Duration = Duration::from_secs(90 * 86_400);
/// Longest user agent kept in a record.
const MAX_USER_AGENT: usize = 256;

/// Lifetimes and limits of wallet sessions.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Lifetime of a session (and of each extension).
    pub ttl: Duration,
    /// A request in the last `refresh_window` of a session extends it.
    pub refresh_window: Duration,
    /// Absolute cap since sign-in.
    pub max_lifetime: Duration,
    /// Concurrent sessions per wallet.
    pub max_per_wallet: usize,
    /// What a session is bound to.
    pub binding: Binding,
}

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
    /// The token was presented from another device (or IP) than it was bound to; the session
    /// has been revoked.
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
fn decode_record(plain: &[u8]) -> Option<Record> {
    if let Ok(r) = postcard::from_bytes::<Record>(plain) {
        return Some(r);
    }
    let v1: RecordV1 = postcard::from_bytes(plain).ok()?;
    Some(Record {
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
}

/// A request authenticated by a wallet session.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The session.
    pub info: SessionInfo,
    /// The wallet tag.
    pub tag: String,
    /// Hash of the token presented (the record's key).
    pub token_hash: String,
    /// Whether this request extended the session.
    pub refreshed: bool,
    /// Whether the token presented is the session's current one (not a rotated token still
    /// inside its grace period). Only the current token may rotate.
    pub current: bool,
}

/// Result of validating a token.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per request, never stored
pub enum Validation {
    /// A live session.
    Valid(Authenticated),
    /// No live session for that token (unknown, malformed, expired, revoked, rotated).
    Invalid,
}

/// The wallet session manager.
#[derive(Clone)]
pub struct WalletSessions {
    store: Arc<dyn Store>,
    keys: KeyRing,
    clock: Arc<dyn Clock>,
    settings: SessionSettings,
    audit: Audit,
}

impl std::fmt::Debug for WalletSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletSessions")
            .field("store", &self.store.kind())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The wallet tag of `(chain, address)`.
#[must_use]
pub fn wallet_tag(chain: Chain, address: &str) -> String {
    hash_b64(format!("{}:{}", chain.as_str(), address).as_bytes(), 9)
}

/// Splits a token into its wallet tag, checking its shape; `None` for anything malformed.
fn token_tag(token: &str) -> Option<&str> {
    let (tag, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    (ok(tag, TAG_LEN) && ok(secret, SECRET_LEN)).then_some(tag)
}

fn token_hash(token: &str) -> String {
    hash_b64(token.as_bytes(), 16)
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

/// What a session is bound to, as one string: compared in constant time.
fn binding_of(binding: Binding, user_agent: &str, ip: &str) -> String {
    match binding {
        Binding::Off => String::new(),
        Binding::Device => format!("ua\0{}", stored_user_agent(user_agent)),
        Binding::Strict => format!("ua\0{}\0ip\0{ip}", stored_user_agent(user_agent)),
    }
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
    ) -> Self {
        WalletSessions {
            store,
            keys,
            clock,
            settings,
            audit,
        }
    }

    /// The settings in force.
    #[must_use]
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn aad(tag: &str, hash: &str) -> Vec<u8> {
        format!("s:{tag}:{hash}").into_bytes()
    }

    fn seal(&self, tag: &str, hash: &str, r: &Record) -> Vec<u8> {
        // Serializing a plain struct of strings and integers cannot fail.
        let plain = postcard::to_allocvec(r).unwrap_or_default();
        self.keys.seal(&plain, &Self::aad(tag, hash))
    }

    fn open(&self, tag: &str, hash: &str, sealed: &[u8]) -> Option<Record> {
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
        }
    }

    /// Opens a session for a wallet that just signed in. Returns the token (shown once), the
    /// session, and the sessions evicted by the per-wallet limit.
    ///
    /// # Errors
    /// The store failed; nothing was created.
    #[tracing::instrument(skip_all, fields(chain = %chain))]
    pub async fn create(
        &self,
        chain: Chain,
        address: &str,
        chain_id: Option<String>,
        wallet_type: WalletType,
        ctx: &RequestContext,
    ) -> Result<(String, SessionInfo), StoreError> {
        let now = unix_ms(self.clock.now());
        let tag = wallet_tag(chain, address);
        let token = format!("{tag}.{}", random_token(32));
        let hash = token_hash(&token);
        let ex = now + dur_ms(self.settings.ttl);
        let record = Record {
            sid: random_token(16),
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
        };
        let sealed = self.seal(&tag, &hash, &record);
        let evicted = self
            .store
            .create_session(
                &tag,
                NewSession {
                    session_id: &record.sid,
                    token_hash: &hash,
                    created_ms: now,
                    record: &sealed,
                    ttl: self.settings.ttl,
                },
                self.settings.max_per_wallet,
            )
            .await?;
        self.track(chain, None, Some(ex)).await;
        for (e, sealed) in &evicted {
            let gone = self.open(&tag, &e.token_hash, sealed).map(|r| r.ex);
            self.track(chain, gone, None).await;
            self.audit
                .record(
                    AuditEvent::new(AuditKind::Eviction, self.clock.now())
                        .wallet(chain, address)
                        .session(&e.session_id),
                )
                .await;
        }
        Ok((token, self.info(&record)))
    }

    /// Statistics are best effort: a failure to record them never fails a request.
    /// `from`/`to`: the session's expiry before and after (`None`: did not exist / ended).
    async fn track(&self, chain: Chain, from: Option<i64>, to: Option<i64>) {
        let now = unix_ms(self.clock.now());
        if let Err(e) = self.store.track_active(chain.as_str(), from, to, now).await {
            tracing::warn!(error = %e, "could not update the active-session statistics");
        }
    }

    /// Validates a token presented with a request, extending the session when it is in its
    /// refresh window.
    ///
    /// # Errors
    /// The store failed, or the token was presented from another device than it is bound to
    /// (the session is then revoked).
    #[tracing::instrument(skip_all)]
    pub async fn validate(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<Validation, SessionError> {
        let Some(tag) = token_tag(token) else {
            return Ok(Validation::Invalid);
        };
        let hash = token_hash(token);
        let now_t = self.clock.now();
        let now = unix_ms(now_t);
        let (record, key_hash) = match self.store.get_session(tag, &hash).await? {
            None => return Ok(Validation::Invalid),
            Some(SessionEntry::Live(sealed)) => match self.open(tag, &hash, &sealed) {
                Some(r) => (r, hash),
                None => return Ok(Validation::Invalid),
            },
            Some(SessionEntry::Rotated { to, at_ms }) => {
                let successor = match self.store.get_session(tag, &to).await? {
                    Some(SessionEntry::Live(sealed)) => self.open(tag, &to, &sealed),
                    _ => None,
                };
                let Some(r) = successor else {
                    return Ok(Validation::Invalid);
                };
                if now - at_ms <= dur_ms(ROTATION_GRACE) {
                    // In-flight request during the grace period: served, never refreshed.
                    if r.ex <= now {
                        return Ok(Validation::Invalid);
                    }
                    self.check_binding(tag, &r, ctx).await?;
                    return Ok(Validation::Valid(Authenticated {
                        info: self.info(&r),
                        tag: tag.to_owned(),
                        token_hash: to,
                        refreshed: false,
                        current: false,
                    }));
                }
                // A rotated token replayed after its grace: it was stolen, or the client is
                // broken. Either way the session can no longer be trusted.
                self.store.delete_session(tag, &r.sid).await?;
                self.track(r.chain, Some(r.ex), None).await;
                self.audit
                    .record(
                        AuditEvent::new(AuditKind::TokenReuse, now_t)
                            .wallet(r.chain, &r.addr)
                            .session(&r.sid)
                            .ip(&ctx.ip),
                    )
                    .await;
                return Ok(Validation::Invalid);
            }
        };
        if record.ex <= now {
            return Ok(Validation::Invalid);
        }
        self.check_binding(tag, &record, ctx).await?;

        let mut record = record;
        let mut refreshed = false;
        let cap = record.ca + dur_ms(self.settings.max_lifetime);
        if now >= record.ex - dur_ms(self.settings.refresh_window) {
            let new_ex = (now + dur_ms(self.settings.ttl)).min(cap);
            if new_ex > record.ex {
                let old_ex = record.ex;
                record.ex = new_ex;
                record.ls = now;
                let sealed = self.seal(tag, &key_hash, &record);
                let ttl = ttl_until(now, new_ex);
                if self
                    .store
                    .update_session(tag, &key_hash, &sealed, Some(ttl))
                    .await?
                {
                    refreshed = true;
                    self.track(record.chain, Some(old_ex), Some(new_ex)).await;
                    self.audit
                        .record(
                            AuditEvent::new(AuditKind::Refresh, now_t)
                                .wallet(record.chain, &record.addr)
                                .session(&record.sid),
                        )
                        .await;
                }
            }
        }
        if !refreshed && now - record.ls >= dur_ms(LAST_SEEN_RESOLUTION) {
            record.ls = now;
            let sealed = self.seal(tag, &key_hash, &record);
            self.store
                .update_session(tag, &key_hash, &sealed, None)
                .await?;
        }
        Ok(Validation::Valid(Authenticated {
            info: self.info(&record),
            tag: tag.to_owned(),
            token_hash: key_hash,
            refreshed,
            current: true,
        }))
    }

    async fn check_binding(
        &self,
        tag: &str,
        record: &Record,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        let bound = binding_of(self.settings.binding, &record.ua, &record.ip);
        let presented = binding_of(self.settings.binding, &ctx.user_agent, &ctx.ip);
        if ct_eq(presented.as_bytes(), bound.as_bytes()) {
            return Ok(());
        }
        self.store.delete_session(tag, &record.sid).await?;
        self.track(record.chain, Some(record.ex), None).await;
        self.audit
            .record(
                AuditEvent::new(AuditKind::BindingMismatch, self.clock.now())
                    .wallet(record.chain, &record.addr)
                    .session(&record.sid)
                    .ip(&ctx.ip),
            )
            .await;
        Err(SessionError::BindingMismatch)
    }

    /// Rotates the token of an authenticated session: a new token with a fresh expiry; the old
    /// one works for [`ROTATION_GRACE`] more, and is treated as stolen after that. `None` when
    /// the session was rotated or ended meanwhile, or when the request came with a rotated
    /// token inside its grace (of concurrent rotations of one token, exactly one wins).
    ///
    /// # Errors
    /// The store failed; nothing changed.
    #[tracing::instrument(skip_all)]
    pub async fn rotate(
        &self,
        auth: &Authenticated,
    ) -> Result<Option<(String, SessionInfo)>, StoreError> {
        if !auth.current {
            return Ok(None);
        }
        let now_t = self.clock.now();
        let now = unix_ms(now_t);
        let Some(SessionEntry::Live(sealed)) =
            self.store.get_session(&auth.tag, &auth.token_hash).await?
        else {
            return Ok(None);
        };
        let Some(mut record) = self.open(&auth.tag, &auth.token_hash, &sealed) else {
            return Ok(None);
        };
        let cap = record.ca + dur_ms(self.settings.max_lifetime);
        let old_ex = record.ex;
        record.ex = (now + dur_ms(self.settings.ttl)).min(cap);
        record.ls = now;
        if record.ex <= now {
            return Ok(None);
        }
        let token = format!("{}.{}", auth.tag, random_token(32));
        let new_hash = token_hash(&token);
        let sealed = self.seal(&auth.tag, &new_hash, &record);
        let ttl = ttl_until(now, record.ex);
        // The marker must outlive the grace so a late replay is recognised as reuse; it lives
        // as long as the session could.
        let marker_ttl = ttl.max(ROTATION_GRACE);
        let ok = self
            .store
            .rotate_session(
                &auth.tag,
                &record.sid,
                &auth.token_hash,
                &new_hash,
                &sealed,
                ttl,
                marker_ttl,
                now,
            )
            .await?;
        if !ok {
            return Ok(None);
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
        Ok(Some((token, self.info(&record))))
    }

    /// Ends one session of the wallet `tag` by id; whether it existed.
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke(
        &self,
        tag: &str,
        chain: Chain,
        session_id: &str,
    ) -> Result<bool, StoreError> {
        let Some((e, sealed)) = self.store.delete_session(tag, session_id).await? else {
            return Ok(false);
        };
        let expiry = self.open(tag, &e.token_hash, &sealed).map(|r| r.ex);
        self.track(chain, expiry, None).await;
        Ok(true)
    }

    /// Ends every session of a wallet, everywhere; how many there were.
    ///
    /// # Errors
    /// The store failed.
    pub async fn revoke_all(&self, chain: Chain, address: &str) -> Result<usize, StoreError> {
        let tag = wallet_tag(chain, address);
        let deleted = self.store.delete_wallet_sessions(&tag).await?;
        for (e, sealed) in &deleted {
            let expiry = self.open(&tag, &e.token_hash, sealed).map(|r| r.ex);
            self.track(chain, expiry, None).await;
        }
        Ok(deleted.len())
    }

    /// The live sessions of the wallet `tag`, oldest first.
    ///
    /// # Errors
    /// The store failed.
    pub async fn list(&self, tag: &str) -> Result<Vec<SessionInfo>, StoreError> {
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

    fn prefs_key(tag: &str) -> String {
        format!("prefs:{tag}")
    }

    /// The wallet's preferences (`{}` when none were saved).
    ///
    /// # Errors
    /// The store failed.
    pub async fn preferences(&self, tag: &str) -> Result<serde_json::Value, StoreError> {
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
        tag: &str,
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn token_shape() {
        let tag = wallet_tag(Chain::Ethereum, "0xabc");
        assert_eq!(tag.len(), TAG_LEN);
        let token = format!("{tag}.{}", random_token(32));
        assert_eq!(token_tag(&token), Some(tag.as_str()));
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        assert_eq!(token_tag("nodot"), None);
        assert_eq!(token_tag(&format!("{tag}.short")), None);
        assert_eq!(token_tag(&format!("{tag}x.{}", random_token(32))), None);
        assert_eq!(
            token_tag(&format!("{tag}.{}!", &random_token(32)[1..])),
            None
        );
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
        assert_eq!(binding_of(Binding::Off, "ua1", "1.1.1.1"), "");
        assert_eq!(
            binding_of(Binding::Device, "ua1", "1.1.1.1"),
            binding_of(Binding::Device, "ua1", "2.2.2.2")
        );
        assert_ne!(
            binding_of(Binding::Device, "ua1", "1.1.1.1"),
            binding_of(Binding::Device, "ua2", "1.1.1.1")
        );
        assert_ne!(
            binding_of(Binding::Strict, "ua1", "1.1.1.1"),
            binding_of(Binding::Strict, "ua1", "2.2.2.2")
        );
        // A long user agent binds by what the record keeps of it.
        let long = "é".repeat(300);
        let kept = stored_user_agent(&long);
        assert!(kept.len() <= MAX_USER_AGENT && long.starts_with(kept));
        assert_eq!(
            binding_of(Binding::Device, &long, ""),
            binding_of(Binding::Device, kept, "")
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
        };
        let bytes = postcard::to_allocvec(&r).unwrap();
        assert!(bytes.len() < 160, "{} bytes", bytes.len());
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
        // Written back, it is a current record that keeps its type.
        let again = postcard::to_allocvec(&r).unwrap();
        assert_eq!(again.len(), bytes.len() + 1);
        assert_eq!(decode_record(&again).unwrap().wt, WalletType::Eoa);
        // A truncated record is still refused, whatever the layout.
        assert!(decode_record(&bytes[..bytes.len() - 1]).is_none());
    }
}
