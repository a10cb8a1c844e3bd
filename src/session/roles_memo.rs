//! The per-instance memo of accounts' roles behind
//! [`Directory::roles`](super::directory::Directory::roles).
//!
//! Why it exists: a session record keeps its account's roles and when they were read (`rc`),
//! and once they are older than [`ROLES_REFRESH`] the session needs them again. Read from the
//! store for each such session and written back into each record, that cost every active
//! session one read and one write per period, and on Redis each record write drops the session
//! from every instance's session cache. With the memo an instance reads an account's roles at
//! most once per period however many of its sessions it validates, and a record is written only
//! when its roles actually changed (or when it is written anyway).
//!
//! What it keeps, per account: the roles as this instance last read them and when (served while
//! younger than [`ROLES_REFRESH`]), and when this instance last changed something those roles
//! derive from (the stored roles, the claims of its identities: `ADMIN_WALLETS` grants `admin`
//! through them). Roles read at or before such a change are out of date at once on this
//! instance ([`RolesMemo::stale`]); other instances see the change when their own memo entries
//! and the records' `rc` age past [`ROLES_REFRESH`].
//!
//! # Bounds
//! At most [`ROLES_MEMO_ENTRIES`] accounts. An entry has no use once both of its times are
//! [`ROLES_REFRESH`] old (it is *expired*). Inserting into a full memo first drops the expired
//! entries (one scan; none is repeated before the earliest remaining entry can expire), and
//! when none is, one arbitrary entry (the first the map yields). Dropping a change mark younger
//! than [`ROLES_REFRESH`] would make roles read before it look current, so the memo then keeps
//! the newest such mark it dropped (its *floor*) and counts every read at or before it as out of
//! date: always correct, at the price of extra reads, and only when more than
//! [`ROLES_MEMO_ENTRIES`] accounts change through one instance within [`ROLES_REFRESH`].
//!
//! Times are Unix milliseconds of the session clock, passed in by the caller.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::store::AccountId;

/// Roles read this long ago are read again: a change of an account's roles made on another
/// instance (or directly in the store) reaches its live sessions within this long. An instance
/// reads an account's roles from the store at most once per period; a session record is
/// written only when its roles changed.
pub const ROLES_REFRESH: Duration = Duration::from_secs(30);

/// Most accounts one instance memoizes the roles of: each entry takes about 130 bytes with no
/// roles (its id, two times, the map's share), up to about 1 KiB with the most and longest
/// roles, so a full memo of role-less accounts is about 13 MB. Beyond it an instance re-reads
/// roles from the store more often (never more than once per validation); it never writes
/// more.
pub const ROLES_MEMO_ENTRIES: usize = 100_000;

fn refresh_ms() -> i64 {
    i64::try_from(ROLES_REFRESH.as_millis()).unwrap_or(i64::MAX)
}

/// What one account's entry knows.
#[derive(Debug)]
struct Entry {
    /// The roles and when they were read (`None`: not read since this instance changed them).
    roles: Option<(Vec<String>, i64)>,
    /// When this instance last changed what the roles derive from.
    changed_ms: Option<i64>,
}

impl Entry {
    /// From this time on the entry says nothing a session can use.
    fn expires_ms(&self) -> i64 {
        let read = self.roles.as_ref().map(|(_, at)| *at);
        read.max(self.changed_ms)
            .unwrap_or(i64::MIN)
            .saturating_add(refresh_ms())
    }
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<AccountId, Entry>,
    /// Counts the change marks: a read that began before one may predate the change, and is
    /// not memoized (see [`RolesMemo::fill`]).
    epoch: u64,
    /// The newest change mark dropped while it still mattered: reads at or before it are out
    /// of date.
    floor_ms: i64,
    /// No entry expires before this time: a full memo is scanned again only from then on.
    sweep_after_ms: i64,
}

/// A miss of [`RolesMemo::get`]: what [`RolesMemo::fill`] needs to know that no change was
/// marked since the read began.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ticket(u64);

/// Accounts' roles as this instance last read or changed them (see the module docs).
#[derive(Debug)]
pub(super) struct RolesMemo {
    max: usize,
    inner: Mutex<Inner>,
    /// The newest change mark ever made (every mark and the floor are at or before it): roles
    /// read after it are out of date only by age, which [`Self::may_be_stale`] tells without
    /// the lock — the case of nearly every validation.
    latest_change_ms: AtomicI64,
}

