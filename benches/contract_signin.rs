//! Latency of a contract-wallet sign-in against a local anvil node, as a client sees it: the
//! time of `POST /auth/verify` (the nonce is fetched and the message signed beforehand),
//! sequential, on the memory store. Four kinds: an EOA on a chain with a node (never called),
//! our own EIP-1271 wallet, a deployed Safe 1.4.1 (EIP-1271) and a counterfactual Safe
//! (ERC-6492). Prints median, p99 and max per kind.
//!
//! ```text
//! scripts/ensure-contracts.sh
//! LATENCY_N=500 cargo bench --bench contract_signin
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/harness/mod.rs"]
pub mod harness;

use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{Address, B256};
use serde_json::{json, Value};
use time::OffsetDateTime;
use wallet_auth::config::{Config, EthChainIds, Secret};
use wallet_auth::http::{AuthState, Server};
use wallet_auth::store::MemoryStore;
use wallet_auth::verify::{prepare_message, Chain, MessageParams};

use harness::anvil::{Anvil, CHAIN_ID};
use harness::evm::{safe_signature, wrap_6492, Evm, OwnedWallets, Owner, SafeStack};

const DOMAIN: &str = "app.test:8080";

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = http.post(url).json(&body).send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn message_for(http: &reqwest::Client, base: &str, address: Address) -> String {
    let (_, n) = post(
        http,
        format!("{base}/auth/nonce"),
        json!({"chain": "ethereum"}),
    )
    .await;
    let id = CHAIN_ID.to_string();
    prepare_message(&MessageParams {
        chain: Chain::Ethereum,
        domain: DOMAIN,
        address: &address.to_checksum(None),
        statement: Some("Sign in to the benchmark."),
        uri: &format!("http://{DOMAIN}/login"),
        chain_id: Some(&id),
        nonce: n["nonce"].as_str().expect("nonce"),
        issued_at: OffsetDateTime::now_utc(),
        expiration_time: None,
    })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: usize = std::env::var("LATENCY_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let anvil = Anvil::start();
    let evm = Evm::new(&anvil.url());
    let stack = SafeStack::deploy(&evm).await;
    let wallets = OwnedWallets::deploy(&evm).await;
    let owner = Owner::random();
    let own = wallets
        .create(&evm, owner.address, B256::repeat_byte(9))
        .await;
    let safe = stack
        .create(&evm, &stack.create_calldata(&[owner.address], 1, 9))
        .await;
    let calldata = stack.create_calldata(&[owner.address], 1, 10);
    let later = stack.predict(&evm, &calldata).await;

    let mut config = Config::default();
    config.http.bind_addr = "127.0.0.1:0".parse().unwrap();
    config.signin.domains = vec![DOMAIN.to_owned()];
    config.signin.uri = format!("http://{DOMAIN}/login");
    config.signin.eth_chain_ids = EthChainIds::Only(vec![CHAIN_ID]);
    config.contract_wallets.rpc_urls = vec![(CHAIN_ID, Secret::new(anvil.url()))];
    config.cookies.secure = false;
    config.limits.rate_limit_per_min = 0;
    config.sessions.max_per_wallet = 1000;
    let state = AuthState::new(config, Arc::new(MemoryStore::new()));
    state.contract_wallets().probe().await;
    let server = Server::bind(state).await.expect("bind");
    let base = format!("http://{}", server.addr().expect("addr"));
    tokio::spawn(server.run(std::future::pending()));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let kinds: [(&str, Address); 4] = [
        ("eoa (node never called)", owner.address),
        ("own EIP-1271 wallet", own),
        ("Safe 1.4.1 (EIP-1271)", safe),
        ("counterfactual Safe (ERC-6492)", later),
    ];
    for (i, (name, address)) in kinds.into_iter().enumerate() {
        let mut took = Vec::with_capacity(n);
        for _ in 0..n {
            let message = message_for(&http, &base, address).await;
            let signature = match i {
                0 | 1 => owner.personal_sign(&message),
                2 => safe_signature(&[&owner], CHAIN_ID, safe, &message),
                _ => wrap_6492(
                    stack.factory,
                    &calldata,
                    &safe_signature(&[&owner], CHAIN_ID, later, &message),
                ),
            };
            let body = json!({
                "chain": "ethereum",
                "message": message,
                "signature": format!("0x{}", hex::encode(&signature)),
            });
            let started = Instant::now();
            let (status, answer) = post(&http, format!("{base}/auth/verify"), body).await;
            took.push(started.elapsed());
            assert_eq!(status, 200, "{name}: {answer}");
        }
        took.sort();
        let at = |q: f64| took[((took.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "{name:32} n={n} median {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms",
            at(0.5).as_secs_f64() * 1e3,
            at(0.99).as_secs_f64() * 1e3,
            took[took.len() - 1].as_secs_f64() * 1e3,
        );
    }
}
