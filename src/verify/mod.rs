//! Sign-in message verification: EIP-4361 (Sign-In with Ethereum) and Sign In With Solana.
//!
//! Pure: no I/O, no clock (the caller passes `now` in the [`Policy`]), no async, and no panic
//! on any input. [`verify`] runs its checks in this order, stopping at the first failure:
//!
//! 1. the policy has every input ([`VerifyError::MissingPolicy`]);
//! 2. the message: at most [`MAX_MESSAGE_BYTES`], then the exact grammar of its format
//!    (`invalid_message`);
//! 3. the signature, over the exact bytes received, by the message's address
//!    (`invalid_signature`);
//! 4. the domain (and, if strict, the URI's origin) (`domain_mismatch`);
//! 5. the chain id (`chain_not_allowed`);
//! 6. time: expiration, not-before, issued-at vs skew, issued-at vs max age
//!    (`message_expired` / `message_not_yet_valid`);
//! 7. the nonce (`nonce_invalid`).
//!
//! Policy checks come after the signature, so a forged message learns nothing about the
//! policy.
//!
//! [`verify_or_defer`] is [`verify`] for a server that can ask chains' nodes about
//! smart-contract wallets: an Ethereum signature that is not a valid EOA signature of the
//! message's address, on a chain listed as having a node, is not refused but deferred as a
//! [`ContractClaim`] once every other check has passed (policy checks then come before the
//! node call, which is the expensive part).

pub mod contract;
mod eip4361;
mod error;
pub mod ethereum;
mod grammar;
mod message;
mod policy;
mod siws;
pub mod solana;
mod timestamp;

use std::fmt;
use std::str::FromStr;

use alloy_primitives::Address;
use time::OffsetDateTime;

pub use contract::{ContractClaim, WalletType, MAX_SIGNATURE_BYTES};
pub use error::VerifyError;
pub use grammar::normalize_solana_chain_id;
pub use message::{parse_message, ParsedMessage};
pub use policy::{ChainIdPolicy, NoncePolicy, Policy};
pub use timestamp::Timestamp;

/// The largest message accepted; longer ones are refused before parsing.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// A chain whose wallets can sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    /// Ethereum and EVM chains: EIP-4361 messages, secp256k1 `personal_sign`.
    Ethereum,
    /// Solana: SIWS messages, ed25519.
    Solana,
}

impl Chain {
    /// `"ethereum"` or `"solana"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ethereum => "ethereum",
            Self::Solana => "solana",
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chain name other than `ethereum` or `solana`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown chain (expected `ethereum` or `solana`)")]
pub struct UnknownChain;

impl FromStr for Chain {
    type Err = UnknownChain;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ethereum" => Ok(Self::Ethereum),
            "solana" => Ok(Self::Solana),
            _ => Err(UnknownChain),
        }
    }
}

/// A verified sign-in: who signed in, for what, and the message's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// The chain.
    pub chain: Chain,
    /// The message's domain, without a scheme prefix.
    pub domain: String,
    /// The account: EIP-55 for Ethereum (whatever case the message wrote it in), base58 for
    /// Solana.
    pub address: String,
    /// The statement line.
    pub statement: Option<String>,
    /// `URI`.
    pub uri: Option<String>,
    /// `Version` (always `1` when present).
    pub version: Option<String>,
    /// The chain id, normalized: `"1"`, `"137"`, `"mainnet"` (no `solana:` prefix).
    pub chain_id: Option<String>,
    /// `Nonce` (checked when the policy said [`NoncePolicy::Expect`]; the caller's to check
    /// otherwise).
    pub nonce: String,
    /// `Issued At`.
    pub issued_at: Option<OffsetDateTime>,
    /// `Expiration Time`.
    pub expiration_time: Option<OffsetDateTime>,
    /// `Not Before`.
    pub not_before: Option<OffsetDateTime>,
    /// `Request ID`.
    pub request_id: Option<String>,
    /// `Resources`.
    pub resources: Vec<String>,
}

impl From<ParsedMessage> for SignIn {
    fn from(m: ParsedMessage) -> Self {
        let chain_id = m.normalized_chain_id();
        let address = m.account();
        Self {
            chain: m.chain,
            domain: m.domain,
            address,
            statement: m.statement,
            uri: m.uri,
            version: m.version,
            chain_id,
            nonce: m.nonce,
            issued_at: m.issued_at.map(|t| t.value()),
            expiration_time: m.expiration_time.map(|t| t.value()),
            not_before: m.not_before.map(|t| t.value()),
            request_id: m.request_id,
            resources: m.resources.unwrap_or_default(),
        }
    }
}

