//! Smart-contract wallets (EIP-1271, ERC-6492) on a real local chain: anvil, the Safe 1.4.1
//! contracts, and the project's own minimal EIP-1271 wallet and CREATE2 factory, with the
//! server's one `eth_call` of its deployless validator. No mocks: a node that is down is a
//! stopped anvil (or a socket that never answers, for the timeout).

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wallet_auth::config::{EthChainIds, Secret};
use wallet_auth::verify::{prepare_message, Chain, MessageParams};

use crate::harness::anvil::{Anvil, CHAIN_ID};
use crate::harness::app::{spawn_app_with, Backend, Resp, TestApp, Wallet, DOMAIN};
use crate::harness::evm::{
    safe_domain_separator, safe_message_hash, safe_signature, wrap_6492, Evm, OwnedWallets, Owner,
    SafeStack,
};
use crate::on_every_backend;

on_every_backend!(
    deployed_safe_signs_in,
    counterfactual_safe_signs_in_and_stays_undeployed,
    own_wallet_deployed_and_counterfactual,
    tampered_message_is_refused,
    non_owner_is_refused,
    replay_and_burnt_nonces,
    node_down_is_503_and_eoa_still_signs_in,
    hung_or_garbage_node_is_503_within_the_timeout,
    no_node_for_the_chain,
    oversized_signature,
    eoa_sign_in_never_calls_the_node,
);

const TIMEOUT: Duration = Duration::from_secs(2);

/// An app whose chain [`CHAIN_ID`] is served by the node at `url` (probed at start, as
/// `serve` does).
async fn app_with_node(b: Backend, url: &str) -> TestApp {
    app_with_nodes(b, vec![(CHAIN_ID, url.to_owned())], |_| {}).await
}

async fn app_with_nodes(
    b: Backend,
    nodes: Vec<(u64, String)>,
    tweak: impl FnOnce(&mut wallet_auth::config::Config),
) -> TestApp {
    let app = spawn_app_with(b, |c| {
        c.signin.eth_chain_ids = EthChainIds::Only(vec![1, 137, CHAIN_ID]);
        c.contract_wallets.rpc_urls = nodes
            .into_iter()
            .map(|(id, url)| (id, Secret::new(url)))
            .collect();
        c.contract_wallets.rpc_timeout = TIMEOUT;
        tweak(c);
    })
    .await;
    app.state.contract_wallets().probe().await;
    app
}

/// A ready-to-sign message for `address` on `chain_id` with a fresh nonce.
async fn message_for(app: &TestApp, address: Address, chain_id: u64) -> String {
    let n = app.nonce(Chain::Ethereum, None).await;
    let nonce = n["nonce"].as_str().expect("nonce");
    let uri = format!("http://{DOMAIN}/login");
    let id = chain_id.to_string();
    prepare_message(&MessageParams {
        chain: Chain::Ethereum,
        domain: DOMAIN,
        address: &address.to_checksum(None),
        statement: Some("Sign in to the test app."),
        uri: &uri,
        chain_id: Some(&id),
        nonce,
        issued_at: app.clock_now(),
        expiration_time: None,
    })
}

fn body(message: &str, signature: &[u8]) -> Value {
    json!({
        "chain": "ethereum",
        "message": message,
        "signature": format!("0x{}", hex::encode(signature)),
    })
}

async fn verify(app: &TestApp, message: &str, signature: &[u8]) -> Resp {
    app.post("/auth/verify", None, Some(body(message, signature)))
        .await
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics", None).await.text
}

