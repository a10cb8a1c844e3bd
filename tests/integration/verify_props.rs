//! Properties of verification with real local keys: signed well-formed messages verify, any
//! single changed byte of message or signature fails, and parse/format is the identity.

#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a panic is a failure

use ed25519_dalek::Signer as _;
use k256::ecdsa::SigningKey;
use k256::elliptic_curve::scalar::IsHigh as _;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime, UtcOffset};
use wallet_auth::verify::{
    self, ethereum, normalize_address, parse_message, prepare_message, Chain, ChainIdPolicy,
    MessageParams, NoncePolicy, ParsedMessage, Policy, Timestamp,
};

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(64)
}

fn eth_key() -> impl Strategy<Value = SigningKey> {
    any::<[u8; 32]>().prop_filter_map("a valid secp256k1 scalar", |b| {
        SigningKey::from_slice(&b).ok()
    })
}

fn eth_address(key: &SigningKey) -> String {
    let point = key.verifying_key().to_encoded_point(false);
    let xy: [u8; 64] = point.as_bytes()[1..].try_into().unwrap();
    ethereum::address_of(&xy).to_checksum(None)
}

fn eth_sign(key: &SigningKey, message: &str) -> [u8; 65] {
    let hash = ethereum::personal_sign_hash(message.as_bytes());
    let (sig, recid) = key.sign_prehash_recoverable(&hash).unwrap();
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&sig.to_bytes());
    out[64] = 27 + recid.to_byte();
    out
}

fn sol_key() -> impl Strategy<Value = ed25519_dalek::SigningKey> {
    any::<[u8; 32]>().prop_map(|b| ed25519_dalek::SigningKey::from_bytes(&b))
}

/// Seconds in 2000..2100.
fn instant() -> impl Strategy<Value = OffsetDateTime> {
    (946_684_800i64..4_102_444_800, 0u16..1000).prop_map(|(s, ms)| {
        OffsetDateTime::from_unix_timestamp(s).unwrap() + Duration::milliseconds(i64::from(ms))
    })
}

#[derive(Debug, Clone)]
struct Inputs {
    domain: String,
    statement: Option<String>,
    uri: String,
    chain_id: u64,
    nonce: String,
    issued_at: OffsetDateTime,
    lifetime: Option<i64>,
}

fn inputs() -> impl Strategy<Value = Inputs> {
    (
        "[a-z][a-z0-9-]{0,12}\\.[a-z]{2,6}(:[0-9]{1,5})?",
        proptest::option::of("[A-Za-z0-9][A-Za-z0-9 .,:/?#@!$&'()*+;=_~-]{0,60}"),
        "https://[a-z]{1,10}\\.example/[a-z0-9/]{0,20}",
        1u64..100_000,
        "[A-Za-z0-9]{8,32}",
        instant(),
        proptest::option::of(1i64..100_000),
    )
        .prop_map(
            |(domain, statement, uri, chain_id, nonce, issued_at, lifetime)| Inputs {
                domain,
                statement,
                uri,
                chain_id,
                nonce,
                issued_at,
                lifetime,
            },
        )
}

fn message(chain: Chain, i: &Inputs, address: &str) -> String {
    let chain_id = match chain {
        Chain::Ethereum => i.chain_id.to_string(),
        Chain::Solana => "mainnet".to_owned(),
    };
    prepare_message(&MessageParams {
        chain,
        domain: &i.domain,
        address,
        statement: i.statement.as_deref(),
        uri: &i.uri,
        chain_id: Some(&chain_id),
        nonce: &i.nonce,
        issued_at: i.issued_at,
        expiration_time: i.lifetime.map(|s| i.issued_at + Duration::seconds(s)),
    })
}

fn policy(i: &Inputs) -> Policy {
    Policy::new(
        vec![i.domain.to_uppercase()],
        ChainIdPolicy::Any,
        i.issued_at,
        Duration::seconds(60),
        NoncePolicy::Expect(i.nonce.clone()),
    )
    .unwrap()
}

