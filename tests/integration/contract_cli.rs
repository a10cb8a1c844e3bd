//! The binary with contract-wallet nodes: `wallet-auth verify --rpc-url`, and `serve`'s
//! start-up check of each node's `eth_chainId` (a node serving another chain stops start-up
//! with exit 2; one that is down is a warning, and `/ready` reports it), on a real anvil.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use serde_json::Value;
use time::OffsetDateTime;
use wallet_auth::verify::{prepare_message, Chain, MessageParams};

use crate::harness::anvil::{Anvil, CHAIN_ID};
use crate::harness::evm::{wrap_6492, Evm, OwnedWallets, Owner};
use crate::harness::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_wallet-auth");
const DOMAIN: &str = "app.test:8080";

fn message(address: Address, chain_id: u64) -> String {
    let id = chain_id.to_string();
    prepare_message(&MessageParams {
        chain: Chain::Ethereum,
        domain: DOMAIN,
        address: &address.to_checksum(None),
        statement: Some("Sign in to the test app."),
        uri: &format!("http://{DOMAIN}/login"),
        chain_id: Some(&id),
        nonce: "cliNonce0123456789abc",
        issued_at: OffsetDateTime::now_utc(),
        expiration_time: None,
    })
}

fn verify(message: &str, signature: &[u8], rpc_url: Option<&str>) -> Output {
    let sig = format!("0x{}", hex::encode(signature));
    let mut args = vec![
        "verify",
        "--chain",
        "ethereum",
        "--domain",
        DOMAIN,
        "--signature",
        &sig,
    ];
    if let Some(url) = rpc_url {
        args.extend(["--rpc-url", url]);
    }
    let mut child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wallet-auth");
    let _ = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message.as_bytes());
    child.wait_with_output().expect("wait")
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {:?} / stderr {:?}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_with_rpc_url_checks_contract_wallets() {
    let mut anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let wallets = OwnedWallets::deploy(&evm).await;
    let (owner, stranger) = (Owner::random(), Owner::random());
    let wallet = wallets
        .create(&evm, owner.address, B256::repeat_byte(1))
        .await;
    let url = anvil.url();

    let text = message(wallet, CHAIN_ID);
    let out = verify(&text, &owner.personal_sign(&text), Some(&url));
    assert_eq!(out.status.code(), Some(0), "{:?}", stdout_json(&out));
    let v = stdout_json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["walletType"], "contract");
    assert_eq!(v["address"], wallet.to_checksum(None));

    // Counterfactual (ERC-6492), and still undeployed afterwards.
    let salt = B256::repeat_byte(2);
    let later = wallets.address_of(&evm, owner.address, salt).await;
    let text = message(later, CHAIN_ID);
    let sig = wrap_6492(
        wallets.factory,
        &OwnedWallets::create_calldata(owner.address, salt),
        &owner.personal_sign(&text),
    );
    let out = verify(&text, &sig, Some(&url));
    assert_eq!(stdout_json(&out)["walletType"], "contract");
    assert!(evm.code(later).await.is_empty());

    // Not the owner.
    let text = message(wallet, CHAIN_ID);
    let out = verify(&text, &stranger.personal_sign(&text), Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], "invalid_signature");

    // An EOA needs no node.
    let text = message(owner.address, CHAIN_ID);
    let out = verify(&text, &owner.personal_sign(&text), None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_json(&out)["walletType"], "eoa");

    // Without --rpc-url, a contract signature is refused and the reason says why.
    let text = message(wallet, CHAIN_ID);
    let out = verify(&text, &owner.personal_sign(&text), None);
    assert_eq!(out.status.code(), Some(1));
    let v = stdout_json(&out);
    assert_eq!(v["code"], "invalid_signature");
    assert!(
        v["message"].as_str().unwrap().contains("not enabled"),
        "{v}"
    );

    // A node of another chain than the message's: a usage error.
    let text = message(wallet, 1);
    let out = verify(&text, &owner.personal_sign(&text), Some(&url));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("serves chain 31337"));

    // A node that is down: verifier_unavailable, exit 1.
    anvil.stop();
    let text = message(wallet, CHAIN_ID);
    let out = verify(&text, &owner.personal_sign(&text), Some(&url));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["code"], "verifier_unavailable");
}

fn serve(port: u16, rpc_urls: &str, chain_ids: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("AUTH_DOMAINS", DOMAIN)
        .env("ETH_CHAIN_IDS", chain_ids)
        .env("ETH_RPC_URLS", rpc_urls)
        .env("ETH_RPC_TIMEOUT", "1s")
        .env("LOG_FORMAT", "json")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[test]
fn a_node_of_another_chain_stops_start_up() {
    let anvil = Anvil::start();
    let out = serve(free_port(), &format!("1={}", anvil.url()), "1,137")
        .output()
        .expect("run wallet-auth serve");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains("ETH_RPC_URLS") && lines[0].contains("chain 1 serves chain 31337"),
        "{stderr}"
    );
    assert!(
        !lines[0].contains("127.0.0.1"),
        "no node URL in the line: {stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_down_at_start_up_is_reported_not_fatal() {
    let mut anvil = Anvil::start();
    let down = format!("http://127.0.0.1:{}", free_port());
    let port = free_port();
    let mut child = serve(
        port,
        &format!("{CHAIN_ID}={},137={down}", anvil.url()),
        "1,137,31337",
    )
    .spawn()
    .expect("start wallet-auth serve");
    let http = reqwest::Client::new();
    let ready = format!("http://127.0.0.1:{port}/ready");
    let deadline = Instant::now() + Duration::from_secs(15);
    let body: Value = loop {
        if let Ok(r) = http.get(&ready).send().await {
            assert_eq!(r.status(), 200);
            break r.json().await.expect("JSON");
        }
        assert!(Instant::now() < deadline, "the server did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(body["status"], "ready");
    assert_eq!(
        body["verifiers"],
        serde_json::json!({"137": "down", "31337": "up"})
    );
    // The node goes down after start-up: /ready stays 200 and, once it has looked again
    // (at most every 10 s, in the background), reports it.
    anvil.stop();
    let deadline = Instant::now() + Duration::from_secs(25);
    loop {
        let r = http.get(&ready).send().await.expect("ready");
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.expect("JSON");
        if body["verifiers"]["31337"] == "down" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the node was never reported down: {body}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
}
