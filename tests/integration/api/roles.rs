//! Roles reaching live sessions, and what keeping them current costs the store, on every
//! backend: a change made through this instance reaches the account's sessions (wallet and
//! user) at their next request; one made elsewhere (straight in the store, as another instance
//! or the command line does) within `ROLES_REFRESH`, meanwhile served from the instance's memo;
//! validations past `ROLES_REFRESH` with unchanged roles write no record, and a logout does not
//! write the record it deletes; what a fleet of instances costs the store per session and
//! period. The store operations are counted by a [`MeteredStore`] around the backend's real
//! store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use wallet_auth::http::AuthState;
use wallet_auth::session::accounts::ROLES_REFRESH;
use wallet_auth::session::wallet::LAST_SEEN_RESOLUTION;
use wallet_auth::session::{RequestContext, Validation};
use wallet_auth::store::{AccountId, MeteredStore, RolesSet, Store, StoreRecorder};
use wallet_auth::verify::{Chain, WalletType};

use super::accounts::{account_id, me};
use crate::harness::app::{spawn_app_wrapped, Resp, TestApp, Wallet, DOMAIN};
use crate::harness::backends::Backend;

crate::on_every_backend!(
    unchanged_roles_write_no_record,
    a_change_here_reaches_sessions_at_once,
    a_change_elsewhere_reaches_sessions_within_the_refresh,
    admin_wallets_follow_links_and_unlinks_here_at_once,
    store_calls_per_session_and_period,
    sign_ins_take_roles_from_the_memo,
);

/// Store calls by operation name.
#[derive(Default)]
struct Ops(Mutex<HashMap<&'static str, u64>>);

impl StoreRecorder for Ops {
    fn store_op(&self, op: &'static str, _: Duration, _: bool) {
        *self.0.lock().unwrap().entry(op).or_default() += 1;
    }
}

impl Ops {
    fn snapshot(&self) -> HashMap<&'static str, u64> {
        self.0.lock().unwrap().clone()
    }
}

/// How many `op` calls were made since `before`.
fn since(ops: &Ops, before: &HashMap<&'static str, u64>, op: &str) -> u64 {
    let now = ops.snapshot();
    now.get(op).copied().unwrap_or(0) - before.get(op).copied().unwrap_or(0)
}

/// An app over `backend` whose store calls are counted.
async fn counted(backend: Backend, admin_wallets: Vec<String>) -> (TestApp, Arc<Ops>) {
    let ops = Arc::new(Ops::default());
    let recorder = ops.clone();
    let app = spawn_app_wrapped(
        backend,
        |c| c.ops.admin_wallets = admin_wallets,
        |store| Arc::new(MeteredStore::new(store, recorder)) as Arc<dyn Store>,
    )
    .await;
    (app, ops)
}