/// `text` with byte `at` (mod len) replaced by a different byte, if still UTF-8.
fn change_byte(text: &str, at: usize, to: u8) -> Option<String> {
    let mut bytes = text.as_bytes().to_vec();
    let i = at % bytes.len();
    if bytes[i] == to {
        return None;
    }
    bytes[i] = to;
    String::from_utf8(bytes).ok()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ethereum_signed_messages_verify(key in eth_key(), i in inputs(), v01 in any::<bool>(), compact in any::<bool>(), case in 0u8..3) {
        let address = eth_address(&key);
        // The address written as EIP-55, lowercase or uppercase: all sign in as the EIP-55 form.
        let written = match case {
            0 => address.clone(),
            1 => address.to_ascii_lowercase(),
            _ => format!("0x{}", address[2..].to_ascii_uppercase()),
        };
        let text = message(Chain::Ethereum, &i, &written);
        let mut sig = eth_sign(&key, &text);
        let encoded = if compact {
            let y = sig[64] - 27;
            sig[32] |= y << 7;
            hex::encode(&sig[..64])
        } else {
            if v01 {
                sig[64] -= 27;
            }
            format!("0x{}", hex::encode(sig))
        };
        let sign_in = verify::verify(Chain::Ethereum, &text, &encoded, None, &policy(&i))
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(&sign_in.address, &address);
        prop_assert_eq!(sign_in.chain_id, Some(i.chain_id.to_string()));
        prop_assert_eq!(normalize_address(Chain::Ethereum, &address.to_lowercase()).unwrap(), address);
    }

    #[test]
    fn ethereum_any_changed_message_byte_fails(key in eth_key(), i in inputs(), at in any::<usize>(), to in 0u8..128) {
        let text = message(Chain::Ethereum, &i, &eth_address(&key));
        let sig = format!("0x{}", hex::encode(eth_sign(&key, &text)));
        if let Some(changed) = change_byte(&text, at, to) {
            prop_assert!(verify::verify(Chain::Ethereum, &changed, &sig, None, &policy(&i)).is_err());
        }
    }

    #[test]
    fn ethereum_any_changed_signature_byte_fails(key in eth_key(), i in inputs(), at in 0usize..65, delta in 1u8..=255) {
        let text = message(Chain::Ethereum, &i, &eth_address(&key));
        let mut sig = eth_sign(&key, &text);
        let before = sig[at];
        sig[at] = sig[at].wrapping_add(delta);
        // `v` 27/28 and 0/1 are two spellings of one recovery id: 27 → 0 or 28 → 1 is the
        // same signature, not a changed one.
        prop_assume!(!(at == 64 && sig[at] < 2 && sig[at] == before - 27));
        let encoded = format!("0x{}", hex::encode(sig));
        prop_assert!(verify::verify(Chain::Ethereum, &text, &encoded, None, &policy(&i)).is_err());
    }

    /// Recovery (libsecp256k1, after our range and low-s checks) agrees with k256, an
    /// independent implementation, on arbitrary signatures: the same ones are refused, and
    /// every one recovered gives k256's key. Random words are nearly always in range, half of
    /// them high-s, and about half of the r values are no point's x coordinate.
    #[test]
    fn ethereum_recovery_agrees_with_k256(rs in any::<[u8; 64]>(), y_odd in any::<bool>(), prehash in any::<[u8; 32]>()) {
        let encoded = format!("0x{}{:02x}", hex::encode(rs), 27 + u8::from(y_odd));
        let ours = ethereum::decode_signature(&encoded)
            .ok()
            .and_then(|sig| ethereum::recover_public_key(&prehash, &sig));
        let theirs = k256::ecdsa::Signature::from_slice(&rs)
            .ok()
            .filter(|sig| !bool::from(sig.s().is_high()))
            .and_then(|sig| {
                k256::ecdsa::VerifyingKey::recover_from_prehash(
                    &prehash,
                    &sig,
                    k256::ecdsa::RecoveryId::new(y_odd, false),
                )
                .ok()
            })
            .map(|key| <[u8; 64]>::try_from(&key.to_encoded_point(false).as_bytes()[1..]).unwrap());
        prop_assert_eq!(ours, theirs);
    }

    /// The same on real signatures of random keys, each with its own recovery id: both
    /// implementations recover the signer.
    #[test]
    fn ethereum_recovery_of_real_signatures_agrees_with_k256(key in eth_key(), message in any::<Vec<u8>>()) {
        let hash = ethereum::personal_sign_hash(&message);
        let (sig, recid) = key.sign_prehash_recoverable(&hash).unwrap();
        let decoded = ethereum::RecoverableSignature { rs: sig.to_bytes().into(), y_odd: recid.is_y_odd() };
        let ours = ethereum::recover_public_key(&hash, &decoded).unwrap();
        let theirs = k256::ecdsa::VerifyingKey::recover_from_prehash(&hash, &sig, recid).unwrap();
        let theirs = theirs.to_encoded_point(false);
        let signer = key.verifying_key().to_encoded_point(false);
        prop_assert_eq!(&ours[..], &theirs.as_bytes()[1..]);
        prop_assert_eq!(&ours[..], &signer.as_bytes()[1..]);
    }

    #[test]
    fn solana_signed_messages_verify(key in sol_key(), i in inputs(), encoding in 0u8..3) {
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        let text = message(Chain::Solana, &i, &address);
        let sig = key.sign(text.as_bytes()).to_bytes();
        let encoded = match encoding {
            0 => bs58::encode(sig).into_string(),
            1 => base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig),
            _ => hex::encode(sig),
        };
        let sign_in = verify::verify(Chain::Solana, &text, &encoded, Some(&address), &policy(&i))
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(sign_in.address, address);
    }

    #[test]
    fn solana_any_changed_byte_fails(key in sol_key(), i in inputs(), at in any::<usize>(), to in 0u8..128, sig_at in 0usize..64, delta in 1u8..=255) {
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        let text = message(Chain::Solana, &i, &address);
        let sig = key.sign(text.as_bytes()).to_bytes();
        let encoded = bs58::encode(sig).into_string();
        if let Some(changed) = change_byte(&text, at, to) {
            prop_assert!(verify::verify(Chain::Solana, &changed, &encoded, None, &policy(&i)).is_err());
        }
        let mut bad = sig;
        bad[sig_at] = bad[sig_at].wrapping_add(delta);
        let encoded = bs58::encode(bad).into_string();
        prop_assert!(verify::verify(Chain::Solana, &text, &encoded, None, &policy(&i)).is_err());
    }

    #[test]
    fn ethereum_parse_format_parse_is_identity(m in parsed(Chain::Ethereum)) {
        let text = m.to_text();
        let parsed = parse_message(Chain::Ethereum, &text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.to_text(), text);
    }

    #[test]
    fn solana_parse_format_parse_is_identity(m in parsed(Chain::Solana)) {
        let text = m.to_text();
        let parsed = parse_message(Chain::Solana, &text)
            .map_err(|e| TestCaseError::fail(format!("{e}: {text:?}")))?;
        prop_assert_eq!(&parsed, &m);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn parsing_arbitrary_text_never_panics(text in "(?s).{0,400}", chain in prop_oneof![Just(Chain::Ethereum), Just(Chain::Solana)]) {
        let _ = parse_message(chain, &text);
    }

    #[test]
    fn mutated_valid_messages_never_panic(m in parsed(Chain::Ethereum), at in any::<usize>(), to in 0u8..128) {
        if let Some(changed) = change_byte(&m.to_text(), at, to) {
            let _ = parse_message(Chain::Ethereum, &changed);
            let _ = parse_message(Chain::Solana, &changed);
        }
    }
}