/// How many `eth_call`s the server made to the node of [`CHAIN_ID`].
async fn node_calls(app: &TestApp) -> u64 {
    let text = metrics(app).await;
    let prefix = format!(
        "wallet_auth_node_call_duration_seconds_count{{chain_id=\"{CHAIN_ID}\",method=\"eth_call\"}} "
    );
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

fn assert_contract_session(r: &Resp, address: Address) {
    assert_eq!(r.status, StatusCode::OK, "sign-in: {}", r.body);
    assert_eq!(r.body["walletType"], "contract", "{}", r.body);
    assert_eq!(r.body["address"], address.to_checksum(None));
    assert_eq!(r.body["chainId"], json!(CHAIN_ID));
}

/// A Safe with two owners and threshold 2, deployed: EIP-1271 through its fallback handler.
async fn deployed_safe_signs_in(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let stack = SafeStack::deploy(&evm).await;
    let (alice, bob) = (Owner::random(), Owner::random());
    let safe = stack
        .create(
            &evm,
            &stack.create_calldata(&[alice.address, bob.address], 2, 1),
        )
        .await;
    // The test's Safe message hash is the one the deployed Safe uses.
    let domain = safe_domain_separator(&evm, safe).await;
    assert_ne!(domain, B256::ZERO);
    assert_ne!(safe_message_hash(CHAIN_ID, safe, B256::ZERO), B256::ZERO);

    let app = app_with_node(b, &anvil.url()).await;
    let message = message_for(&app, safe, CHAIN_ID).await;
    let signature = safe_signature(&[&alice, &bob], CHAIN_ID, safe, &message);
    assert_eq!(signature.len(), 130);
    let r = verify(&app, &message, &signature).await;
    assert_contract_session(&r, safe);
    let token = r.body["token"].as_str().expect("token").to_owned();

    let s = app.get("/auth/session", Some(&token)).await;
    assert_eq!(s.body["walletType"], "contract", "{}", s.body);
    let me = app.get("/api/me", Some(&token)).await;
    assert_eq!(me.body["walletType"], "contract", "{}", me.body);
    assert_eq!(me.body["address"], safe.to_checksum(None));
    // The type survives a rotation (the record is sealed again).
    let rotated = app.post("/auth/refresh", Some(&token), None).await;
    assert_eq!(rotated.body["walletType"], "contract", "{}", rotated.body);

    let text = metrics(&app).await;
    assert!(
        text.contains(
            "wallet_auth_signins_total{chain=\"ethereum\",wallet_type=\"contract\",outcome=\"ok\"} 1"
        ),
        "{text}"
    );
    assert_eq!(
        node_calls(&app).await,
        1,
        "one eth_call per contract sign-in"
    );
    assert!(text.contains(&format!(
        "wallet_auth_node_calls_total{{chain_id=\"{CHAIN_ID}\",method=\"eth_call\",outcome=\"ok\"}} 1"
    )));
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(
        ready.body["verifiers"],
        json!({ CHAIN_ID.to_string(): "up" })
    );
}

/// A Safe not deployed yet signs with ERC-6492 (SafeProxyFactory calldata); the check deploys
/// it only inside the `eth_call`: it has no code before or after.
async fn counterfactual_safe_signs_in_and_stays_undeployed(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let stack = SafeStack::deploy(&evm).await;
    let owner = Owner::random();
    let calldata = stack.create_calldata(&[owner.address], 1, 7);
    let safe = stack.predict(&evm, &calldata).await;
    assert!(evm.code(safe).await.is_empty());

    let app = app_with_node(b, &anvil.url()).await;
    let message = message_for(&app, safe, CHAIN_ID).await;
    let inner = safe_signature(&[&owner], CHAIN_ID, safe, &message);
    let signature = wrap_6492(stack.factory, &calldata, &inner);
    let r = verify(&app, &message, &signature).await;
    assert_contract_session(&r, safe);
    assert!(
        evm.code(safe).await.is_empty(),
        "the check must leave no trace on the chain"
    );

    // Once deployed for real, the same kind of wrapped signature still signs in (the factory
    // is not called again), and so does the bare EIP-1271 signature.
    stack.create(&evm, &calldata).await;
    let message = message_for(&app, safe, CHAIN_ID).await;
    let inner = safe_signature(&[&owner], CHAIN_ID, safe, &message);
    let r = verify(&app, &message, &wrap_6492(stack.factory, &calldata, &inner)).await;
    assert_contract_session(&r, safe);
    let message = message_for(&app, safe, CHAIN_ID).await;
    let r = verify(
        &app,
        &message,
        &safe_signature(&[&owner], CHAIN_ID, safe, &message),
    )
    .await;
    assert_contract_session(&r, safe);
}

/// The project's own one-key EIP-1271 wallet: deployed (a 65-byte signature that is not the
/// wallet's EOA signature goes to the node), and counterfactual through its CREATE2 factory.
async fn own_wallet_deployed_and_counterfactual(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let wallets = OwnedWallets::deploy(&evm).await;
    let owner = Owner::random();
    let deployed = wallets
        .create(&evm, owner.address, B256::repeat_byte(1))
        .await;
    let app = app_with_node(b, &anvil.url()).await;

    let message = message_for(&app, deployed, CHAIN_ID).await;
    let signature = owner.personal_sign(&message);
    assert_eq!(signature.len(), 65);
    assert_contract_session(&verify(&app, &message, &signature).await, deployed);

    let salt = B256::repeat_byte(2);
    let later = wallets.address_of(&evm, owner.address, salt).await;
    assert!(evm.code(later).await.is_empty());
    let message = message_for(&app, later, CHAIN_ID).await;
    let signature = wrap_6492(
        wallets.factory,
        &OwnedWallets::create_calldata(owner.address, salt),
        &owner.personal_sign(&message),
    );
    assert_contract_session(&verify(&app, &message, &signature).await, later);
    assert!(evm.code(later).await.is_empty());
}

/// A signature over another text: the wallet answers "not valid" (own wallet) or reverts
/// (Safe); both are 401 invalid_signature.
async fn tampered_message_is_refused(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let stack = SafeStack::deploy(&evm).await;
    let wallets = OwnedWallets::deploy(&evm).await;
    let owner = Owner::random();
    let safe = stack
        .create(&evm, &stack.create_calldata(&[owner.address], 1, 3))
        .await;
    let own = wallets
        .create(&evm, owner.address, B256::repeat_byte(3))
        .await;
    let app = app_with_node(b, &anvil.url()).await;

    for (wallet, is_safe) in [(safe, true), (own, false)] {
        let message = message_for(&app, wallet, CHAIN_ID).await;
        let signed = message.replace("Sign in to the test app.", "Sign in to the other app.");
        let signature = if is_safe {
            safe_signature(&[&owner], CHAIN_ID, wallet, &signed)
        } else {
            owner.personal_sign(&signed)
        };
        let r = verify(&app, &message, &signature).await;
        r.assert_error(401, "invalid_signature");
    }
    // Counterfactual: a tampered message is refused and the wallet stays undeployed.
    let calldata = stack.create_calldata(&[owner.address], 1, 4);
    let later = stack.predict(&evm, &calldata).await;
    let message = message_for(&app, later, CHAIN_ID).await;
    let signed = message.replace("Sign in to the test app.", "Sign in to the other app.");
    let signature = wrap_6492(
        stack.factory,
        &calldata,
        &safe_signature(&[&owner], CHAIN_ID, later, &signed),
    );
    verify(&app, &message, &signature)
        .await
        .assert_error(401, "invalid_signature");
    assert!(evm.code(later).await.is_empty());
    let text = metrics(&app).await;
    assert!(text.contains(
        "wallet_auth_signins_total{chain=\"ethereum\",wallet_type=\"contract\",outcome=\"invalid_signature\"} 3"
    ), "{text}");
}

/// A key that is not an owner: refused, deployed or not; a 6492 wrapper whose factory call
/// fails (wrong factory) is refused too.
async fn non_owner_is_refused(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let stack = SafeStack::deploy(&evm).await;
    let wallets = OwnedWallets::deploy(&evm).await;
    let (owner, stranger) = (Owner::random(), Owner::random());
    let (alice, bob) = (Owner::random(), Owner::random());
    let safe = stack
        .create(
            &evm,
            &stack.create_calldata(&[alice.address, bob.address], 2, 5),
        )
        .await;
    let own = wallets
        .create(&evm, owner.address, B256::repeat_byte(5))
        .await;
    let app = app_with_node(b, &anvil.url()).await;

    // Safe: one owner and a stranger for a 2-of-2; the stranger alone.
    let message = message_for(&app, safe, CHAIN_ID).await;
    let sig = safe_signature(&[&alice, &stranger], CHAIN_ID, safe, &message);
    verify(&app, &message, &sig)
        .await
        .assert_error(401, "invalid_signature");
    let message = message_for(&app, safe, CHAIN_ID).await;
    let sig = safe_signature(&[&alice], CHAIN_ID, safe, &message);
    verify(&app, &message, &sig)
        .await
        .assert_error(401, "invalid_signature");
    // Own wallet, deployed and counterfactual.
    let message = message_for(&app, own, CHAIN_ID).await;
    verify(&app, &message, &stranger.personal_sign(&message))
        .await
        .assert_error(401, "invalid_signature");
    let salt = B256::repeat_byte(6);
    let later = wallets.address_of(&evm, owner.address, salt).await;
    let message = message_for(&app, later, CHAIN_ID).await;
    let sig = wrap_6492(
        wallets.factory,
        &OwnedWallets::create_calldata(owner.address, salt),
        &stranger.personal_sign(&message),
    );
    verify(&app, &message, &sig)
        .await
        .assert_error(401, "invalid_signature");
    // A wrapper whose factory creates another wallet, or whose factory call reverts.
    let message = message_for(&app, later, CHAIN_ID).await;
    let sig = wrap_6492(
        wallets.factory,
        &OwnedWallets::create_calldata(stranger.address, salt),
        &stranger.personal_sign(&message),
    );
    verify(&app, &message, &sig)
        .await
        .assert_error(401, "invalid_signature");
    let message = message_for(&app, later, CHAIN_ID).await;
    let sig = wrap_6492(stack.factory, &[0xde, 0xad], &owner.personal_sign(&message));
    verify(&app, &message, &sig)
        .await
        .assert_error(401, "invalid_signature");
    // The stranger's EOA signature of the wallet's message is no EOA sign-in either.
    let message = message_for(&app, own, CHAIN_ID).await;
    let r = verify(&app, &message, &stranger.personal_sign(&message)).await;
    r.assert_error(401, "invalid_signature");
    assert!(evm.code(later).await.is_empty());
}

/// A nonce is single use, for contract wallets too; it is consumed before the node call, so a
/// refused attempt burns it as well.
async fn replay_and_burnt_nonces(b: Backend) {
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let wallets = OwnedWallets::deploy(&evm).await;
    let (owner, stranger) = (Owner::random(), Owner::random());
    let own = wallets
        .create(&evm, owner.address, B256::repeat_byte(7))
        .await;
    let app = app_with_node(b, &anvil.url()).await;

    let message = message_for(&app, own, CHAIN_ID).await;
    let signature = owner.personal_sign(&message);
    assert_contract_session(&verify(&app, &message, &signature).await, own);
    let calls = node_calls(&app).await;
    verify(&app, &message, &signature)
        .await
        .assert_error(401, "nonce_invalid");
    assert_eq!(
        node_calls(&app).await,
        calls,
        "a replay never reaches the node"
    );

    let message = message_for(&app, own, CHAIN_ID).await;
    verify(&app, &message, &stranger.personal_sign(&message))
        .await
        .assert_error(401, "invalid_signature");
    verify(&app, &message, &owner.personal_sign(&message))
        .await
        .assert_error(401, "nonce_invalid");

    // Two concurrent verifies of one signed message: exactly one session.
    let message = message_for(&app, own, CHAIN_ID).await;
    let signature = owner.personal_sign(&message);
    let (r1, r2) = tokio::join!(
        verify(&app, &message, &signature),
        verify(&app, &message, &signature)
    );
    let ok = [&r1, &r2]
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "{} / {}", r1.body, r2.body);
}

