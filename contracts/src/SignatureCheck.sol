// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// @title SignatureCheck: a deployless EIP-1271 / ERC-6492 / ECDSA signature check
/// @notice Never deployed. wallet-auth sends this contract's creation code, followed by the
/// ABI-encoded constructor arguments, as the `data` of an `eth_call` without `to`. The
/// constructor decides whether `signature` is `signer`'s signature of `hash` and ends the
/// creation by returning one byte as the "runtime code": 0x01 valid, 0x00 not valid. An
/// `eth_call` is simulated and never mined, so a wallet deployed during the check (ERC-6492)
/// exists only inside that call.
///
/// The forms, in the order they are tried:
/// 1. ERC-6492 (a wallet that may not be deployed yet): the signature ends with the 32-byte
///    suffix 0x6492…6492 and what precedes it is `abi.encode(address factory, bytes
///    factoryCalldata, bytes innerSignature)`. If `signer` has no code, `factory` is called with
///    `factoryCalldata` (the creation must succeed, or the check reverts). Then EIP-1271 below,
///    with `innerSignature`.
/// 2. EIP-1271 (a deployed contract wallet): `signer` has code; it must answer
///    `isValidSignature(hash, signature)` with the magic value 0x1626ba7e.
/// 3. ECDSA (a key): 65 bytes r‖s‖v (v 27, 28, 0 or 1) or 64 bytes EIP-2098 r‖vs, s in the
///    lower half of the curve order, recovering `signer`.
contract SignatureCheck {
    /// ERC-6492's suffix of a wrapped signature.
    bytes32 private constant ERC6492_SUFFIX =
        0x6492649264926492649264926492649264926492649264926492649264926492;
    /// EIP-1271: `bytes4(keccak256("isValidSignature(bytes32,bytes)"))`, the "valid" answer.
    bytes4 private constant ERC1271_VALID = 0x1626ba7e;
    /// Half the secp256k1 group order: a larger `s` is the malleable twin (EIP-2).
    uint256 private constant SECP256K1_HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// The ERC-6492 factory call failed: the wallet could not be created.
    error WalletCreationFailed();

    constructor(address signer, bytes32 hash, bytes memory signature) {
        bool valid = _isValid(signer, hash, signature);
        assembly ("memory-safe") {
            mstore8(0, valid)
            return(0, 1)
        }
    }

    function _isValid(address signer, bytes32 hash, bytes memory signature) private returns (bool) {
        if (_hasErc6492Suffix(signature)) {
            // Drop the suffix in place: the signature is not used as a whole again.
            assembly ("memory-safe") {
                mstore(signature, sub(mload(signature), 32))
            }
            (address factory, bytes memory factoryCalldata, bytes memory inner) =
                abi.decode(signature, (address, bytes, bytes));
            if (signer.code.length == 0) {
                (bool created,) = factory.call(factoryCalldata);
                if (!created) revert WalletCreationFailed();
            }
            return _erc1271(signer, hash, inner);
        }
        if (signer.code.length != 0) {
            return _erc1271(signer, hash, signature);
        }
        return _ecdsa(signer, hash, signature);
    }

    function _hasErc6492Suffix(bytes memory signature) private pure returns (bool found) {
        uint256 length = signature.length;
        if (length < 32) return false;
        bytes32 last;
        assembly ("memory-safe") {
            last := mload(add(signature, length))
        }
        found = last == ERC6492_SUFFIX;
    }

    /// Asks the wallet. A wallet without code, one that reverts, or one that answers anything
    /// but the magic value in a 32-byte word is not valid.
    function _erc1271(address wallet, bytes32 hash, bytes memory signature) private view returns (bool) {
        (bool ok, bytes memory answer) =
            wallet.staticcall(abi.encodeWithSelector(ERC1271_VALID, hash, signature));
        if (!ok || answer.length != 32) return false;
        return bytes4(bytes32(answer)) == ERC1271_VALID;
    }

    function _ecdsa(address signer, bytes32 hash, bytes memory signature) private pure returns (bool) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        if (signature.length == 65) {
            assembly ("memory-safe") {
                r := mload(add(signature, 32))
                s := mload(add(signature, 64))
                v := byte(0, mload(add(signature, 96)))
            }
            if (v < 27) v += 27;
        } else if (signature.length == 64) {
            bytes32 vs;
            assembly ("memory-safe") {
                r := mload(add(signature, 32))
                vs := mload(add(signature, 64))
            }
            s = vs & bytes32(uint256(type(uint256).max >> 1));
            v = uint8(uint256(vs >> 255)) + 27;
        } else {
            return false;
        }
        if (uint256(s) > SECP256K1_HALF_ORDER || (v != 27 && v != 28)) return false;
        address recovered = ecrecover(hash, v, r, s);
        return recovered != address(0) && recovered == signer;
    }
}
