//! The one sign-in message type of both formats, kept exactly as written so that formatting it
//! gives back the very bytes that were signed: read and written here from the shared field
//! grammar (`grammar.rs`) and what each format does differently (`eip4361.rs`, `siws.rs`).

use std::fmt;

use alloy_primitives::Address;

use super::chain::Chain;
use super::eip4361::{self, EIP4361};
use super::error::VerifyError;
use super::grammar::{self, Field, Standard};
use super::siws::SIWS;
use super::solana;
use super::timestamp::Timestamp;

/// The largest message accepted; longer ones are refused before parsing.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

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
        let standard = standard(self.chain);
        let mut out = String::with_capacity(256);
        if let Some(scheme) = &self.scheme {
            out.push_str(scheme);
            out.push_str("://");
        }
        out.push_str(&self.domain);
        out.push_str(standard.header);
        out.push('\n');
        out.push_str(&self.address);
        out.push_str("\n\n");
        match &self.statement {
            Some(statement) => {
                out.push_str(statement);
                out.push_str("\n\n");
            }
            None if standard.keeps_empty_statement_line => out.push('\n'),
            None => {}
        }
        self.write_fields(&mut out);
        out
    }

    /// The chain id normalized for comparisons: Ethereum in plain decimal, Solana without the
    /// `solana:` prefix.
    #[must_use]
    pub fn normalized_chain_id(&self) -> Option<String> {
        self.chain_id
            .as_deref()
            .and_then(standard(self.chain).normalize_chain_id)
    }

    /// The account in its one canonical form: EIP-55 for Ethereum, whatever case the message
    /// wrote it in (a parsed message's address is always valid, so this never fails: on a
    /// hand-built one with a malformed address it gives the address as written); base58, as
    /// written, for Solana.
    #[must_use]
    pub fn account(&self) -> String {
        normalize_address(self.chain, &self.address).unwrap_or_else(|_| self.address.clone())
    }

    /// The value of a field as written, `None` when the message has no such line (the list,
    /// `Resources:`, has no value of its own: `""` when present).
    fn written(&self, field: Field) -> Option<&str> {
        match field {
            Field::Uri => self.uri.as_deref(),
            Field::Version => self.version.as_deref(),
            Field::ChainId => self.chain_id.as_deref(),
            Field::Nonce => Some(&self.nonce),
            Field::IssuedAt => self.issued_at.as_ref().map(Timestamp::as_str),
            Field::ExpirationTime => self.expiration_time.as_ref().map(Timestamp::as_str),
            Field::NotBefore => self.not_before.as_ref().map(Timestamp::as_str),
            Field::RequestId => self.request_id.as_deref(),
            Field::Resources => self.resources.as_ref().map(|_| ""),
        }
    }

    /// Writes the present fields, one per line, in the fixed order (no trailing newline).
    fn write_fields(&self, out: &mut String) {
        let mut first = true;
        for field in Field::ALL {
            let Some(value) = self.written(field) else {
                continue;
            };
            if !first {
                out.push('\n');
            }
            first = false;
            out.push_str(field.name());
            out.push(':');
            if field.is_list() {
                for item in self.resources.iter().flatten() {
                    out.push_str("\n- ");
                    out.push_str(item);
                }
            } else {
                out.push(' ');
                out.push_str(value);
            }
        }
    }

    /// Reads the field lines into `self` and returns the fields seen, in order. `first_line` is
    /// the 1-based number of `lines[0]` in the message, for error reasons. Every field at most
    /// once, in the fixed order; `Resources:` last, followed only by `- <uri>` lines; no blank
    /// or unknown lines.
    fn read_fields(
        &mut self,
        lines: &[&str],
        first_line: usize,
    ) -> Result<Vec<Field>, VerifyError> {
        let normalize_chain_id = standard(self.chain).normalize_chain_id;
        let mut seen: Vec<Field> = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let n = first_line + i;
            let at = |what: &str| VerifyError::message(format!("line {n}: {what}"));
            if let Some(resources) = self.resources.as_mut() {
                let uri = line
                    .strip_prefix("- ")
                    .ok_or_else(|| at("only `- <uri>` lines may follow `Resources:`"))?;
                if !grammar::is_uri(uri) {
                    return Err(at("a resource is not a valid URI"));
                }
                resources.push(uri.to_owned());
                continue;
            }
            if line.is_empty() {
                return Err(at("unexpected blank line"));
            }
            let (field, value) =
                Field::recognize(line).ok_or_else(|| at("unknown or malformed field"))?;
            let name = field.name();
            if let Some(&previous) = seen.last() {
                if field == previous {
                    return Err(at(&format!("the `{name}` field appears twice")));
                }
                if field < previous {
                    return Err(at(&format!(
                        "the `{name}` field is out of order (or repeated)"
                    )));
                }
            }
            seen.push(field);
            let invalid = || at(&format!("the `{name}` value is not valid"));
            let text = Some(value.to_owned());
            match field {
                Field::Uri if grammar::is_uri(value) => self.uri = text,
                Field::Version if value == "1" => self.version = text,
                Field::Version => {
                    return Err(at(&format!("unsupported `{name}` (only 1 is defined)")))
                }
                Field::ChainId if normalize_chain_id(value).is_some() => self.chain_id = text,
                Field::Nonce if grammar::is_nonce(value) => self.nonce = value.to_owned(),
                Field::Nonce => {
                    return Err(at(&format!(
                        "the `{name}` must be at least {} letters or digits",
                        grammar::MIN_NONCE_LEN
                    )))
                }
                Field::IssuedAt | Field::ExpirationTime | Field::NotBefore => {
                    let stamp = Timestamp::parse(value).ok_or_else(|| {
                        at(&format!("the `{name}` value is not an RFC 3339 date-time"))
                    })?;
                    let slot = match field {
                        Field::IssuedAt => &mut self.issued_at,
                        Field::ExpirationTime => &mut self.expiration_time,
                        _ => &mut self.not_before,
                    };
                    *slot = Some(stamp);
                }
                Field::RequestId if grammar::is_pchars(value) => self.request_id = text,
                Field::Resources => self.resources = Some(Vec::new()),
                Field::Uri | Field::ChainId | Field::RequestId => return Err(invalid()),
            }
        }
        Ok(seen)
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
    let standard = standard(chain);
    let lines: Vec<&str> = text.split('\n').collect();
    let (scheme, domain) =
        grammar::parse_header(lines.first().copied().unwrap_or_default(), standard.header)?;
    let address = lines
        .get(1)
        .copied()
        .ok_or_else(|| VerifyError::message("line 2 (the address) is missing"))?;
    if !(standard.is_address)(address) {
        return Err(VerifyError::message(standard.bad_address));
    }
    let (statement, first_field) = (standard.statement)(&lines)?;
    let mut message = ParsedMessage {
        chain,
        scheme: scheme.map(str::to_owned),
        domain: domain.to_owned(),
        address: address.to_owned(),
        statement: statement.map(str::to_owned),
        uri: None,
        version: None,
        chain_id: None,
        // Set by the `Nonce` line, which every format requires.
        nonce: String::new(),
        issued_at: None,
        expiration_time: None,
        not_before: None,
        request_id: None,
        resources: None,
    };
    let field_lines = lines.get(first_field..).unwrap_or_default();
    let seen = message.read_fields(field_lines, first_field + 1)?;
    match standard.required.iter().find(|f| !seen.contains(f)) {
        Some(field) => Err(field.missing()),
        None => Ok(message),
    }
}

