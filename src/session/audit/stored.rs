//! The stored form of an audit event, and the reading of every form the store holds.
//!
//! Why a form of its own: every event of a wallet is stored twice (in the wallet's log and in
//! a shared one), and on Redis each wallet's logs live in memory with its sessions, so the size
//! of an event is a large part of what a sign-in costs there. JSON spells out every field name
//! and writes the time as RFC 3339; the stored form is postcard (as the session records): the
//! time in Unix milliseconds, the kind and the chain as one-byte codes, the other fields in a
//! fixed order, each absent one a single byte. An entry of a wallet's own log leaves the wallet
//! out (about 45 of its bytes): the log is that wallet's, kept under the wallet's tag like its
//! sessions, and the reader puts the wallet back ([`decode`]). The reader's check that an entry
//! names the wallet asked for therefore holds only for entries that name one (JSON ones); two
//! wallets of one tag (72 bits of SHA-256, found neither by chance nor by search) would share
//! their logs as they would share their session index.
//!
//! Servers before this form stored JSON, and their entries stay in the logs until they age
//! out. The first byte tells the two apart: a JSON event starts with `{`, the stored form with
//! [`FORMAT_V1`], a byte that starts no JSON text. An entry that is neither (a format of a
//! later release, truncated or damaged bytes) is not an event: the reader skips it, as it
//! skipped unreadable JSON before.
//!
//! Times are kept to the millisecond, as every other time in the store: an event read back
//! has its time rounded down to the millisecond, in UTC.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{AuditEvent, AuditKind};
use crate::clock::{from_unix_ms, unix_ms};
use crate::session::crypto::wallet_tag;
use crate::store::AuditLog;
use crate::verify::Chain;

/// First byte of an event in the stored form, version 1. A control character: no JSON text
/// starts with it (JSON may start with whitespace, `{`, `[`, `"`, `-`, a digit, `t`, `f`, `n`).
const FORMAT_V1: u8 = 0x01;

/// The stored form, version 1, after [`FORMAT_V1`]. Field order is the format: a change is
/// a new version.
#[derive(Serialize, Deserialize)]
struct V1<'a> {
    /// Unix milliseconds.
    at_ms: i64,
    /// See [`kind_code`].
    kind: u8,
    /// See [`chain_code`].
    chain: Option<u8>,
    address: Option<Cow<'a, str>>,
    session_id: Option<Cow<'a, str>>,
    code: Option<Cow<'a, str>>,
    ip: Option<Cow<'a, str>>,
    count: Option<u64>,
    device: Option<Cow<'a, str>>,
    account_id: Option<Cow<'a, str>>,
    identity: Option<Cow<'a, str>>,
    roles: Option<Cow<'a, [String]>>,
}

/// The code of a kind in the stored form. Codes are the format: never change or reuse one.
fn kind_code(kind: AuditKind) -> u8 {
    match kind {
        AuditKind::SignIn => 0,
        AuditKind::SignInFailure => 1,
        AuditKind::Refresh => 2,
        AuditKind::Rotation => 3,
        AuditKind::Logout => 4,
        AuditKind::LogoutAll => 5,
        AuditKind::Revoke => 6,
        AuditKind::Eviction => 7,
        AuditKind::BindingMismatch => 8,
        AuditKind::TokenReuse => 9,
        AuditKind::ForcedLogout => 10,
        AuditKind::Link => 11,
        AuditKind::Unlink => 12,
        AuditKind::RolesChange => 13,
    }
}

/// The kind of a code; `None` for a code no kind has.
fn kind_of(code: u8) -> Option<AuditKind> {
    AuditKind::ALL.into_iter().find(|&k| kind_code(k) == code)
}

/// The code of a chain in the stored form. Codes are the format: never change or reuse one.
fn chain_code(chain: Chain) -> u8 {
    match chain {
        Chain::Ethereum => 0,
        Chain::Solana => 1,
    }
}

/// The chain of a code; `None` for a code no chain has.
fn chain_of(code: u8) -> Option<Chain> {
    [Chain::Ethereum, Chain::Solana]
        .into_iter()
        .find(|&c| chain_code(c) == code)
}

/// Whether `log` is the own log of the wallet of `event`: there the entry leaves the wallet out.
fn in_own_log(event: &AuditEvent, log: AuditLog<'_>) -> bool {
    match (log.wallet(), event.chain, event.address.as_deref()) {
        (Some(tag), Some(chain), Some(address)) => *tag == wallet_tag(chain, address),
        _ => false,
    }
}

