//! Response bodies shared by several route modules, and the HTTP layer's own mirrors of the
//! domain's enums. The handlers return these typed values, and their `ToSchema` *is* the
//! documented shape: nothing is described twice. The mirrors (`ChainName`, `WalletKind`) keep
//! the OpenAPI vocabulary out of `verify/` and `session/`; their `From` conversions are
//! exhaustive matches, so a new variant in the domain fails to compile here rather than
//! drifting from the document.

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::verify::{Chain, WalletType};

/// A chain whose wallets can sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = Chain)]
pub enum ChainName {
    /// Ethereum and EVM chains: EIP-4361 messages.
    Ethereum,
    /// Solana: SIWS messages.
    Solana,
}

impl From<Chain> for ChainName {
    fn from(c: Chain) -> Self {
        match c {
            Chain::Ethereum => ChainName::Ethereum,
            Chain::Solana => ChainName::Solana,
        }
    }
}

/// What kind of wallet signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = WalletType)]
pub enum WalletKind {
    /// A key (EOA, or an ed25519 key on Solana).
    Eoa,
    /// A smart-contract wallet (EIP-1271 / ERC-6492).
    Contract,
}

impl From<WalletType> for WalletKind {
    fn from(w: WalletType) -> Self {
        match w {
            WalletType::Eoa => WalletKind::Eoa,
            WalletType::Contract => WalletKind::Contract,
        }
    }
}

/// A chain id: a number for Ethereum (EIP-155), a string for Solana (`mainnet`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
#[serde(untagged)]
pub enum ChainId {
    /// EIP-155 chain id.
    Number(u64),
    /// SIWS chain id.
    Text(String),
}

impl ChainId {
    /// The chain id of a session or nonce of `chain`, as the API shows it.
    #[must_use]
    pub fn of(chain: Chain, id: Option<&str>) -> Option<ChainId> {
        id.map(|id| match (chain, id.parse::<u64>()) {
            (Chain::Ethereum, Ok(n)) => ChainId::Number(n),
            _ => ChainId::Text(id.to_owned()),
        })
    }
}

/// How many sessions an operation ended: `POST /auth/logout-all`,
/// `POST /admin/wallets/{chain}/{address}/logout-all`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// How many sessions were ended.
    pub revoked: usize,
}

/// A timestamp as the API shows it: RFC 3339.
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}
