//! Solana signatures: ed25519 (`verify_strict`) over the exact message bytes, by the key that
//! is the message's address.
//!
//! A signature is 64 bytes, sent in one of three encodings, told apart by this rule (the
//! alphabets make it unambiguous for a 64-byte value):
//! 1. exactly 128 hex digits (optionally after `0x`) -> hex;
//! 2. otherwise, containing `=`, `+` or `/` (none of which is base58) -> standard base64,
//!    padded (a 64-byte value is always 88 characters ending in `==`);
//! 3. otherwise -> base58 (at most 88 characters).
//!
//! 128 hex digits cannot be the base58 of 64 bytes (too long), nor base64 of them (88).

use base64::Engine as _;
use ed25519_dalek::{Signature, VerifyingKey};

use super::error::VerifyError;

/// The longest base58 text of 32 bytes.
const MAX_BASE58_KEY_LEN: usize = 44;
/// The longest base58 text of 64 bytes.
const MAX_BASE58_SIGNATURE_LEN: usize = 88;

/// How a Solana signature was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureEncoding {
    /// 128 hex digits.
    Hex,
    /// Standard, padded base64.
    Base64,
    /// Base58 (Bitcoin alphabet).
    Base58,
}

/// Which encoding `signature` is in, by the rule in the module docs.
#[must_use]
pub fn detect_encoding(signature: &str) -> SignatureEncoding {
    let digits = signature.strip_prefix("0x").unwrap_or(signature);
    if digits.len() == 128 && digits.chars().all(|c| c.is_ascii_hexdigit()) {
        SignatureEncoding::Hex
    } else if signature.contains(['=', '+', '/']) {
        SignatureEncoding::Base64
    } else {
        SignatureEncoding::Base58
    }
}

/// Decodes base58 text of exactly `N` bytes (length-checked before decoding, so a long input
/// costs nothing: base58 decoding is quadratic).
fn decode_base58<const N: usize>(text: &str, max_len: usize) -> Option<[u8; N]> {
    if text.is_empty() || text.len() > max_len {
        return None;
    }
    let bytes = bs58::decode(text).into_vec().ok()?;
    <[u8; N]>::try_from(bytes.as_slice()).ok()
}

/// Decodes a base58 Solana address / public key of exactly 32 bytes.
///
/// # Errors
/// [`VerifyError::InvalidSignature`] when `text` is not base58 of 32 bytes.
pub fn decode_public_key(text: &str) -> Result<[u8; 32], VerifyError> {
    decode_base58(text, MAX_BASE58_KEY_LEN)
        .ok_or_else(|| VerifyError::signature("the public key is not base58 of 32 bytes"))
}

/// Decodes a 64-byte signature in any of the accepted encodings.
///
/// # Errors
/// [`VerifyError::InvalidSignature`] when it does not decode to exactly 64 bytes.
pub fn decode_signature(signature: &str) -> Result<[u8; 64], VerifyError> {
    let decoded = match detect_encoding(signature) {
        SignatureEncoding::Hex => {
            let digits = signature.strip_prefix("0x").unwrap_or(signature);
            let mut out = [0u8; 64];
            hex::decode_to_slice(digits, &mut out).ok().map(|()| out)
        }
        SignatureEncoding::Base64 => {
            if signature.len() == 88 {
                base64::engine::general_purpose::STANDARD
                    .decode(signature)
                    .ok()
                    .and_then(|v| <[u8; 64]>::try_from(v.as_slice()).ok())
            } else {
                None
            }
        }
        SignatureEncoding::Base58 => decode_base58(signature, MAX_BASE58_SIGNATURE_LEN),
    };
    decoded.ok_or_else(|| {
        VerifyError::signature("a Solana signature is 64 bytes in base58, base64 or hex")
    })
}

