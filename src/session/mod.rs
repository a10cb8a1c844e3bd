//! Session management over a [`Store`](crate::store::Store): wallet sessions (the heart of the
//! server), the audit trail, and the legacy username/password user sessions.

pub mod audit;
pub mod crypto;
pub mod device;
pub mod tokens;
pub mod user;
pub mod wallet;

pub use audit::{Audit, AuditEvent, AuditKind};
pub use wallet::{
    Authenticated, RequestContext, RotateOutcome, SessionError, SessionInfo, SessionSettings,
    Validation, WalletSessions,
};

/// The clock the session layer runs on (it lives in [`crate::clock`], below both the session
/// layer and the store, which reads it for its TTLs).
pub use crate::clock::{from_unix_ms, unix_ms, Clock, ManualClock, SystemClock};