impl RolesMemo {
    /// A memo of at most `max` accounts (at least one).
    pub(super) fn new(max: usize) -> Self {
        RolesMemo {
            max: max.max(1),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                epoch: 0,
                floor_ms: i64::MIN,
                sweep_after_ms: i64::MIN,
            }),
            latest_change_ms: AtomicI64::new(i64::MIN),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the map consistent: a panic elsewhere cannot have
        // broken it.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether roles of `account` read at `read_ms` may be out of date at `now_ms`: they are
    /// [`ROLES_REFRESH`] old, or this instance changed the account since they were read.
    pub(super) fn stale(&self, account: &AccountId, read_ms: i64, now_ms: i64) -> bool {
        if !self.may_be_stale(read_ms, now_ms) {
            return false;
        }
        if now_ms.saturating_sub(read_ms) >= refresh_ms() {
            return true;
        }
        let inner = self.lock();
        read_ms <= inner.floor_ms
            || inner
                .entries
                .get(account)
                .and_then(|e| e.changed_ms)
                .is_some_and(|changed| changed >= read_ms)
    }

    /// Whether roles of any account read at `read_ms` may be out of date at `now_ms` (see
    /// [`Self::stale`]): `false` means they are not, told without the lock or the account.
    pub(super) fn may_be_stale(&self, read_ms: i64, now_ms: i64) -> bool {
        now_ms.saturating_sub(read_ms) >= refresh_ms()
            || read_ms <= self.latest_change_ms.load(Ordering::Acquire)
    }

    /// The roles of `account` and when they were read, when that was less than
    /// [`ROLES_REFRESH`] before `now_ms`; else a ticket for [`Self::fill`].
    pub(super) fn get(
        &self,
        account: &AccountId,
        now_ms: i64,
    ) -> Result<(Vec<String>, i64), Ticket> {
        let inner = self.lock();
        match inner.entries.get(account).and_then(|e| e.roles.as_ref()) {
            Some((roles, at)) if now_ms.saturating_sub(*at) < refresh_ms() => {
                Ok((roles.clone(), *at))
            }
            _ => Err(Ticket(inner.epoch)),
        }
    }

    /// Memoizes `roles` of `account`, read from the store at `read_ms` after `ticket` was
    /// taken — unless a change was marked meanwhile (the read may predate it; the next caller
    /// reads again).
    pub(super) fn fill(&self, account: &AccountId, roles: &[String], read_ms: i64, ticket: Ticket) {
        let mut inner = self.lock();
        if inner.epoch != ticket.0 {
            return;
        }
        let roles = Some((roles.to_vec(), read_ms));
        if let Some(e) = inner.entries.get_mut(account) {
            e.roles = roles;
            return;
        }
        self.make_room(&mut inner, read_ms);
        inner.entries.insert(
            account.clone(),
            Entry {
                roles,
                changed_ms: None,
            },
        );
    }

    /// Records that this instance changed, at `now_ms`, something the roles of `account`
    /// derive from: roles read up to then are out of date, and are read again.
    pub(super) fn changed(&self, account: &AccountId, now_ms: i64) {
        let mut inner = self.lock();
        self.latest_change_ms.fetch_max(now_ms, Ordering::AcqRel);
        inner.epoch = inner.epoch.wrapping_add(1);
        if let Some(e) = inner.entries.get_mut(account) {
            e.roles = None;
            e.changed_ms = e.changed_ms.max(Some(now_ms));
            return;
        }
        self.make_room(&mut inner, now_ms);
        inner.entries.insert(
            account.clone(),
            Entry {
                roles: None,
                changed_ms: Some(now_ms),
            },
        );
    }

    /// Makes room for one more entry (see the module docs).
    fn make_room(&self, inner: &mut Inner, now_ms: i64) {
        if inner.entries.len() < self.max {
            return;
        }
        if now_ms >= inner.sweep_after_ms {
            inner.entries.retain(|_, e| e.expires_ms() > now_ms);
            inner.sweep_after_ms = inner
                .entries
                .values()
                .map(Entry::expires_ms)
                .min()
                .unwrap_or(i64::MIN);
        }
        if inner.entries.len() < self.max {
            return;
        }
        let Some(victim) = inner.entries.keys().next().cloned() else {
            return;
        };
        if let Some(changed) = inner.entries.remove(&victim).and_then(|e| e.changed_ms) {
            if now_ms.saturating_sub(changed) < refresh_ms() {
                inner.floor_ms = inner.floor_ms.max(changed);
            }
        }
    }

    /// How many accounts it holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const T: i64 = 1_800_000_000_000;

