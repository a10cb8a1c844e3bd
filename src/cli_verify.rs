//! `wallet-auth verify`: checks a signed sign-in message offline, without a store.
//!
//! Exit 0 and `{"valid": true, "chain", "address", "chainId", "nonce", "walletType"}` on
//! stdout when it verifies; exit 1 and `{"valid": false, "code", "message"}` when it does not;
//! exit 2 on a usage error (unreadable message file or stdin, bad `--now`, a `--rpc-url` node
//! that serves another chain than the message's), with the reason on stderr.
//!
//! With `--rpc-url`, a signature that is not the address's EOA signature is checked as a
//! contract wallet's (EIP-1271 / ERC-6492) through that node, like the server does
//! (`verifier_unavailable` when the node cannot be reached, times out or answers garbage).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::contract_wallets::{ContractWallets, Probe};
use crate::http::ErrorCode;
use crate::verify::{
    self, Chain, ChainIdPolicy, NoncePolicy, Policy, Verified, VerifyError, WalletType,
};

/// Bound on one call to the `--rpc-url` node (the server's `ETH_RPC_TIMEOUT` default).
pub const RPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Arguments of `wallet-auth verify`.
#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The chain: `ethereum` (EIP-4361) or `solana` (SIWS).
    #[arg(long, value_name = "CHAIN")]
    pub chain: Chain,
    /// A domain the message may be for (repeat for several).
    #[arg(long = "domain", value_name = "DOMAIN", required = true)]
    pub domains: Vec<String>,
    /// The time to check against, RFC 3339 (default: the clock).
    #[arg(long, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Tolerated clock skew, in seconds: `Issued At` may be up to this far in the future.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub skew: u32,
    /// Refuse (`message_expired`) a message whose `Issued At` is older than this many seconds
    /// (default: no limit).
    #[arg(long, value_name = "SECONDS")]
    pub max_age: Option<u32>,
    /// The nonce the message must carry (default: any).
    #[arg(long, value_name = "NONCE")]
    pub nonce: Option<String>,
    /// An allowed chain id (repeat for several; default: any).
    #[arg(long = "chain-id", value_name = "ID")]
    pub chain_ids: Vec<String>,
    /// The signature as the wallet returned it.
    #[arg(long, value_name = "SIG")]
    pub signature: String,
    /// Solana: the public key the wallet returned (base58); must be the message's address.
    #[arg(long, value_name = "PK")]
    pub public_key: Option<String>,
    /// Read the message from this file (exact bytes) instead of standard input.
    #[arg(long, value_name = "FILE")]
    pub message_file: Option<PathBuf>,
    /// A JSON-RPC node (http:// or https://) of the message's chain: check contract-wallet
    /// signatures (EIP-1271, ERC-6492) through it.
    #[arg(long, value_name = "URL")]
    pub rpc_url: Option<String>,
}

/// Why a message was refused: a verification error, or the node could not answer.
enum Refusal {
    Verify(VerifyError),
    NodeUnavailable(String),
}

impl From<VerifyError> for Refusal {
    fn from(e: VerifyError) -> Self {
        Refusal::Verify(e)
    }
}

/// A failure that is the caller's, not the message's: exit 2.
struct UsageError(String);

/// Runs `wallet-auth verify`.
pub fn run(args: VerifyArgs) -> ExitCode {
    match check(&args) {
        Ok(Ok((sign_in, wallet_type))) => {
            print_json(&json!({
                "valid": true,
                "chain": sign_in.message.chain,
                "address": sign_in.address,
                "chainId": sign_in.chain_id,
                "nonce": sign_in.message.nonce,
                "walletType": wallet_type,
            }));
            ExitCode::SUCCESS
        }
        Ok(Err(refusal)) => {
            let (code, message) = match refusal {
                Refusal::Verify(error) => (ErrorCode::from(&error).as_str(), error.to_string()),
                Refusal::NodeUnavailable(reason) => (
                    ErrorCode::VerifierUnavailable.as_str(),
                    format!(
                        "the node at --rpc-url cannot check contract-wallet signatures: {reason}"
                    ),
                ),
            };
            print_json(&json!({
                "valid": false,
                "code": code,
                "message": message,
            }));
            ExitCode::from(1)
        }
        Err(UsageError(reason)) => {
            eprintln!("wallet-auth verify: {reason}");
            ExitCode::from(2)
        }
    }
}

fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

