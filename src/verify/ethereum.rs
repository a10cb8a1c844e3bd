//! Ethereum signatures: EIP-191 `personal_sign` over the exact message bytes, secp256k1 public
//! key recovery with libsecp256k1 (the `secp256k1` crate), and comparison with the message's
//! address.
//!
//! Accepted encodings (hex, `0x` optional, any case): 65 bytes `r‖s‖v` with `v` in
//! {27, 28, 0, 1}, or 64 bytes EIP-2098 `r‖yParityAndS` (yParity is the top bit of the second
//! word). `r` and `s` must be in `[1, n-1]` and `s` must be low (EIP-2): a high-s signature is
//! refused, not normalized. These rules are checked here, on the bytes, before libsecp256k1 is
//! asked anything: its recovery alone would accept a high `s`.
//!
//! Why libsecp256k1: recovery is curve arithmetic, and curve arithmetic of our own is
//! cryptography we would have to maintain. libsecp256k1 is the implementation Bitcoin Core
//! relies on, reviewed and tested far beyond what this crate could do, and about twice as fast
//! as the same recovery on k256 (BENCHMARKS.md). The tests compare every recovered key with
//! k256's `VerifyingKey::recover_from_prehash`, an independent implementation.

use alloy_primitives::{eip191_hash_message, keccak256, Address};
use secp256k1::ecdsa::{RecoverableSignature as Recoverable, RecoveryId};
use secp256k1::Message;

use super::error::VerifyError;

/// The order `n` of secp256k1's group, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

/// `⌊n / 2⌋`, big-endian: the largest low `s` (EIP-2).
const HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
];

/// A decoded, range-checked, low-s secp256k1 recoverable signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoverableSignature {
    /// `r‖s`, big-endian, both in `[1, n-1]`, `s` low (an EIP-2098 parity bit already taken
    /// out).
    pub rs: [u8; 64],
    /// Whether `R`'s y coordinate is odd (the recovery id's parity).
    pub y_odd: bool,
}

/// Whether a big-endian 32-byte scalar is in `[1, n-1]`.
fn in_scalar_range(word: &[u8; 32]) -> bool {
    *word != [0u8; 32] && *word < ORDER
}

/// Decodes a signature as a client sends it (see the module docs for the accepted forms).
///
/// # Errors
/// [`VerifyError::InvalidSignature`]: not hex, a length other than 64 or 65 bytes, `v` outside
/// {27, 28, 0, 1}, `r` or `s` zero or not below the group order, or high `s`.
pub fn decode_signature(signature: &str) -> Result<RecoverableSignature, VerifyError> {
    let hex_digits = strip_hex_prefix(signature);
    let mut bytes = [0u8; 65];
    let len = match hex_digits.len() {
        130 => 65,
        128 => 64,
        n if n % 2 == 0 && hex_digits.chars().all(|c| c.is_ascii_hexdigit()) => {
            return Err(VerifyError::signature(format!(
                "an Ethereum signature is 65 bytes (or 64 in EIP-2098 form), got {}",
                n / 2
            )));
        }
        _ => return Err(VerifyError::signature("the signature is not hex")),
    };
    let buf = bytes.get_mut(..len).unwrap_or_default();
    hex::decode_to_slice(hex_digits, buf)
        .map_err(|_| VerifyError::signature("the signature is not hex"))?;
    let mut rs = [0u8; 64];
    rs.copy_from_slice(bytes.get(..64).unwrap_or(&[0u8; 64]));
    let y_odd = if len == 65 {
        match bytes.get(64) {
            Some(27 | 0) => false,
            Some(28 | 1) => true,
            _ => {
                return Err(VerifyError::signature(
                    "the recovery byte v must be 27, 28, 0 or 1",
                ))
            }
        }
    } else {
        // EIP-2098: the top bit of s carries yParity.
        let y_odd = rs.get(32).is_some_and(|b| b & 0x80 != 0);
        if let Some(b) = rs.get_mut(32) {
            *b &= 0x7f;
        }
        y_odd
    };
    let (r, s) = rs.split_at(32);
    let (Ok(r), Ok(s)) = (<&[u8; 32]>::try_from(r), <&[u8; 32]>::try_from(s)) else {
        return Err(VerifyError::signature("r or s is out of range"));
    };
    if !in_scalar_range(r) || !in_scalar_range(s) {
        return Err(VerifyError::signature("r or s is out of range"));
    }
    if *s > HALF_ORDER {
        return Err(VerifyError::signature(
            "s is in the upper half of the curve order (malleable, refused by EIP-2)",
        ));
    }
    Ok(RecoverableSignature { rs, y_odd })
}

