//! Nonce challenge and sign-in.

use reqwest::StatusCode;
use serde_json::json;
use wallet_auth::verify::Chain;

use crate::harness::app::{spawn_app, spawn_app_with, Backend, Wallet, DOMAIN};
use crate::on_every_backend;

on_every_backend!(
    nonce_without_body_uses_defaults,
    nonce_with_address_returns_a_ready_message,
    ethereum_sign_in_opens_a_session,
    solana_sign_in_opens_a_session,
    nonce_is_single_use,
    failed_attempt_burns_the_nonce,
    nonce_bound_to_another_address_is_refused,
    concurrent_verifies_of_one_nonce_one_wins,
    wrong_domain_and_chain_refused,
    expired_and_future_messages_refused,
    unknown_nonce_refused,
    uniform_case_addresses_sign_in_in_eip55,
    a_wallet_on_an_l2_signs_in_with_the_default_chains,
    issued_at_within_the_skew_of_the_nonce_and_of_now,
    message_times_out_of_order_are_expired,
    a_returning_wallets_sign_in_makes_few_store_calls,
);

async fn nonce_without_body_uses_defaults(b: Backend) {
    let app = spawn_app(b).await;
    let r = app.post("/auth/nonce", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let n = r.body["nonce"].as_str().unwrap();
    assert!(
        n.len() >= 17 && n.chars().all(|c| c.is_ascii_alphanumeric()),
        "{n}"
    );
    assert_eq!(r.body["chain"], "ethereum");
    assert_eq!(r.body["chainId"], 1);
    assert_eq!(r.body["domain"], DOMAIN);
    assert!(r.body["issuedAt"].is_string() && r.body["expiresAt"].is_string());
    assert!(r.body.get("message").is_none());
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let other = app.post("/auth/nonce", None, None).await;
    assert_ne!(other.body["nonce"], r.body["nonce"]);
}

async fn nonce_with_address_returns_a_ready_message(b: Backend) {
    let app = spawn_app(b).await;
    for w in [Wallet::ethereum(), Wallet::solana()] {
        let addr = if w.chain == Chain::Ethereum {
            w.address.to_lowercase()
        } else {
            w.address.clone()
        };
        let n = app.nonce(w.chain, Some(&addr)).await;
        let msg = n["message"].as_str().unwrap();
        assert!(
            msg.contains(&w.address),
            "address in EIP-55 / base58 form: {msg}"
        );
        assert!(msg.contains(n["nonce"].as_str().unwrap()));
        // The ready message signs in as is.
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(msg)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}: {}", w.chain, r.body);
    }
}

async fn ethereum_sign_in_opens_a_session(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let r = app.sign_in(&w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let token = r.body["token"].as_str().unwrap();
    assert!(token.len() >= 43);
    assert!(token
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(&c)));
    assert_eq!(r.body["address"], w.address);
    assert_eq!(r.body["chain"], "ethereum");
    assert_eq!(r.body["chainId"], 1);
    for f in [
        "sessionId",
        "createdAt",
        "expiresAt",
        "refreshAfter",
        "csrfToken",
    ] {
        assert!(r.body[f].is_string(), "{f} in {}", r.body);
    }
    // Every attribute is checked by the harness (crate::harness::cookies).
    assert_eq!(r.only_cookie("wallet_session"), token);
    let me = app.get("/api/me", Some(token)).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["address"], w.address);
    assert_eq!(me.body["sessionId"], r.body["sessionId"]);
}

async fn solana_sign_in_opens_a_session(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let r = app.sign_in(&w).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["chain"], "solana");
    assert_eq!(r.body["chainId"], "mainnet");
    assert_eq!(r.body["address"], w.address);
    let me = app.get("/api/me", r.body["token"].as_str()).await;
    assert_eq!(me.body["address"], w.address);
}

async fn nonce_is_single_use(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let body = app.signed_body(&w).await;
    let first = app.post("/auth/verify", None, Some(body.clone())).await;
    assert_eq!(first.status, StatusCode::OK);
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "nonce_invalid");
}

async fn failed_attempt_burns_the_nonce(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let mut body = app.signed_body(&w).await;
    let good = body["signature"].clone();
    body["signature"] = json!(Wallet::ethereum().sign(body["message"].as_str().unwrap()));
    app.post("/auth/verify", None, Some(body.clone()))
        .await
        .assert_error(401, "invalid_signature");
    body["signature"] = good;
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "nonce_invalid");
}