/// The node goes down: contract sign-in answers 503 verifier_unavailable (with Retry-After)
/// within the timeout; EOA sign-in on the same chain is unaffected; `/ready` stays 200 and
/// reports the node down; it is up again when the node is back.
async fn node_down_is_503_and_eoa_still_signs_in(b: Backend) {
    let mut anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let wallets = OwnedWallets::deploy(&evm).await;
    let owner = Owner::random();
    let own = wallets
        .create(&evm, owner.address, B256::repeat_byte(8))
        .await;
    let app = app_with_node(b, &anvil.url()).await;
    let message = message_for(&app, own, CHAIN_ID).await;
    assert_contract_session(
        &verify(&app, &message, &owner.personal_sign(&message)).await,
        own,
    );

    anvil.stop();
    let message = message_for(&app, own, CHAIN_ID).await;
    let started = Instant::now();
    let r = verify(&app, &message, &owner.personal_sign(&message)).await;
    assert!(started.elapsed() < TIMEOUT + Duration::from_secs(1));
    r.assert_error(503, "verifier_unavailable");
    assert!(r
        .header("retry-after")
        .is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)));
    let text = r.body.to_string();
    assert!(
        !text.contains("127.0.0.1"),
        "no node address in answers: {text}"
    );

    // EOA sign-in on the node's chain, compact 64-byte form included.
    let eoa = Owner::random();
    let message = message_for(&app, eoa.address, CHAIN_ID).await;
    let started = Instant::now();
    let r = verify(&app, &message, &eoa.personal_sign(&message)).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["walletType"], "eoa");
    let message = message_for(&app, eoa.address, CHAIN_ID).await;
    let mut compact = eoa.personal_sign(&message);
    let v = compact.pop().expect("v");
    compact[32] |= (v - 27) << 7;
    let r = verify(&app, &message, &compact).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["walletType"], "eoa");
    app.token(&Wallet::ethereum()).await;

    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(
        ready.body["verifiers"],
        json!({ CHAIN_ID.to_string(): "down" })
    );
    let text = metrics(&app).await;
    assert!(text.contains(
        "wallet_auth_signins_total{chain=\"ethereum\",wallet_type=\"contract\",outcome=\"verifier_unavailable\"} 1"
    ), "{text}");
    assert!(text.contains(&format!(
        "wallet_auth_node_calls_total{{chain_id=\"{CHAIN_ID}\",method=\"eth_call\",outcome=\"unavailable\"}} 1"
    )));
}