/// `text` without its `0x` (or `0X`) prefix, if it has one: how Ethereum signatures are written.
pub(crate) fn strip_hex_prefix(text: &str) -> &str {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text)
}

/// The EIP-191 `personal_sign` hash of `message`:
/// `keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message)`.
#[must_use]
pub fn personal_sign_hash(message: &[u8]) -> [u8; 32] {
    eip191_hash_message(message).0
}

/// Recovers the public key from a 32-byte prehash and a signature (see the module docs), as
/// the 64-byte uncompressed `x‖y`. `None` when no key exists for this signature (`r` is not the
/// x coordinate of a curve point, or the key would be the point at infinity).
#[must_use]
pub fn recover_public_key(prehash: &[u8; 32], sig: &RecoverableSignature) -> Option<[u8; 64]> {
    let id = if sig.y_odd {
        RecoveryId::One
    } else {
        RecoveryId::Zero
    };
    let signature = Recoverable::from_compact(&sig.rs, id).ok()?;
    let key = signature
        .recover_ecdsa(Message::from_digest(*prehash))
        .ok()?;
    let encoded = key.serialize_uncompressed();
    <[u8; 64]>::try_from(encoded.get(1..)?).ok()
}

/// The Ethereum address of a 64-byte uncompressed public key.
#[must_use]
pub fn address_of(public_key: &[u8; 64]) -> Address {
    Address::from_word(keccak256(public_key))
}

/// Recovers the address that signed `message` with `personal_sign`.
///
/// # Errors
/// [`VerifyError::InvalidSignature`] for a malformed signature or one no key can have made.
pub fn recover_address(message: &[u8], signature: &str) -> Result<Address, VerifyError> {
    let sig = decode_signature(signature)?;
    let hash = personal_sign_hash(message);
    let key = recover_public_key(&hash, &sig)
        .ok_or_else(|| VerifyError::signature("no public key recovers from this signature"))?;
    Ok(address_of(&key))
}

