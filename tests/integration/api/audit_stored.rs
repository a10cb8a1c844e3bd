//! The audit events as the stores keep them: the compact form this release writes, the JSON of
//! older servers still in the logs, and entries that are neither, read back on every backend
//! through the audit trail and `GET /admin/audit`.

use reqwest::StatusCode;
use time::OffsetDateTime;
use wallet_auth::session::audit::{ACTIVITY, SECURITY, WALLET_ACTIVITY, WALLET_SECURITY};
use wallet_auth::session::crypto::wallet_tag;
use wallet_auth::session::{from_unix_ms, unix_ms, AuditEvent, AuditKind};
use wallet_auth::store::{AuditBounds, AuditLog};
use wallet_auth::verify::Chain;

use crate::harness::app::{spawn_app, Backend, TestApp, Wallet, ADMIN};
use crate::on_every_backend;

on_every_backend!(
    every_kind_reads_back_as_recorded,
    sign_ins_are_stored_compact,
    older_json_entries_are_read_in_order,
    unreadable_entries_are_skipped,
    api_json_is_the_same_for_both_forms,
);

/// The first byte of an event in the compact form.
const COMPACT: u8 = 0x01;

/// The app's time, to the millisecond (what the compact form keeps).
fn now_ms(app: &TestApp) -> OffsetDateTime {
    from_unix_ms(unix_ms(app.clock_now()))
}

fn ms(n: i64) -> time::Duration {
    time::Duration::milliseconds(n)
}

/// The raw entries of a log, newest first.
async fn raw(app: &TestApp, log: AuditLog<'_>, bounds: AuditBounds) -> Vec<Vec<u8>> {
    app.state
        .store()
        .audit_read(log, 1000, bounds)
        .await
        .unwrap()
}

/// Appends raw bytes to a log, as another server would have.
async fn append(app: &TestApp, log: AuditLog<'_>, bytes: &[u8], bounds: AuditBounds) {
    app.state
        .store()
        .audit_append(log, bytes, bounds)
        .await
        .unwrap();
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every kind, with every field set, with only its wallet (the least an event of a wallet has)
/// and with only its account (an account's event without a wallet), is read back as recorded,
/// from the wallet's logs and from the shared ones.
async fn every_kind_reads_back_as_recorded(b: Backend) {
    let app = spawn_app(b).await;
    let audit = app.state.audit();
    let start = now_ms(&app);
    let mut recorded = Vec::new();
    for (i, kind) in AuditKind::ALL.into_iter().enumerate() {
        let w = if i % 2 == 0 {
            Wallet::ethereum()
        } else {
            Wallet::solana()
        };
        let at = start + ms(10 * i64::try_from(i).unwrap());
        let full = AuditEvent::new(kind, at)
            .wallet(w.chain, &w.address)
            .session(&format!("sid-{i}"))
            .code("device_mismatch")
            .ip("2001:db8::7")
            .count(i)
            .device("firefox/linux")
            .account(&format!("acct-{i}"))
            .identity(&format!("eip155:0x{i:040x}"))
            .roles(&["admin".to_owned(), "ops".to_owned()]);
        let bare = AuditEvent::new(kind, at + ms(1)).wallet(w.chain, &w.address);
        let account_only = AuditEvent::new(kind, at + ms(2)).account(&format!("acct-{i}"));
        for e in [&full, &bare, &account_only] {
            audit.record(e.clone()).await;
        }
        let own = audit.read(Some(&w.address), 10).await.unwrap();
        assert_eq!(own, vec![bare.clone(), full.clone()], "{kind:?}");
        // The wallet's own log keeps the compact form, without the wallet.
        let tag = wallet_tag(w.chain, &w.address);
        let (log, bounds) = if kind.is_security() {
            (AuditLog::WalletSecurity(&tag), WALLET_SECURITY)
        } else {
            (AuditLog::WalletActivity(&tag), WALLET_ACTIVITY)
        };
        let entries = raw(&app, log, bounds).await;
        assert_eq!(entries.len(), 2, "{kind:?}");
        for e in &entries {
            assert_eq!(e[0], COMPACT, "{kind:?}");
            assert!(!contains(e, &w.address), "{kind:?}");
        }
        recorded.extend([full, bare, account_only]);
    }
    let shared = audit.read(None, 1000).await.unwrap();
    for e in &recorded {
        assert_eq!(shared.iter().filter(|s| *s == e).count(), 1, "{e:?}");
    }
    // The shared logs' entries carry the wallet.
    for (log, bounds) in [
        (AuditLog::Security, SECURITY),
        (AuditLog::Activity, ACTIVITY),
    ] {
        for e in raw(&app, log, bounds).await {
            assert_eq!(e[0], COMPACT);
        }
    }
    let addresses = recorded.iter().filter_map(|e| e.address.as_deref());
    let shared_raw = [
        raw(&app, AuditLog::Security, SECURITY).await,
        raw(&app, AuditLog::Activity, ACTIVITY).await,
    ]
    .concat();
    for a in addresses {
        assert!(shared_raw.iter().any(|e| contains(e, a)), "{a}");
    }
}

/// A sign-in's event, written with its session in one store call, is compact too: without the
/// wallet in the wallet's log, with it in the shared one; it reads back whole.
async fn sign_ins_are_stored_compact(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    app.token(&w).await;
    let tag = wallet_tag(w.chain, &w.address);
    let own = raw(&app, AuditLog::WalletActivity(&tag), WALLET_ACTIVITY).await;
    assert_eq!(own.len(), 1);
    assert_eq!(own[0][0], COMPACT);
    assert!(!contains(&own[0], &w.address));
    let shared = raw(&app, AuditLog::Activity, ACTIVITY).await;
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0][0], COMPACT);
    assert!(contains(&shared[0], &w.address));
    let events = app.state.audit().read(Some(&w.address), 10).await.unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(e.kind, AuditKind::SignIn);
    assert_eq!(
        (e.chain, e.address.as_deref()),
        (Some(Chain::Ethereum), Some(w.address.as_str()))
    );
    assert!(e.session_id.is_some() && e.ip.is_some(), "{e:?}");
    // Far smaller than the JSON of the same event.
    let json = serde_json::to_vec(e).unwrap();
    assert!(shared[0].len() * 5 < json.len() * 3, "{shared:?}");
    assert!(own[0].len() * 3 < json.len(), "{own:?}");
    assert_eq!(app.state.audit().read(None, 10).await.unwrap(), events);
}

