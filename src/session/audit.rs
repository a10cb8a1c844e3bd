//! The audit trail: sign-ins, refreshes, rotations, logouts, logout-all, revocations,
//! evictions, binding mismatches, token reuse and forced logouts. Each event is a structured
//! tracing event (target `audit`); events concerning a wallet are also kept in the store, in
//! logs chosen so that no traffic can erase the events of someone else:
//!
//! - **Anonymous traffic stores nothing.** A failed sign-in with no proven wallet (bad message,
//!   bad signature, unknown nonce…) is only counted: per reason in the `signins` Prometheus
//!   metric, and in a per-minute counter of the store behind the "failures in the last hour" of
//!   `GET /admin/sessions/stats`. Thousands of them cannot push any event out of any log.
//! - **Per-wallet logs**, stored with the wallet's keys (one Redis Cluster slot): one for its
//!   security events ([`WALLET_SECURITY`]), one for the rest ([`WALLET_ACTIVITY`]). Only traffic
//!   proving that wallet (its signature, or one of its session tokens) and operators write them.
//! - **Shared logs**: the security events of every wallet ([`SECURITY`]) and the rest
//!   ([`ACTIVITY`]). A wallet adds at most [`SECURITY_BUDGET`] events an hour to the shared
//!   security log (operator actions are not counted), so one token or one wallet cannot flush
//!   it; a binding mismatch beyond that budget is not stored at all (it is still traced), so a
//!   thief retrying a stolen token cannot flush the wallet's own log either.
//!
//! Every log is bounded in length and in age. Events carry wallet, session id, error code,
//! device fingerprint and IP — never a token, key, signature or signed message. They are stored
//! in a compact binary form ([`stored`]); the JSON of older servers is still read.

mod stored;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::crypto::wallet_tag;
use crate::clock::unix_ms;
use crate::store::{
    AuditBounds, AuditLog, AuditTarget, RateBudget, RateDecision, Span, Store, StoreError,
    WalletTag,
};
use crate::verify::{self, Chain};

const DAY: u64 = 86_400;

/// The shared log of security events.
pub const SECURITY: AuditBounds = AuditBounds {
    max_len: 20_000,
    max_age: Duration::from_secs(90 * DAY),
};
/// The shared log of the other events.
pub const ACTIVITY: AuditBounds = AuditBounds {
    max_len: 10_000,
    max_age: Duration::from_secs(7 * DAY),
};
/// Each wallet's log of security events.
pub const WALLET_SECURITY: AuditBounds = AuditBounds {
    max_len: 100,
    max_age: Duration::from_secs(90 * DAY),
};
/// Each wallet's log of the other events.
pub const WALLET_ACTIVITY: AuditBounds = AuditBounds {
    max_len: 200,
    max_age: Duration::from_secs(30 * DAY),
};
/// Security events one wallet may add to the shared security log per [`SECURITY_WINDOW`]
/// (operator actions excepted).
pub const SECURITY_BUDGET: u32 = 30;
/// Window of [`SECURITY_BUDGET`].
pub const SECURITY_WINDOW: Duration = Duration::from_secs(3600);

