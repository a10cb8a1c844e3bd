//! Working with a test chain over raw JSON-RPC: anvil's unlocked dev accounts send
//! `eth_sendTransaction`s to deploy the Safe 1.4.1 contracts (from the npm package
//! `@safe-global/safe-contracts`) and the project's own test wallets
//! (`contracts/test/TestWallets.sol`, compiled into `contracts/out/`), and owners sign as a
//! wallet's keys would.

use alloy_primitives::{eip191_hash_message, keccak256, Address, Bytes, B256, U256};
use alloy_sol_types::{sol, SolCall, SolValue};
use k256::ecdsa::SigningKey;
use serde_json::{json, Value};

use super::anvil::contracts_dir;

sol! {
    function setup(address[] _owners, uint256 _threshold, address to, bytes data, address fallbackHandler, address paymentToken, uint256 payment, address paymentReceiver) external;
    function createProxyWithNonce(address _singleton, bytes initializer, uint256 saltNonce) external returns (address proxy);
    function domainSeparator() external view returns (bytes32);
    function create(address owner, bytes32 salt) external returns (address wallet);
    function addressOf(address owner, bytes32 salt) external view returns (address);
}

/// ERC-6492's suffix of a wrapped signature.
pub const ERC6492_SUFFIX: [u8; 32] = [
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
    0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92, 0x64, 0x92,
];

/// A JSON-RPC client of a test chain.
#[derive(Clone)]
pub struct Evm {
    http: reqwest::Client,
    url: String,
}

impl Evm {
    pub fn new(url: &str) -> Self {
        Evm {
            http: reqwest::Client::new(),
            url: url.to_owned(),
        }
    }

    /// A call's `result`, or its `error` object.
    pub async fn rpc_raw(&self, method: &str, params: Value) -> Result<Value, Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let answer: Value = self
            .http
            .post(&self.url)
            .json(&body)
            .send()
            .await
            .expect("the test chain answers")
            .json()
            .await
            .expect("JSON-RPC answer");
        match answer.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(answer["result"].clone()),
        }
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        match self.rpc_raw(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method}: {e}"),
        }
    }

    /// anvil's first unlocked dev account.
    pub async fn deployer(&self) -> Address {
        let accounts = self.rpc("eth_accounts", json!([])).await;
        accounts[0]
            .as_str()
            .expect("an account")
            .parse()
            .expect("address")
    }

    /// Sends a transaction from the deployer and returns its (mined) receipt; it must succeed.
    pub async fn send(&self, to: Option<Address>, data: &[u8]) -> Value {
        let mut tx = json!({
            "from": self.deployer().await.to_string(),
            "data": format!("0x{}", hex::encode(data)),
            "gas": "0x1c9c380",
        });
        if let Some(to) = to {
            tx["to"] = json!(to.to_string());
        }
        let hash = self.rpc("eth_sendTransaction", json!([tx])).await;
        let mut receipt = Value::Null;
        for _ in 0..200 {
            receipt = self
                .rpc("eth_getTransactionReceipt", json!([hash.clone()]))
                .await;
            if !receipt.is_null() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(receipt["status"], "0x1", "transaction failed: {receipt}");
        receipt
    }

    /// Deploys `creation_code` and returns the new contract's address.
    pub async fn deploy(&self, creation_code: &[u8]) -> Address {
        let receipt = self.send(None, creation_code).await;
        receipt["contractAddress"]
            .as_str()
            .expect("contract address")
            .parse()
            .expect("address")
    }

    /// `eth_call` to `to` at the latest block.
    pub async fn call(&self, to: Address, data: &[u8]) -> Vec<u8> {
        let r = self
            .rpc(
                "eth_call",
                json!([{"to": to.to_string(), "data": format!("0x{}", hex::encode(data))}, "latest"]),
            )
            .await;
        hex::decode(r.as_str().expect("hex").trim_start_matches("0x")).expect("hex")
    }

    /// The code at `address` (empty for an account without code).
    pub async fn code(&self, address: Address) -> Vec<u8> {
        let r = self
            .rpc("eth_getCode", json!([address.to_string(), "latest"]))
            .await;
        hex::decode(r.as_str().expect("hex").trim_start_matches("0x")).expect("hex")
    }
}

/// A Safe artifact's creation code, from the npm package.
fn safe_artifact(path: &str) -> Vec<u8> {
    let file = contracts_dir()
        .join("node_modules/@safe-global/safe-contracts/build/artifacts/contracts")
        .join(path);
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run `scripts/ensure-contracts.sh` (installs the Safe contracts)",
            file.display()
        )
    });
    let json: Value = serde_json::from_str(&text).expect("artifact JSON");
    hex::decode(
        json["bytecode"]
            .as_str()
            .expect("bytecode")
            .trim_start_matches("0x"),
    )
    .expect("bytecode hex")
}

/// One of the project's compiled contracts (`contracts/out/<name>.hex`).
pub fn own_contract(name: &str) -> Vec<u8> {
    let file = contracts_dir().join("out").join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&file).expect("compiled contract");
    hex::decode(text.trim()).expect("hex")
}

/// A key and its address.
pub struct Owner {
    pub key: SigningKey,
    pub address: Address,
}

impl Owner {
    pub fn random() -> Self {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let address = Address::from_slice(&keccak256(&point.as_bytes()[1..])[12..]);
        Owner { key, address }
    }

    /// ECDSA over a 32-byte hash (no prefix): r‖s‖v with v 27/28.
    pub fn sign_hash(&self, hash: B256) -> Vec<u8> {
        let (sig, recid) = self
            .key
            .sign_prehash_recoverable(hash.as_slice())
            .expect("sign");
        let mut bytes = sig.to_bytes().to_vec();
        bytes.push(27 + recid.to_byte());
        bytes
    }

