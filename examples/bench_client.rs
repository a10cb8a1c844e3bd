//! Load-test helper for `bench/run.sh`: signs real EIP-4361 messages with local secp256k1 keys.
//!
//! ```text
//! bench_client presign  --base URL --n N --out FILE   # N verify bodies, one JSON per line
//! bench_client sessions --base URL --n N --out FILE   # N real sign-ins, one token per line
//! bench_client verify-rate --secs S                   # raw `verify` throughput on all cores
//! bench_client accounts --base URL --admin-token T    # the account routes' happy path, once
//! ```
//!
//! `presign` fetches N fresh nonces from the server, builds the messages with
//! `wallet_auth::verify::prepare_message` and signs them with EIP-191 `personal_sign`; each body
//! can be posted to `/auth/verify` exactly once. Messages are spread over `--wallets` wallets
//! (default: one wallet per message).
//!
//! `accounts` walks the account routes once with real signatures (for scripts/schemathesis.sh,
//! whose random cases cannot sign): a sign-in, a link nonce, a link of a second wallet, a
//! password, the account, the unlink and a role change, each of which must answer 200.
#![allow(clippy::expect_used)]

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use alloy_primitives::{eip191_hash_message, keccak256, Address};
use clap::{Parser, Subcommand};
use futures::stream::{self, StreamExt as _};
use k256::ecdsa::SigningKey;
use serde_json::{json, Value};
use time::OffsetDateTime;
use wallet_auth::verify::{
    prepare_message, verify, Chain, ChainIdPolicy, MessageParams, NoncePolicy, Policy,
};

/// User-Agent sent with every request (sessions may be bound to it).
const UA: &str = "wallet-auth-bench/1";

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fetch N nonces and write N signed `/auth/verify` bodies, one JSON object per line.
    Presign {
        #[arg(long)]
        base: String,
        #[arg(long)]
        n: usize,
        #[arg(long)]
        out: String,
        #[arg(long)]
        wallets: Option<usize>,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Sign in N times and write the N session tokens, one per line.
    Sessions {
        #[arg(long)]
        base: String,
        #[arg(long)]
        n: usize,
        #[arg(long)]
        out: String,
        #[arg(long)]
        wallets: Option<usize>,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
    },
    /// Walk the account routes once (sign in, link a wallet, add a password, read the
    /// account, unlink the wallet, set a role); exit non-zero unless each answers 200.
    Accounts {
        #[arg(long)]
        base: String,
        #[arg(long)]
        admin_token: String,
    },
    /// Raw signature verification rate (`wallet_auth::verify::verify`) on all cores.
    VerifyRate {
        #[arg(long, default_value_t = 5)]
        secs: u64,
        #[arg(long)]
        threads: Option<usize>,
    },
}

struct Wallet {
    address: String,
    key: SigningKey,
}

impl Wallet {
    fn random() -> Self {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let hash = keccak256(&point.as_bytes()[1..]);
        let address = Address::from_slice(&hash[12..]).to_checksum(None);
        Wallet { address, key }
    }

    /// EIP-191 `personal_sign`: 65 bytes r || s || v (v = 27 + recovery id), 0x-hex.
    fn sign(&self, message: &str) -> String {
        let prehash = eip191_hash_message(message.as_bytes());
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(prehash.as_slice())
            .expect("sign");
        let mut bytes = sig.to_bytes().to_vec();
        bytes.push(27 + recid.to_byte());
        format!("0x{}", hex::encode(bytes))
    }

    fn message(&self, domain: &str, uri: &str, nonce: &str, chain_id: &str) -> String {
        prepare_message(&MessageParams {
            chain: Chain::Ethereum,
            domain,
            address: &self.address,
            statement: Some("Sign in to the benchmark."),
            uri,
            chain_id: Some(chain_id),
            nonce,
            issued_at: OffsetDateTime::now_utc(),
            expiration_time: None,
        })
    }
}

struct Nonce {
    nonce: String,
    domain: String,
    uri: String,
    chain_id: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(UA)
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(256)
        .build()
        .expect("http client")
}

