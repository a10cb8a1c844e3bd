//! Session management over a [`Store`](crate::store::Store): wallet sign-in ([`signin`]) and
//! wallet sessions ([`wallet`], the heart of the server), the audit trail, and the legacy
//! username/password user sessions. The rules live here, not in the HTTP layer: `crate::http`
//! calls into this module and turns its typed results into responses; this module never
//! imports `crate::http`.

pub mod accounts;
pub mod audit;
pub mod crypto;
pub mod device;
pub mod directory;
mod roles_memo;
pub mod signin;
pub mod tokens;
pub mod user;
pub mod wallet;

pub use audit::{Audit, AuditEvent, AuditKind};
pub use signin::{SignInError, SignIns};
pub use wallet::{
    Authenticated, InvalidReason, RequestContext, RotateOutcome, SessionError, SessionInfo,
    SessionSettings, Validation, WalletSessions,
};

/// The clock the session layer runs on (it lives in [`crate::clock`], below both the session
/// layer and the store, which reads it for its TTLs).
pub use crate::clock::{from_unix_ms, unix_ms, Clock, ManualClock, SystemClock};
