// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity 0.8.28;

/// @title Test wallets: the smallest EIP-1271 wallet and a CREATE2 factory for it
/// @notice For wallet-auth's tests only: a wallet owned by one key, whose EIP-1271 check is an
/// ECDSA recovery of the hash it is given, and a factory that creates such wallets at addresses
/// known before they exist (the counterfactual wallets of ERC-6492).
contract OwnedWallet {
    bytes4 private constant ERC1271_VALID = 0x1626ba7e;
    bytes4 private constant ERC1271_INVALID = 0xffffffff;

    address public immutable owner;

    constructor(address owner_) {
        owner = owner_;
    }

    /// EIP-1271: valid when `signature` (65 bytes r‖s‖v) is the owner's ECDSA signature of `hash`.
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (signature.length != 65) return ERC1271_INVALID;
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        address recovered = ecrecover(hash, v, r, s);
        return recovered != address(0) && recovered == owner ? ERC1271_VALID : ERC1271_INVALID;
    }
}

contract OwnedWalletFactory {
    event Created(address wallet);

    /// Creates the wallet of `owner` for `salt` (CREATE2).
    function create(address owner, bytes32 salt) external returns (address wallet) {
        wallet = address(new OwnedWallet{salt: salt}(owner));
        emit Created(wallet);
    }

    /// The address `create(owner, salt)` gives, whether or not it was called.
    function addressOf(address owner, bytes32 salt) external view returns (address) {
        bytes32 initCodeHash = keccak256(abi.encodePacked(type(OwnedWallet).creationCode, abi.encode(owner)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initCodeHash)))));
    }
}
