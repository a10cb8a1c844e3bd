//! Full verification of arbitrary message / signature / public key strings never panics.
//! Input: first byte picks the chain (bit 0) and whether a public key is passed (bit 1); the
//! rest is `message NUL signature [NUL public_key]` as UTF-8.
#![no_main]

use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};
use wallet_auth::verify::{verify, Chain, ChainIdPolicy, NoncePolicy, Policy};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut parts = text.splitn(3, '\0');
    let message = parts.next().unwrap_or_default();
    let signature = parts.next().unwrap_or_default();
    let public_key = if selector & 2 != 0 { parts.next() } else { None };
    let chain = if selector & 1 == 0 {
        Chain::Ethereum
    } else {
        Chain::Solana
    };
    let Ok(now) = OffsetDateTime::from_unix_timestamp(1_795_348_830) else {
        return;
    };
    let Ok(policy) = Policy::new(
        vec!["app.example.com".to_owned()],
        ChainIdPolicy::Any,
        now,
        Duration::seconds(60),
        NoncePolicy::ReturnToCaller,
    ) else {
        return;
    };
    if let Ok(sign_in) = verify(chain, message, signature, public_key, &policy) {
        assert_eq!(sign_in.message.chain, chain);
    }
});