    fn acc(i: usize) -> AccountId {
        AccountId::new(format!("account-{i}"))
    }

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| (*s).to_owned()).collect()
    }

    /// Reads `account` as `Directory::roles` does, with `stored` as the store's answer.
    fn read(memo: &RolesMemo, account: &AccountId, stored: &[&str], now: i64) -> Vec<String> {
        match memo.get(account, now) {
            Ok((r, _)) => r,
            Err(ticket) => {
                memo.fill(account, &roles(stored), now, ticket);
                roles(stored)
            }
        }
    }

    #[test]
    fn serves_for_less_than_the_refresh_period() {
        let memo = RolesMemo::new(10);
        let a = acc(1);
        assert!(memo.get(&a, T).is_err(), "empty");
        assert_eq!(read(&memo, &a, &["editor"], T), roles(&["editor"]));
        let just_under = T + refresh_ms() - 1;
        assert_eq!(memo.get(&a, just_under).unwrap(), (roles(&["editor"]), T));
        assert!(memo.get(&a, T + refresh_ms()).is_err(), "expired");
        // Read again, it serves the new answer from then on.
        let later = T + refresh_ms();
        assert_eq!(read(&memo, &a, &[], later), roles(&[]));
        assert_eq!(memo.get(&a, later + 1).unwrap(), (roles(&[]), later));
        assert_eq!(memo.len(), 1);
    }

    #[test]
    fn staleness_is_age_or_a_change_here_since_the_read() {
        let memo = RolesMemo::new(10);
        let (a, b) = (acc(1), acc(2));
        assert!(!memo.stale(&a, T, T + refresh_ms() - 1));
        assert!(memo.stale(&a, T, T + refresh_ms()));
        // A change of `a` here at T + 5: reads at or before it are out of date, later ones not;
        // `b` is not concerned.
        memo.changed(&a, T + 5);
        assert!(memo.stale(&a, T, T + 6));
        assert!(memo.stale(&a, T + 5, T + 6));
        assert!(!memo.stale(&a, T + 6, T + 7));
        assert!(!memo.stale(&b, T, T + 6));
        // The change also dropped what was memoized of `a`.
        read(&memo, &a, &["old"], T + 1);
        memo.changed(&a, T + 10);
        assert!(memo.get(&a, T + 11).is_err());
        // A read that began before a change is not memoized; one after it is, and the change
        // still marks the records read before it.
        let ticket = memo.get(&a, T + 12).unwrap_err();
        memo.changed(&a, T + 13);
        memo.fill(&a, &roles(&["racing"]), T + 12, ticket);
        assert!(memo.get(&a, T + 14).is_err(), "a read racing a change");
        assert_eq!(read(&memo, &a, &["new"], T + 14), roles(&["new"]));
        assert_eq!(memo.get(&a, T + 15).unwrap(), (roles(&["new"]), T + 14));
        assert!(memo.stale(&a, T + 12, T + 15));
        assert!(!memo.stale(&a, T + 14, T + 15));
    }

    #[test]
    fn full_memo_drops_expired_entries_first() {
        let memo = RolesMemo::new(3);
        read(&memo, &acc(1), &[], T);
        read(&memo, &acc(2), &[], T + 1);
        read(&memo, &acc(3), &[], T + refresh_ms());
        // Full: the two entries read a period ago go, the young one stays.
        read(&memo, &acc(4), &[], T + refresh_ms() + 1);
        assert_eq!(memo.len(), 2);
        assert!(memo.get(&acc(3), T + refresh_ms() + 2).is_ok());
        assert!(memo.get(&acc(4), T + refresh_ms() + 2).is_ok());
    }

    #[test]
    fn full_memo_of_young_entries_drops_one_and_stays_bounded() {
        let memo = RolesMemo::new(100);
        for i in 0..1000 {
            read(&memo, &acc(i), &["r"], T + i64::try_from(i).unwrap());
            assert!(memo.len() <= 100);
        }
        assert_eq!(memo.len(), 100);
        // The newest is always kept.
        assert!(memo.get(&acc(999), T + 1000).is_ok());
    }

    #[test]
    fn a_dropped_young_change_still_marks_older_reads() {
        let memo = RolesMemo::new(2);
        memo.changed(&acc(1), T + 10);
        memo.changed(&acc(2), T + 20);
        // Room for a third: one of the young changes is dropped; whichever it was, reads
        // before it still count as out of date, for every account (the floor), and the
        // survivor keeps its own mark.
        memo.changed(&acc(3), T + 30);
        assert_eq!(memo.len(), 2);
        let survivor = if memo.stale(&acc(1), T + 15, T + 31) {
            acc(1)
        } else {
            acc(2)
        };
        let dropped_at = if survivor == acc(1) { T + 20 } else { T + 10 };
        for i in 1..=3 {
            assert!(memo.stale(&acc(i), dropped_at, T + 31), "account {i}");
        }
        assert!(!memo.stale(&acc(9), T + 21, T + 31));
        assert!(memo.stale(&acc(3), T + 30, T + 31));
        // A change a period old is dropped without raising the floor.
        let memo = RolesMemo::new(1);
        memo.changed(&acc(1), T);
        memo.changed(&acc(2), T + refresh_ms());
        assert!(!memo.stale(&acc(5), T, T + refresh_ms() - 1));
    }
}