/// Name of the store counter of successful sign-ins.
const COUNT_SIGNIN: &str = "signin";
/// Name of the store counter of failed sign-ins.
const COUNT_FAILURE: &str = "signin_failure";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A wallet signed in.
    SignIn,
    /// A sign-in attempt failed (see `code`).
    SignInFailure,
    /// A session was extended in its refresh window.
    Refresh,
    /// A session's token was rotated.
    Rotation,
    /// A session was ended by its owner.
    Logout,
    /// Every session of a wallet was ended by its owner.
    LogoutAll,
    /// A session was revoked by id.
    Revoke,
    /// The per-wallet limit evicted the oldest session.
    Eviction,
    /// A token was presented from another device (`code` `device_mismatch`), or in strict
    /// mode from another IP (`ip_mismatch`). Refused; in strict mode the session was also
    /// revoked (`count` 1).
    BindingMismatch,
    /// A rotated token was replayed after its grace; the session was revoked.
    TokenReuse,
    /// An operator logged a wallet out everywhere.
    ForcedLogout,
    /// An identity was linked to an account (`identity`, `account`; `count`: sessions ended
    /// when it moved from an account of its own).
    Link,
    /// An identity was unlinked from an account; its sessions were ended (`count`).
    Unlink,
    /// An account's roles changed (`roles`: the new set).
    RolesChange,
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, RFC 3339.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// What.
    pub kind: AuditKind,
    /// Chain of the wallet concerned.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub chain: Option<Chain>,
    /// Wallet address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    /// Session id.
    #[serde(rename = "sessionId", skip_serializing_if = "Option::is_none", default)]
    pub session_id: Option<String>,
    /// Error code of a failure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub code: Option<String>,
    /// Client IP.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip: Option<String>,
    /// Number of sessions ended (logout-all, forced logout, strict binding mismatch).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub count: Option<usize>,
    /// Coarse device fingerprint of the client (binding mismatch), e.g. `firefox/linux`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub device: Option<String>,
    /// The account concerned (link, unlink, roles).
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none", default)]
    pub account_id: Option<String>,
    /// The identity concerned (link, unlink), by its canonical key.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub identity: Option<String>,
    /// The roles set (roles).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub roles: Option<Vec<String>>,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [AuditKind; 14] = [
        AuditKind::SignIn,
        AuditKind::SignInFailure,
        AuditKind::Refresh,
        AuditKind::Rotation,
        AuditKind::Logout,
        AuditKind::LogoutAll,
        AuditKind::Revoke,
        AuditKind::Eviction,
        AuditKind::BindingMismatch,
        AuditKind::TokenReuse,
        AuditKind::ForcedLogout,
        AuditKind::Link,
        AuditKind::Unlink,
        AuditKind::RolesChange,
    ];

    /// Whether the event belongs in the security logs.
    #[must_use]
    pub fn is_security(self) -> bool {
        matches!(
            self,
            AuditKind::BindingMismatch
                | AuditKind::TokenReuse
                | AuditKind::ForcedLogout
                | AuditKind::Revoke
                | AuditKind::LogoutAll
                | AuditKind::Link
                | AuditKind::Unlink
                | AuditKind::RolesChange
        )
    }
}

impl AuditEvent {
    /// An event of `kind` at `at`.
    #[must_use]
    pub fn new(kind: AuditKind, at: OffsetDateTime) -> Self {
        AuditEvent {
            at,
            kind,
            chain: None,
            address: None,
            session_id: None,
            code: None,
            ip: None,
            count: None,
            device: None,
            account_id: None,
            identity: None,
            roles: None,
        }
    }
    /// With the account.
    #[must_use]
    pub fn account(mut self, id: &str) -> Self {
        self.account_id = Some(id.to_owned());
        self
    }
    /// With the identity (canonical key).
    #[must_use]
    pub fn identity(mut self, key: &str) -> Self {
        self.identity = Some(key.to_owned());
        self
    }
    /// With the roles set.
    #[must_use]
    pub fn roles(mut self, roles: &[String]) -> Self {
        self.roles = Some(roles.to_vec());
        self
    }
    /// With the wallet.
    #[must_use]
    pub fn wallet(mut self, chain: Chain, address: &str) -> Self {
        self.chain = Some(chain);
        self.address = Some(address.to_owned());
        self
    }
    /// With the session id.
    #[must_use]
    pub fn session(mut self, id: &str) -> Self {
        self.session_id = Some(id.to_owned());
        self
    }
    /// With an error code.
    #[must_use]
    pub fn code(mut self, code: &str) -> Self {
        self.code = Some(code.to_owned());
        self
    }
    /// With the client IP.
    #[must_use]
    pub fn ip(mut self, ip: &str) -> Self {
        self.ip = Some(ip.to_owned());
        self
    }
    /// With the client's device fingerprint.
    #[must_use]
    pub fn device(mut self, fingerprint: &str) -> Self {
        self.device = Some(fingerprint.to_owned());
        self
    }
    /// With a count.
    #[must_use]
    pub fn count(mut self, n: usize) -> Self {
        self.count = Some(n);
        self
    }
}

/// Traces an event (target `audit`): every event is, stored or not.
pub(crate) fn trace(event: &AuditEvent) {
    tracing::info!(
        target: "audit",
        kind = ?event.kind,
        chain = event.chain.map(Chain::as_str),
        address = event.address.as_deref(),
        session_id = event.session_id.as_deref(),
        code = event.code.as_deref(),
        ip = event.ip.as_deref(),
        device = event.device.as_deref(),
        count = event.count,
        account_id = event.account_id.as_deref(),
        identity = event.identity.as_deref(),
        "audit"
    );
}