type Checked = Result<(verify::SignIn, WalletType), Refusal>;

fn check(args: &VerifyArgs) -> Result<Checked, UsageError> {
    let now = match &args.now {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
            UsageError(format!("--now must be an RFC 3339 date-time, got {text:?}"))
        })?,
        None => OffsetDateTime::now_utc(),
    };
    if let Some(url) = &args.rpc_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(UsageError(
                "--rpc-url must be an http:// or https:// URL".into(),
            ));
        }
    }
    let bytes = read_message(args.message_file.as_ref())?;
    let chain_ids = if args.chain_ids.is_empty() {
        ChainIdPolicy::Any
    } else {
        ChainIdPolicy::Only(args.chain_ids.clone())
    };
    let nonce = match &args.nonce {
        Some(n) => NoncePolicy::Expect(n.clone()),
        None => NoncePolicy::ReturnToCaller,
    };
    let mut policy = Policy::new(
        args.domains.clone(),
        chain_ids,
        now,
        Duration::seconds(i64::from(args.skew)),
        nonce,
    )
    .map_err(|e| UsageError(e.to_string()))?;
    if let Some(max_age) = args.max_age {
        policy = policy.with_max_age(Duration::seconds(i64::from(max_age)));
    }
    let Ok(message) = String::from_utf8(bytes) else {
        return Ok(Err(VerifyError::InvalidMessage(
            "the message is not UTF-8 text".to_owned(),
        )
        .into()));
    };
    let message = match verify::parse_message(args.chain, &message) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e.into())),
    };
    // With a node, the message's own chain is the one contract wallets are checked on.
    let contract_chains: Vec<u64> = match (&args.rpc_url, args.chain) {
        (Some(_), Chain::Ethereum) => message
            .normalized_chain_id()
            .and_then(|id| id.parse().ok())
            .into_iter()
            .collect(),
        _ => Vec::new(),
    };
    let verified = match verify::verify_or_defer(
        message,
        &args.signature,
        args.public_key.as_deref(),
        &policy,
        &contract_chains,
    ) {
        Ok(v) => v,
        Err(e) => return Ok(Err(e.into())),
    };
    match verified {
        Verified::Eoa(sign_in) => Ok(Ok((sign_in, WalletType::Eoa))),
        Verified::Contract(sign_in, claim) => {
            let url = args.rpc_url.clone().unwrap_or_default();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| UsageError(format!("cannot start the async runtime: {e}")))?;
            runtime.block_on(async {
                let node = ContractWallets::new(&[(claim.chain_id, url)], RPC_TIMEOUT, None);
                for (_, probe) in node.probe().await {
                    match probe {
                        Probe::Up => {}
                        Probe::WrongChain(actual) => {
                            return Err(UsageError(format!(
                                "the node at --rpc-url serves chain {actual}, the message is for chain {}",
                                claim.chain_id
                            )));
                        }
                        Probe::Down(reason) => return Ok(Err(Refusal::NodeUnavailable(reason))),
                    }
                }
                Ok(match node.check(&claim).await {
                    Ok(true) => Ok((sign_in, WalletType::Contract)),
                    Ok(false) => Err(Refusal::Verify(VerifyError::InvalidSignature(
                        "the wallet's contract did not accept it (EIP-1271 / ERC-6492)".into(),
                    ))),
                    Err(e) => Err(Refusal::NodeUnavailable(e.reason)),
                })
            })
        }
    }
}

/// Reads the message, at most one byte more than the limit (so an oversized one is still
/// refused as `invalid_message` without reading it all).
fn read_message(file: Option<&PathBuf>) -> Result<Vec<u8>, UsageError> {
    let limit = u64::try_from(verify::MAX_MESSAGE_BYTES + 1).unwrap_or(u64::MAX);
    let mut bytes = Vec::new();
    match file {
        Some(path) => {
            let file = std::fs::File::open(path).map_err(|e| {
                UsageError(format!(
                    "cannot read the message file {}: {e}",
                    path.display()
                ))
            })?;
            file.take(limit).read_to_end(&mut bytes).map_err(|e| {
                UsageError(format!(
                    "cannot read the message file {}: {e}",
                    path.display()
                ))
            })?;
        }
        None => {
            std::io::stdin()
                .lock()
                .take(limit)
                .read_to_end(&mut bytes)
                .map_err(|e| UsageError(format!("cannot read the message from stdin: {e}")))?;
        }
    }
    Ok(bytes)
}