/// Serves a TCP socket that accepts connections and either never answers, or answers
/// `eth_chainId` properly and everything else with `answer`: a node that hangs or speaks
/// garbage.
fn bad_node(answer: Option<&'static str>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            if let Some(answer) = answer {
                let mut buf = [0u8; 65536];
                let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                let n = stream.read(&mut buf).unwrap_or(0);
                let request = String::from_utf8_lossy(&buf[..n]);
                let answer = if request.contains("eth_chainId") {
                    r#"{"jsonrpc":"2.0","id":1,"result":"0x7a69"}"#
                } else {
                    answer
                };
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            } else {
                held.push(stream);
            }
        }
    });
    url
}

/// A node that accepts but never answers: 503 after the timeout, not later; one that answers
/// garbage (not JSON-RPC, or a result that is not the validator's one byte): 503 at once.
async fn hung_or_garbage_node_is_503_within_the_timeout(b: Backend) {
    for (answer, slow) in [
        (None, true),
        (Some("hello"), false),
        (Some(r#"{"jsonrpc":"2.0","id":1,"result":"0x0102"}"#), false),
        (
            Some(
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"method not found"}}"#,
            ),
            false,
        ),
    ] {
        let url = bad_node(answer);
        let app = app_with_node(b, &url).await;
        let owner = Owner::random();
        let wallet = Address::repeat_byte(0x42);
        let message = message_for(&app, wallet, CHAIN_ID).await;
        let started = Instant::now();
        let r = verify(&app, &message, &owner.personal_sign(&message)).await;
        let took = started.elapsed();
        r.assert_error(503, "verifier_unavailable");
        assert!(
            took < TIMEOUT + Duration::from_millis(800),
            "{answer:?}: {took:?}"
        );
        if slow {
            assert!(took >= TIMEOUT - Duration::from_millis(100), "{took:?}");
        }
        assert_eq!(
            app.get("/ready", None).await.body["verifiers"],
            json!({ CHAIN_ID.to_string(): "down" }),
            "{answer:?}"
        );
    }
}