async fn nonce_bound_to_another_address_is_refused(b: Backend) {
    let app = spawn_app(b).await;
    let victim = Wallet::ethereum();
    let attacker = Wallet::ethereum();
    let n = app.nonce(Chain::Ethereum, Some(&victim.address)).await;
    let msg = attacker.message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now());
    app.post("/auth/verify", None, Some(attacker.verify_body(&msg)))
        .await
        .assert_error(401, "nonce_invalid");
}

async fn concurrent_verifies_of_one_nonce_one_wins(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let body = app.signed_body(&w).await;
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let http = app.http.clone();
        let url = app.url("/auth/verify");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url).json(&body).send().await.unwrap().status()
        }));
    }
    let mut ok = 0;
    for t in tasks {
        let s = t.await.unwrap();
        if s == StatusCode::OK {
            ok += 1;
        } else {
            assert_eq!(s, StatusCode::UNAUTHORIZED);
        }
    }
    assert_eq!(ok, 1, "exactly one of 40 concurrent verifies wins");
    let sessions = app
        .state
        .sessions()
        .list(&wallet_auth::session::wallet::wallet_tag(
            Chain::Ethereum,
            &w.address,
        ))
        .await
        .unwrap();
    assert_eq!(sessions.len(), 1);
}

async fn wrong_domain_and_chain_refused(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let n = app.nonce(Chain::Ethereum, None).await;
    let msg = w.message(
        "evil.example",
        n["nonce"].as_str().unwrap(),
        app.clock_now(),
    );
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(401, "domain_mismatch");
    let n = app.nonce(Chain::Ethereum, None).await;
    let msg = w.message_with(
        DOMAIN,
        n["nonce"].as_str().unwrap(),
        app.clock_now(),
        Some("5"),
    );
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(401, "chain_not_allowed");
    let s = Wallet::solana();
    let n = app.nonce(Chain::Solana, None).await;
    let msg = s.message_with(
        DOMAIN,
        n["nonce"].as_str().unwrap(),
        app.clock_now(),
        Some("localnet"),
    );
    app.post("/auth/verify", None, Some(s.verify_body(&msg)))
        .await
        .assert_error(401, "chain_not_allowed");
    app.post(
        "/auth/nonce",
        None,
        Some(json!({"chain": "ethereum", "chainId": 5})),
    )
    .await
    .assert_error(401, "chain_not_allowed");
}

async fn expired_and_future_messages_refused(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let n = app.nonce(Chain::Ethereum, None).await;
    let msg = w.message(
        DOMAIN,
        n["nonce"].as_str().unwrap(),
        app.clock_now() + time::Duration::minutes(10),
    );
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(401, "message_not_yet_valid");
    let n = app.nonce(Chain::Ethereum, None).await;
    let msg = w.message(
        DOMAIN,
        n["nonce"].as_str().unwrap(),
        app.clock_now() - time::Duration::minutes(30),
    );
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(401, "message_expired");
}

async fn unknown_nonce_refused(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::solana();
    let msg = w.message(DOMAIN, "neverIssued12345", app.clock_now());
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(401, "nonce_invalid");
}

/// `address` with the case of one letter flipped, so that it is mixed case with a wrong
/// EIP-55 checksum.
fn with_a_wrong_checksum(address: &str) -> String {
    let digits: Vec<char> = address[2..].chars().collect();
    for i in 0..digits.len() {
        if !digits[i].is_ascii_alphabetic() {
            continue;
        }
        let mut flipped = digits.clone();
        flipped[i] = if flipped[i].is_ascii_lowercase() {
            flipped[i].to_ascii_uppercase()
        } else {
            flipped[i].to_ascii_lowercase()
        };
        let mixed = flipped.iter().any(char::is_ascii_lowercase)
            && flipped.iter().any(char::is_ascii_uppercase);
        if mixed {
            return format!("0x{}", flipped.into_iter().collect::<String>());
        }
    }
    panic!("no letter of {address} can be flipped into a wrong checksum");
}

