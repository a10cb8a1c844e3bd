//! Signature verification cost: full `verify` for Ethereum and Solana, the address recovery,
//! the libsecp256k1 recovery alone (`ethereum::recover_public_key`), and k256's
//! `recover_from_prehash` (the independent implementation the tests compare with) for
//! reference.
//!
//! `cargo bench --bench verify -- --warm-up-time 1 --measurement-time 3`

#![allow(clippy::expect_used, clippy::unwrap_used)] // bench code: a panic is a failure

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use time::macros::datetime;
use time::Duration;
use wallet_auth::verify::{self, ethereum, Chain, ChainIdPolicy, NoncePolicy, Policy};

const ETH_MESSAGE: &str = "app.example.com wants you to sign in with your Ethereum account:\n\
    0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f\n\n\
    Sign in to the example dApp.\n\n\
    URI: https://app.example.com/login\n\
    Version: 1\n\
    Chain ID: 1\n\
    Nonce: sharedNonce0001abcXYZ\n\
    Issued At: 2026-11-22T12:00:00.000Z";
const ETH_SIGNATURE: &str = "0x2af7d4b04d2e2862605beab2e95de1a97777ca76e6c1f1a4c4ff02dfa9394267\
    076612111eaeec43165f7693a31d4ccdf9005af086bbb04e69a1dbe1343c5c0a1b";
const ETH_ADDRESS: &str = "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f";

const SOL_MESSAGE: &str = "app.example.com wants you to sign in with your Solana account:\n\
    3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2\n\n\
    Sign in to the example dApp.\n\n\
    URI: https://app.example.com/login\n\
    Version: 1\n\
    Chain ID: mainnet\n\
    Nonce: sharedNonce0030abcXYZ\n\
    Issued At: 2026-11-22T12:00:00.000Z";
const SOL_SIGNATURE: &str =
    "3LgeuSD762ftMHusvgRhavUyZVNNwkNWHE4G4TqySUsMcFs3Ru5TnitFfM3HuPFKZ7QMByxshLQVuGwKJ52BvdDr";
const SOL_ADDRESS: &str = "3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2";

fn policy(nonce: &str) -> Policy {
    Policy::new(
        vec!["app.example.com".into()],
        ChainIdPolicy::Any,
        datetime!(2026-11-22 12:00:30 UTC),
        Duration::seconds(60),
        NoncePolicy::Expect(nonce.into()),
    )
    .unwrap()
}

fn benches(c: &mut Criterion) {
    let eth_policy = policy("sharedNonce0001abcXYZ");
    let sol_policy = policy("sharedNonce0030abcXYZ");
    let expected = alloy_primitives::Address::parse_checksummed(ETH_ADDRESS, None).unwrap();

    // Every path agrees before anything is timed.
    let sign_in = verify::verify(
        Chain::Ethereum,
        ETH_MESSAGE,
        ETH_SIGNATURE,
        None,
        &eth_policy,
    )
    .unwrap();
    assert_eq!(sign_in.address, ETH_ADDRESS);
    let sign_in = verify::verify(
        Chain::Solana,
        SOL_MESSAGE,
        SOL_SIGNATURE,
        Some(SOL_ADDRESS),
        &sol_policy,
    )
    .unwrap();
    assert_eq!(sign_in.address, SOL_ADDRESS);
    assert_eq!(
        ethereum::recover_address(ETH_MESSAGE.as_bytes(), ETH_SIGNATURE).unwrap(),
        expected
    );

    let hash = ethereum::personal_sign_hash(ETH_MESSAGE.as_bytes());
    let decoded = ethereum::decode_signature(ETH_SIGNATURE).unwrap();
    let recid = RecoveryId::new(decoded.y_odd, false);
    let k256_signature = Signature::from_slice(&decoded.rs).unwrap();
    assert_eq!(
        &ethereum::recover_public_key(&hash, &decoded).unwrap()[..],
        &VerifyingKey::recover_from_prehash(&hash, &k256_signature, recid)
            .unwrap()
            .to_encoded_point(false)
            .as_bytes()[1..]
    );

    let mut group = c.benchmark_group("signature verification");
    group.bench_function("ethereum: full verify (parse + recover + policy)", |b| {
        b.iter(|| {
            verify::verify(
                Chain::Ethereum,
                black_box(ETH_MESSAGE),
                black_box(ETH_SIGNATURE),
                None,
                &eth_policy,
            )
            .unwrap()
        })
    });
    group.bench_function(
        "ethereum: recover address (hash + libsecp256k1 recovery + keccak)",
        |b| {
            b.iter(|| {
                ethereum::recover_address(
                    black_box(ETH_MESSAGE.as_bytes()),
                    black_box(ETH_SIGNATURE),
                )
                .unwrap()
            })
        },
    );
    group.bench_function("libsecp256k1: recovery from prehash (ours)", |b| {
        b.iter(|| ethereum::recover_public_key(black_box(&hash), black_box(&decoded)).unwrap())
    });
    group.bench_function(
        "reference: k256 VerifyingKey::recover_from_prehash (recovers, then verifies)",
        |b| {
            b.iter(|| {
                VerifyingKey::recover_from_prehash(
                    black_box(&hash),
                    black_box(&k256_signature),
                    recid,
                )
                .unwrap()
            })
        },
    );
    group.bench_function(
        "solana: full verify (parse + ed25519 verify_strict + policy)",
        |b| {
            b.iter(|| {
                verify::verify(
                    Chain::Solana,
                    black_box(SOL_MESSAGE),
                    black_box(SOL_SIGNATURE),
                    Some(SOL_ADDRESS),
                    &sol_policy,
                )
                .unwrap()
            })
        },
    );
    group.bench_function("parse only: EIP-4361", |b| {
        b.iter(|| verify::parse_message(Chain::Ethereum, black_box(ETH_MESSAGE)).unwrap())
    });
    group.finish();
}

criterion_group!(verification, benches);
criterion_main!(verification);