/// A chain without a node: a contract signature is 401 invalid_signature, and the message
/// says contract wallets are not enabled there; no node is asked.
async fn no_node_for_the_chain(b: Backend) {
    let anvil = Anvil::start();
    let app = app_with_node(b, &anvil.url()).await;
    let owner = Owner::random();
    let wallet = Address::repeat_byte(0x43);
    let message = message_for(&app, wallet, 137).await;
    let r = verify(&app, &message, &owner.personal_sign(&message)).await;
    r.assert_error(401, "invalid_signature");
    let text = r.body["error"]["message"].as_str().expect("message");
    assert!(text.contains("not enabled for chain 137"), "{text}");
    let message = message_for(&app, wallet, 137).await;
    let long = vec![0x11; 232];
    let r = verify(&app, &message, &long).await;
    r.assert_error(401, "invalid_signature");
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("got 232") && m.contains("not enabled for chain 137")));
    assert_eq!(node_calls(&app).await, 0);

    // Without any node at all.
    let app = app_with_nodes(b, Vec::new(), |_| {}).await;
    let message = message_for(&app, wallet, CHAIN_ID).await;
    let r = verify(&app, &message, &long).await;
    r.assert_error(401, "invalid_signature");
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains(&format!("not enabled for chain {CHAIN_ID}"))));
    assert_eq!(app.get("/ready", None).await.body["verifiers"], json!({}));
}

