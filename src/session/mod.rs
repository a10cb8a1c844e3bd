//! Session management over a [`Store`](crate::store::Store): wallet sign-in ([`signin`]) and
//! wallet sessions ([`wallet`], the heart of the server), the audit trail, and the legacy
//! username/password user sessions. The rules live here, not in the HTTP layer: `crate::http`
//! calls into this module and turns its typed results into responses; this module never
//! imports `crate::http`.

use std::sync::Mutex;

use time::OffsetDateTime;

pub mod audit;
pub mod crypto;
pub mod device;
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

/// The source of "now" for session logic, injectable so tests can move time.
pub trait Clock: Send + Sync + 'static {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    /// A clock standing at `t`.
    #[must_use]
    pub fn new(t: OffsetDateTime) -> Self {
        ManualClock(Mutex::new(t))
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: std::time::Duration) {
        let mut g = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *g += d;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Unix milliseconds of a time.
#[must_use]
pub fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The time of Unix milliseconds (clamped to the representable range).
#[must_use]
pub fn from_unix_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