async fn fetch_nonces(http: &reqwest::Client, base: &str, n: usize, conc: usize) -> Vec<Nonce> {
    let url = format!("{base}/auth/nonce");
    stream::iter(0..n)
        .map(|_| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let r = http
                    .post(&url)
                    .json(&json!({ "chain": "ethereum" }))
                    .send()
                    .await
                    .expect("nonce request");
                assert!(r.status().is_success(), "nonce: HTTP {}", r.status());
                let v: Value = r.json().await.expect("nonce JSON");
                let s = |k: &str| v[k].as_str().map(str::to_owned);
                Nonce {
                    nonce: s("nonce").expect("nonce field"),
                    domain: s("domain").expect("domain field"),
                    uri: s("uri").expect("uri field"),
                    chain_id: match &v["chainId"] {
                        Value::String(c) => c.clone(),
                        Value::Number(c) => c.to_string(),
                        _ => "1".to_owned(),
                    },
                }
            }
        })
        .buffer_unordered(conc.max(1))
        .collect()
        .await
}

/// Signs one body per nonce on all cores; message `i` is signed by wallet `i % wallets`.
fn sign_all(nonces: &[Nonce], wallets: usize) -> Vec<String> {
    let wallets: Vec<Wallet> = (0..wallets.clamp(1, nonces.len().max(1)))
        .map(|_| Wallet::random())
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = nonces.len().div_ceil(threads).max(1);
    let wallets = &wallets;
    std::thread::scope(|s| {
        let handles: Vec<_> = nonces
            .chunks(chunk)
            .enumerate()
            .map(|(c, part)| {
                s.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(j, n)| {
                            let w = &wallets[(c * chunk + j) % wallets.len()];
                            let msg = w.message(&n.domain, &n.uri, &n.nonce, &n.chain_id);
                            let sig = w.sign(&msg);
                            json!({ "chain": "ethereum", "message": msg, "signature": sig })
                                .to_string()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("signing thread"))
            .collect()
    })
}

fn write_lines(path: &str, lines: &[String]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create output"));
    for l in lines {
        writeln!(f, "{l}").expect("write output");
    }
    f.flush().expect("flush output");
}

async fn presign(
    base: &str,
    n: usize,
    wallets: Option<usize>,
    conc: usize,
) -> (reqwest::Client, Vec<String>) {
    let http = client();
    let t = Instant::now();
    let nonces = fetch_nonces(&http, base, n, conc).await;
    let fetched = t.elapsed();
    let t = Instant::now();
    let bodies = sign_all(&nonces, wallets.unwrap_or(n));
    eprintln!(
        "presign: {n} nonces in {:.1} s, signed in {:.1} s",
        fetched.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    (http, bodies)
}

async fn sessions(base: &str, n: usize, wallets: Option<usize>, conc: usize) -> Vec<String> {
    let (http, bodies) = presign(base, n, wallets, conc).await;
    let url = format!("{base}/auth/verify");
    let t = Instant::now();
    let tokens: Vec<String> = stream::iter(bodies)
        .map(|body| {
            let http = http.clone();
            let url = url.clone();
            async move {
                let r = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .expect("verify request");
                let status = r.status();
                let v: Value = r.json().await.unwrap_or(Value::Null);
                assert!(status.is_success(), "verify: HTTP {status}: {v}");
                v["token"].as_str().expect("token").to_owned()
            }
        })
        .buffer_unordered(conc.max(1))
        .collect()
        .await;
    eprintln!(
        "sessions: {n} sign-ins in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    tokens
}

/// Sends one request and returns its JSON answer; panics (non-zero exit) unless it is 200.
async fn expect_ok(req: reqwest::RequestBuilder, what: &str) -> Value {
    let r = req.send().await.expect(what);
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(status.as_u16(), 200, "{what}: {v}");
    eprintln!("accounts: {what}: 200");
    v
}

async fn accounts(base: &str, admin_token: &str) {
    let http = client();
    let (first, second) = (Wallet::random(), Wallet::random());
    let nonce = |address: &str| json!({"chain": "ethereum", "address": address});
    let n = expect_ok(
        http.post(format!("{base}/auth/nonce"))
            .json(&nonce(&first.address)),
        "POST /auth/nonce",
    )
    .await;
    let message = n["message"].as_str().expect("message").to_owned();
    let body = json!({"chain": "ethereum", "signature": first.sign(&message), "message": message});
    let session = expect_ok(
        http.post(format!("{base}/auth/verify")).json(&body),
        "POST /auth/verify",
    )
    .await;
    let token = session["token"].as_str().expect("token").to_owned();
    let account = session["accountId"].as_str().expect("accountId").to_owned();
    let n = expect_ok(
        http.post(format!("{base}/auth/link/nonce"))
            .bearer_auth(&token)
            .json(&nonce(&second.address)),
        "POST /auth/link/nonce",
    )
    .await;
    let message = n["message"].as_str().expect("message").to_owned();
    let body = json!({"chain": "ethereum", "signature": second.sign(&message), "message": message});
    expect_ok(
        http.post(format!("{base}/auth/link"))
            .bearer_auth(&token)
            .json(&body),
        "POST /auth/link",
    )
    .await;
    let username = format!("walk-{}", &first.address[2..14].to_ascii_lowercase());
    expect_ok(
        http.post(format!("{base}/auth/link/password"))
            .bearer_auth(&token)
            .json(&json!({"username": username, "password": "a long enough password, 1"})),
        "POST /auth/link/password",
    )
    .await;
    let a = expect_ok(
        http.get(format!("{base}/auth/account")).bearer_auth(&token),
        "GET /auth/account",
    )
    .await;
    assert_eq!(a["identities"].as_array().map(Vec::len), Some(3), "{a}");
    expect_ok(
        http.delete(format!(
            "{base}/auth/identities/ethereum/{}",
            second.address
        ))
        .bearer_auth(&token),
        "DELETE /auth/identities/{chain}/{address}",
    )
    .await;
    let r = expect_ok(
        http.put(format!("{base}/admin/accounts/{account}/roles"))
            .bearer_auth(admin_token)
            .json(&json!({"roles": ["editor"]})),
        "PUT /admin/accounts/{accountId}/roles",
    )
    .await;
    assert_eq!(r["roles"], json!(["editor"]), "{r}");
}

fn verify_rate(secs: u64, threads: Option<usize>) {
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    let domain = "bench.example:443";
    let signed: Vec<(String, String)> = (0..64)
        .map(|i| {
            let w = Wallet::random();
            let msg = w.message(
                domain,
                "https://bench.example/login",
                &format!("benchnonce{i:06}"),
                "1",
            );
            let sig = w.sign(&msg);
            (msg, sig)
        })
        .collect();
    let policy = Policy::new(
        vec![domain.to_owned()],
        ChainIdPolicy::Any,
        OffsetDateTime::now_utc(),
        time::Duration::seconds(60),
        NoncePolicy::ReturnToCaller,
    )
    .expect("policy");
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    std::thread::scope(|s| {
        for k in 0..threads {
            let (stop, total, signed, policy) = (&stop, &total, &signed, &policy);
            s.spawn(move || {
                let mut done = 0u64;
                let mut i = k;
                while !stop.load(Ordering::Relaxed) {
                    let (m, sig) = &signed[i % signed.len()];
                    verify(Chain::Ethereum, m, sig, None, policy).expect("valid signature");
                    done += 1;
                    i += 1;
                }
                total.fetch_add(done, Ordering::Relaxed);
            });
        }
        std::thread::sleep(Duration::from_secs(secs));
        stop.store(true, Ordering::Relaxed);
    });
    let elapsed = t.elapsed().as_secs_f64();
    let n = total.load(Ordering::Relaxed);
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / elapsed;
    println!("verify_rate {rate:.0} per_s threads {threads} verified {n} secs {elapsed:.2}");
}

#[tokio::main]
async fn main() {
    match Cli::parse().cmd {
        Cmd::Presign {
            base,
            n,
            out,
            wallets,
            concurrency,
        } => {
            let (_, bodies) = presign(&base, n, wallets, concurrency).await;
            write_lines(&out, &bodies);
        }
        Cmd::Sessions {
            base,
            n,
            out,
            wallets,
            concurrency,
        } => {
            let tokens = sessions(&base, n, wallets, concurrency).await;
            write_lines(&out, &tokens);
        }
        Cmd::Accounts { base, admin_token } => accounts(&base, &admin_token).await,
        Cmd::VerifyRate { secs, threads } => verify_rate(secs, threads),
    }
}