/// Checks that `signature` is `expected`'s `personal_sign` signature of `message`.
///
/// # Errors
/// [`VerifyError::InvalidSignature`] when malformed or made by another key.
pub fn verify_personal_sign(
    message: &[u8],
    signature: &str,
    expected: &Address,
) -> Result<(), VerifyError> {
    if recover_address(message, signature)? == *expected {
        Ok(())
    } else {
        Err(VerifyError::signature(
            "it was not made by the message's address",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::{Signature, SigningKey, VerifyingKey};
    use k256::elliptic_curve::scalar::IsHigh;
    use k256::elliptic_curve::PrimeField;

    const MESSAGE: &[u8] = b"hello world";

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_slice(&[seed; 32]).unwrap()
    }

    fn address(key: &SigningKey) -> Address {
        let point = key.verifying_key().to_encoded_point(false);
        let xy: [u8; 64] = point.as_bytes()[1..].try_into().unwrap();
        address_of(&xy)
    }

    /// (r‖s, recovery id byte 0/1), low-s.
    fn sign(key: &SigningKey, message: &[u8]) -> ([u8; 64], u8) {
        let (sig, recid) = key
            .sign_prehash_recoverable(&personal_sign_hash(message))
            .unwrap();
        assert!(!bool::from(sig.s().is_high()));
        (sig.to_bytes().into(), recid.to_byte())
    }

    fn with_v(rs: &[u8; 64], v: u8) -> String {
        let mut bytes = rs.to_vec();
        bytes.push(v);
        format!("0x{}", hex::encode(bytes))
    }

    #[test]
    fn v_27_28_0_1_and_no_prefix() {
        let k = key(7);
        let (rs, recid) = sign(&k, MESSAGE);
        let expected = address(&k);
        for v in [recid + 27, recid] {
            let sig = with_v(&rs, v);
            verify_personal_sign(MESSAGE, &sig, &expected).unwrap();
            verify_personal_sign(MESSAGE, &sig[2..], &expected).unwrap();
            verify_personal_sign(MESSAGE, &sig.to_uppercase().replace("0X", "0x"), &expected)
                .unwrap();
        }
        // The other parity recovers another key.
        let wrong = with_v(&rs, (1 - recid) + 27);
        assert!(verify_personal_sign(MESSAGE, &wrong, &expected).is_err());
        for v in [2, 3, 26, 29, 35, 36, 255] {
            let err = verify_personal_sign(MESSAGE, &with_v(&rs, v), &expected).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
            assert!(err.to_string().contains("recovery byte"), "{err}");
        }
    }

    #[test]
    fn eip2098_compact() {
        // Find keys giving both parities.
        let mut seen = [false; 2];
        for seed in 1..40u8 {
            let k = key(seed);
            let (mut rs, recid) = sign(&k, MESSAGE);
            seen[usize::from(recid)] = true;
            rs[32] |= recid << 7;
            let sig = format!("0x{}", hex::encode(rs));
            verify_personal_sign(MESSAGE, &sig, &address(&k)).unwrap();
        }
        assert_eq!(seen, [true, true]);
    }

    #[test]
    fn high_s_is_refused() {
        let k = key(9);
        let (rs, recid) = sign(&k, MESSAGE);
        let sig = Signature::from_slice(&rs).unwrap();
        let high_s = -*sig.s();
        let high = Signature::from_scalars(sig.r().to_repr(), high_s.to_repr()).unwrap();
        let high_bytes: [u8; 64] = high.to_bytes().into();
        // The high-s twin of a valid signature has the other parity.
        let err = verify_personal_sign(
            MESSAGE,
            &with_v(&high_bytes, (1 - recid) + 27),
            &address(&k),
        )
        .unwrap_err();
        assert!(err.to_string().contains("upper half"), "{err}");
    }

    #[test]
    fn bad_hex_and_lengths() {
        let k = key(3);
        let (rs, recid) = sign(&k, MESSAGE);
        let good = with_v(&rs, recid + 27);
        for bad in [
            String::new(),
            "0x".to_owned(),
            good.replace(&good[10..12], "zz"),
            format!("{good}0"),
            good[..good.len() - 1].to_owned(),
            good[..100].to_owned(),
            format!("{good}00"),
            format!(" {good}"),
            format!("0x{}", "\u{e9}".repeat(65)),
        ] {
            let err = decode_signature(&bad).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{bad}");
        }
        let err = decode_signature(&good[..100]).unwrap_err();
        assert!(err.to_string().contains("got 49"), "{err}");
    }

    #[test]
    fn zero_or_out_of_range_r_s() {
        let zeros = format!("0x{}1b", "00".repeat(64));
        assert!(decode_signature(&zeros).is_err());
        let max = format!("0x{}1b", "ff".repeat(64));
        assert!(decode_signature(&max).is_err());
    }

    /// `r‖s‖27` with r and s given as 32-byte words.
    fn words(r: [u8; 32], s: [u8; 32]) -> String {
        let mut rs = [0u8; 64];
        rs[..32].copy_from_slice(&r);
        rs[32..].copy_from_slice(&s);
        with_v(&rs, 27)
    }

    /// `word` plus `delta` (mod 2^256), big-endian.
    fn add(word: [u8; 32], delta: i8) -> [u8; 32] {
        let mut out = word;
        let mut carry = i16::from(delta);
        for b in out.iter_mut().rev() {
            let v = i16::from(*b) + carry;
            *b = v.rem_euclid(256) as u8;
            carry = v.div_euclid(256);
        }
        out
    }

    #[test]
    fn the_order_constants_are_k256s() {
        let n_minus_1 = (-k256::Scalar::ONE).to_repr();
        assert_eq!(add(ORDER, -1)[..], n_minus_1[..]);
        // ⌊n/2⌋ is the largest scalar k256 calls low.
        let half = k256::Scalar::from_repr(HALF_ORDER.into()).unwrap();
        assert!(!bool::from(half.is_high()));
        let above = k256::Scalar::from_repr(add(HALF_ORDER, 1).into()).unwrap();
        assert!(bool::from(above.is_high()));
    }

    #[test]
    fn range_and_low_s_at_their_boundaries_as_k256_decides_them() {
        let one = add([0u8; 32], 1);
        let zero = [0u8; 32];
        let n = ORDER;
        let words_to_try = [
            zero,
            one,
            add(HALF_ORDER, -1),
            HALF_ORDER,
            add(HALF_ORDER, 1),
            add(n, -1),
            n,
            add(n, 1),
            [0xff; 32],
        ];
        for r in words_to_try {
            for s in words_to_try {
                let ours = decode_signature(&words(r, s));
                let mut rs = [0u8; 64];
                rs[..32].copy_from_slice(&r);
                rs[32..].copy_from_slice(&s);
                let k256_accepts =
                    Signature::from_slice(&rs).is_ok_and(|sig| !bool::from(sig.s().is_high()));
                assert_eq!(ours.is_ok(), k256_accepts, "r={r:02x?} s={s:02x?}");
                match ours {
                    Ok(sig) => assert_eq!(sig.rs, rs),
                    Err(e) if in_scalar_range(&r) && in_scalar_range(&s) => {
                        assert!(e.to_string().contains("upper half"), "{e}");
                    }
                    Err(e) => assert!(e.to_string().contains("out of range"), "{e}"),
                }
            }
        }
    }

    #[test]
    fn eip2098_parity_bit_is_not_part_of_s() {
        let k = key(5);
        let (rs, recid) = sign(&k, MESSAGE);
        let mut compact = rs;
        compact[32] |= 0x80;
        let sig = decode_signature(&format!("0x{}", hex::encode(compact))).unwrap();
        assert_eq!(sig.rs, rs);
        assert!(sig.y_odd);
        let recovered =
            recover_public_key(&personal_sign_hash(MESSAGE), &sig).map(|k| address_of(&k));
        assert_eq!(recovered == Some(address(&k)), recid == 1);
    }

    #[test]
    fn same_key_as_k256_recovery() {
        for seed in 1..20u8 {
            let k = key(seed);
            let message = [seed; 17];
            let hash = personal_sign_hash(&message);
            let (sig, recid) = k.sign_prehash_recoverable(&hash).unwrap();
            let ours = recover_public_key(
                &hash,
                &RecoverableSignature {
                    rs: sig.to_bytes().into(),
                    y_odd: recid.is_y_odd(),
                },
            )
            .unwrap();
            let theirs = VerifyingKey::recover_from_prehash(&hash, &sig, recid).unwrap();
            assert_eq!(&ours[..], &theirs.to_encoded_point(false).as_bytes()[1..]);
        }
    }

    #[test]
    fn r_not_on_curve() {
        // x = 5 has no point on secp256k1 (x^3 + 7 = 132 is not a square mod p).
        let mut rs = [0u8; 64];
        rs[31] = 5;
        rs[63] = 1;
        for y_odd in [false, true] {
            let sig = RecoverableSignature { rs, y_odd };
            assert!(recover_public_key(&[1u8; 32], &sig).is_none());
        }
        let err = recover_address(MESSAGE, &with_v(&rs, 27)).unwrap_err();
        assert!(err.to_string().contains("no public key"), "{err}");
    }
}
