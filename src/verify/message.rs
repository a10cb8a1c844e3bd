//! A parsed sign-in message of either chain, kept exactly as written so that formatting it
//! gives back the very bytes that were signed.

use std::fmt;

use super::grammar::{self, Fields};
use super::timestamp::Timestamp;
use super::{eip4361, siws, Chain, VerifyError, MAX_MESSAGE_BYTES};

/// A well-formed EIP-4361 (Ethereum) or SIWS (Solana) message, every value as written.
///
/// Parsing checks the grammar only (including the address's form and checksum, `Version: 1`,
/// the nonce's form and that the Solana address is a 32-byte key); it checks no signature and
/// no policy.
/// [`ParsedMessage::to_text`] reproduces the parsed text byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedMessage {
    /// Which format: EIP-4361 for Ethereum, SIWS for Solana.
    pub chain: Chain,
    /// The optional `scheme` written before the domain (`https` in `https://app.example.com`).
    pub scheme: Option<String>,
    /// The domain (an RFC 3986 authority, `host[:port]`), without the scheme.
    pub domain: String,
    /// The account as written: `0x…` for Ethereum (EIP-55, or uniformly lower- or upper-case;
    /// [`ParsedMessage::account`] gives the EIP-55 form), base58 for Solana.
    pub address: String,
    /// The human-readable statement line.
    pub statement: Option<String>,
    /// `URI` (always present for Ethereum).
    pub uri: Option<String>,
    /// `Version` (always present for Ethereum; `1` when present).
    pub version: Option<String>,
    /// `Chain ID` as written (always present for Ethereum; may carry a `solana:` prefix).
    pub chain_id: Option<String>,
    /// `Nonce` (required by us for both formats).
    pub nonce: String,
    /// `Issued At` (always present for Ethereum).
    pub issued_at: Option<Timestamp>,
    /// `Expiration Time`.
    pub expiration_time: Option<Timestamp>,
    /// `Not Before`.
    pub not_before: Option<Timestamp>,
    /// `Request ID`.
    pub request_id: Option<String>,
    /// `Resources:` and its `- <uri>` lines; `Some(vec![])` for a bare `Resources:` line.
    pub resources: Option<Vec<String>>,
}

impl ParsedMessage {
    /// The message text, byte for byte as it was parsed (or as it is to be signed).
    #[must_use]
    pub fn to_text(&self) -> String {
        match self.chain {
            Chain::Ethereum => eip4361::format(self),
            Chain::Solana => siws::format(self),
        }
    }

    /// The chain id normalized for comparisons: Ethereum in plain decimal, Solana without the
    /// `solana:` prefix.
    #[must_use]
    pub fn normalized_chain_id(&self) -> Option<String> {
        self.chain_id
            .as_deref()
            .and_then(|id| grammar::normalize_chain_id(self.chain, id))
    }

    /// The account in its one canonical form: EIP-55 for Ethereum, whatever case the message
    /// wrote it in (a parsed message's address is always valid, so this never fails: on a
    /// hand-built one with a malformed address it gives the address as written); base58, as
    /// written, for Solana.
    #[must_use]
    pub fn account(&self) -> String {
        match self.chain {
            Chain::Ethereum => eip4361::parse_address(&self.address)
                .map_or_else(|| self.address.clone(), |a| a.to_checksum(None)),
            Chain::Solana => self.address.clone(),
        }
    }

    pub(crate) fn fields(&self) -> Fields {
        Fields {
            uri: self.uri.clone(),
            version: self.version.clone(),
            chain_id: self.chain_id.clone(),
            nonce: Some(self.nonce.clone()),
            issued_at: self.issued_at.clone(),
            expiration_time: self.expiration_time.clone(),
            not_before: self.not_before.clone(),
            request_id: self.request_id.clone(),
            resources: self.resources.clone(),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn assemble(
        chain: Chain,
        scheme: Option<&str>,
        domain: &str,
        address: &str,
        statement: Option<&str>,
        fields: Fields,
    ) -> Result<Self, VerifyError> {
        let nonce = fields
            .nonce
            .ok_or_else(|| VerifyError::message("the `Nonce` field is missing"))?;
        Ok(Self {
            chain,
            scheme: scheme.map(str::to_owned),
            domain: domain.to_owned(),
            address: address.to_owned(),
            statement: statement.map(str::to_owned),
            uri: fields.uri,
            version: fields.version,
            chain_id: fields.chain_id,
            nonce,
            issued_at: fields.issued_at,
            expiration_time: fields.expiration_time,
            not_before: fields.not_before,
            request_id: fields.request_id,
            resources: fields.resources,
        })
    }
}

impl fmt::Display for ParsedMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

/// Parses `text` as the sign-in message format of `chain` (EIP-4361 for Ethereum, SIWS for
/// Solana).
///
/// # Errors
/// [`VerifyError::InvalidMessage`] when the text is over [`MAX_MESSAGE_BYTES`], contains a
/// carriage return, ends with a line break, or breaks the format's grammar in any other way.
pub fn parse_message(chain: Chain, text: &str) -> Result<ParsedMessage, VerifyError> {
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(VerifyError::message(format!(
            "the message is longer than {MAX_MESSAGE_BYTES} bytes"
        )));
    }
    if text.contains('\r') {
        return Err(VerifyError::message(
            "the message contains a carriage return (lines end with LF only)",
        ));
    }
    if text.ends_with('\n') {
        return Err(VerifyError::message("the message ends with a line break"));
    }
    match chain {
        Chain::Ethereum => eip4361::parse(text),
        Chain::Solana => siws::parse(text),
    }
}
