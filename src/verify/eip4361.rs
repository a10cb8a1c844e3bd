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
//! ASCII characters (`reserved / unreserved / " "`) and non-empty; the address is in EIP-55
//! checksum form or uniformly lower- or upper-case hex (as several wallets write it; mixed case
//! with a wrong checksum is refused), kept as written so the signed bytes are reproduced, and
//! shown in EIP-55 form by [`super::ParsedMessage::account`]; the domain is a browser origin's
//! `host[:port]` (no userinfo, no IPvFuture literal); URIs and resources follow RFC 3986.

use alloy_primitives::Address;

use super::error::VerifyError;
use super::grammar::{self, Field, Standard};

/// What EIP-4361 does differently from SIWS.
pub(crate) const EIP4361: Standard = Standard {
    header: " wants you to sign in with your Ethereum account:",
    is_address,
    bad_address: "line 2: the address is not an Ethereum address in EIP-55 checksum form or in \
                  uniformly lower- or upper-case hex",
    statement,
    keeps_empty_statement_line: true,
    required: &[
        Field::Uri,
        Field::Version,
        Field::ChainId,
        Field::Nonce,
        Field::IssuedAt,
    ],
    normalize_chain_id,
};

fn is_address(text: &str) -> bool {
    parse_address(text).is_some()
}

/// Line 3 is blank; line 4 is the statement or blank; after a statement, line 5 is blank.
fn statement<'a>(lines: &[&'a str]) -> Result<(Option<&'a str>, usize), VerifyError> {
    let line = |i: usize| lines.get(i).copied();
    if line(2) != Some("") {
        return Err(VerifyError::message("line 3 must be blank"));
    }
    match line(3) {
        Some("") => Ok((None, 4)),
        Some(statement) => {
            if line(4) != Some("") {
                return Err(VerifyError::message(
                    "line 5 must be blank (the statement is a single line)",
                ));
            }
            if !is_statement(statement) {
                return Err(VerifyError::message(
                    "line 4: the statement holds characters EIP-4361 does not allow",
                ));
            }
            Ok((Some(statement), 5))
        }
        None => Err(Field::Uri.missing()),
    }
}

/// EIP-4361 statement: `*( reserved / unreserved / " " )`, non-empty (an empty one would be an
/// extra blank line).
pub(crate) fn is_statement(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| grammar::is_reserved(c) || grammar::is_unreserved(c) || c == ' ')
}

/// EIP-4361 `chain-id = 1*DIGIT`, when it fits in a u64, normalized to plain decimal (`"01"` ->
/// `"1"`).
fn normalize_chain_id(s: &str) -> Option<String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok().map(|n| n.to_string())
}

/// An Ethereum address as a message or a client writes it: `0x` and 40 hex digits, either in
/// EIP-55 checksum form or uniformly lower- or upper-case (as some wallets send it: a single
/// case carries no checksum, so there is nothing to check). Mixed case is a checksum, and a
/// wrong one is refused: it is how a mistyped or altered address shows.
pub(crate) fn parse_address(text: &str) -> Option<Address> {
    let digits = text.strip_prefix("0x")?;
    let mut bytes = [0u8; 20];
    if digits.len() != 40 || hex::decode_to_slice(digits, &mut bytes).is_err() {
        return None;
    }
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper {
        Address::parse_checksummed(text, None).ok()
    } else {
        Some(Address::from(bytes))
    }
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
    fn uniform_case_addresses_parse_and_show_in_eip55() {
        const EIP55: &str = "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f";
        for written in [
            EIP55.to_owned(),
            EIP55.to_ascii_lowercase(),
            format!("0x{}", EIP55[2..].to_ascii_uppercase()),
        ] {
            let text = BASIC.replace(EIP55, &written);
            let m = parse(&text).unwrap_or_else(|e| panic!("{written}: {e}"));
            // Kept as written (the signed bytes), shown in EIP-55.
            assert_eq!(m.address, written);
            assert_eq!(m.to_text(), text);
            assert_eq!(m.account(), EIP55, "{written}");
        }
        // Digits only: no letters, so no case to check.
        let digits = "0x1234567890123456789012345678901234567890";
        let m = parse(&BASIC.replace(EIP55, digits)).unwrap();
        assert_eq!(m.account(), digits);
    }

    #[test]
    fn mixed_case_with_a_wrong_checksum_and_malformed_addresses() {
        for bad in [
            // One letter's case flipped: a checksum, and a wrong one.
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5F",
            "0x2e43d3c652f5abe5294517195c989ba0b4b67a5F",
            "0x2E43D3C652F5ABE5294517195C989BA0B4B67A5f",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f0",
            "0X2E43D3C652F5ABE5294517195C989BA0B4B67A5F",
            "2E43D3C652F5ABE5294517195C989BA0b4B67A5f",
            "0x2E43D3C652F5ABE5294517195C989BA0b4B67A5g",
            "0x 2E43D3C652F5ABE5294517195C989BA0b4B67A5",
        ] {
            let text = BASIC.replace("0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f", bad);
            assert!(reason(&text).contains("EIP-55"), "{bad}");
        }
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
