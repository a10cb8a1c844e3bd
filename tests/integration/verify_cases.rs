//! The project's own grammar and time cases (`fixtures/message-cases.json`), one class at a
//! time: RFC 3986 URIs and resources (IP literals included), the domain, the address's case,
//! the SIWS chain ids, the order of a message's times, the clock skew and maximum age, and the
//! statement's characters. Each text is signed by a fixed local key, so a case that must fail
//! fails for its stated reason and not for its signature.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a panic is a failure

use std::collections::BTreeMap;

use ed25519_dalek::Signer as _;
use k256::ecdsa::SigningKey;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use wallet_auth::http::ErrorCode;
use wallet_auth::verify::{
    self, ethereum, Chain, ChainIdPolicy, NoncePolicy, Policy, SignIn, VerifyError,
};

const DEFAULT_DOMAIN: &str = "app.example.com";
const DEFAULT_NOW: &str = "2026-11-22T12:00:30Z";
const SKEW_SECONDS: i64 = 300;

#[derive(Deserialize)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    id: String,
    class: String,
    chain: Chain,
    message: String,
    expect: String,
    domain: Option<String>,
    now: Option<String>,
    max_age: Option<i64>,
}

fn load() -> File {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/message-cases.json"
    ))
    .expect("fixtures/message-cases.json");
    serde_json::from_str(&text).expect("the case file parses")
}

struct Keys {
    eth: SigningKey,
    eth_address: String,
    sol: ed25519_dalek::SigningKey,
    sol_address: String,
}

fn keys() -> Keys {
    let eth = SigningKey::from_slice(&[0x11; 32]).expect("a valid secp256k1 scalar");
    let point = eth.verifying_key().to_encoded_point(false);
    let xy: [u8; 64] = point.as_bytes()[1..].try_into().unwrap();
    let eth_address = ethereum::address_of(&xy).to_checksum(None);
    let sol = ed25519_dalek::SigningKey::from_bytes(&[0x22; 32]);
    let sol_address = bs58::encode(sol.verifying_key().as_bytes()).into_string();
    Keys {
        eth,
        eth_address,
        sol,
        sol_address,
    }
}

/// `address` (EIP-55) with the case of one letter flipped so that it stays mixed case: a wrong
/// checksum.
fn wrong_checksum(address: &str) -> String {
    let digits: Vec<char> = address[2..].chars().collect();
    (0..digits.len())
        .filter(|&i| digits[i].is_ascii_alphabetic())
        .map(|i| {
            let mut flipped = digits.clone();
            flipped[i] = if flipped[i].is_ascii_lowercase() {
                flipped[i].to_ascii_uppercase()
            } else {
                flipped[i].to_ascii_lowercase()
            };
            flipped
        })
        .find(|f| f.iter().any(char::is_ascii_lowercase) && f.iter().any(char::is_ascii_uppercase))
        .map(|f| format!("0x{}", f.into_iter().collect::<String>()))
        .expect("an address with a letter to flip")
}

fn text(case: &Case, keys: &Keys) -> String {
    match case.chain {
        Chain::Ethereum => {
            let a = &keys.eth_address;
            case.message
                .replace("{address_lower}", &a.to_ascii_lowercase())
                .replace(
                    "{address_upper}",
                    &format!("0x{}", a[2..].to_ascii_uppercase()),
                )
                .replace("{address_bad_checksum}", &wrong_checksum(a))
                .replace("{address_0X}", &format!("0X{}", &a[2..]))
                .replace("{address}", a)
        }
        Chain::Solana => case.message.replace("{address}", &keys.sol_address),
    }
}

fn sign(case: &Case, keys: &Keys, text: &str) -> String {
    match case.chain {
        Chain::Ethereum => {
            let hash = ethereum::personal_sign_hash(text.as_bytes());
            let (sig, recid) = keys.eth.sign_prehash_recoverable(&hash).unwrap();
            let mut bytes = sig.to_bytes().to_vec();
            bytes.push(27 + recid.to_byte());
            format!("0x{}", hex::encode(bytes))
        }
        Chain::Solana => bs58::encode(keys.sol.sign(text.as_bytes()).to_bytes()).into_string(),
    }
}

fn run(case: &Case, keys: &Keys) -> Result<SignIn, VerifyError> {
    let now = case.now.as_deref().unwrap_or(DEFAULT_NOW);
    let mut policy = Policy::new(
        vec![case.domain.clone().unwrap_or_else(|| DEFAULT_DOMAIN.into())],
        ChainIdPolicy::Any,
        OffsetDateTime::parse(now, &Rfc3339).expect("now"),
        Duration::seconds(SKEW_SECONDS),
        NoncePolicy::ReturnToCaller,
    )
    .expect("policy");
    if let Some(age) = case.max_age {
        policy = policy.with_max_age(Duration::seconds(age));
    }
    let text = text(case, keys);
    let signature = sign(case, keys, &text);
    verify::verify(case.chain, &text, &signature, None, &policy)
}

#[test]
fn every_case_gives_its_expected_answer() {
    let file = load();
    let keys = keys();
    let mut failures = Vec::new();
    for case in &file.cases {
        let outcome = match run(case, &keys) {
            Ok(sign_in) => {
                let shown = match case.chain {
                    Chain::Ethereum => &keys.eth_address,
                    Chain::Solana => &keys.sol_address,
                };
                if &sign_in.address != shown {
                    failures.push(format!(
                        "{}: answered address {} instead of {shown}",
                        case.id, sign_in.address
                    ));
                }
                "valid".to_owned()
            }
            Err(e) => ErrorCode::from(&e).as_str().to_owned(),
        };
        if outcome != case.expect {
            failures.push(format!(
                "{} ({}): expected {}, got {outcome}",
                case.id, case.class, case.expect
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_class_has_valid_and_refused_cases() {
    let file = load();
    let mut classes: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut ids: Vec<&str> = Vec::new();
    for case in &file.cases {
        let entry = classes.entry(&case.class).or_default();
        if case.expect == "valid" {
            entry.0 += 1;
        } else {
            entry.1 += 1;
        }
        ids.push(&case.id);
    }
    for class in [
        "uri",
        "resources",
        "domain",
        "address",
        "solana-chain-id",
        "time-order",
        "clock-skew",
        "statement",
    ] {
        let (valid, refused) = classes.get(class).copied().unwrap_or_default();
        assert!(
            valid > 0 && refused > 0,
            "{class}: {valid} valid, {refused} refused"
        );
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "duplicate ids");
}
