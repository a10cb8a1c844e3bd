//! Accounts, identities and roles (the contract's accounts table), on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::app::{spawn_app, spawn_app_with, TestApp, Wallet, ADMIN, DOMAIN};
use crate::harness::backends::Backend;
use wallet_auth::session::accounts::ROLES_REFRESH;

/// A signed `/auth/link` body for `wallet` over a link nonce of the session `token`.
async fn link_body(app: &TestApp, token: &str, wallet: &Wallet) -> Value {
    let r = app
        .post(
            "/auth/link/nonce",
            Some(token),
            Some(json!({"chain": wallet.chain.as_str()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "link nonce: {}", r.body);
    let msg = wallet.message(DOMAIN, r.body["nonce"].as_str().unwrap(), app.clock_now());
    wallet.verify_body(&msg)
}

async fn link(app: &TestApp, token: &str, wallet: &Wallet) -> crate::harness::app::Resp {
    let body = link_body(app, token, wallet).await;
    app.post("/auth/link", Some(token), Some(body)).await
}

pub(super) fn account_id(body: &Value) -> String {
    body["accountId"].as_str().expect("accountId").to_owned()
}

pub(super) async fn me(app: &TestApp, token: &str) -> Value {
    let r = app.get("/api/me", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

fn identities(account: &Value) -> Vec<String> {
    let mut out: Vec<String> = account["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match i["type"].as_str().unwrap() {
            "wallet" => format!(
                "{}:{}",
                i["chain"].as_str().unwrap(),
                i["address"].as_str().unwrap()
            ),
            _ => format!("password:{}", i["username"].as_str().unwrap()),
        })
        .collect();
    out.sort();
    out
}

/// A first sign-in creates an account; linking a Solana wallet to an Ethereum account makes
/// both sign in to the same account; the account lists both.
async fn link_a_wallet_of_the_other_chain(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eth, sol) = (Wallet::ethereum(), Wallet::solana());
    let signed = app.sign_in(&eth).await;
    assert_eq!(signed.status, StatusCode::OK);
    let acc = account_id(&signed.body);
    assert_eq!(signed.body["roles"], json!([]));
    let token = signed.body["token"].as_str().unwrap().to_owned();
    let m = me(&app, &token).await;
    assert_eq!(account_id(&m), acc);
    assert_eq!(m["roles"], json!([]));
    let a = app.get("/auth/account", Some(&token)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        identities(&a.body),
        vec![format!("ethereum:{}", eth.address)]
    );
    assert!(a.body["createdAt"].is_string());

    let r = link(&app, &token, &sol).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(account_id(&r.body), acc);
    let mut want = vec![
        format!("ethereum:{}", eth.address),
        format!("solana:{}", sol.address),
    ];
    want.sort();
    assert_eq!(identities(&r.body), want);
    // Signing in with either gives the same account.
    let sol_token = app.token(&sol).await;
    assert_eq!(account_id(&me(&app, &sol_token).await), acc);
    assert_eq!(account_id(&me(&app, &app.token(&eth).await).await), acc);
    // Linking it again changes nothing.
    let r = link(&app, &token, &sol).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(identities(&r.body), want);
    // The JWT's subject is the account.
    let jwt = app.post("/auth/token", Some(&sol_token), None).await;
    let payload = jwt.body["token"]
        .as_str()
        .unwrap()
        .split('.')
        .nth(1)
        .unwrap()
        .to_owned();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], json!(acc));
    assert_eq!(claims["roles"], json!([]));
}

/// A link nonce is refused at `/auth/verify` and a sign-in nonce at `/auth/link`, and either
/// is spent by the refusal; a link nonce of another account is refused too.
async fn nonces_have_one_purpose(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eth, sol) = (Wallet::ethereum(), Wallet::solana());
    let token = app.token(&eth).await;
    let body = link_body(&app, &token, &sol).await;
    app.post("/auth/verify", None, Some(body.clone()))
        .await
        .assert_error(401, "nonce_invalid");
    app.post("/auth/link", Some(&token), Some(body))
        .await
        .assert_error(401, "nonce_invalid");
    let body = app.signed_body(&sol).await;
    app.post("/auth/link", Some(&token), Some(body.clone()))
        .await
        .assert_error(401, "nonce_invalid");
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "nonce_invalid");
    // Another account's link nonce.
    let other = app.token(&Wallet::ethereum()).await;
    let body = link_body(&app, &other, &sol).await;
    app.post("/auth/link", Some(&token), Some(body))
        .await
        .assert_error(401, "nonce_invalid");
    // A bad signature is refused as at sign-in.
    let mut body = link_body(&app, &token, &sol).await;
    body["signature"] = json!(Wallet::solana().sign("something else"));
    app.post("/auth/link", Some(&token), Some(body))
        .await
        .assert_error(401, "invalid_signature");
    // Anonymous callers get no link nonce.
    app.post("/auth/link/nonce", None, None)
        .await
        .assert_error(401, "unauthenticated");
}

