//! The audit trail under attack: anonymous traffic is counted, never stored, so it cannot push
//! security events out; one wallet cannot flush the shared security log; every log is capped.

use futures::StreamExt as _;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wallet_auth::session::audit::{SECURITY_BUDGET, WALLET_ACTIVITY, WALLET_SECURITY};
use wallet_auth::session::{AuditEvent, AuditKind, RequestContext};
use wallet_auth::verify::{Chain, WalletType};

use crate::harness::app::{spawn_app, spawn_app_with, Backend, TestApp, Wallet, ADMIN, DOMAIN};
use crate::on_every_backend;

on_every_backend!(
    anonymous_failures_cannot_erase_security_events,
    fresh_wallets_do_not_hide_security_events,
    one_wallet_cannot_flush_the_security_log,
    failure_after_a_valid_signature_goes_to_that_wallets_log,
    per_wallet_logs_are_capped,
    library_callers_get_the_audit_events_of_http_callers,
);

/// More anonymous failed sign-ins than the single shared log used to hold (10,000).
const FLOOD: usize = 10_050;

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let r = app.get(&format!("/admin/audit?{query}"), Some(ADMIN)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["events"].as_array().unwrap().clone()
}

/// A binding mismatch of `w`'s session (its token used from another kind of client).
async fn mismatch(app: &TestApp, token: &str) {
    let r = app
        .send(
            app.request(Method::GET, "/api/me")
                .bearer_auth(token)
                .header("user-agent", "curl/8.4.0"),
        )
        .await;
    r.assert_error(401, "session_binding_mismatch");
}

fn is_mismatch_of(e: &Value, w: &Wallet) -> bool {
    e["kind"] == "binding_mismatch" && e["address"] == w.address.as_str()
}