    /// `personal_sign` of a message, as an EOA wallet signs it.
    pub fn personal_sign(&self, message: &str) -> Vec<u8> {
        self.sign_hash(eip191_hash_message(message.as_bytes()))
    }
}

/// The Safe 1.4.1 contracts on a chain.
pub struct SafeStack {
    pub singleton: Address,
    pub factory: Address,
    pub handler: Address,
}

impl SafeStack {
    pub async fn deploy(evm: &Evm) -> Self {
        SafeStack {
            singleton: evm.deploy(&safe_artifact("Safe.sol/Safe.json")).await,
            factory: evm
                .deploy(&safe_artifact(
                    "proxies/SafeProxyFactory.sol/SafeProxyFactory.json",
                ))
                .await,
            handler: evm
                .deploy(&safe_artifact(
                    "handler/CompatibilityFallbackHandler.sol/CompatibilityFallbackHandler.json",
                ))
                .await,
        }
    }

    /// The factory call that creates a Safe of `owners` with `threshold` for `salt`.
    pub fn create_calldata(&self, owners: &[Address], threshold: u64, salt: u64) -> Vec<u8> {
        let initializer = setupCall {
            _owners: owners.to_vec(),
            _threshold: U256::from(threshold),
            to: Address::ZERO,
            data: Bytes::new(),
            fallbackHandler: self.handler,
            paymentToken: Address::ZERO,
            payment: U256::ZERO,
            paymentReceiver: Address::ZERO,
        }
        .abi_encode();
        createProxyWithNonceCall {
            _singleton: self.singleton,
            initializer: initializer.into(),
            saltNonce: U256::from(salt),
        }
        .abi_encode()
    }

    /// The address the Safe of `create_calldata(..)` has, deployed or not (asked by
    /// simulating the factory call).
    pub async fn predict(&self, evm: &Evm, calldata: &[u8]) -> Address {
        let r = evm.call(self.factory, calldata).await;
        Address::abi_decode(&r).expect("an address")
    }

    /// Deploys the Safe of `create_calldata(..)`; its address.
    pub async fn create(&self, evm: &Evm, calldata: &[u8]) -> Address {
        let address = self.predict(evm, calldata).await;
        evm.send(Some(self.factory), calldata).await;
        assert!(!evm.code(address).await.is_empty());
        address
    }
}

/// The hash a Safe's owners sign so that the Safe's EIP-1271 check accepts `hash`
/// (Safe 1.4.1's `CompatibilityFallbackHandler`: an EIP-712 `SafeMessage` over
/// `abi.encode(hash)`, in the Safe's domain of chain id and address).
pub fn safe_message_hash(chain_id: u64, safe: Address, hash: B256) -> B256 {
    let domain_typehash = keccak256("EIP712Domain(uint256 chainId,address verifyingContract)");
    let domain = keccak256((domain_typehash, U256::from(chain_id), safe).abi_encode());
    let message_typehash = keccak256("SafeMessage(bytes message)");
    let struct_hash = keccak256((message_typehash, keccak256(hash.as_slice())).abi_encode());
    let mut data = vec![0x19, 0x01];
    data.extend_from_slice(domain.as_slice());
    data.extend_from_slice(struct_hash.as_slice());
    keccak256(data)
}

/// Owners' signatures of a Safe message, in ascending owner order (as Safe requires).
pub fn safe_signature(owners: &[&Owner], chain_id: u64, safe: Address, message: &str) -> Vec<u8> {
    let hash = safe_message_hash(chain_id, safe, eip191_hash_message(message.as_bytes()));
    let mut sorted: Vec<&&Owner> = owners.iter().collect();
    sorted.sort_by_key(|o| o.address);
    sorted.iter().flat_map(|o| o.sign_hash(hash)).collect()
}

/// ERC-6492: `abi.encode(factory, calldata, signature) ‖ suffix`.
pub fn wrap_6492(factory: Address, calldata: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut wrapped = (
        factory,
        Bytes::copy_from_slice(calldata),
        Bytes::copy_from_slice(signature),
    )
        .abi_encode_params();
    wrapped.extend_from_slice(&ERC6492_SUFFIX);
    wrapped
}

/// The project's minimal EIP-1271 wallet (one owner key) and its CREATE2 factory.
pub struct OwnedWallets {
    pub factory: Address,
}

impl OwnedWallets {
    pub async fn deploy(evm: &Evm) -> Self {
        OwnedWallets {
            factory: evm.deploy(&own_contract("OwnedWalletFactory")).await,
        }
    }

    pub fn create_calldata(owner: Address, salt: B256) -> Vec<u8> {
        createCall { owner, salt }.abi_encode()
    }

    /// The wallet's address, whether or not it exists.
    pub async fn address_of(&self, evm: &Evm, owner: Address, salt: B256) -> Address {
        let r = evm
            .call(self.factory, &addressOfCall { owner, salt }.abi_encode())
            .await;
        Address::abi_decode(&r).expect("an address")
    }

    /// Creates the wallet; its address.
    pub async fn create(&self, evm: &Evm, owner: Address, salt: B256) -> Address {
        let address = self.address_of(evm, owner, salt).await;
        evm.send(Some(self.factory), &Self::create_calldata(owner, salt))
            .await;
        assert!(!evm.code(address).await.is_empty());
        address
    }
}

/// A Safe's `domainSeparator()` as the deployed contract computes it.
pub async fn safe_domain_separator(evm: &Evm, safe: Address) -> B256 {
    let r = evm.call(safe, &domainSeparatorCall {}.abi_encode()).await;
    B256::abi_decode(&r).expect("bytes32")
}
