//! The audit trail: every sign-in success and failure, refresh, rotation, logout, logout-all,
//! revocation, eviction, binding mismatch, token reuse and forced logout. Each event is a
//! structured tracing event (target `audit`) and an entry of a capped log in the store (a Redis
//! stream, or a ring in memory), readable at `GET /admin/audit`.
//!
//! Events carry wallet, session id, error code and IP — never a token, key, signature or signed
//! message.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::store::Store;
use crate::verify::Chain;

/// Audit events kept in the store.
pub const AUDIT_MAX_LEN: usize = 10_000;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
}

/// One audit event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
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
        }
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

impl Audit {
    /// An audit trail kept in `store`.
    #[must_use]
    pub fn new(store: Arc<dyn Store>) -> Self {
        Audit { store }
    }

    /// Records an event. Never fails the caller: a store failure is logged.
    pub async fn record(&self, event: AuditEvent) {
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
            "audit"
        );
        let bytes = serde_json::to_vec(&event).unwrap_or_default();
        if let Err(e) = self.store.audit_append(&bytes, AUDIT_MAX_LEN).await {
            tracing::warn!(error = %e, "could not write the audit event to the store");
        }
    }

    /// Up to `limit` events, newest first, optionally only those of `wallet` (an address,
    /// compared case-insensitively so either form of an Ethereum address matches).
    ///
    /// # Errors
    /// The store failed.
    pub async fn read(
        &self,
        wallet: Option<&str>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, crate::store::StoreError> {
        let scan = if wallet.is_some() {
            AUDIT_MAX_LEN
        } else {
            limit
        };
        let raw = self.store.audit_read(scan).await?;
        Ok(raw
            .iter()
            .filter_map(|b| serde_json::from_slice::<AuditEvent>(b).ok())
            .filter(|e| match wallet {
                None => true,
                // Ethereum addresses match in any case; base58 is case-sensitive.
                Some(w) => e.address.as_deref().is_some_and(|a| {
                    if w.starts_with("0x") {
                        a.eq_ignore_ascii_case(w)
                    } else {
                        a == w
                    }
                }),
            })
            .take(limit)
            .collect())
    }
}
