//! Contract-wallet signatures (EIP-1271, ERC-6492): the pure half.
//!
//! A signature that is not a valid EOA signature of the message's address may still be the
//! signature of a smart-contract wallet at that address. Checking it needs the chain's state,
//! so it cannot be done here; [`super::verify_or_defer`] answers with a [`ContractClaim`]: what
//! the chain's node must be asked (the wallet, the EIP-191 hash of the exact message bytes,
//! and the signature bytes). `crate::contract_wallets` asks it.

use alloy_primitives::{Address, B256};

use super::error::VerifyError;
use super::ethereum::strip_hex_prefix;

/// The longest signature accepted (contract-wallet signatures included), in bytes.
pub const MAX_SIGNATURE_BYTES: usize = 8 * 1024;

/// What kind of wallet signed in.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum WalletType {
    /// A key: the signature recovers the address (Ethereum), or an ed25519 key (Solana).
    #[default]
    Eoa,
    /// A smart-contract wallet: EIP-1271 (deployed) or ERC-6492 (not deployed yet), checked
    /// by the chain's node.
    Contract,
}

impl WalletType {
    /// `"eoa"` or `"contract"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eoa => "eoa",
            Self::Contract => "contract",
        }
    }
}

/// A signature that only the wallet's contract can judge: ask `address` on chain `chain_id`
/// whether `signature` is its signature of `hash`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractClaim {
    /// The EIP-155 chain id of the message.
    pub chain_id: u64,
    /// The wallet (the message's address).
    pub address: Address,
    /// The EIP-191 `personal_sign` hash of the exact message bytes: what EIP-1271's
    /// `isValidSignature` is given.
    pub hash: B256,
    /// The signature bytes as sent (EIP-1271, or ERC-6492-wrapped).
    pub signature: Vec<u8>,
}

/// Decodes a signature of any length as hex (`0x` optional), at most [`MAX_SIGNATURE_BYTES`].
///
/// # Errors
/// [`VerifyError::InvalidSignature`] when it is not hex or is too long.
pub fn decode_signature_bytes(signature: &str) -> Result<Vec<u8>, VerifyError> {
    let digits = strip_hex_prefix(signature);
    if digits.len() > 2 * MAX_SIGNATURE_BYTES {
        return Err(VerifyError::signature(format!(
            "a signature is at most {MAX_SIGNATURE_BYTES} bytes"
        )));
    }
    hex::decode(digits).map_err(|_| VerifyError::signature("the signature is not hex"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_length_up_to_the_bound() {
        assert_eq!(decode_signature_bytes("").unwrap(), Vec::<u8>::new());
        assert_eq!(decode_signature_bytes("0x").unwrap(), Vec::<u8>::new());
        assert_eq!(decode_signature_bytes("0XaB01").unwrap(), vec![0xab, 1]);
        let max = "11".repeat(MAX_SIGNATURE_BYTES);
        assert_eq!(
            decode_signature_bytes(&format!("0x{max}")).unwrap().len(),
            MAX_SIGNATURE_BYTES
        );
        let err = decode_signature_bytes(&format!("0x{max}11")).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
        assert!(err.to_string().contains("at most 8192 bytes"), "{err}");
        for bad in ["0x1", "zz", "0x0g", " 00"] {
            assert!(
                matches!(
                    decode_signature_bytes(bad).unwrap_err(),
                    VerifyError::InvalidSignature(_)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn wallet_type_names() {
        assert_eq!(
            serde_json::to_string(&WalletType::Contract).unwrap(),
            "\"contract\""
        );
        assert_eq!(WalletType::Eoa.as_str(), "eoa");
        assert_eq!(WalletType::default(), WalletType::Eoa);
    }
}