/// The store counter an event of `kind` counts in, if any.
pub(crate) fn counter_of(kind: AuditKind) -> Option<&'static str> {
    match kind {
        AuditKind::SignIn => Some(COUNT_SIGNIN),
        AuditKind::SignInFailure => Some(COUNT_FAILURE),
        _ => None,
    }
}

/// Where an event of the wallet `tag` that is not a security event is stored: the wallet's
/// activity log, then the shared one.
fn activity_logs(tag: &WalletTag) -> [(AuditLog<'_>, AuditBounds); 2] {
    [
        (AuditLog::WalletActivity(tag), WALLET_ACTIVITY),
        (AuditLog::Activity, ACTIVITY),
    ]
}

/// An event in the stored form of each log it goes to ([`stored::encode`]: a wallet's own log
/// leaves the wallet out), with the logs' bounds: what the store appends.
pub(crate) struct Appends<'t> {
    entries: Vec<(AuditLog<'t>, AuditBounds, Vec<u8>)>,
}

impl<'t> Appends<'t> {
    fn new(event: &AuditEvent, logs: &[(AuditLog<'t>, AuditBounds)]) -> Self {
        Appends {
            entries: logs
                .iter()
                .map(|&(log, bounds)| (log, bounds, stored::encode(event, log)))
                .collect(),
        }
    }

    /// The appends as the store takes them (see [`crate::store::SessionExtras::audit`]).
    pub(crate) fn targets(&self) -> Vec<AuditTarget<'_>> {
        self.entries
            .iter()
            .map(|(log, bounds, event)| (*log, *bounds, event.as_slice()))
            .collect()
    }
}

/// The appends of `event`, an event of the wallet `tag` that is not a security event: to the
/// wallet's activity log, then to the shared one. Such events need no budget, so the store can
/// write them in the same call as the change they record (a sign-in's session).
pub(crate) fn activity_appends<'t>(event: &AuditEvent, tag: &'t WalletTag) -> Appends<'t> {
    Appends::new(event, &activity_logs(tag))
}

/// Writes audit events to the log and the store.
#[derive(Clone)]
pub struct Audit {
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Audit")
    }
}

/// Sign-ins counted over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignInCounts {
    /// Successful sign-ins.
    pub ok: u64,
    /// Failed sign-ins (store failures excepted).
    pub failed: u64,
}

/// The wallet an address (as an operator types it) designates: Ethereum for `0x…` (in any
/// case), Solana otherwise. `None` when it is not a valid address.
#[must_use]
pub fn parse_wallet(address: &str) -> Option<(Chain, String)> {
    if address.starts_with("0x") || address.starts_with("0X") {
        let lower = format!("0x{}", address[2..].to_ascii_lowercase());
        verify::normalize_address(Chain::Ethereum, &lower)
            .ok()
            .map(|a| (Chain::Ethereum, a))
    } else {
        verify::normalize_address(Chain::Solana, address)
            .ok()
            .map(|a| (Chain::Solana, a))
    }
}

/// Newest first.
fn by_time_desc(events: &mut [AuditEvent]) {
    events.sort_by_key(|e| std::cmp::Reverse(e.at));
}

/// The events of a log's entries, in their order; entries that are no event are skipped.
/// `wallet`: the wallet whose own log they come from (see [`stored::decode`]).
fn decode(raw: &[Vec<u8>], wallet: Option<(Chain, &str)>) -> Vec<AuditEvent> {
    raw.iter()
        .filter_map(|b| stored::decode(b, wallet))
        .collect()
}

