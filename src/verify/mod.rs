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
//! [`verify_or_defer`] is [`verify`] for a server: it takes the message already parsed with
//! [`parse_message`] (a server needs its nonce before it verifies, and parses it once), and it
//! can leave smart-contract wallets to chains' nodes: an Ethereum signature that is not a valid
//! EOA signature of the message's address, on a chain listed as having a node, is not refused
//! but deferred as a [`ContractClaim`] once every other check has passed (policy checks then
//! come before the node call, which is the expensive part).
//!
//! Where things are: [`ParsedMessage`] (`message.rs`) is the one message type of both formats,
//! read and written from what EIP-4361 and SIWS share (`grammar.rs`: the header's shape, the
//! field lines and their names, the value grammars) and what each does differently
//! (`eip4361.rs`, `siws.rs`: one table each). A [`SignIn`] is a verified message with its
//! account in canonical form. `ethereum.rs` and `solana.rs` check signatures, `contract.rs`
//! shapes the claim a node is asked about, `policy.rs` holds what the server requires of a
//! message, and `timestamp.rs` keeps RFC 3339 times as written.

mod chain;
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

use alloy_primitives::Address;
use time::OffsetDateTime;

pub use chain::{Chain, UnknownChain};
pub use contract::{ContractClaim, WalletType, MAX_SIGNATURE_BYTES};
pub use error::VerifyError;
pub use message::{normalize_address, parse_message, ParsedMessage, MAX_MESSAGE_BYTES};

use message::parse_eip55;
pub use policy::{ChainIdPolicy, NoncePolicy, Policy};
pub use siws::normalize_solana_chain_id;
pub use timestamp::Timestamp;

/// A verified sign-in: the message whose signature and policy checks passed, and who signed it
/// in the forms a server keys sessions by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// The account ([`ParsedMessage::account`]): EIP-55 for Ethereum (whatever case the
    /// message wrote it in), base58 for Solana.
    pub address: String,
    /// The chain id ([`ParsedMessage::normalized_chain_id`]): `"1"`, `"137"`, `"mainnet"` (no
    /// `solana:` prefix).
    pub chain_id: Option<String>,
    /// The message, every value as written. Its nonce was checked when the policy said
    /// [`NoncePolicy::Expect`]; it is the caller's to check otherwise.
    pub message: ParsedMessage,
}

impl SignIn {
    fn of(message: ParsedMessage) -> Self {
        Self {
            address: message.account(),
            chain_id: message.normalized_chain_id(),
            message,
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
    policy.validate()?;
    let parsed = parse_message(chain, message)?;
    match check(parsed, message, signature, public_key, policy, &[])? {
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

/// [`verify`] of a message already parsed (the caller needed its nonce, say, to look it up),
/// deferring contract-wallet signatures on the chains in `contract_chains`.
///
/// The signature is checked over [`ParsedMessage::to_text`], which for a message from
/// [`parse_message`] is byte for byte the text parsed.
///
/// An Ethereum signature that recovers the message's address is accepted here, whatever the
/// chain (EOA sign-in never needs a node). Otherwise, when the message's chain id is in
/// `contract_chains`, the signature (hex, at most [`MAX_SIGNATURE_BYTES`]) is checked
/// against the policy and returned as a [`ContractClaim`]; when it is not, the signature is
/// refused and the reason says that contract wallets are not enabled for that chain.
///
/// # Errors
/// The first failing check, in the order given in the module docs (the message's grammar was
/// checked by the parse).
pub fn verify_or_defer(
    message: ParsedMessage,
    signature: &str,
    public_key: Option<&str>,
    policy: &Policy,
    contract_chains: &[u64],
) -> Result<Verified, VerifyError> {
    policy.validate()?;
    let text = message.to_text();
    check(
        message,
        &text,
        signature,
        public_key,
        policy,
        contract_chains,
    )
}

/// The checks after the policy's inputs and the message's grammar; `text` is what was signed.
fn check(
    parsed: ParsedMessage,
    text: &str,
    signature: &str,
    public_key: Option<&str>,
    policy: &Policy,
    contract_chains: &[u64],
) -> Result<Verified, VerifyError> {
    match parsed.chain {
        Chain::Ethereum => {
            let address = parse_eip55(&parsed.address)?;
            if let Err(eoa) = ethereum::verify_personal_sign(text.as_bytes(), signature, &address) {
                let claim =
                    contract_claim(&parsed, text, signature, address, &eoa, contract_chains)?;
                policy.check(&parsed)?;
                return Ok(Verified::Contract(SignIn::of(parsed), claim));
            }
        }
        Chain::Solana => {
            solana::verify_sign_in(text.as_bytes(), signature, public_key, &parsed.address)?;
        }
    }
    policy.check(&parsed)?;
    Ok(Verified::Eoa(SignIn::of(parsed)))
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
        let parsed = || parse_message(Chain::Ethereum, &text).unwrap();
        // Chain 1 has a node: deferred, with the EIP-191 hash of the exact bytes.
        match verify_or_defer(parsed(), &sig, None, &ok, &[1]).unwrap() {
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
        let err =
            verify_or_defer(parsed(), &sig, None, &policy("other.example"), &[1]).unwrap_err();
        assert_eq!(err, VerifyError::DomainMismatch);
        // No node for chain 1: refused as a signature, before the policy, saying why.
        for chains in [&[][..], &[137]] {
            let err = verify_or_defer(parsed(), &sig, None, &policy("other.example"), chains)
                .unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err:?}");
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
            let err = verify_or_defer(parsed(), &bad, None, &ok, &[1]).unwrap_err();
            assert!(matches!(err, VerifyError::InvalidSignature(_)), "{err:?}");
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