/// A timestamp written in one of several RFC 3339 styles.
fn timestamp() -> impl Strategy<Value = Timestamp> {
    (instant(), 0u8..4, -12i8..=12).prop_map(|(t, style, offset_hours)| {
        let text = match style {
            0 => Timestamp::from_datetime(t).as_str().to_owned(),
            1 => {
                let offset = UtcOffset::from_hms(offset_hours, 0, 0).unwrap();
                t.to_offset(offset)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
            }
            2 => Timestamp::from_datetime(t)
                .as_str()
                .replace(".000Z", "Z")
                .replace('Z', "+00:00"),
            _ => Timestamp::from_datetime(t)
                .as_str()
                .replace('T', "t")
                .replace('Z', "z"),
        };
        Timestamp::parse(&text).unwrap_or_else(|| panic!("{text}"))
    })
}

fn uri() -> impl Strategy<Value = String> {
    prop_oneof![
        "https://[a-z]{1,10}\\.example(:[0-9]{2,5})?/[A-Za-z0-9/._~%-]{0,20}"
            .prop_filter("well-formed percent escapes", |s| !s.contains('%')),
        "urn:[a-z]{1,8}:[a-z0-9:]{1,20}",
        "ipfs://bafy[a-z0-9]{10,40}/",
        "https://\\[2001:db8(:[0-9a-f]{1,4}){0,4}::[0-9a-f]{1,4}\\](:[0-9]{2,5})?/[a-z]{0,8}",
        "https://(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}/",
        "x://[a-z0-9._~!$&'()*+,;=:%-]{0,10}@[a-z]{1,8}\\.example:[0-9]{0,5}[?#][a-z/?:@]{0,10}"
            .prop_filter("well-formed percent escapes", |s| !s.contains('%')),
    ]
}