/// Verifies a signed sign-in message.
///
/// `message` is the exact text as received (it is what the signature covers); `signature` is
/// encoded as a client sends it (Ethereum: hex of 65 or 64 bytes; Solana: 64 bytes in
/// base58, base64 or hex); `public_key` is the key a Solana wallet returned, which must equal
/// the message's address (it is not used for Ethereum, where the key is recovered).
///
/// # Errors
/// The first failing check, in the order given in the module docs.
pub fn verify(
    chain: Chain,
    message: &str,
    signature: &str,
    public_key: Option<&str>,
    policy: &Policy,
) -> Result<SignIn, VerifyError> {
    match verify_or_defer(chain, message, signature, public_key, policy, &[])? {
        Verified::Eoa(sign_in) => Ok(sign_in),
        // Not reachable: no chain was offered for contract wallets.
        Verified::Contract(..) => Err(VerifyError::signature(
            "it was not made by the message's address",
        )),
    }
}

/// The outcome of [`verify_or_defer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verified {
    /// Fully verified locally: an EOA (or Solana key) signature.
    Eoa(SignIn),
    /// Every check passed except the signature, which only the wallet's contract can judge:
    /// the sign-in is valid if and only if the claim is confirmed by the chain's node.
    Contract(SignIn, ContractClaim),
}

/// [`verify`], deferring contract-wallet signatures on the chains in `contract_chains`.
///
/// An Ethereum signature that recovers the message's address is accepted here, whatever the
/// chain (EOA sign-in never needs a node). Otherwise, when the message's chain id is in
/// `contract_chains`, the signature (hex, at most [`MAX_SIGNATURE_BYTES`]) is checked
/// against the policy and returned as a [`ContractClaim`]; when it is not, the signature is
/// refused and the reason says that contract wallets are not enabled for that chain.
///
/// # Errors
/// The first failing check, in the order given in the module docs.
pub fn verify_or_defer(
    chain: Chain,
    message: &str,
    signature: &str,
    public_key: Option<&str>,
    policy: &Policy,
    contract_chains: &[u64],
) -> Result<Verified, VerifyError> {
    policy.validate()?;
    let parsed = parse_message(chain, message)?;
    match chain {
        Chain::Ethereum => {
            let address = parse_eip55(&parsed.address)?;
            if let Err(eoa) =
                ethereum::verify_personal_sign(message.as_bytes(), signature, &address)
            {
                let claim =
                    contract_claim(&parsed, message, signature, address, &eoa, contract_chains)?;
                policy.check(&parsed)?;
                return Ok(Verified::Contract(SignIn::from(parsed), claim));
            }
        }
        Chain::Solana => {
            solana::verify_sign_in(message.as_bytes(), signature, public_key, &parsed.address)?;
        }
    }
    policy.check(&parsed)?;
    Ok(Verified::Eoa(SignIn::from(parsed)))
}

/// The claim to send to the chain's node, or the refusal when the chain has none.
fn contract_claim(
    parsed: &ParsedMessage,
    message: &str,
    signature: &str,
    address: Address,
    eoa: &VerifyError,
    contract_chains: &[u64],
) -> Result<ContractClaim, VerifyError> {
    let bytes = contract::decode_signature_bytes(signature)?;
    let chain_id = parsed
        .normalized_chain_id()
        .and_then(|id| id.parse::<u64>().ok());
    let Some(chain_id) = chain_id.filter(|id| contract_chains.contains(id)) else {
        let reason = match eoa {
            VerifyError::InvalidSignature(r) => r.as_str(),
            _ => "not an EOA signature",
        };
        let chain = chain_id.map_or_else(|| "this chain".to_owned(), |id| format!("chain {id}"));
        return Err(VerifyError::signature(format!(
            "{reason}; contract-wallet signatures are not enabled for {chain} on this server"
        )));
    };
    Ok(ContractClaim {
        chain_id,
        address,
        hash: ethereum::personal_sign_hash(message.as_bytes()).into(),
        signature: bytes,
    })
}

fn parse_eip55(address: &str) -> Result<Address, VerifyError> {
    eip4361::parse_address(address).ok_or_else(|| {
        VerifyError::message(
            "the address is not EIP-55 checksummed (nor uniformly lower- or upper-case)",
        )
    })
}

/// Normalizes a wallet address given by a client (e.g. to bind a nonce to it).
///
/// Ethereum: `0x` and 40 hex digits; all-lowercase or all-uppercase digits are taken as is,
/// mixed case must be a correct EIP-55 checksum; returns the EIP-55 form. Solana: base58 of
/// exactly 32 bytes, returned unchanged.
///
/// # Errors
/// [`VerifyError::InvalidMessage`] when the address is not one of those forms.
pub fn normalize_address(chain: Chain, address: &str) -> Result<String, VerifyError> {
    match chain {
        Chain::Ethereum => parse_eip55(address).map(|a| a.to_checksum(None)),
        Chain::Solana => solana::decode_public_key(address)
            .map(|_| address.to_owned())
            .map_err(|_| {
                VerifyError::message("a Solana address is base58 of a 32-byte public key")
            }),
    }
}