async fn uniform_case_addresses_sign_in_in_eip55(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    let lower = w.address.to_ascii_lowercase();
    let upper = format!("0x{}", w.address[2..].to_ascii_uppercase());
    for written in [&lower, &upper, &w.address] {
        // The nonce bound to the address as the wallet gave it; the message signed with the
        // address written that way.
        let n = app.nonce(Chain::Ethereum, Some(written)).await;
        let msg = w
            .message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now())
            .replace(&w.address, written);
        assert!(msg.contains(written.as_str()));
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(&msg)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{written}: {}", r.body);
        assert_eq!(r.body["address"], w.address.as_str(), "{written}");
        let token = r.body["token"].as_str().unwrap();
        let me = app.get("/api/me", Some(token)).await;
        assert_eq!(me.body["address"], w.address.as_str(), "{written}");
    }
    // All of them are the one wallet.
    let sessions = app.get("/auth/sessions", Some(&app.token(&w).await)).await;
    assert_eq!(sessions.body["sessions"].as_array().map(Vec::len), Some(4));

    // Mixed case with a wrong checksum is malformed.
    let n = app.nonce(Chain::Ethereum, None).await;
    let msg = w
        .message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now())
        .replace(&w.address, &with_a_wrong_checksum(&w.address));
    app.post("/auth/verify", None, Some(w.verify_body(&msg)))
        .await
        .assert_error(400, "invalid_message");

    // The signature is checked over the bytes sent: signed in EIP-55, sent in lowercase.
    let n = app.nonce(Chain::Ethereum, None).await;
    let signed = w.message(DOMAIN, n["nonce"].as_str().unwrap(), app.clock_now());
    let mut body = w.verify_body(&signed);
    body["message"] = json!(signed.replace(&w.address, &lower));
    app.post("/auth/verify", None, Some(body))
        .await
        .assert_error(401, "invalid_signature");
}

async fn a_wallet_on_an_l2_signs_in_with_the_default_chains(b: Backend) {
    let app = spawn_app_with(b, |c| {
        c.signin.eth_chain_ids = wallet_auth::config::Config::default().signin.eth_chain_ids;
    })
    .await;
    // Base, OP Mainnet, Arbitrum One, Linea, and a chain id nobody has heard of.
    for chain_id in [8453u64, 10, 42161, 59144, 987_654_321] {
        let w = Wallet::ethereum();
        let n = app
            .post(
                "/auth/nonce",
                None,
                Some(json!({"chain": "ethereum", "address": w.address, "chainId": chain_id})),
            )
            .await;
        assert_eq!(n.status, StatusCode::OK, "{chain_id}: {}", n.body);
        assert_eq!(n.body["chainId"], chain_id);
        let msg = n.body["message"].as_str().unwrap();
        assert!(msg.contains(&format!("\nChain ID: {chain_id}\n")), "{msg}");
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(msg)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{chain_id}: {}", r.body);
        assert_eq!(r.body["chainId"], chain_id);
        // A message the wallet wrote itself for its chain, too.
        let n = app.nonce(Chain::Ethereum, None).await;
        let msg = w.message_with(
            DOMAIN,
            n["nonce"].as_str().unwrap(),
            app.clock_now(),
            Some(&chain_id.to_string()),
        );
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(&msg)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{chain_id}: {}", r.body);
    }
    // Without a chain id the nonce is for chain 1.
    let n = app.post("/auth/nonce", None, None).await;
    assert_eq!(n.body["chainId"], 1);
}

async fn issued_at_within_the_skew_of_the_nonce_and_of_now(b: Backend) {
    let app = spawn_app(b).await;
    let skew = time::Duration::minutes(5);
    assert_eq!(
        app.config.signin.clock_skew,
        std::time::Duration::from_secs(300)
    );
    let w = Wallet::ethereum();
    let second = time::Duration::seconds(1);
    // (Issued At relative to the nonce's issue time, expected error) with the server's clock
    // two minutes past the nonce's issue time.
    let cases = [
        (-skew, None),
        (-skew - second, Some("message_expired")),
        (time::Duration::minutes(2) + skew, None),
        (
            time::Duration::minutes(2) + skew + second,
            Some("message_not_yet_valid"),
        ),
    ];
    for (offset, error) in cases {
        let n = app.nonce(Chain::Ethereum, None).await;
        let issued = app.clock_now();
        app.clock.advance(std::time::Duration::from_secs(120));
        let msg = w.message(DOMAIN, n["nonce"].as_str().unwrap(), issued + offset);
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(&msg)))
            .await;
        match error {
            None => assert_eq!(r.status, StatusCode::OK, "{offset}: {}", r.body),
            Some(code) => r.assert_error(401, code),
        }
    }
}

