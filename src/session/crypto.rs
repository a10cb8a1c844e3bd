//! Secrets of the session layer: AES-256-GCM sealing of stored records, token generation and
//! hashing, constant-time comparison.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::EncryptionKeys;
use crate::store::WalletTag;

const NONCE_LEN: usize = 12;
/// Format byte in front of every sealed value (room for a future format).
const SEAL_VERSION: u8 = 1;

/// The record encryption keys: the first seals new data, every key opens data sealed under it.
/// Keys are identified in the ciphertext by a one-byte id (the SHA-256 of the key, first byte),
/// so rotating keys is "put the new key first, keep the old ones until their data has expired".
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(u8, Aes256Gcm)>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing({} key(s), ****)", self.keys.len())
    }
}

impl PartialEq for KeyRing {
    fn eq(&self, other: &Self) -> bool {
        self.ids() == other.ids()
    }
}

impl KeyRing {
    fn from_keys(raw: &[[u8; 32]]) -> Self {
        KeyRing {
            keys: raw
                .iter()
                .map(|k| {
                    let id = Sha256::digest(k)[0];
                    (id, Aes256Gcm::new(k.into()))
                })
                .collect(),
        }
    }

    /// The configured keys (`SESSION_ENCRYPTION_KEY`, the first sealing), or one fresh random
    /// key when none is configured (the memory store; the configuration refuses that with a
    /// shared store). Two keys may share an id: opening tries every key of the id.
    #[must_use]
    pub fn from_config(keys: &EncryptionKeys) -> Self {
        if keys.is_empty() {
            Self::generate()
        } else {
            Self::from_keys(keys.expose())
        }
    }

    /// A ring with one fresh random key.
    #[must_use]
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self::from_keys(&[k])
    }

    fn ids(&self) -> Vec<u8> {
        self.keys.iter().map(|(id, _)| *id).collect()
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the ring is empty (never, once constructed).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts `plain`, authenticating `aad` (the storage key, so a record cannot be moved
    /// under another key). Output: version ‖ key id ‖ nonce ‖ ciphertext+tag.
    #[must_use]
    pub fn seal(&self, plain: &[u8], aad: &[u8]) -> Vec<u8> {
        let Some((id, cipher)) = self.keys.first() else {
            return Vec::new();
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a valid key and in-memory buffers cannot fail.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .unwrap_or_default();
        let mut out = Vec::with_capacity(2 + NONCE_LEN + ct.len());
        out.push(SEAL_VERSION);
        out.push(*id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`KeyRing::seal`] produced with any key of the ring; `None` when the data
    /// is malformed, sealed under an unknown key, tampered with, or bound to another `aad`.
    #[must_use]
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 2 + NONCE_LEN + 16 || sealed[0] != SEAL_VERSION {
            return None;
        }
        let id = sealed[1];
        let nonce = Nonce::from_slice(&sealed[2..2 + NONCE_LEN]);
        let ct = &sealed[2 + NONCE_LEN..];
        self.keys
            .iter()
            .filter(|(k, _)| *k == id)
            .find_map(|(_, c)| c.decrypt(nonce, Payload { msg: ct, aad }).ok())
    }
}

/// `n` random bytes from the OS generator, URL-safe base64 without padding.
#[must_use]
pub fn random_token(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// `n` random alphanumeric characters (62 symbols, ~5.95 bits each), from the OS generator.
#[must_use]
pub fn random_alphanumeric(n: usize) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, n)
}

/// SHA-256 of `data`, first `len` bytes, URL-safe base64 without padding.
#[must_use]
pub fn hash_b64(data: &[u8], len: usize) -> String {
    let d = Sha256::digest(data);
    URL_SAFE_NO_PAD.encode(&d[..len.min(d.len())])
}

/// Constant-time equality of two byte strings (the length is not secret).
#[must_use]
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The wallet tag of `(chain, address)`: the first 9 bytes of SHA-256 of `chain:address`, in
/// URL-safe base64 (12 characters). It names the wallet's keys (one cluster slot) in tokens, in
/// session records and in the audit logs; it is not secret.
#[must_use]
pub fn wallet_tag(chain: crate::verify::Chain, address: &str) -> WalletTag {
    WalletTag::new(hash_b64(
        format!("{}:{}", chain.as_str(), address).as_bytes(),
        9,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn seal_open_round_trip_and_aad_binding() {
        let ring = KeyRing::generate();
        let sealed = ring.seal(b"record", b"key-a");
        assert_eq!(ring.open(&sealed, b"key-a").unwrap(), b"record");
        assert!(ring.open(&sealed, b"key-b").is_none(), "bound to its key");
        let mut tampered = sealed.clone();
        let last = tampered.len() - 1;
        tampered[last] ^= 1;
        assert!(ring.open(&tampered, b"key-a").is_none());
        assert!(ring.open(&sealed[..10], b"key-a").is_none());
        assert!(
            !sealed.windows(6).any(|w| w == b"record"),
            "ciphertext hides the plaintext"
        );
    }

    #[test]
    fn rotation_keeps_old_data_readable() {
        let old = "11".repeat(32);
        let new = "22".repeat(32);
        let ring = |hex: &str| KeyRing::from_config(&EncryptionKeys::from_hex_list(hex).unwrap());
        let before = ring(&old);
        let sealed_old = before.seal(b"old", b"k");
        let after = ring(&format!("{new},{old}"));
        assert_eq!(after.open(&sealed_old, b"k").unwrap(), b"old");
        let sealed_new = after.seal(b"new", b"k");
        assert!(
            before.open(&sealed_new, b"k").is_none(),
            "new data under the new key"
        );
        assert_eq!(after.open(&sealed_new, b"k").unwrap(), b"new");
    }

    #[test]
    fn keys_never_printed_and_generated_when_unset() {
        let k = "33".repeat(32);
        let ring = KeyRing::from_config(&EncryptionKeys::from_hex_list(&k).unwrap());
        assert!(!format!("{ring:?}").contains("33"));
        let a = KeyRing::from_config(&EncryptionKeys::default());
        let b = KeyRing::from_config(&EncryptionKeys::default());
        assert_eq!(a.len(), 1);
        assert!(
            b.open(&a.seal(b"x", b"k"), b"k").is_none(),
            "a fresh key each time"
        );
    }

    #[test]
    fn tokens_and_comparisons() {
        let t = random_token(32);
        assert_eq!(t.len(), 43);
        assert!(t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(random_token(32), t);
        let n = random_alphanumeric(20);
        assert!(n.len() == 20 && n.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