/// `event` in the stored form, as it is appended to `log`.
pub(crate) fn encode(event: &AuditEvent, log: AuditLog<'_>) -> Vec<u8> {
    let own = in_own_log(event, log);
    fn text(s: &Option<String>) -> Option<Cow<'_, str>> {
        s.as_deref().map(Cow::Borrowed)
    }
    let body = V1 {
        at_ms: unix_ms(event.at),
        kind: kind_code(event.kind),
        chain: event.chain.filter(|_| !own).map(chain_code),
        address: if own { None } else { text(&event.address) },
        session_id: text(&event.session_id),
        code: text(&event.code),
        ip: text(&event.ip),
        count: event.count.map(|n| u64::try_from(n).unwrap_or(u64::MAX)),
        device: text(&event.device),
        account_id: text(&event.account_id),
        identity: text(&event.identity),
        roles: event.roles.as_deref().map(Cow::Borrowed),
    };
    // Serializing into a growing buffer cannot fail.
    postcard::to_extend(&body, vec![FORMAT_V1]).unwrap_or_default()
}

/// The event of a stored entry, in the stored form or in the JSON of older servers; `None`
/// when it is neither. `wallet`: the wallet whose own log the entry was read from (`None` for a
/// shared log); an entry of the stored form without a wallet there is that wallet's.
pub(crate) fn decode(bytes: &[u8], wallet: Option<(Chain, &str)>) -> Option<AuditEvent> {
    match bytes.split_first() {
        Some((&FORMAT_V1, body)) => decode_v1(body, wallet),
        _ => serde_json::from_slice(bytes).ok(),
    }
}

