//! EIP-4361 (Sign-In with Ethereum) messages: parse and format.
//!
//! ```text
//! [scheme "://"] domain " wants you to sign in with your Ethereum account:" LF
//! address LF
//! LF
//! [ statement LF ]
//! LF
//! "URI: " uri LF "Version: 1" LF "Chain ID: " chain-id LF "Nonce: " nonce LF
//! "Issued At: " issued-at
//! [ LF "Expiration Time: " … ] [ LF "Not Before: " … ] [ LF "Request ID: " … ]
//! [ LF "Resources:" *( LF "- " uri ) ]
//! ```
//!
//! Strictly the ABNF of the EIP, with these deliberate choices: the statement is the ABNF's
//! ASCII characters (`reserved / unreserved / " "`) and non-empty; the address must be in
//! EIP-55 checksum form (the ABNF requires it for EOAs; all-lowercase is refused); the domain
//! may not carry userinfo.

use alloy_primitives::Address;

use super::grammar::{self, Field, ETHEREUM_HEADER};
use super::{Chain, ParsedMessage, VerifyError};

const REQUIRED: [Field; 5] = [
    Field::Uri,
    Field::Version,
    Field::ChainId,
    Field::Nonce,
    Field::IssuedAt,
];

/// Parses an EIP-4361 message (already checked for size, `\r` and a trailing newline).
pub(crate) fn parse(text: &str) -> Result<ParsedMessage, VerifyError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let line = |i: usize| lines.get(i).copied();
    let header = line(0).unwrap_or_default();
    let (scheme, domain) = grammar::parse_header(header, ETHEREUM_HEADER)?;

    let address = line(1).ok_or_else(|| VerifyError::message("line 2 (the address) is missing"))?;
    if Address::parse_checksummed(address, None).is_err() {
        return Err(VerifyError::message(
            "line 2: the address is not an EIP-55 checksummed Ethereum address",
        ));
    }
    if line(2) != Some("") {
        return Err(VerifyError::message("line 3 must be blank"));
    }
    let (statement, first_field) = match line(3) {
        Some("") => (None, 4),
        Some(statement) => {
            if line(4) != Some("") {
                return Err(VerifyError::message(
                    "line 5 must be blank (the statement is a single line)",
                ));
            }
            if !grammar::is_ethereum_statement(statement) {
                return Err(VerifyError::message(
                    "line 4: the statement holds characters EIP-4361 does not allow",
                ));
            }
            (Some(statement), 5)
        }
        None => return Err(VerifyError::message("the `URI` field is missing")),
    };
    let field_lines = lines.get(first_field..).unwrap_or_default();
    let fields = grammar::parse_fields(Chain::Ethereum, field_lines, first_field + 1)?;
    fields.require(&REQUIRED)?;
    ParsedMessage::assemble(Chain::Ethereum, scheme, domain, address, statement, fields)
}

/// Formats a message in the EIP-4361 layout.
pub(crate) fn format(m: &ParsedMessage) -> String {
    let mut out = String::with_capacity(256);
    grammar::format_header(&mut out, m, ETHEREUM_HEADER);
    out.push_str("\n\n");
    if let Some(statement) = &m.statement {
        out.push_str(statement);
        out.push('\n');
    }
    out.push('\n');
    grammar::format_fields(&mut out, &m.fields());
    out
}

#[cfg(test)]
mod tests {
    use crate::verify::{parse_message, Chain, VerifyError};

    const BASIC: &str = "app.example.com wants you to sign in with your Ethereum account:\n\
        0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f\n\n\
        Sign in to the example dApp.\n\n\
        URI: https://app.example.com/login\n\
        Version: 1\n\
        Chain ID: 1\n\
        Nonce: sharedNonce0001abcXYZ\n\
        Issued At: 2026-11-22T12:00:00.000Z";

    fn parse(text: &str) -> Result<crate::verify::ParsedMessage, VerifyError> {
        parse_message(Chain::Ethereum, text)
    }

    fn reason(text: &str) -> String {
        match parse(text) {
            Err(VerifyError::InvalidMessage(reason)) => reason,
            other => panic!("expected invalid_message, got {other:?}"),
        }
    }

    #[test]
    fn parses_and_formats_back() {
        let m = parse(BASIC).unwrap();
        assert_eq!(m.domain, "app.example.com");
        assert_eq!(m.scheme, None);
        assert_eq!(m.address, "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f");
        assert_eq!(m.statement.as_deref(), Some("Sign in to the example dApp."));
        assert_eq!(m.chain_id.as_deref(), Some("1"));
        assert_eq!(m.nonce, "sharedNonce0001abcXYZ");
        assert_eq!(m.to_text(), BASIC);
    }

    #[test]
    fn no_statement_keeps_the_blank_line() {
        let text = BASIC.replace("Sign in to the example dApp.\n\n", "\n");
        let m = parse(&text).unwrap();
        assert_eq!(m.statement, None);
        assert_eq!(m.to_text(), text);
        // Without the extra blank line it is malformed.
        let squeezed = BASIC.replace("Sign in to the example dApp.\n\n", "");
        assert!(parse(&squeezed).is_err());
    }

    #[test]
    fn scheme_prefix() {
        let text = format!("https://{BASIC}");
        let m = parse(&text).unwrap();
        assert_eq!(m.scheme.as_deref(), Some("https"));
        assert_eq!(m.domain, "app.example.com");
        assert_eq!(m.to_text(), text);
        assert!(parse(&format!("1x://{BASIC}")).is_err());
    }