pub(crate) fn parse_eip55(address: &str) -> Result<Address, VerifyError> {
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

/// What the format of `chain` does differently from the other.
pub(crate) fn standard(chain: Chain) -> &'static Standard {
    match chain {
        Chain::Ethereum => &EIP4361,
        Chain::Solana => &SIWS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{eip4361, siws};

    /// A SIWS message with no field yet.
    fn empty() -> ParsedMessage {
        parse_message(
            Chain::Solana,
            "a.b wants you to sign in with your Solana account:\n\
             3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2\n\nNonce: abcdefgh",
        )
        .map(|mut m| {
            m.nonce.clear();
            m
        })
        .unwrap()
    }

    #[test]
    fn chain_ids() {
        let norm = |chain, id| (standard(chain).normalize_chain_id)(id);
        assert_eq!(norm(Chain::Ethereum, "137").as_deref(), Some("137"));
        assert_eq!(norm(Chain::Ethereum, "0137").as_deref(), Some("137"));
        assert_eq!(norm(Chain::Ethereum, ""), None);
        assert_eq!(norm(Chain::Ethereum, "+1"), None);
        assert_eq!(norm(Chain::Ethereum, "0x1"), None);
        assert_eq!(norm(Chain::Ethereum, "99999999999999999999999"), None);
        assert_eq!(
            norm(Chain::Solana, "solana:mainnet").as_deref(),
            Some("mainnet")
        );
        assert_eq!(norm(Chain::Solana, "devnet").as_deref(), Some("devnet"));
        assert_eq!(norm(Chain::Solana, "solana:"), None);
        assert_eq!(norm(Chain::Solana, "main net"), None);
        // Exactly the SIWS ABNF's values.
        for (written, normalized) in [
            ("mainnet", "mainnet"),
            ("testnet", "testnet"),
            ("devnet", "devnet"),
            ("localnet", "localnet"),
            ("solana:mainnet", "mainnet"),
            ("solana:testnet", "testnet"),
            ("solana:devnet", "devnet"),
        ] {
            assert_eq!(norm(Chain::Solana, written).as_deref(), Some(normalized));
        }
        for bad in [
            "solana:localnet",
            "mainnet-beta",
            "Mainnet",
            "random:mainnet",
            "eip155:1",
            "5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            "solana:5eykt4UsFv8P8NJdTREpY1vzqKqZKvdp",
            " mainnet",
        ] {
            assert_eq!(norm(Chain::Solana, bad), None, "{bad}");
        }
    }

    #[test]
    fn statements() {
        assert!(eip4361::is_statement(
            "I accept the Terms of Service: https://example.com/tos"
        ));
        assert!(!eip4361::is_statement(""));
        assert!(!eip4361::is_statement("tab\there"));
        assert!(!eip4361::is_statement("caf\u{e9}"));
        assert!(siws::is_statement("caf\u{e9} \u{1f600}"));
        assert!(!siws::is_statement("a\rb"));
        assert!(!siws::is_statement(""));
        // Emoji sequences keep their zero-width joiner.
        assert!(siws::is_statement(
            "family \u{1f468}\u{200d}\u{1f469}\u{200d}\u{1f467}"
        ));
        // Line separators and everything that reorders or hides text, in both formats.
        for c in [
            '\u{2028}',
            '\u{2029}',
            '\u{061C}',
            '\u{200B}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{85}',
            '\u{E0041}',
        ] {
            let text = format!("Pay 10{c} to alice");
            assert!(!siws::is_statement(&text), "U+{:04X}", u32::from(c));
            assert!(!eip4361::is_statement(&text), "U+{:04X}", u32::from(c));
        }
    }

    #[test]
    fn field_order_duplicates_and_unknowns() {
        let ok = [
            "URI: https://a.b/",
            "Version: 1",
            "Nonce: abcdefgh",
            "Resources:",
            "- https://x.y/",
        ];
        let mut m = empty();
        let seen = m.read_fields(&ok, 4).unwrap();
        assert_eq!(
            seen,
            [Field::Uri, Field::Version, Field::Nonce, Field::Resources]
        );
        assert_eq!(m.resources, Some(vec!["https://x.y/".to_owned()]));
        let mut out = String::new();
        m.write_fields(&mut out);
        assert_eq!(out, ok.join("\n"));

        let dup = ["Nonce: abcdefgh", "Nonce: abcdefgh"];
        let err = empty().read_fields(&dup, 4).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let reordered = ["Version: 1", "URI: https://a.b/"];
        let err = empty().read_fields(&reordered, 4).unwrap_err();
        assert!(err.to_string().contains("out of order"), "{err}");
        for bad in [
            &["Foo: bar"][..],
            &["URI:https://a.b/"],
            &["uri: https://a.b/"],
            &["Nonce: abcdefgh", ""],
            &["Resources:", "Nonce: abcdefgh"],
            &["Resources: x"],
            &["Version: 2"],
            &["Issued At: yesterday"],
            &["Request ID: a b"],
        ] {
            assert!(empty().read_fields(bad, 4).is_err(), "{bad:?}");
        }
    }
}