/// Checks a sign-in signature: `public_key`, if given, must be `address`; the signature must
/// verify strictly under `address` over `message`.
///
/// # Errors
/// [`VerifyError::InvalidSignature`] for a malformed signature or key, a `public_key` that is
/// not the address, or a signature by another key or over other bytes.
pub fn verify_sign_in(
    message: &[u8],
    signature: &str,
    public_key: Option<&str>,
    address: &str,
) -> Result<(), VerifyError> {
    let address_bytes = decode_public_key(address)?;
    if let Some(given) = public_key {
        if decode_public_key(given)? != address_bytes {
            return Err(VerifyError::signature(
                "the public key is not the message's address",
            ));
        }
    }
    let signature = Signature::from_bytes(&decode_signature(signature)?);
    let key = VerifyingKey::from_bytes(&address_bytes)
        .map_err(|_| VerifyError::signature("the address is not a valid ed25519 public key"))?;
    key.verify_strict(message, &signature)
        .map_err(|_| VerifyError::signature("it was not made by the message's address"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signer(seed: u8) -> (SigningKey, String) {
        let key = SigningKey::from_bytes(&[seed; 32]);
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        (key, address)
    }

    #[test]
    fn three_encodings() {
        let (key, address) = signer(1);
        let message = b"sign in please";
        let sig = key.sign(message).to_bytes();
        let b58 = bs58::encode(sig).into_string();
        let b64 = base64::engine::general_purpose::STANDARD.encode(sig);
        let hex = hex::encode(sig);
        assert_eq!(detect_encoding(&b58), SignatureEncoding::Base58);
        assert_eq!(detect_encoding(&b64), SignatureEncoding::Base64);
        assert_eq!(detect_encoding(&hex), SignatureEncoding::Hex);
        for encoded in [&b58, &b64, &hex, &hex.to_uppercase(), &format!("0x{hex}")] {
            verify_sign_in(message, encoded, Some(&address), &address).unwrap();
            verify_sign_in(message, encoded, None, &address).unwrap();
        }
        assert!(verify_sign_in(b"sign in please!", &b58, None, &address).is_err());
    }

    #[test]
    fn base64_without_padding_or_urlsafe_is_refused() {
        let (key, address) = signer(2);
        let sig = key.sign(b"m").to_bytes();
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(sig);
        let url_safe = base64::engine::general_purpose::URL_SAFE.encode(sig);
        for bad in [unpadded, url_safe] {
            if bad.contains(['+', '/', '=', '-', '_']) {
                assert!(verify_sign_in(b"m", &bad, None, &address).is_err(), "{bad}");
            }
        }
    }

    #[test]
    fn wrong_lengths() {
        let (key, address) = signer(3);
        let sig = key.sign(b"m").to_bytes();
        for bad in [
            bs58::encode(&sig[..63]).into_string(),
            bs58::encode([&sig[..], &[0u8][..]].concat()).into_string(),
            hex::encode(&sig[..63]),
            base64::engine::general_purpose::STANDARD.encode(&sig[..63]),
            String::new(),
            "1".repeat(10_000),
        ] {
            let err = verify_sign_in(b"m", &bad, None, &address).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
        }
    }

    #[test]
    fn public_key_must_be_the_address() {
        let (key, address) = signer(4);
        let (_, other) = signer(5);
        let sig = bs58::encode(key.sign(b"m").to_bytes()).into_string();
        let err = verify_sign_in(b"m", &sig, Some(&other), &address).unwrap_err();
        assert!(err.to_string().contains("public key"), "{err}");
        let err = verify_sign_in(b"m", &sig, Some("not-base58!"), &address).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
    }

    #[test]
    fn keys_of_33_or_31_bytes() {
        let (_, address) = signer(6);
        assert!(decode_public_key(&format!("1{address}")).is_err());
        let bytes = decode_public_key(&address).unwrap();
        assert!(decode_public_key(&bs58::encode(&bytes[..31]).into_string()).is_err());
        assert!(decode_public_key(&"z".repeat(1000)).is_err());
    }
}