    #[test]
    fn optional_fields_in_order() {
        let text = format!(
            "{BASIC}\nExpiration Time: 2026-11-22T12:30:00.000Z\nNot Before: 2026-11-22T11:59:00.000Z\n\
             Request ID: login-42\nResources:\n- https://app.example.com/terms\n- ipfs://bafy/"
        );
        let m = parse(&text).unwrap();
        assert_eq!(m.request_id.as_deref(), Some("login-42"));
        assert_eq!(m.resources.as_ref().map(Vec::len), Some(2));
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn duplicate_field() {
        let text = format!("{BASIC}\nNonce: sharedNonce0001abcXYZ");
        assert!(reason(&text).contains("out of order"));
        let text = BASIC.replace("Version: 1\n", "Version: 1\nVersion: 1\n");
        assert!(reason(&text).contains("twice"));
    }

    #[test]
    fn reordered_fields() {
        let text = BASIC.replace("Version: 1\nChain ID: 1\n", "Chain ID: 1\nVersion: 1\n");
        assert!(reason(&text).contains("out of order"));
        let text = format!(
            "{BASIC}\nNot Before: 2026-11-22T11:59:00.000Z\nExpiration Time: 2026-11-22T12:30:00.000Z"
        );
        assert!(reason(&text).contains("out of order"));
    }

    #[test]
    fn missing_required_field() {
        for line in [
            "URI: https://app.example.com/login\n",
            "Version: 1\n",
            "Chain ID: 1\n",
            "Nonce: sharedNonce0001abcXYZ\n",
        ] {
            assert!(
                reason(&BASIC.replace(line, "")).contains("missing"),
                "{line}"
            );
        }
        let no_issued_at = BASIC.replace("\nIssued At: 2026-11-22T12:00:00.000Z", "");
        assert!(reason(&no_issued_at).contains("missing"));
    }

    #[test]
    fn unknown_field() {
        let text = BASIC.replace("Version: 1\n", "Version: 1\nColor: blue\n");
        assert!(reason(&text).contains("unknown"));
    }

    #[test]
    fn extra_blank_lines() {
        for text in [
            BASIC.replace("Version: 1\n", "Version: 1\n\n"),
            BASIC.replace("dApp.\n\n", "dApp.\n\n\n"),
            BASIC.replace("account:\n", "account:\n\n"),
            format!("\n{BASIC}"),
        ] {
            parse(&text).unwrap_err();
        }
    }

    #[test]
    fn carriage_return_and_trailing_newline() {
        assert!(reason(&BASIC.replace('\n', "\r\n")).contains("carriage return"));
        assert!(reason(&format!("{BASIC}\n")).contains("ends with a line break"));
        assert!(reason(&format!("{BASIC}\r")).contains("carriage return"));
    }

    #[test]
    fn lowercase_and_bad_checksum_addresses() {
        let lower = BASIC.replace(
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "0x2e43d3c652f5abe5294517195c989ba0b4b67a5f",
        );
        assert!(reason(&lower).contains("EIP-55"));
        let flipped = BASIC.replace(
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5F",
        );
        assert!(reason(&flipped).contains("EIP-55"));
        let short = BASIC.replace(
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5",
        );
        assert!(reason(&short).contains("EIP-55"));
    }

    #[test]
    fn version_must_be_1() {
        assert!(reason(&BASIC.replace("Version: 1", "Version: 2")).contains("Version"));
    }

    #[test]
    fn multi_line_statement() {
        let text = BASIC.replace("dApp.\n", "dApp.\nsecond line\n");
        parse(&text).unwrap_err();
    }

    #[test]
    fn statement_characters() {
        let text = BASIC.replace("Sign in to the example dApp.", "caf\u{e9}");
        assert!(reason(&text).contains("statement"));
        let text = BASIC.replace("Sign in to the example dApp.", "tab\there");
        assert!(reason(&text).contains("statement"));
    }

    #[test]
    fn nonce_chain_id_and_timestamps() {
        assert!(reason(&BASIC.replace("sharedNonce0001abcXYZ", "short1")).contains("Nonce"));
        assert!(
            reason(&BASIC.replace("sharedNonce0001abcXYZ", "has-dash-nonce")).contains("Nonce")
        );
        assert!(reason(&BASIC.replace("Chain ID: 1", "Chain ID: one")).contains("Chain ID"));
        assert!(reason(&BASIC.replace("Chain ID: 1", "Chain ID: ")).contains("Chain ID"));
        let text = BASIC.replace("2026-11-22T12:00:00.000Z", "2026-11-22 12:00:00");
        assert!(reason(&text).contains("Issued At"));
    }

    #[test]
    fn header_and_domain() {
        assert!(parse(&BASIC.replace("Ethereum account", "Solana account")).is_err());
        assert!(
            parse(&BASIC.replace("app.example.com wants", "evil@app.example.com wants")).is_err()
        );
        assert!(parse(&BASIC.replace("app.example.com wants", " wants")).is_err());
        assert!(parse(&BASIC.replace("app.example.com wants", "localhost:8080 wants")).is_ok());
    }

    #[test]
    fn truncated_messages() {
        for end in 0..BASIC.len() {
            if let Some(prefix) = BASIC.get(..end) {
                assert!(parse(prefix).is_err(), "prefix of {end} bytes");
            }
        }
    }

    #[test]
    fn too_long() {
        let text = BASIC.replace(
            "Sign in to the example dApp.",
            &"a".repeat(crate::verify::MAX_MESSAGE_BYTES),
        );
        assert!(reason(&text).contains("longer"));
    }
}
