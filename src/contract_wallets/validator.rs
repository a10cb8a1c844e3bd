//! The deployless validator: `contracts/src/SignatureCheck.sol`, compiled with the pinned
//! compiler into `contracts/out/SignatureCheck.hex` (rebuilt and compared by
//! `node contracts/build.js --check`, which the test suite runs).
//!
//! An `eth_call` with no `to` and `data` = creation code ‖ `abi.encode(signer, hash,
//! signature)` runs the constructor, which answers with one byte in place of runtime code:
//! `0x01` valid, `0x00` not valid.

use std::sync::LazyLock;

use alloy_primitives::Bytes;
use alloy_sol_types::SolValue;

use crate::verify::ContractClaim;

/// Gas given to one check. Enough for a counterfactual Safe or ERC-4337 account to be
/// created and then verify a passkey (P-256 in Solidity) signature; far below the nodes'
/// own `eth_call` caps (geth: 50 M).
pub const GAS_CAP: u64 = 5_000_000;

const CREATION_CODE_HEX: &str = include_str!("../../contracts/out/SignatureCheck.hex");

static CREATION_CODE: LazyLock<Vec<u8>> =
    LazyLock::new(|| hex::decode(CREATION_CODE_HEX.trim()).unwrap_or_default());

/// The validator's creation code.
#[must_use]
pub fn creation_code() -> &'static [u8] {
    &CREATION_CODE
}

/// The `data` of the `eth_call` that checks `claim`.
#[must_use]
pub fn call_data(claim: &ContractClaim) -> Vec<u8> {
    let args = (
        claim.address,
        claim.hash,
        Bytes::copy_from_slice(&claim.signature),
    )
        .abi_encode_params();
    let mut data = Vec::with_capacity(creation_code().len() + args.len());
    data.extend_from_slice(creation_code());
    data.extend_from_slice(&args);
    data
}

/// The validator's answer: `Some(true)` for `0x01`, `Some(false)` for `0x00`, `None` for
/// anything else (a node that does not run the code as the EVM does).
#[must_use]
pub fn read_answer(returned: &[u8]) -> Option<bool> {
    match returned {
        [1] => Some(true),
        [0] => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{Address, B256};

    #[test]
    fn creation_code_is_embedded() {
        assert!(creation_code().len() > 500);
        assert!(creation_code().len() < 4096);
    }

    #[test]
    fn call_data_is_code_then_abi_arguments() {
        let claim = ContractClaim {
            chain_id: 1,
            address: Address::repeat_byte(0x11),
            hash: B256::repeat_byte(0x22),
            signature: vec![0xaa, 0xbb, 0xcc],
        };
        let data = call_data(&claim);
        let args = &data[creation_code().len()..];
        // address, hash, offset of bytes (0x60), length 3, the bytes padded to a word.
        assert_eq!(args.len(), 5 * 32);
        assert_eq!(&args[12..32], &[0x11; 20]);
        assert_eq!(&args[32..64], &[0x22; 32]);
        assert_eq!(args[95], 0x60);
        assert_eq!(args[127], 3);
        assert_eq!(&args[128..131], &[0xaa, 0xbb, 0xcc]);
    }

    #[test]
    fn answers() {
        assert_eq!(read_answer(&[1]), Some(true));
        assert_eq!(read_answer(&[0]), Some(false));
        for garbage in [&[][..], &[2], &[0, 1], &[1; 32]] {
            assert_eq!(read_answer(garbage), None, "{garbage:?}");
        }
    }
}
