//! Accounts and the data of the release before them (sessions and users written without any
//! account field), and the command line of accounts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

use super::legacy::cli;
use crate::harness::app::{spawn_app, spawn_app_with, TestApp, Wallet};
use crate::harness::backends::Backend;
use wallet_auth::config::Binding;
use wallet_auth::session::accounts::ROLES_REFRESH;
use wallet_auth::session::crypto::{hash_b64, random_token, KeyRing};
use wallet_auth::store::{AccountId, NewSession, SessionId, TokenHash, WalletTag};
use wallet_auth::verify::{Chain, WalletType};

fn keys(app: &TestApp) -> KeyRing {
    KeyRing::from_config(&app.config.store.encryption_keys)
}

/// A legacy user session as the release before accounts wrote it (JSON, no account fields).
#[derive(Serialize)]
struct OldUserRecord<'a> {
    username: &'a str,
    csrf: &'a str,
    stamp: String,
    created_ms: i64,
    expires_ms: i64,
}

/// A wallet session record as the release before accounts wrote it (postcard, with the wallet
/// type, no account fields).
#[derive(Serialize)]
struct OldWalletRecord<'a> {
    sid: &'a str,
    chain: Chain,
    addr: &'a str,
    cid: Option<&'a str>,
    ca: i64,
    ls: i64,
    ex: i64,
    ua: &'a str,
    ip: &'a str,
    csrf: &'a str,
    wt: WalletType,
}

fn now_ms(app: &TestApp) -> i64 {
    i64::try_from(app.clock_now().unix_timestamp_nanos() / 1_000_000).unwrap()
}

/// Sessions and users written by the release before accounts keep working; their account is
/// created on first use, and is the one later sign-ins get.
async fn data_written_before_accounts(backend: Backend) {
    // The record below keeps no user agent: binding is not what this test is about.
    let app = spawn_app_with(backend, |c| c.sessions.binding = Binding::Off).await;
    let store = app.state.store().clone();
    let now = now_ms(&app);

    // A user and its session, as written before.
    app.state.users().add("olga", "olgas-pw-1").await.unwrap();
    let phc = store.get("user:olga").await.unwrap().unwrap();
    let token = random_token(32);
    let key = format!("usess:{}", hash_b64(token.as_bytes(), 24));
    let record = OldUserRecord {
        username: "olga",
        csrf: "csrf-of-olga-0123456789",
        stamp: hash_b64(&phc, 24),
        created_ms: now,
        expires_ms: now + 3_600_000,
    };
    let sealed = keys(&app).seal(&serde_json::to_vec(&record).unwrap(), key.as_bytes());
    store
        .set(&key, &sealed, Some(Duration::from_secs(3600)))
        .await
        .unwrap();
    let cookie = format!("sid={token}");
    let me = app
        .with_cookies(Method::GET, "/api/user/me", &[&cookie], &[])
        .await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let olga = me.body["accountId"].as_str().unwrap().to_owned();
    assert_eq!(me.body["username"], json!("olga"));
    let again = app
        .with_cookies(Method::GET, "/api/user/me", &[&cookie], &[])
        .await;
    assert_eq!(
        again.body["accountId"],
        json!(olga),
        "the same account on every use"
    );
    let account = app
        .with_cookies(Method::GET, "/auth/account", &[&cookie], &[])
        .await;
    assert_eq!(
        account.body["identities"],
        json!([{"type": "password", "username": "olga"}])
    );
    let login = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "olga", "password": "olgas-pw-1"})),
        )
        .await;
    assert_eq!(login.body["accountId"], json!(olga));
    // The old session is now one of the account's, and logout ends it.
    let r = app
        .with_cookies(
            Method::POST,
            "/auth/user/logout",
            &[&cookie],
            &[("x-csrf-token", "csrf-of-olga-0123456789")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    app.with_cookies(Method::GET, "/api/user/me", &[&cookie], &[])
        .await
        .assert_error(401, "unauthenticated");

    // A wallet session, as written before.
    let w = Wallet::ethereum();
    let tag = WalletTag::new(hash_b64(format!("ethereum:{}", w.address).as_bytes(), 9));
    let sid = random_token(16);
    let token = format!("{tag}.{sid}.{}", random_token(32));
    let hash = TokenHash::new(hash_b64(token.as_bytes(), 16));
    let record = OldWalletRecord {
        sid: &sid,
        chain: Chain::Ethereum,
        addr: &w.address,
        cid: Some("1"),
        ca: now,
        ls: now,
        ex: now + 3_600_000,
        ua: "",
        ip: "127.0.0.1",
        csrf: "csrf-of-the-wallet-0123",
        wt: WalletType::Eoa,
    };
    let sealed = keys(&app).seal(
        &postcard::to_allocvec(&record).unwrap(),
        format!("s:{tag}:{hash}").as_bytes(),
    );
    store
        .create_session(
            &tag,
            NewSession {
                session_id: &SessionId::new(sid.as_str()),
                token_hash: &hash,
                created_ms: now,
                record: &sealed,
                ttl: Duration::from_secs(3600),
            },
            5,
        )
        .await
        .unwrap();
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    let acc = me.body["accountId"].as_str().unwrap().to_owned();
    assert_eq!(me.body["address"], json!(w.address));
    assert_eq!(
        app.get("/api/me", Some(&token)).await.body["accountId"],
        json!(acc)
    );
    let fresh = app.sign_in(&w).await;
    assert_eq!(fresh.body["accountId"], json!(acc));
    let listed = app.get("/auth/account", Some(&token)).await;
    assert_eq!(
        listed.body["identities"],
        json!([{"type": "wallet", "chain": "ethereum", "address": w.address}])
    );
}

fn stdout_json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("{out:?}"))
}