/// Linking and unlinking need a sign-in within `REAUTH_MAX_AGE` (from its creation, not its
/// refreshes).
async fn reauthentication_boundary(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.sessions.reauth_max_age = Duration::from_secs(600)
    })
    .await;
    let (eth, sol) = (Wallet::ethereum(), Wallet::solana());
    let token = app.token(&eth).await;
    let body = link_body(&app, &token, &sol).await;
    app.clock.advance(Duration::from_secs(600));
    let r = app.post("/auth/link", Some(&token), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "exactly at the bound: {}", r.body);
    let body = link_body(&app, &token, &Wallet::solana()).await;
    app.clock.advance(Duration::from_secs(1));
    app.post("/auth/link", Some(&token), Some(body.clone()))
        .await
        .assert_error(403, "reauthentication_required");
    let path = format!("/auth/identities/solana/{}", sol.address);
    app.call(Method::DELETE, &path, Some(&token), None)
        .await
        .assert_error(403, "reauthentication_required");
    // A fresh sign-in of the same account may.
    let fresh = app.token(&sol).await;
    let r = app.call(Method::DELETE, &path, Some(&fresh), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A wallet of an account with another identity is `identity_in_use`; a wallet alone in its
/// account moves over, its old account is deleted and its sessions end.
async fn in_use_and_move_over(backend: Backend) {
    let app = spawn_app(backend).await;
    let (a, b, c) = (Wallet::ethereum(), Wallet::solana(), Wallet::ethereum());
    let ta = app.token(&a).await;
    let tb = app.token(&b).await;
    let old_b = account_id(&me(&app, &tb).await);
    // b's account has only b: it moves over.
    let r = link(&app, &ta, &b).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.get("/api/me", Some(&tb))
        .await
        .assert_error(401, "unauthenticated");
    let acc_a = account_id(&me(&app, &ta).await);
    assert_ne!(acc_a, old_b);
    assert_eq!(account_id(&me(&app, &app.token(&b).await).await), acc_a);
    // c's account, then: b cannot be taken from a's account (which has another identity).
    let tc = app.token(&c).await;
    link(&app, &tc, &b)
        .await
        .assert_error(409, "identity_in_use");
    assert_eq!(account_id(&me(&app, &app.token(&b).await).await), acc_a);
    // Nor a, whose account has b.
    link(&app, &tc, &a)
        .await
        .assert_error(409, "identity_in_use");
}

/// Unlinking: `last_identity` for the only one; else the wallet's sessions end and its next
/// sign-in creates a new account.
async fn unlink_wallets(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eth, sol) = (Wallet::ethereum(), Wallet::solana());
    let te = app.token(&eth).await;
    let acc = account_id(&me(&app, &te).await);
    let own = format!("/auth/identities/ethereum/{}", eth.address.to_lowercase());
    app.call(Method::DELETE, &own, Some(&te), None)
        .await
        .assert_error(409, "last_identity");
    let path = format!("/auth/identities/solana/{}", sol.address);
    app.call(Method::DELETE, &path, Some(&te), None)
        .await
        .assert_error(404, "not_found");
    assert_eq!(link(&app, &te, &sol).await.status, StatusCode::OK);
    let ts = app.token(&sol).await;
    let r = app.call(Method::DELETE, &path, Some(&te), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        identities(&r.body),
        vec![format!("ethereum:{}", eth.address)]
    );
    app.get("/api/me", Some(&ts))
        .await
        .assert_error(401, "unauthenticated");
    let again = app.token(&sol).await;
    assert_ne!(account_id(&me(&app, &again).await), acc);
    // Unlinking one's own wallet ends the session making the request.
    assert_eq!(
        link(&app, &te, &Wallet::solana()).await.status,
        StatusCode::OK
    );
    let r = app.call(Method::DELETE, &own, Some(&te), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.get("/api/me", Some(&te))
        .await
        .assert_error(401, "unauthenticated");
    app.call(
        Method::DELETE,
        "/auth/identities/bitcoin/x",
        Some(&again),
        None,
    )
    .await
    .assert_error(400, "bad_request");
}

/// `scope=account` lists and ends the sessions of every identity, the user session included.
async fn account_scope(backend: Backend) {
    let app = spawn_app(backend).await;
    let (eth, sol) = (Wallet::ethereum(), Wallet::solana());
    let te = app.token(&eth).await;
    assert_eq!(link(&app, &te, &sol).await.status, StatusCode::OK);
    let ts = app.token(&sol).await;
    let r = app
        .post(
            "/auth/link/password",
            Some(&te),
            Some(json!({"username": "carol", "password": "pw-carol-1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(identities(&r.body).contains(&"password:carol".to_owned()));
    let login = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "carol", "password": "pw-carol-1"})),
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let acc = account_id(&me(&app, &te).await);
    assert_eq!(account_id(&login.body), acc);
    let sid = format!("sid={}", login.cookie("sid").unwrap());
    let user_me = app
        .with_cookies(Method::GET, "/api/user/me", &[&sid], &[])
        .await;
    assert_eq!(account_id(&user_me.body), acc);
    assert_eq!(user_me.body["roles"], json!([]));
    // The password is taken now.
    app.post(
        "/auth/link/password",
        Some(&app.token(&Wallet::ethereum()).await),
        Some(json!({"username": "carol", "password": "x"})),
    )
    .await
    .assert_error(409, "identity_in_use");
    // Wallet scope (the default) lists this wallet's only.
    let own = app.get("/auth/sessions", Some(&te)).await;
    assert_eq!(own.body["sessions"].as_array().unwrap().len(), 1);
    let all = app.get("/auth/sessions?scope=account", Some(&te)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let listed = all.body["sessions"].as_array().unwrap();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut kinds: Vec<String> = listed
        .iter()
        .map(|s| s["identity"]["type"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["password", "wallet", "wallet"]);
    assert_eq!(
        listed
            .iter()
            .filter(|s| s["current"] == json!(true))
            .count(),
        1
    );
    app.get("/auth/sessions?scope=galaxy", Some(&te))
        .await
        .assert_error(400, "bad_request");
    let r = app
        .post(
            "/auth/logout-all",
            Some(&ts),
            Some(json!({"scope": "account"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["revoked"], json!(3));
    for t in [&te, &ts] {
        app.get("/api/me", Some(t))
            .await
            .assert_error(401, "unauthenticated");
    }
    app.with_cookies(Method::GET, "/api/user/me", &[&sid], &[])
        .await
        .assert_error(401, "unauthenticated");
    // The password still signs in to the same account.
    let again = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "carol", "password": "pw-carol-1"})),
        )
        .await;
    assert_eq!(account_id(&again.body), acc);
}

/// Concurrent links of one wallet to two accounts: exactly one wins. Concurrent first
/// sign-ins of one wallet: one account.
async fn concurrent_links_and_sign_ins(backend: Backend) {
    let app = spawn_app(backend).await;
    let target = Wallet::solana();
    let (t1, t2) = (
        app.token(&Wallet::ethereum()).await,
        app.token(&Wallet::ethereum()).await,
    );
    let (b1, b2) = (
        link_body(&app, &t1, &target).await,
        link_body(&app, &t2, &target).await,
    );
    let (r1, r2) = tokio::join!(
        app.post("/auth/link", Some(&t1), Some(b1)),
        app.post("/auth/link", Some(&t2), Some(b2)),
    );
    let mut statuses = [r1.status.as_u16(), r2.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409], "{} / {}", r1.body, r2.body);
    let winner = if r1.status == StatusCode::OK {
        &r1
    } else {
        &r2
    };
    let loser_token = if r1.status == StatusCode::OK {
        &t2
    } else {
        &t1
    };
    let loser = app.get("/auth/account", Some(loser_token)).await;
    assert_eq!(
        identities(&loser.body).len(),
        1,
        "the loser keeps only its wallet"
    );
    assert_eq!(
        account_id(&me(&app, &app.token(&target).await).await),
        account_id(&winner.body)
    );

    let fresh = Wallet::ethereum();
    let (a, b) = (app.signed_body(&fresh).await, app.signed_body(&fresh).await);
    let (ra, rb) = tokio::join!(
        app.post("/auth/verify", None, Some(a)),
        app.post("/auth/verify", None, Some(b)),
    );
    assert_eq!((ra.status, rb.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(account_id(&ra.body), account_id(&rb.body));
}

/// Roles: set by an operator, reach live sessions (on this instance at once); a session with
/// `admin` may use `/admin/*`; invalid roles are refused.
async fn roles_reach_live_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let eth = Wallet::ethereum();
    let token = app.token(&eth).await;
    let acc = account_id(&me(&app, &token).await);
    let path = format!("/admin/accounts/{acc}/roles");
    app.call(
        Method::PUT,
        &path,
        Some(&token),
        Some(json!({"roles": ["admin"]})),
    )
    .await
    .assert_error(403, "forbidden");
    let r = app
        .call(
            Method::PUT,
            &path,
            Some(ADMIN),
            Some(json!({"roles": ["editor", "admin", "editor"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"accountId": acc, "roles": ["admin", "editor"]})
    );
    // Changed through this instance: its sessions have them at once (other instances within
    // ROLES_REFRESH: tests/integration/api/roles.rs).
    assert_eq!(me(&app, &token).await["roles"], json!(["admin", "editor"]));
    let stats = app.get("/admin/sessions/stats", Some(&token)).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    // The audit trail has the change.
    let audit = app.get("/admin/audit?limit=50", Some(ADMIN)).await;
    assert!(
        audit.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == json!("roles_change") && e["accountId"] == json!(acc)),
        "{}",
        audit.body
    );
    for bad in [
        json!({"roles": ["Admin"]}),
        json!({"roles": ["a b"]}),
        json!({"roles": "admin"}),
    ] {
        app.call(Method::PUT, &path, Some(ADMIN), Some(bad))
            .await
            .assert_error(400, "bad_request");
    }
    app.call(
        Method::PUT,
        "/admin/accounts/nobody/roles",
        Some(ADMIN),
        Some(json!({"roles": []})),
    )
    .await
    .assert_error(404, "not_found");
    // Taken away again: the admin session loses /admin as fast, also with roles read a while
    // ago.
    app.clock.advance(ROLES_REFRESH);
    assert_eq!(me(&app, &token).await["roles"], json!(["admin", "editor"]));
    app.call(Method::PUT, &path, Some(ADMIN), Some(json!({"roles": []})))
        .await;
    app.get("/admin/sessions/stats", Some(&token))
        .await
        .assert_error(403, "forbidden");
}

/// `ADMIN_WALLETS`: an account with a listed wallet (any case) has `admin`, not stored.
async fn admin_wallets(backend: Backend) {
    let listed = Wallet::ethereum();
    let entry = format!("ethereum:{}", listed.address.to_lowercase());
    let app = spawn_app_with(backend, |c| {
        c.ops.admin_wallets = vec![entry];
        c.ops.admin_token = None;
    })
    .await;
    let token = app.token(&listed).await;
    assert_eq!(me(&app, &token).await["roles"], json!(["admin"]));
    assert_eq!(
        app.get("/admin/sessions/stats", Some(&token)).await.status,
        StatusCode::OK
    );
    let other = app.token(&Wallet::solana()).await;
    app.get("/admin/sessions/stats", Some(&other))
        .await
        .assert_error(404, "not_found");
    // A linked wallet's sessions get it too.
    let sol = Wallet::solana();
    assert_eq!(link(&app, &token, &sol).await.status, StatusCode::OK);
    assert_eq!(
        me(&app, &app.token(&sol).await).await["roles"],
        json!(["admin"])
    );
}

crate::on_every_backend!(
    link_a_wallet_of_the_other_chain,
    nonces_have_one_purpose,
    reauthentication_boundary,
    in_use_and_move_over,
    unlink_wallets,
    account_scope,
    concurrent_links_and_sign_ins,
    roles_reach_live_sessions,
    admin_wallets,
);