/// A user session of the account of the wallet session `token`: a password linked to it,
/// then a login; the `sid` cookie and the CSRF token.
async fn user_session(app: &TestApp, token: &str, username: &str) -> (String, String) {
    let password = format!("pw-of-{username}");
    let r = app
        .post(
            "/auth/link/password",
            Some(token),
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": username, "password": password})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let csrf = r.body["csrfToken"].as_str().unwrap().to_owned();
    (
        format!("sid={}", r.cookie("sid").expect("sid cookie")),
        csrf,
    )
}

async fn user_me(app: &TestApp, cookie: &str) -> Value {
    let r: Resp = app
        .with_cookies(Method::GET, "/api/user/me", &[cookie], &[])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// Past `ROLES_REFRESH` with unchanged roles: validations read the account once (the memo)
/// and write no record, wallet or user; the record is written when `lastSeenAt` is due, not
/// more; a logout then writes nothing before deleting.
async fn unchanged_roles_write_no_record(backend: Backend) {
    let (app, ops) = counted(backend, Vec::new()).await;
    let token = app.token(&Wallet::ethereum()).await;
    let (cookie, csrf) = user_session(&app, &token, "una").await;
    assert!(ROLES_REFRESH + Duration::from_secs(1) < LAST_SEEN_RESOLUTION);

    app.clock.advance(ROLES_REFRESH + Duration::from_secs(1));
    let before = ops.snapshot();
    for _ in 0..5 {
        assert_eq!(me(&app, &token).await["roles"], json!([]));
        assert_eq!(user_me(&app, &cookie).await["roles"], json!([]));
    }
    assert_eq!(since(&ops, &before, "update_session"), 0, "no record write");
    assert_eq!(
        since(&ops, &before, "get_account"),
        1,
        "one read of the (one) account for ten validations"
    );

    // Past lastSeenAt's resolution: the wallet record is written once (with the roles), the
    // user record (no lastSeenAt) not at all.
    app.clock.advance(ROLES_REFRESH);
    let before = ops.snapshot();
    for _ in 0..5 {
        me(&app, &token).await;
        user_me(&app, &cookie).await;
    }
    assert_eq!(since(&ops, &before, "update_session"), 1, "lastSeenAt only");
    assert_eq!(since(&ops, &before, "get_account"), 1);

    // Roles due again, lastSeenAt not: logging out deletes without writing first.
    app.clock.advance(ROLES_REFRESH + Duration::from_secs(1));
    let before = ops.snapshot();
    let r = app.post("/auth/logout", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .with_cookies(
            Method::POST,
            "/auth/user/logout",
            &[&cookie],
            &[("x-csrf-token", &csrf)],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(since(&ops, &before, "update_session"), 0);
    assert_eq!(since(&ops, &before, "delete_session"), 2);
    app.get("/api/me", Some(&token))
        .await
        .assert_error(401, "unauthenticated");
}

/// A change of roles through this instance reaches the account's wallet and user sessions at
/// their next request, whatever the age of the roles they hold; each record is written once
/// for it.
async fn a_change_here_reaches_sessions_at_once(backend: Backend) {
    let (app, ops) = counted(backend, Vec::new()).await;
    let token = app.token(&Wallet::ethereum()).await;
    let acc = account_id(&me(&app, &token).await);
    let (cookie, _) = user_session(&app, &token, "hana").await;
    let path = format!("/admin/accounts/{acc}/roles");
    // Once with roles just read, once with roles read a while ago and served from the memo.
    for (advance, roles) in [
        (Duration::ZERO, json!(["editor"])),
        (ROLES_REFRESH + Duration::from_secs(1), json!(["auditor"])),
        (Duration::from_secs(1), json!([])),
    ] {
        app.clock.advance(advance);
        me(&app, &token).await;
        user_me(&app, &cookie).await;
        let r = app
            .call(
                Method::PUT,
                &path,
                Some(crate::harness::app::ADMIN),
                Some(json!({ "roles": roles })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        let before = ops.snapshot();
        assert_eq!(me(&app, &token).await["roles"], roles);
        assert_eq!(user_me(&app, &cookie).await["roles"], roles);
        assert_eq!(since(&ops, &before, "update_session"), 2, "one per record");
        let before = ops.snapshot();
        assert_eq!(me(&app, &token).await["roles"], roles);
        assert_eq!(user_me(&app, &cookie).await["roles"], roles);
        assert_eq!(since(&ops, &before, "update_session"), 0, "written once");
    }
}

/// A change made straight in the store (another instance, the command line) reaches the
/// sessions within `ROLES_REFRESH` of it; meanwhile the instance answers from its memo (no
/// store read of the account).
async fn a_change_elsewhere_reaches_sessions_within_the_refresh(backend: Backend) {
    let (app, ops) = counted(backend, Vec::new()).await;
    let token = app.token(&Wallet::ethereum()).await;
    let acc = account_id(&me(&app, &token).await);
    let (cookie, _) = user_session(&app, &token, "elio").await;
    // The sessions' roles are due: the memo is filled now.
    app.clock.advance(ROLES_REFRESH);
    assert_eq!(me(&app, &token).await["roles"], json!([]));
    user_me(&app, &cookie).await;

    let roles = ["editor".to_owned()];
    app.state
        .store()
        .set_account_roles(&AccountId::new(acc.as_str()), None, &roles)
        .await
        .unwrap();
    let before = ops.snapshot();
    let quarter = ROLES_REFRESH / 4;
    for i in 0..4 {
        if i > 0 {
            app.clock.advance(quarter);
        }
        me(&app, &token).await;
        user_me(&app, &cookie).await;
    }
    assert_eq!(
        since(&ops, &before, "get_account"),
        0,
        "served from the memo for less than ROLES_REFRESH"
    );
    // ROLES_REFRESH after the change (and the read just before it): every session has it.
    app.clock.advance(quarter);
    assert_eq!(me(&app, &token).await["roles"], json!(["editor"]));
    assert_eq!(user_me(&app, &cookie).await["roles"], json!(["editor"]));
    assert_eq!(since(&ops, &before, "get_account"), 1);
}

/// `ADMIN_WALLETS` grants `admin` through the identities an account claims: linking a listed
/// wallet gives the account's existing sessions `admin` at their next request, and unlinking
/// it takes it away as fast, on the instance that made the change.
async fn admin_wallets_follow_links_and_unlinks_here_at_once(backend: Backend) {
    let listed = Wallet::ethereum();
    let entry = format!("ethereum:{}", listed.address.to_lowercase());
    let (app, _) = counted(backend, vec![entry]).await;
    let sol = Wallet::solana();
    let token = app.token(&sol).await;
    assert_eq!(me(&app, &token).await["roles"], json!([]));
    // The roles were just read: only the change itself can make them current.
    let nonce = app
        .post(
            "/auth/link/nonce",
            Some(&token),
            Some(json!({"chain": "ethereum"})),
        )
        .await;
    assert_eq!(nonce.status, StatusCode::OK, "{}", nonce.body);
    let msg = listed.message(
        DOMAIN,
        nonce.body["nonce"].as_str().unwrap(),
        app.clock_now(),
    );
    let r = app
        .post("/auth/link", Some(&token), Some(listed.verify_body(&msg)))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(me(&app, &token).await["roles"], json!(["admin"]));
    let path = format!("/auth/identities/ethereum/{}", listed.address);
    let r = app.call(Method::DELETE, &path, Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(me(&app, &token).await["roles"], json!([]));
}

/// What keeping roles current costs a fleet: `INSTANCES` instances (each its own directory and
/// memo) over one store validate `ACCOUNTS` accounts' sessions round robin, each session every
/// `EVERY`, for `PERIODS` × `ROLES_REFRESH`, roles unchanged. Records are written only for
/// `lastSeenAt` (once per `LAST_SEEN_RESOLUTION` per session), and each instance reads an
/// account at most once per period (the sign-in read counted too). Prints the figures per
/// session and period (`--nocapture`).
async fn store_calls_per_session_and_period(backend: Backend) {
    const INSTANCES: usize = 3;
    const ACCOUNTS: usize = 20;
    const SESSIONS_PER_ACCOUNT: usize = 2;
    const PERIODS: u32 = 4;
    const EVERY: Duration = Duration::from_secs(3);
    let ops = Arc::new(Ops::default());
    let recorder = ops.clone();
    let shared: Arc<Mutex<Option<Arc<dyn Store>>>> = Arc::default();
    let keep = shared.clone();
    let app = spawn_app_wrapped(
        backend,
        |_| {},
        |store| {
            let counted: Arc<dyn Store> = Arc::new(MeteredStore::new(store, recorder));
            *keep.lock().unwrap() = Some(counted.clone());
            counted
        },
    )
    .await;
    let store = shared.lock().unwrap().clone().unwrap();
    let mut fleet = vec![app.state.clone()];
    while fleet.len() < INSTANCES {
        fleet.push(AuthState::with_clock(
            app.config.clone(),
            store.clone(),
            app.clock.clone(),
        ));
    }
    let ctx = RequestContext {
        user_agent: crate::harness::app::UA.to_owned(),
        ip: "127.0.0.1".to_owned(),
    };
    let mut tokens = Vec::new();
    for a in 0..ACCOUNTS {
        let address = format!("0x{:040x}", a + 1);
        for _ in 0..SESSIONS_PER_ACCOUNT {
            let (token, _) = fleet[0]
                .sessions()
                .create(Chain::Ethereum, &address, None, WalletType::Eoa, &ctx)
                .await
                .unwrap();
            tokens.push(token);
        }
    }
    let sessions = tokens.len();
    let before = ops.snapshot();
    let rounds = u32::try_from((ROLES_REFRESH * PERIODS).as_millis() / EVERY.as_millis()).unwrap();
    for round in 0..rounds {
        app.clock.advance(EVERY);
        for (i, token) in tokens.iter().enumerate() {
            let instance = &fleet[(i + round as usize) % INSTANCES];
            let v = instance.sessions().validate(token, &ctx).await.unwrap();
            assert!(matches!(v, Validation::Valid(_)), "{v:?}");
        }
    }
    let per = |op: &str| since(&ops, &before, op) as f64 / sessions as f64 / f64::from(PERIODS);
    let calls: u64 = ops.snapshot().values().sum::<u64>() - before.values().sum::<u64>();
    eprintln!(
        "{backend:?}: {INSTANCES} instances, {ACCOUNTS} accounts x {SESSIONS_PER_ACCOUNT} \
         sessions, each validated every {EVERY:?} for {PERIODS} x ROLES_REFRESH: per session \
         and ROLES_REFRESH: {:.2} account reads, {:.2} record writes, {:.2} store calls \
         ({} validations)",
        per("get_account"),
        per("update_session"),
        calls as f64 / sessions as f64 / f64::from(PERIODS),
        sessions * rounds as usize,
    );
    let last_seen_writes = (ROLES_REFRESH * PERIODS).as_secs() / LAST_SEEN_RESOLUTION.as_secs();
    assert_eq!(
        since(&ops, &before, "update_session"),
        sessions as u64 * last_seen_writes,
        "lastSeenAt only"
    );
    assert!(
        since(&ops, &before, "get_account") <= (INSTANCES * ACCOUNTS) as u64 * u64::from(PERIODS),
        "at most one read per account, instance and period"
    );
}

/// A sign-in of a wallet whose account's roles this instance read less than `ROLES_REFRESH`
/// ago takes them from the memo (no store read of the account: the nonce and claim, then the
/// session, two round trips); its session still reads them again within `ROLES_REFRESH` of
/// when they were read, so a change made elsewhere reaches it in time.
async fn sign_ins_take_roles_from_the_memo(backend: Backend) {
    let (app, ops) = counted(backend, Vec::new()).await;
    let wallet = Wallet::ethereum();
    let first = app.token(&wallet).await;
    let acc = account_id(&me(&app, &first).await);
    // The first sign-in of a known account reads its record (and fills the memo).
    app.clock.advance(ROLES_REFRESH + Duration::from_secs(1));
    let before = ops.snapshot();
    app.token(&wallet).await;
    assert_eq!(since(&ops, &before, "get_account"), 1, "read once");
    // Within ROLES_REFRESH of that read: from the memo.
    app.clock.advance(ROLES_REFRESH - Duration::from_secs(5));
    let before = ops.snapshot();
    let late = app.token(&wallet).await;
    assert_eq!(
        since(&ops, &before, "get_account"),
        0,
        "served from the memo"
    );
    // A change made elsewhere, straight in the store: the memo'd roles were read 25 s ago,
    // so the late session reads them again 5 s from now, not 30.
    let roles = vec!["editor".to_owned()];
    let set = app
        .state
        .store()
        .set_account_roles(&AccountId::new(acc.as_str()), None, &roles)
        .await
        .unwrap();
    assert_eq!(set, RolesSet::Done);
    app.clock.advance(Duration::from_secs(6));
    assert_eq!(me(&app, &late).await["roles"], json!(["editor"]));
}