impl Audit {
    /// An audit trail kept in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Audit { store }
    }

    /// Records an event. Never fails the caller: a store failure is logged.
    ///
    /// An event without a wallet (an anonymous failed sign-in) is traced and counted, never
    /// stored; see the module documentation for where the others go.
    pub async fn record(&self, event: AuditEvent) {
        trace(&event);
        let now = unix_ms(event.at);
        if let Some(name) = counter_of(event.kind) {
            if let Err(e) = self.store.count_event(name, now).await {
                tracing::warn!(error = %e, "could not count the sign-in");
            }
        }
        let tag = match (event.chain, event.address.as_deref()) {
            (Some(chain), Some(address)) => Some(wallet_tag(chain, address)),
            _ => None,
        };
        let logs = match &tag {
            // An account's event with no wallet (roles changed by an operator, a password
            // linked or removed, an account-wide logout) is made by a signed-in owner or an
            // operator, never anonymous traffic: it goes to the shared security log.
            None if event.account_id.is_some() => vec![(AuditLog::Security, SECURITY)],
            None => return,
            Some(tag) if event.kind.is_security() => {
                let shared =
                    event.kind == AuditKind::ForcedLogout || self.within_budget(tag, now).await;
                if !shared && event.kind == AuditKind::BindingMismatch {
                    tracing::info!(target: "audit", kind = ?event.kind, "over the wallet's audit budget: not stored");
                    return;
                }
                let mut logs = vec![(AuditLog::WalletSecurity(tag), WALLET_SECURITY)];
                if shared {
                    logs.push((AuditLog::Security, SECURITY));
                }
                logs
            }
            Some(tag) => activity_logs(tag).to_vec(),
        };
        let appends = Appends::new(&event, &logs);
        let written = join_all(
            appends
                .entries
                .iter()
                .map(|(log, bounds, bytes)| self.store.audit_append(*log, bytes, *bounds)),
        )
        .await;
        if let Some(e) = written.into_iter().find_map(Result::err) {
            tracing::warn!(error = %e, "could not write the audit event to the store");
        }
    }

    /// Whether the wallet `tag` may add one more event to the shared security log. A store
    /// failure answers yes: the append will tell whether the store is there.
    async fn within_budget(&self, tag: &WalletTag, now_ms: i64) -> bool {
        let budget = RateBudget {
            limit: SECURITY_BUDGET,
            window: SECURITY_WINDOW,
        };
        !matches!(
            self.store
                .rate_limit(&format!("audit:{tag}"), budget, now_ms)
                .await,
            Ok(RateDecision::Limited { .. })
        )
    }

    /// Sign-ins and failed sign-ins counted since `since` (to the minute, at most the store's
    /// counter retention back).
    ///
    /// # Errors
    /// The store failed.
    pub async fn sign_ins_since(
        &self,
        since: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<SignInCounts, StoreError> {
        let span = Span {
            since_ms: unix_ms(since),
            now_ms: unix_ms(now),
        };
        let (ok, failed) = tokio::join!(
            self.store.count_events_since(COUNT_SIGNIN, span),
            self.store.count_events_since(COUNT_FAILURE, span),
        );
        Ok(SignInCounts {
            ok: ok?,
            failed: failed?,
        })
    }

    /// Up to `limit` events, newest first.
    ///
    /// With `wallet` (an address; an Ethereum one in any case), that wallet's events: its
    /// security and other events merged. Without, the shared logs: up to `limit` of the newest
    /// security events, and the newest other events in the room left, so that no amount of
    /// other events hides the security ones. An address that is not a wallet's has no events.
    ///
    /// # Errors
    /// The store failed.
    pub async fn read(
        &self,
        wallet: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        match wallet {
            Some(w) => {
                let Some((chain, address)) = parse_wallet(w) else {
                    return Ok(Vec::new());
                };
                let tag = wallet_tag(chain, &address);
                let own = Some((chain, address.as_str()));
                let (sec, act) = tokio::join!(
                    self.store
                        .audit_read(AuditLog::WalletSecurity(&tag), limit, WALLET_SECURITY),
                    self.store
                        .audit_read(AuditLog::WalletActivity(&tag), limit, WALLET_ACTIVITY),
                );
                let mut events: Vec<AuditEvent> = decode(&sec?, own)
                    .into_iter()
                    .chain(decode(&act?, own))
                    // An entry naming another wallet (whose tag would be the same) is not
                    // this wallet's.
                    .filter(|e| {
                        e.chain == Some(chain) && e.address.as_deref() == Some(address.as_str())
                    })
                    .collect();
                by_time_desc(&mut events);
                events.truncate(limit);
                Ok(events)
            }
            None => {
                let (sec, act) = tokio::join!(
                    self.store.audit_read(AuditLog::Security, limit, SECURITY),
                    self.store.audit_read(AuditLog::Activity, limit, ACTIVITY),
                );
                let mut events = decode(&sec?, None);
                let room = limit.saturating_sub(events.len());
                events.extend(decode(&act?, None).into_iter().take(room));
                by_time_desc(&mut events);
                Ok(events)
            }
        }
    }
}
