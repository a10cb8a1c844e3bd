//! The two chains whose wallets can sign in, by name.

use std::fmt;
use std::str::FromStr;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