/// JSON entries of older servers, between compact ones in the same logs, are read, newest first,
/// to the nanosecond they were written with; the shared view's room for other events goes to
/// the newest appended.
async fn older_json_entries_are_read_in_order(b: Backend) {
    let app = spawn_app(b).await;
    let audit = app.state.audit();
    let w = Wallet::ethereum();
    let tag = wallet_tag(w.chain, &w.address);
    let t0 = now_ms(&app);
    let e1 = AuditEvent::new(AuditKind::Refresh, t0).wallet(w.chain, &w.address);
    let e2 = AuditEvent::new(
        AuditKind::Rotation,
        t0 + ms(1) + time::Duration::nanoseconds(7),
    )
    .wallet(w.chain, &w.address)
    .session("s2");
    let e3 = AuditEvent::new(AuditKind::Logout, t0 + ms(2)).wallet(w.chain, &w.address);
    let e4 = AuditEvent::new(
        AuditKind::Revoke,
        t0 + ms(3) + time::Duration::nanoseconds(9),
    )
    .wallet(w.chain, &w.address)
    .session("s4");
    audit.record(e1.clone()).await;
    let old = serde_json::to_vec(&e2).unwrap();
    assert_eq!(old[0], b'{');
    append(&app, AuditLog::WalletActivity(&tag), &old, WALLET_ACTIVITY).await;
    append(&app, AuditLog::Activity, &old, ACTIVITY).await;
    audit.record(e3.clone()).await;
    let old = serde_json::to_vec(&e4).unwrap();
    append(&app, AuditLog::WalletSecurity(&tag), &old, WALLET_SECURITY).await;
    append(&app, AuditLog::Security, &old, SECURITY).await;
    let firsts = |entries: Vec<Vec<u8>>| entries.iter().map(|e| e[0]).collect::<Vec<u8>>();
    assert_eq!(
        firsts(raw(&app, AuditLog::WalletActivity(&tag), WALLET_ACTIVITY).await),
        [COMPACT, b'{', COMPACT]
    );
    let newest_first = vec![e4.clone(), e3.clone(), e2.clone(), e1.clone()];
    assert_eq!(
        audit.read(Some(&w.address), 10).await.unwrap(),
        newest_first
    );
    assert_eq!(audit.read(None, 10).await.unwrap(), newest_first);
    assert_eq!(audit.read(None, 2).await.unwrap(), vec![e4, e3]);
}