async fn message_times_out_of_order_are_expired(b: Backend) {
    let app = spawn_app(b).await;
    let minutes = time::Duration::minutes;
    let stamp = |t: time::OffsetDateTime| {
        wallet_auth::verify::Timestamp::from_datetime(t)
            .as_str()
            .to_owned()
    };
    for w in [Wallet::ethereum(), Wallet::solana()] {
        let now = app.clock_now();
        // The wallet's clock two minutes ahead (within the skew): Issued At in our future.
        let issued = now + minutes(2);
        let later = issued + minutes(10);
        for extra in [
            // Expiration Time not after Issued At (though still ahead of our clock).
            format!(
                "\nExpiration Time: {}",
                stamp(issued - time::Duration::seconds(1))
            ),
            format!("\nExpiration Time: {}", stamp(issued)),
            // Not Before not before Expiration Time.
            format!(
                "\nExpiration Time: {}\nNot Before: {}",
                stamp(later),
                stamp(later)
            ),
        ] {
            let n = app.nonce(w.chain, None).await;
            let msg = w.message(DOMAIN, n["nonce"].as_str().unwrap(), issued) + &extra;
            app.post("/auth/verify", None, Some(w.verify_body(&msg)))
                .await
                .assert_error(401, "message_expired");
        }
        // In order: accepted.
        let n = app.nonce(w.chain, None).await;
        let msg = w.message(DOMAIN, n["nonce"].as_str().unwrap(), issued)
            + &format!(
                "\nExpiration Time: {}\nNot Before: {}",
                stamp(later),
                stamp(now - minutes(1))
            );
        let r = app
            .post("/auth/verify", None, Some(w.verify_body(&msg)))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}: {}", w.chain, r.body);
    }
}

/// Calls of each store operation so far, as `/metrics` counts them.
async fn store_calls(
    app: &crate::harness::app::TestApp,
) -> std::collections::BTreeMap<String, u64> {
    let r = app.get("/metrics", None).await;
    let prefix = "wallet_auth_store_operation_duration_seconds_count{op=\"";
    r.text
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .filter_map(|l| {
            let (op, n) = l.split_once("\"} ")?;
            Some((op.to_owned(), n.trim().parse().ok()?))
        })
        .collect()
}

/// A sign-in of a wallet that has signed in before: the nonce and the wallet's claim read
/// together, the account's roles, then one call writing the session with its audit event,
/// sign-in counter and statistics. (The verify route's rate budget is the HTTP layer's.)
async fn a_returning_wallets_sign_in_makes_few_store_calls(b: Backend) {
    let app = spawn_app(b).await;
    let w = Wallet::ethereum();
    app.token(&w).await;
    let body = app.signed_body(&w).await;
    let before = store_calls(&app).await;
    let r = app.post("/auth/verify", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = store_calls(&app).await;
    let made: std::collections::BTreeMap<&str, u64> = after
        .iter()
        .map(|(op, n)| (op.as_str(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(op, n)| *n > 0 && !matches!(*op, "rate_limit" | "count_active"))
        .collect();
    let expected: std::collections::BTreeMap<&str, u64> = [
        ("take_nonce", 1),
        ("get_claim", 1),
        ("get_account", 1),
        ("create_session_with", 1),
    ]
    .into();
    assert_eq!(made, expected);
    // What the one write carried: the audit event, the counter and the statistics.
    let events = app.state.audit().read(Some(&w.address), 10).await.unwrap();
    let sign_ins = events
        .iter()
        .filter(|e| e.kind == wallet_auth::session::AuditKind::SignIn)
        .count();
    assert_eq!(sign_ins, 2, "{events:?}");
    let stats = app
        .get("/admin/sessions/stats", Some(crate::harness::app::ADMIN))
        .await;
    assert_eq!(
        stats.body["activeSessions"]["byChain"]["ethereum"], 2,
        "{}",
        stats.body
    );
    assert_eq!(stats.body["lastHour"]["signIns"], 2, "{}", stats.body);
}