fn decode_v1(body: &[u8], wallet: Option<(Chain, &str)>) -> Option<AuditEvent> {
    let (v, rest) = postcard::take_from_bytes::<V1<'_>>(body).ok()?;
    if !rest.is_empty() {
        return None;
    }
    let (chain, address) = match (v.chain, v.address, wallet) {
        (None, None, Some((chain, address))) => (Some(chain), Some(address.to_owned())),
        (chain, address, _) => (
            match chain {
                Some(code) => Some(chain_of(code)?),
                None => None,
            },
            address.map(Cow::into_owned),
        ),
    };
    let text = |s: Option<Cow<'_, str>>| s.map(Cow::into_owned);
    Some(AuditEvent {
        at: from_unix_ms(v.at_ms),
        kind: kind_of(v.kind)?,
        chain,
        address,
        session_id: text(v.session_id),
        code: text(v.code),
        ip: text(v.ip),
        count: match v.count {
            Some(n) => Some(usize::try_from(n).ok()?),
            None => None,
        },
        device: text(v.device),
        account_id: text(v.account_id),
        identity: text(v.identity),
        roles: v.roles.map(Cow::into_owned),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;
    use time::OffsetDateTime;

    use super::*;
    use crate::store::WalletTag;

    const ETH: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

    /// A time of whole milliseconds (what the stored form keeps).
    fn at() -> OffsetDateTime {
        from_unix_ms(1_764_601_200_123)
    }

    fn full(kind: AuditKind) -> AuditEvent {
        AuditEvent::new(kind, at())
            .wallet(Chain::Ethereum, ETH)
            .session("s-id")
            .code("bad_signature")
            .ip("2001:db8::1")
            .count(3)
            .device("firefox/linux")
            .account("acct-1")
            .identity("eip155:0x52908400098527886e0f7030069857d2e4169ee7")
            .roles(&["admin".to_owned(), String::new()])
    }

    fn tag() -> WalletTag {
        wallet_tag(Chain::Ethereum, ETH)
    }

    /// Every log, with the wallet its reader passes: the wallet [`ETH`]'s own logs (`tag`) and
    /// the shared ones, as `event` can be in them: an event without a wallet is never appended
    /// to a wallet's own log, so its reader is not told of one.
    fn logs<'t>(
        tag: &'t WalletTag,
        event: &AuditEvent,
    ) -> [(AuditLog<'t>, Option<(Chain, &'static str)>); 4] {
        let own = Some((Chain::Ethereum, ETH))
            .filter(|_| event.chain.is_some() || event.address.is_some());
        [
            (AuditLog::Security, None),
            (AuditLog::Activity, None),
            (AuditLog::WalletSecurity(tag), own),
            (AuditLog::WalletActivity(tag), own),
        ]
    }

    #[test]
    fn every_kind_round_trips_with_all_fields_and_none() {
        let tag = tag();
        for kind in AuditKind::ALL {
            for event in [full(kind), AuditEvent::new(kind, at())] {
                for (log, wallet) in logs(&tag, &event) {
                    let bytes = encode(&event, log);
                    assert_eq!(bytes[0], FORMAT_V1);
                    assert_eq!(decode(&bytes, wallet), Some(event.clone()), "{log:?}");
                }
            }
        }
    }

    #[test]
    fn codes_are_distinct_and_pinned() {
        let codes: Vec<u8> = AuditKind::ALL.into_iter().map(kind_code).collect();
        assert_eq!(codes, (0..14).collect::<Vec<u8>>());
        assert_eq!(kind_of(14), None);
        assert_eq!(chain_of(chain_code(Chain::Solana)), Some(Chain::Solana));
        assert_eq!(chain_of(2), None);
        // The bytes of one event, pinned: the format cannot change by accident.
        let e = AuditEvent::new(AuditKind::Refresh, from_unix_ms(1_000))
            .wallet(Chain::Solana, "So1")
            .count(2);
        assert_eq!(
            encode(&e, AuditLog::Activity),
            [1, 0xd0, 0x0f, 2, 1, 1, 1, 3, b'S', b'o', b'1', 0, 0, 0, 1, 2, 0, 0, 0, 0]
        );
    }

    #[test]
    fn own_log_entries_leave_the_wallet_out() {
        let tag = tag();
        let event = full(AuditKind::SignIn);
        let shared = encode(&event, AuditLog::Activity);
        let own = encode(&event, AuditLog::WalletActivity(&tag));
        // `chain` and `address` are one byte each (absent) instead of 2 and 44.
        assert_eq!(shared.len() - own.len(), 1 + 43);
        assert!(!own.windows(ETH.len()).any(|w| w == ETH.as_bytes()));
        // Read as a shared log's entry, it has no wallet.
        let read = decode(&own, None).unwrap();
        assert_eq!((read.chain, read.address), (None, None));
        // An event of another wallet in this wallet's log keeps its own wallet.
        let other = full(AuditKind::SignIn).wallet(Chain::Solana, "So1");
        let bytes = encode(&other, AuditLog::WalletActivity(&tag));
        assert_eq!(
            decode(&bytes, Some((Chain::Ethereum, ETH))),
            Some(other.clone())
        );
        // A wallet's entries are smaller than JSON by far.
        let json = serde_json::to_vec(&event).unwrap();
        assert!(
            own.len() * 2 < json.len(),
            "{} vs {}",
            own.len(),
            json.len()
        );
    }

    #[test]
    fn json_of_older_servers_is_read() {
        let event = AuditEvent::new(AuditKind::BindingMismatch, OffsetDateTime::now_utc())
            .wallet(Chain::Ethereum, ETH)
            .code("device_mismatch")
            .device("curl/other");
        let json = serde_json::to_vec(&event).unwrap();
        // Exactly, to the nanosecond, in either kind of log.
        assert_eq!(decode(&json, None), Some(event.clone()));
        assert_eq!(decode(&json, Some((Chain::Solana, "So1"))), Some(event));
        // Leading whitespace is JSON too.
        let spaced = [b" \n".as_slice(), &json].concat();
        assert!(decode(&spaced, None).is_some());
    }

    #[test]
    fn what_is_no_event_is_none() {
        let good = encode(&full(AuditKind::Link), AuditLog::Security);
        let mut unknown_version = good.clone();
        unknown_version[0] = 2;
        let mut unknown_kind = good.clone();
        unknown_kind[1 + 6] = 200;
        let mut unknown_chain = good.clone();
        unknown_chain[1 + 6 + 1 + 1] = 9;
        let trailing = [good.as_slice(), &[0]].concat();
        for bad in [
            &[][..],
            &[FORMAT_V1],
            &unknown_version,
            &unknown_kind,
            &unknown_chain,
            &trailing,
            b"{\"kind\":",
            b"not json",
            &[0xff; 40],
        ] {
            assert_eq!(decode(bad, None), None, "{bad:?}");
        }
        for cut in 0..good.len() {
            assert_eq!(decode(&good[..cut], None), None, "cut at {cut}");
        }
    }

    fn text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(".{0,60}")
    }

    prop_compose! {
        fn event()(
            at_ms in -62_135_596_800_000_i64..253_402_300_799_999,
            kind in proptest::sample::select(AuditKind::ALL.to_vec()),
            chain in proptest::option::of(prop_oneof![Just(Chain::Ethereum), Just(Chain::Solana)]),
            address in text(),
            session_id in text(),
            code in text(),
            ip in text(),
            count in proptest::option::of(any::<usize>()),
            device in text(),
            account_id in text(),
            identity in text(),
            roles in proptest::option::of(proptest::collection::vec(".{0,20}", 0..5)),
        ) -> AuditEvent {
            AuditEvent {
                at: from_unix_ms(at_ms), kind, chain, address, session_id, code, ip, count,
                device, account_id, identity, roles,
            }
        }
    }

    proptest! {
        #[test]
        fn stored_form_round_trips(event in event()) {
            let tag = tag();
            for (log, wallet) in logs(&tag, &event) {
                let bytes = encode(&event, log);
                prop_assert_eq!(decode(&bytes, wallet), Some(event.clone()));
            }
            // In its own wallet's log, too.
            if let (Some(chain), Some(address)) = (event.chain, event.address.as_deref()) {
                let own = wallet_tag(chain, address);
                let bytes = encode(&event, AuditLog::WalletActivity(&own));
                prop_assert_eq!(decode(&bytes, Some((chain, address))), Some(event.clone()));
            }
        }

        #[test]
        fn any_bytes_decode_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes, Some((Chain::Ethereum, ETH)));
            let v1 = [&[FORMAT_V1][..], &bytes].concat();
            let _ = decode(&v1, None);
        }
    }
}