/// Entries that are no event (a later format, cut or damaged bytes) are skipped wherever they
/// are; the events around them are read, and the API answers.
async fn unreadable_entries_are_skipped(b: Backend) {
    let app = spawn_app(b).await;
    let audit = app.state.audit();
    let w = Wallet::solana();
    let tag = wallet_tag(w.chain, &w.address);
    let t0 = now_ms(&app);
    let e1 = AuditEvent::new(AuditKind::Refresh, t0)
        .wallet(w.chain, &w.address)
        .session("s1")
        .ip("192.0.2.1");
    audit.record(e1.clone()).await;
    let good_own = raw(&app, AuditLog::WalletActivity(&tag), WALLET_ACTIVITY).await;
    let good_shared = raw(&app, AuditLog::Activity, ACTIVITY).await;
    for (log, bounds, good) in [
        (
            AuditLog::WalletActivity(&tag),
            WALLET_ACTIVITY,
            &good_own[0],
        ),
        (AuditLog::Activity, ACTIVITY, &good_shared[0]),
    ] {
        let mut later_format = good.clone();
        later_format[0] = 0x02;
        let bad: [&[u8]; 7] = [
            &good[..good.len() - 1],
            &good[..3],
            &[COMPACT],
            &later_format,
            &[good.as_slice(), b"x"].concat(),
            b"{\"at\":\"yesterday\",\"kind\":\"refresh\"}",
            b"",
        ];
        for bytes in bad {
            append(&app, log, bytes, bounds).await;
        }
    }
    let e2 = AuditEvent::new(AuditKind::Logout, t0 + ms(1)).wallet(w.chain, &w.address);
    audit.record(e2.clone()).await;
    let expected = vec![e2, e1];
    assert_eq!(audit.read(Some(&w.address), 50).await.unwrap(), expected);
    assert_eq!(audit.read(None, 50).await.unwrap(), expected);
    for query in [format!("wallet={}", w.address), String::new()] {
        let r = app.get(&format!("/admin/audit?{query}"), Some(ADMIN)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["events"].as_array().unwrap().len(), 2, "{}", r.body);
    }
}

/// An EIP-55 address (from the EIP's examples): what the session layer stores for a wallet.
const PINNED_WALLET: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

/// `GET /admin/audit` answers the same JSON for an event whether a server of this release
/// stored it (compact) or an older one (JSON), byte for byte; an older event keeps the
/// nanoseconds it was written with.
async fn api_json_is_the_same_for_both_forms(b: Backend) {
    let app = spawn_app(b).await;
    let tag = wallet_tag(Chain::Ethereum, PINNED_WALLET);
    // As a server before the compact form wrote it.
    let old = concat!(
        r#"{"at":"2025-12-01T15:00:00.123456789Z","kind":"link","chain":"ethereum","#,
        r#""address":"0x52908400098527886E0F7030069857D2E4169EE7","sessionId":"s-old","#,
        r#""code":"device_mismatch","ip":"203.0.113.9","count":2,"device":"firefox/linux","#,
        r#""accountId":"acct-1","identity":"eip155:0x52908400098527886e0f7030069857d2e4169ee7","#,
        r#""roles":["admin","ops"]}"#
    );
    append(
        &app,
        AuditLog::WalletSecurity(&tag),
        old.as_bytes(),
        WALLET_SECURITY,
    )
    .await;
    append(&app, AuditLog::Security, old.as_bytes(), SECURITY).await;
    let new = AuditEvent::new(AuditKind::Link, from_unix_ms(1_764_601_201_500))
        .wallet(Chain::Ethereum, PINNED_WALLET)
        .session("s-new")
        .code("device_mismatch")
        .ip("203.0.113.9")
        .count(2)
        .device("firefox/linux")
        .account("acct-1")
        .identity("eip155:0x52908400098527886e0f7030069857d2e4169ee7")
        .roles(&["admin".to_owned(), "ops".to_owned()]);
    app.state.audit().record(new).await;
    // The new event's JSON is the old one's but for its time (to the millisecond) and session;
    // the old event's is the very text the older server stored.
    let new_json = old
        .replace("2025-12-01T15:00:00.123456789Z", "2025-12-01T15:00:01.5Z")
        .replace("s-old", "s-new");
    let expected = format!(r#"{{"events":[{new_json},{old}]}}"#);
    for query in [format!("wallet={PINNED_WALLET}"), "limit=10".to_owned()] {
        let r = app.get(&format!("/admin/audit?{query}"), Some(ADMIN)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.text, expected, "{query}");
    }
}
