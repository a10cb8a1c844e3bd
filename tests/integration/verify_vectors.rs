//! Every vector of `fixtures/wallet-vectors.json` through `verify::verify`, each assertion
//! naming its vector id.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a panic is a failure

use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use wallet_auth::http::ErrorCode;
use wallet_auth::verify::{self, Chain, ChainIdPolicy, NoncePolicy, Policy, VerifyError};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    now: String,
    clock_skew_tolerance_seconds: i64,
    domain: String,
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vector {
    id: String,
    chain: Chain,
    message: String,
    signature: String,
    public_key: Option<String>,
    address: String,
    expect: String,
    nonce: String,
}

fn load() -> File {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/wallet-vectors.json"
    ))
    .expect("fixtures/wallet-vectors.json");
    serde_json::from_str(&text).expect("vector file parses")
}

fn policy(file: &File, vector: &Vector) -> Policy {
    Policy::new(
        vec![file.domain.clone()],
        ChainIdPolicy::Any,
        OffsetDateTime::parse(&file.now, &Rfc3339).expect("now"),
        Duration::seconds(file.clock_skew_tolerance_seconds),
        NoncePolicy::Expect(vector.nonce.clone()),
    )
    .expect("policy")
}

fn run(file: &File, vector: &Vector) -> Result<verify::SignIn, VerifyError> {
    verify::verify(
        vector.chain,
        &vector.message,
        &vector.signature,
        vector.public_key.as_deref(),
        &policy(file, vector),
    )
}

/// The error code each invalid vector must fail with.
const EXPECTED_CODES: &[(&str, &str)] = &[
    ("eth-wrong-signer", "invalid_signature"),
    ("eth-tampered-domain", "invalid_signature"),
    ("eth-foreign-domain", "domain_mismatch"),
    ("eth-expired", "message_expired"),
    ("eth-not-yet-valid", "message_not_yet_valid"),
    ("eth-issued-at-future", "message_not_yet_valid"),
    ("eth-truncated-signature", "invalid_signature"),
    ("eth-high-s", "invalid_signature"),
    ("eth-statement-changed", "invalid_signature"),
    ("eth-trailing-newline", "invalid_message"),
    ("eth-version-2", "invalid_message"),
    ("eth-nonce-mismatch", "nonce_invalid"),
    ("sol-wrong-signer", "invalid_signature"),
    ("sol-foreign-domain", "domain_mismatch"),
    ("sol-expired", "message_expired"),
    ("sol-not-yet-valid", "message_not_yet_valid"),
    ("sol-issued-at-future", "message_not_yet_valid"),
    ("sol-tampered", "invalid_signature"),
    ("sol-statement-changed", "invalid_signature"),
    ("sol-publickey-mismatch", "invalid_signature"),
    ("sol-address-not-32-bytes", "invalid_message"),
    ("sol-trailing-newline", "invalid_message"),
    ("sol-version-2", "invalid_message"),
    ("sol-nonce-mismatch", "nonce_invalid"),
    ("sol-truncated-signature", "invalid_signature"),
];

#[test]
fn the_file_has_44_vectors_with_unique_ids() {
    let file = load();
    assert_eq!(file.vectors.len(), 44);
    let mut ids: Vec<&str> = file.vectors.iter().map(|v| v.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 44, "duplicate ids");
}

#[test]
fn every_vector_gives_its_expected_result() {
    let file = load();
    for vector in &file.vectors {
        let result = run(&file, vector);
        match vector.expect.as_str() {
            "valid" => {
                let sign_in = result.unwrap_or_else(|e| {
                    panic!(
                        "{}: expected valid, got {} ({e})",
                        vector.id,
                        ErrorCode::from(&e).as_str()
                    )
                });
                assert_eq!(sign_in.address, vector.address, "{}: address", vector.id);
                assert_eq!(sign_in.message.nonce, vector.nonce, "{}: nonce", vector.id);
                assert_eq!(sign_in.message.chain, vector.chain, "{}: chain", vector.id);
                assert_eq!(sign_in.message.domain, file.domain, "{}: domain", vector.id);
            }
            "invalid" => {
                let error = match result {
                    Ok(_) => panic!("{}: expected invalid, got valid", vector.id),
                    Err(e) => e,
                };
                let expected = EXPECTED_CODES
                    .iter()
                    .find(|(id, _)| *id == vector.id)
                    .map(|(_, code)| *code)
                    .unwrap_or_else(|| panic!("{}: no expected code listed", vector.id));
                assert_eq!(
                    ErrorCode::from(&error).as_str(),
                    expected,
                    "{}: {error}",
                    vector.id
                );
                assert!(
                    !error.to_string().contains(&vector.message),
                    "{}: the error repeats the message",
                    vector.id
                );
                assert!(
                    !error.to_string().contains(&vector.signature),
                    "{}: the error repeats the signature",
                    vector.id
                );
            }
            other => panic!("{}: unknown expectation {other}", vector.id),
        }
    }
}