/// Signatures over 8 KiB are refused with a JSON 4xx before any node call: 413 with the
/// default body limit, 401 invalid_signature when the body limit allows them. 8 KiB exactly
/// still goes to the node.
async fn oversized_signature(b: Backend) {
    let anvil = Anvil::start();
    let url = anvil.url();
    let app = app_with_nodes(b, vec![(CHAIN_ID, url.clone())], |_| {}).await;
    let wallet = Address::repeat_byte(0x44);
    let message = message_for(&app, wallet, CHAIN_ID).await;
    verify(&app, &message, &vec![0x11; 8 * 1024 + 1])
        .await
        .assert_error(413, "payload_too_large");

    let app = app_with_nodes(b, vec![(CHAIN_ID, url)], |c| {
        c.http.max_body_bytes = 64 * 1024
    })
    .await;
    let message = message_for(&app, wallet, CHAIN_ID).await;
    let r = verify(&app, &message, &vec![0x11; 8 * 1024 + 1]).await;
    r.assert_error(401, "invalid_signature");
    assert!(r.body["error"]["message"]
        .as_str()
        .is_some_and(|m| m.contains("at most 8192 bytes")));
    assert_eq!(node_calls(&app).await, 0);
    let message = message_for(&app, wallet, CHAIN_ID).await;
    verify(&app, &message, &vec![0x11; 8 * 1024])
        .await
        .assert_error(401, "invalid_signature");
    assert_eq!(node_calls(&app).await, 1);
}

/// EOA sign-in on a chain with a node never calls it (65-byte and 64-byte forms), and is an
/// `eoa` session.
async fn eoa_sign_in_never_calls_the_node(b: Backend) {
    let anvil = Anvil::start();
    let app = app_with_node(b, &anvil.url()).await;
    for _ in 0..3 {
        let eoa = Owner::random();
        let message = message_for(&app, eoa.address, CHAIN_ID).await;
        let r = verify(&app, &message, &eoa.personal_sign(&message)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["walletType"], "eoa");
        let token = r.body["token"].as_str().expect("token");
        assert_eq!(
            app.get("/api/me", Some(token)).await.body["walletType"],
            "eoa"
        );
    }
    assert_eq!(node_calls(&app).await, 0);
    let text = metrics(&app).await;
    assert!(
        text.contains(
            "wallet_auth_signins_total{chain=\"ethereum\",wallet_type=\"eoa\",outcome=\"ok\"} 3"
        ),
        "{text}"
    );
}