prop_compose! {
    /// An address as wallets write it: EIP-55, all lowercase or all uppercase.
    fn eth_address_strategy()(bytes in any::<[u8; 20]>(), case in 0u8..3) -> String {
        let eip55 = alloy_primitives::Address::from(bytes).to_checksum(None);
        match case {
            0 => eip55,
            1 => eip55.to_ascii_lowercase(),
            _ => format!("0x{}", eip55[2..].to_ascii_uppercase()),
        }
    }
}

prop_compose! {
    fn sol_address_strategy()(key in sol_key()) -> String {
        bs58::encode(key.verifying_key().as_bytes()).into_string()
    }
}

fn parsed(chain: Chain) -> impl Strategy<Value = ParsedMessage> {
    let address = match chain {
        Chain::Ethereum => eth_address_strategy().boxed(),
        Chain::Solana => sol_address_strategy().boxed(),
    };
    let statement = match chain {
        Chain::Ethereum => "[A-Za-z0-9 .,:/?#@!$&'()*+;=_~\\[\\]-]{1,60}".boxed(),
        // Any text a person can read on one line: no controls, line or paragraph separators,
        // bidi controls or invisible characters (which a SIWS statement refuses).
        Chain::Solana => "[^\\p{Cc}\\x{2028}\\x{2029}\\x{061C}\\x{200B}\\x{200E}\\x{200F}\\x{202A}-\\x{202E}\\x{2060}-\\x{2064}\\x{2066}-\\x{2069}\\x{FEFF}\\x{FFF9}-\\x{FFFB}\\x{E0000}-\\x{E007F}]{1,60}".boxed(),
    };
    let chain_id = match chain {
        Chain::Ethereum => any::<u64>().prop_map(|n| Some(n.to_string())).boxed(),
        Chain::Solana => proptest::option::of(proptest::sample::select(vec![
            "mainnet".to_owned(),
            "testnet".to_owned(),
            "devnet".to_owned(),
            "localnet".to_owned(),
            "solana:mainnet".to_owned(),
            "solana:testnet".to_owned(),
            "solana:devnet".to_owned(),
        ]))
        .boxed(),
    };
    let required = matches!(chain, Chain::Ethereum);
    let maybe = move |s: BoxedStrategy<String>| {
        if required {
            s.prop_map(Some).boxed()
        } else {
            proptest::option::of(s).boxed()
        }
    };
    let issued_at = if required {
        timestamp().prop_map(Some).boxed()
    } else {
        proptest::option::of(timestamp()).boxed()
    };
    (
        (
            proptest::option::of("[a-z][a-z0-9+.-]{0,8}"),
            "[a-z0-9-]{1,12}(\\.[a-z]{2,6})?(:[0-9]{1,5})?",
            address,
            proptest::option::of(statement),
            maybe(uri().boxed()),
            maybe(Just("1".to_owned()).boxed()),
            chain_id,
        ),
        (
            "[A-Za-z0-9]{8,40}",
            issued_at,
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            proptest::option::of("[A-Za-z0-9._~!$&'()*+,;=:@-]{0,20}"),
            proptest::option::of(proptest::collection::vec(uri(), 0..4)),
        ),
    )
        .prop_map(
            move |(
                (scheme, domain, address, statement, uri, version, chain_id),
                (nonce, issued_at, expiration_time, not_before, request_id, resources),
            )| ParsedMessage {
                chain,
                scheme,
                domain,
                address,
                statement,
                uri,
                version,
                chain_id,
                nonce,
                issued_at,
                expiration_time,
                not_before,
                request_id,
                resources,
            },
        )
}