/// What goes into a ready-to-sign message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageParams<'a> {
    /// Ethereum (EIP-4361) or Solana (SIWS text).
    pub chain: Chain,
    /// Our domain, `host[:port]`.
    pub domain: &'a str,
    /// The wallet, already normalized with [`normalize_address`].
    pub address: &'a str,
    /// An optional one-line statement.
    pub statement: Option<&'a str>,
    /// The URI (required for Ethereum; omitted from a SIWS message when empty).
    pub uri: &'a str,
    /// The chain id; for Ethereum `None` means `1`.
    pub chain_id: Option<&'a str>,
    /// The nonce.
    pub nonce: &'a str,
    /// `Issued At`.
    pub issued_at: OffsetDateTime,
    /// `Expiration Time`.
    pub expiration_time: Option<OffsetDateTime>,
}

/// Builds a ready-to-sign message: EIP-4361 for Ethereum, the wallet-standard SIWS text for
/// Solana, with `Version: 1` and times written as `Date.toISOString()` does.
///
/// The inputs are the server's own (and a client address normalized beforehand); they are not
/// validated here, so a statement with a line break, say, gives a message that will not parse.
#[must_use]
pub fn prepare_message(p: &MessageParams<'_>) -> String {
    let chain_id = match p.chain {
        Chain::Ethereum => Some(p.chain_id.unwrap_or("1")),
        Chain::Solana => p.chain_id,
    };
    let uri = match p.chain {
        Chain::Solana if p.uri.is_empty() => None,
        _ => Some(p.uri.to_owned()),
    };
    ParsedMessage {
        chain: p.chain,
        scheme: None,
        domain: p.domain.to_owned(),
        address: p.address.to_owned(),
        statement: p.statement.filter(|s| !s.is_empty()).map(str::to_owned),
        uri,
        version: Some("1".to_owned()),
        chain_id: chain_id.map(str::to_owned),
        nonce: p.nonce.to_owned(),
        issued_at: Some(Timestamp::from_datetime(p.issued_at)),
        expiration_time: p.expiration_time.map(Timestamp::from_datetime),
        not_before: None,
        request_id: None,
        resources: None,
    }
    .to_text()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn chain_names() {
        for chain in [Chain::Ethereum, Chain::Solana] {
            assert_eq!(chain.as_str().parse::<Chain>(), Ok(chain));
            assert_eq!(chain.to_string(), chain.as_str());
            assert_eq!(
                serde_json::to_string(&chain).unwrap(),
                format!("\"{}\"", chain.as_str())
            );
        }
        assert_eq!("Ethereum".parse::<Chain>(), Err(UnknownChain));
        assert_eq!("bitcoin".parse::<Chain>(), Err(UnknownChain));
    }

    #[test]
    fn normalize_ethereum_addresses() {
        let eip55 = "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f";
        for given in [
            eip55,
            &eip55.to_lowercase(),
            &format!("0x{}", eip55[2..].to_uppercase()),
        ] {
            assert_eq!(
                normalize_address(Chain::Ethereum, given).unwrap(),
                eip55,
                "{given}"
            );
        }
        for bad in [
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5F",
            "2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5",
            "0xZZ43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "",
        ] {
            assert!(normalize_address(Chain::Ethereum, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn normalize_solana_addresses() {
        let a = "3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2";
        assert_eq!(normalize_address(Chain::Solana, a).unwrap(), a);
        assert!(normalize_address(Chain::Solana, &format!("1{a}")).is_err());
        assert!(normalize_address(Chain::Solana, "0OIl").is_err());
    }

    fn params(chain: Chain, address: &str) -> MessageParams<'_> {
        MessageParams {
            chain,
            domain: "app.example.com",
            address,
            statement: Some("Sign in to the example dApp."),
            uri: "https://app.example.com/login",
            chain_id: None,
            nonce: "sharedNonce0001abcXYZ",
            issued_at: datetime!(2026-11-22 12:00:00 UTC),
            expiration_time: None,
        }
    }

    #[test]
    fn prepared_ethereum_message_is_what_viem_writes() {
        let text = prepare_message(&params(
            Chain::Ethereum,
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
        ));
        assert_eq!(
            text,
            "app.example.com wants you to sign in with your Ethereum account:\n\
             0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f\n\n\
             Sign in to the example dApp.\n\n\
             URI: https://app.example.com/login\nVersion: 1\nChain ID: 1\n\
             Nonce: sharedNonce0001abcXYZ\nIssued At: 2026-11-22T12:00:00.000Z"
        );
        parse_message(Chain::Ethereum, &text).unwrap();
    }

    #[test]
    fn prepared_solana_message_parses() {
        let mut p = params(
            Chain::Solana,
            "3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2",
        );
        p.chain_id = Some("mainnet");
        p.statement = None;
        p.expiration_time = Some(datetime!(2026-11-22 12:05:00 UTC));
        let text = prepare_message(&p);
        assert_eq!(
            text,
            "app.example.com wants you to sign in with your Solana account:\n\
             3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2\n\n\
             URI: https://app.example.com/login\nVersion: 1\nChain ID: mainnet\n\
             Nonce: sharedNonce0001abcXYZ\nIssued At: 2026-11-22T12:00:00.000Z\n\
             Expiration Time: 2026-11-22T12:05:00.000Z"
        );
        let m = parse_message(Chain::Solana, &text).unwrap();
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn verify_checks_policy_inputs_first() {
        let mut policy = Policy::new(
            vec!["app.example.com".into()],
            ChainIdPolicy::Any,
            datetime!(2026-11-22 12:00:30 UTC),
            Duration::seconds(60),
            NoncePolicy::ReturnToCaller,
        )
        .unwrap();
        policy.domains.clear();
        assert_eq!(
            verify(Chain::Ethereum, "", "", None, &policy),
            Err(VerifyError::MissingPolicy("domains"))
        );
    }

    #[test]
    fn contract_signatures_are_deferred_only_on_chains_with_a_node() {
        let address = "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f";
        let text = prepare_message(&params(Chain::Ethereum, address));
        let policy = |domain: &str| {
            Policy::new(
                vec![domain.into()],
                ChainIdPolicy::Any,
                datetime!(2026-11-22 12:00:30 UTC),
                Duration::seconds(60),
                NoncePolicy::ReturnToCaller,
            )
            .unwrap()
        };
        let sig = format!("0x{}", "ab".repeat(232));
        let ok = policy("app.example.com");
        // Chain 1 has a node: deferred, with the EIP-191 hash of the exact bytes.
        match verify_or_defer(Chain::Ethereum, &text, &sig, None, &ok, &[1]).unwrap() {
            Verified::Contract(sign_in, claim) => {
                assert_eq!(sign_in.address, address);
                assert_eq!(claim.chain_id, 1);
                assert_eq!(claim.address.to_checksum(None), address);
                assert_eq!(claim.hash.0, ethereum::personal_sign_hash(text.as_bytes()));
                assert_eq!(claim.signature, vec![0xab; 232]);
            }
            other => panic!("{other:?}"),
        }
        // The policy is checked before a node would be asked.
        let err = verify_or_defer(
            Chain::Ethereum,
            &text,
            &sig,
            None,
            &policy("other.example"),
            &[1],
        )
        .unwrap_err();
        assert_eq!(err, VerifyError::DomainMismatch);
        // No node for chain 1: refused as a signature, before the policy, saying why.
        for chains in [&[][..], &[137]] {
            let err = verify_or_defer(
                Chain::Ethereum,
                &text,
                &sig,
                None,
                &policy("other.example"),
                chains,
            )
            .unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
            assert!(err.to_string().contains("not enabled for chain 1"), "{err}");
        }
        assert!(matches!(
            verify(Chain::Ethereum, &text, &sig, None, &ok).unwrap_err(),
            VerifyError::InvalidSignature(_)
        ));
        // Not hex, or over 8 KiB: refused even with a node.
        for bad in [
            "0xzz".to_owned(),
            format!("0x{}", "11".repeat(MAX_SIGNATURE_BYTES + 1)),
        ] {
            let err = verify_or_defer(Chain::Ethereum, &text, &bad, None, &ok, &[1]).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err}");
        }
    }

    #[test]
    fn oversized_message_is_refused_before_parsing() {
        let policy = Policy::new(
            vec!["app.example.com".into()],
            ChainIdPolicy::Any,
            datetime!(2026-11-22 12:00:30 UTC),
            Duration::seconds(60),
            NoncePolicy::ReturnToCaller,
        )
        .unwrap();
        let huge = "a".repeat(MAX_MESSAGE_BYTES + 1);
        let err = verify(Chain::Solana, &huge, "", None, &policy).unwrap_err();
        assert!(matches!(err, VerifyError::InvalidMessage(_)), "{err}");
        assert!(err.to_string().contains("longer than"));
    }
}