#[test]
fn every_listed_code_names_a_real_invalid_vector() {
    let file = load();
    for (id, _) in EXPECTED_CODES {
        assert!(
            file.vectors
                .iter()
                .any(|v| v.id == *id && v.expect == "invalid"),
            "{id}: not an invalid vector of the file"
        );
    }
}

#[test]
fn valid_vectors_carry_their_chain_ids() {
    let file = load();
    let expected = [
        ("eth-viem-basic", Some("1")),
        ("eth-viem-no-statement-resources", Some("137")),
        ("eth-chain-10", Some("10")),
        ("eth-chain-8453", Some("8453")),
        ("sol-basic", Some("mainnet")),
        ("sol-base64-signature", Some("devnet")),
        ("sol-all-fields", Some("mainnet")),
    ];
    for (id, chain_id) in expected {
        let vector = file.vectors.iter().find(|v| v.id == id).expect(id);
        let sign_in = run(&file, vector).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(sign_in.chain_id.as_deref(), chain_id, "{id}");
    }
}

#[test]
fn valid_vectors_with_an_allow_list() {
    let file = load();
    for vector in file.vectors.iter().filter(|v| v.expect == "valid") {
        let mut policy = policy(&file, vector);
        policy.chain_ids = ChainIdPolicy::Only(match vector.chain {
            Chain::Ethereum => vec!["1".into(), "10".into(), "137".into(), "8453".into()],
            Chain::Solana => vec!["mainnet".into(), "devnet".into(), "testnet".into()],
        });
        let result = verify::verify(
            vector.chain,
            &vector.message,
            &vector.signature,
            vector.public_key.as_deref(),
            &policy,
        );
        assert!(result.is_ok(), "{}: {result:?}", vector.id);
        policy.chain_ids = ChainIdPolicy::Only(vec!["56".into(), "localnet".into()]);
        let result = verify::verify(
            vector.chain,
            &vector.message,
            &vector.signature,
            vector.public_key.as_deref(),
            &policy,
        );
        assert_eq!(
            result.err(),
            Some(VerifyError::ChainNotAllowed),
            "{}",
            vector.id
        );
    }
}

#[test]
fn the_lowercase_address_vector_is_valid_and_answers_in_eip55() {
    let file = load();
    let vector = file
        .vectors
        .iter()
        .find(|v| v.id == "eth-lowercase-address")
        .expect("vector");
    assert_eq!(vector.expect, "valid");
    assert!(vector
        .message
        .contains("\n0x2e43d3c652f5abe5294517195c989ba0b4b67a5f\n"));
    let sign_in = run(&file, vector).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        sign_in.address,
        "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f"
    );
    // Verified over the exact bytes: the same signature does not fit the EIP-55 text.
    let eip55_text = vector.message.replace(
        "0x2e43d3c652f5abe5294517195c989ba0b4b67a5f",
        &sign_in.address,
    );
    assert_ne!(eip55_text, vector.message);
    let result = verify::verify(
        vector.chain,
        &eip55_text,
        &vector.signature,
        None,
        &policy(&file, vector),
    );
    assert_eq!(
        result.err().map(|e| ErrorCode::from(&e).as_str()),
        Some("invalid_signature")
    );
}

#[test]
fn valid_vectors_parse_and_format_back_exactly() {
    let file = load();
    for vector in file.vectors.iter().filter(|v| v.expect == "valid") {
        let parsed = verify::parse_message(vector.chain, &vector.message)
            .unwrap_or_else(|e| panic!("{}: {e}", vector.id));
        assert_eq!(parsed.to_text(), vector.message, "{}", vector.id);
    }
}

#[test]
fn strict_uri_origin_refuses_the_other_origin_vector() {
    let file = load();
    let vector = file
        .vectors
        .iter()
        .find(|v| v.id == "eth-uri-other-origin")
        .expect("vector");
    let policy = policy(&file, vector).with_strict_uri_origin(true);
    let result = verify::verify(
        vector.chain,
        &vector.message,
        &vector.signature,
        None,
        &policy,
    );
    assert_eq!(
        result.err(),
        Some(VerifyError::DomainMismatch),
        "{}",
        vector.id
    );
}

#[test]
fn without_public_key_solana_vectors_still_verify_by_address() {
    let file = load();
    for vector in file
        .vectors
        .iter()
        .filter(|v| v.chain == Chain::Solana && v.expect == "valid")
    {
        let result = verify::verify(
            vector.chain,
            &vector.message,
            &vector.signature,
            None,
            &policy(&file, vector),
        );
        assert!(result.is_ok(), "{}: {result:?}", vector.id);
    }
}