async fn anonymous_failures_cannot_erase_security_events(b: Backend) {
    let app = spawn_app_with(b, |c| c.http.trust_proxy = true).await;
    let w = Wallet::ethereum();
    let t = app.token(&w).await;
    mismatch(&app, &t).await;
    // A flood of failed sign-ins from many client IPs: bad messages, bad signatures, unknown
    // nonces.
    let bodies = [
        json!({"chain": "ethereum", "message": "bad", "signature": "0x"}),
        json!({"chain": "solana", "message": "bad", "signature": "x", "publicKey": "x"}),
    ];
    let statuses: Vec<StatusCode> = futures::stream::iter(0..FLOOD)
        .map(|i| {
            let req = app
                .http
                .post(app.url("/auth/verify"))
                .header(
                    "x-forwarded-for",
                    format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
                )
                .json(&bodies[i % 2]);
            async move { req.send().await.unwrap().status() }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        statuses.iter().all(|s| s.is_client_error()),
        "every attempt failed"
    );
    // The security event is still there, in the shared view and in the wallet's log.
    let all = audit(&app, "limit=1000").await;
    assert!(all.iter().any(|e| is_mismatch_of(e, &w)), "{all:?}");
    assert!(
        !all.iter().any(|e| e["kind"] == "sign_in_failure"),
        "anonymous failures are not stored"
    );
    let own = audit(&app, &format!("wallet={}", w.address)).await;
    assert!(own.iter().any(|e| is_mismatch_of(e, &w)), "{own:?}");
    // They are counted instead: in the stats and, by reason, in the metrics.
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(s.body["lastHour"]["failures"], FLOOD, "{}", s.body);
    assert_eq!(s.body["lastHour"]["signIns"], 1, "{}", s.body);
    let text = app.get("/metrics", None).await.text;
    let counted: usize = text
        .lines()
        .filter(|l| l.starts_with("wallet_auth_signins_total{") && !l.contains("outcome=\"ok\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(counted, FLOOD, "{text}");
}

async fn fresh_wallets_do_not_hide_security_events(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let t = app.token(&w).await;
    mismatch(&app, &t).await;
    let path = format!("/admin/wallets/solana/{}/logout-all", w.address);
    assert_eq!(
        app.post(&path, Some(ADMIN), None).await.status,
        StatusCode::OK
    );
    // Many newer sign-ins (and their sessions' other events) by wallets made for the purpose.
    for _ in 0..20 {
        let fresh = Wallet::ethereum();
        let t = app.token(&fresh).await;
        app.post("/auth/logout", Some(&t), None).await;
    }
    // A small page of the shared view still shows the security events…
    let page = audit(&app, "limit=5").await;
    assert_eq!(page.len(), 5);
    assert!(page.iter().any(|e| is_mismatch_of(e, &w)), "{page:?}");
    assert!(
        page.iter().any(|e| e["kind"] == "forced_logout"),
        "{page:?}"
    );
    // …newest first, with the newest other events in the room left.
    let times: Vec<&str> = page.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = times.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);
    assert!(page.iter().any(|e| e["kind"] == "logout"), "{page:?}");
}

async fn one_wallet_cannot_flush_the_security_log(b: Backend) {
    let app = spawn_app(b).await;
    let victim = Wallet::ethereum();
    let vt = app.token(&victim).await;
    mismatch(&app, &vt).await;
    // A stolen token replayed from another client, again and again.
    let thief = Wallet::solana();
    let tt = app.token(&thief).await;
    let budget = SECURITY_BUDGET as usize;
    for _ in 0..budget * 3 {
        mismatch(&app, &tt).await;
    }
    let all = audit(&app, "limit=1000").await;
    assert!(all.iter().any(|e| is_mismatch_of(e, &victim)), "{all:?}");
    let from_thief = all.iter().filter(|e| is_mismatch_of(e, &thief)).count();
    assert_eq!(from_thief, budget, "one wallet adds at most its budget");
    // Nor can the retries flush the wallet's own log: its sign-in is still there.
    let own = audit(&app, &format!("wallet={}&limit=1000", thief.address)).await;
    assert_eq!(
        own.iter().filter(|e| is_mismatch_of(e, &thief)).count(),
        budget
    );
    assert!(own.iter().any(|e| e["kind"] == "sign_in"), "{own:?}");
    // An operator's action is never refused for budget.
    let path = format!("/admin/wallets/solana/{}/logout-all", thief.address);
    assert_eq!(
        app.post(&path, Some(ADMIN), None).await.status,
        StatusCode::OK
    );
    let all = audit(&app, "limit=1000").await;
    assert!(all
        .iter()
        .any(|e| e["kind"] == "forced_logout" && e["address"] == thief.address.as_str()));
}

async fn failure_after_a_valid_signature_goes_to_that_wallets_log(b: Backend) {
    let app = spawn_app(b).await;
    let owner = Wallet::ethereum();
    let signer = Wallet::ethereum();
    // A nonce bound to `owner`, signed by `signer`: the signature is valid, the sign-in is not.
    let n = app.nonce(Chain::Ethereum, Some(&owner.address)).await;
    let msg = signer.message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now());
    let r = app
        .post("/auth/verify", None, Some(signer.verify_body(&msg)))
        .await;
    assert!(r.status.is_client_error(), "{}", r.body);
    let code = r.body["error"]["code"].as_str().unwrap().to_owned();
    let own = audit(&app, &format!("wallet={}", signer.address)).await;
    assert!(
        own.iter()
            .any(|e| e["kind"] == "sign_in_failure" && e["code"] == code.as_str()),
        "{own:?}"
    );
    assert!(audit(&app, &format!("wallet={}", owner.address))
        .await
        .is_empty());
    let s = app.get("/admin/sessions/stats", Some(ADMIN)).await;
    assert_eq!(s.body["lastHour"]["failures"], 1, "{}", s.body);
    // A wallet filter that is no address is refused, without echoing it.
    let r = app
        .get("/admin/audit?wallet=0xnot-an-address", Some(ADMIN))
        .await;
    r.assert_error(400, "bad_request");
    assert!(!r.body.to_string().contains("not-an-address"));
    // Either case of an Ethereum address finds the wallet.
    let lower = audit(&app, &format!("wallet={}", signer.address.to_lowercase())).await;
    assert_eq!(lower, own);
}

async fn per_wallet_logs_are_capped(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let other = Wallet::ethereum();
    let audit_trail = app.state.audit();
    let start = app.clock_now();
    let activity = WALLET_ACTIVITY.max_len + 50;
    let security = WALLET_SECURITY.max_len + 30;
    for i in 0..activity.max(security) {
        let at = start + time::Duration::milliseconds(i64::try_from(i).unwrap());
        if i < activity {
            audit_trail
                .record(AuditEvent::new(AuditKind::Refresh, at).wallet(Chain::Ethereum, &w.address))
                .await;
        }
        if i < security {
            // Operator actions: never refused for budget.
            audit_trail
                .record(
                    AuditEvent::new(AuditKind::ForcedLogout, at)
                        .wallet(Chain::Ethereum, &w.address)
                        .count(i),
                )
                .await;
        }
    }
    audit_trail
        .record(AuditEvent::new(AuditKind::SignIn, start).wallet(Chain::Ethereum, &other.address))
        .await;
    let own = audit_trail.read(Some(&w.address), 10_000).await.unwrap();
    let refreshes = own.iter().filter(|e| e.kind == AuditKind::Refresh).count();
    let forced: Vec<usize> = own
        .iter()
        .filter(|e| e.kind == AuditKind::ForcedLogout)
        .filter_map(|e| e.count)
        .collect();
    assert_eq!(refreshes, WALLET_ACTIVITY.max_len);
    assert_eq!(forced.len(), WALLET_SECURITY.max_len);
    // The newest are kept.
    assert_eq!(forced.first(), Some(&(security - 1)));
    assert_eq!(forced.last(), Some(&(security - WALLET_SECURITY.max_len)));
    // Another wallet's log is its own.
    let theirs = audit_trail
        .read(Some(&other.address), 10_000)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].kind, AuditKind::SignIn);
}

/// The session manager records the audit events of what it does, so a library caller ending
/// sessions gets the events an HTTP caller gets.
async fn library_callers_get_the_audit_events_of_http_callers(b: Backend) {
    let app = spawn_app(b).await;
    let sessions = app.state.sessions();
    let w = Wallet::ethereum();
    let ctx = RequestContext::default();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let (_, info) = sessions
            .create(w.chain, &w.address, None, WalletType::Eoa, &ctx)
            .await
            .unwrap();
        ids.push(info.session_id);
    }
    assert!(sessions.revoke(w.chain, &w.address, &ids[0]).await.unwrap());
    // Revoking it again ends nothing, and records nothing.
    assert!(!sessions.revoke(w.chain, &w.address, &ids[0]).await.unwrap());
    assert_eq!(sessions.revoke_all(w.chain, &w.address).await.unwrap(), 1);
    let events = app.state.audit().read(Some(&w.address), 50).await.unwrap();
    let of = |kind: AuditKind| events.iter().filter(move |e| e.kind == kind);
    let revoked: Vec<_> = of(AuditKind::Revoke).collect();
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert_eq!(revoked[0].session_id.as_deref(), Some(ids[0].as_str()));
    assert_eq!(revoked[0].address.as_deref(), Some(w.address.as_str()));
    let forced: Vec<_> = of(AuditKind::ForcedLogout).collect();
    assert_eq!(forced.len(), 1, "{events:?}");
    assert_eq!(forced[0].count, Some(1));
}