/// `wallet-auth account roles` by `chain:address` (any case) or account id; bad input exits 2,
/// an unknown account 1. `user remove` of a user alone in its account deletes the account.
async fn command_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let w = Wallet::ethereum();
    let token = app.token(&w).await;
    let acc = app.get("/api/me", Some(&token)).await.body["accountId"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_wallet = format!("ethereum:{}", w.address.to_uppercase().replace("0X", "0x"));
    let out = cli(
        &app,
        &[
            "account", "roles", &by_wallet, "--add", "editor", "--add", "admin",
        ],
        "",
    )
    .await;
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        stdout_json(&out),
        json!({"accountId": acc, "roles": ["admin", "editor"]})
    );
    let out = cli(&app, &["account", "roles", &acc, "--remove", "admin"], "").await;
    assert_eq!(
        stdout_json(&out),
        json!({"accountId": acc, "roles": ["editor"]})
    );
    let out = cli(&app, &["account", "roles", &acc], "").await;
    assert_eq!(
        stdout_json(&out)["roles"],
        json!(["editor"]),
        "no flag: shows them"
    );
    app.clock.advance(ROLES_REFRESH);
    assert_eq!(
        app.get("/api/me", Some(&token)).await.body["roles"],
        json!(["editor"])
    );
    let out = cli(&app, &["account", "roles", &acc, "--add", "Bad Role"], "").await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = cli(
        &app,
        &["account", "roles", "no-such-account", "--add", "x"],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let out = cli(
        &app,
        &[
            "account",
            "roles",
            "solana:11111111111111111111111111111111",
        ],
        "",
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // The audit trail has the CLI's changes.
    let audit = app
        .get("/admin/audit?limit=100", Some(crate::harness::app::ADMIN))
        .await;
    let changes = audit.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == json!("roles_change"))
        .count();
    assert_eq!(
        changes, 2,
        "a command that changes nothing writes nothing: {}",
        audit.body
    );

    // `user remove` of a user alone in its account: the account goes too.
    let out = cli(&app, &["user", "add", "pat"], "pats-pw-1\n").await;
    assert!(out.status.success(), "{out:?}");
    let login = app
        .post(
            "/auth/user/login",
            None,
            Some(json!({"username": "pat", "password": "pats-pw-1"})),
        )
        .await;
    let pat = AccountId::new(login.body["accountId"].as_str().unwrap());
    assert!(app.state.store().get_account(&pat).await.unwrap().is_some());
    let out = cli(&app, &["user", "remove", "pat"], "").await;
    assert!(out.status.success(), "{out:?}");
    assert!(app.state.store().get_account(&pat).await.unwrap().is_none());
}

crate::on_every_backend!(data_written_before_accounts);
crate::on_backends!(cli_on_redis: Redis, cli_on_cluster: Cluster, cli_on_postgres: Postgres; command_line);
