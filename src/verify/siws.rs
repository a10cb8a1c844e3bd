//! Sign In With Solana messages: the text the wallet standard's `createSignInMessageText`
//! writes for `solana:signIn`, parsed and formatted.
//!
//! ```text
//! [scheme "://"] domain " wants you to sign in with your Solana account:" LF
//! address
//! [ LF LF statement ]
//! [ LF LF field *( LF field ) ]      ; URI, Version, Chain ID, Nonce, Issued At,
//!                                    ; Expiration Time, Not Before, Request ID, Resources
//! ```
//!
//! Every field is optional in the standard; we require `Nonce` (a message without one is
//! `invalid_message`: without a nonce there is no replay protection, so it is not a sign-in we
//! can accept). `Version`, when present, must be `1`. The address must be base58 of exactly 32
//! bytes. The statement is a single line without control characters. When the line after the
//! address's blank line is followed by another blank line it is the statement; otherwise it
//! starts the fields (fields never contain blank lines, so this is unambiguous).

use super::grammar::{self, Field, SOLANA_HEADER};
use super::{solana, Chain, ParsedMessage, VerifyError};

/// Parses a SIWS message (already checked for size, `\r` and a trailing newline).
pub(crate) fn parse(text: &str) -> Result<ParsedMessage, VerifyError> {
    let lines: Vec<&str> = text.split('\n').collect();
    let line = |i: usize| lines.get(i).copied();
    let header = line(0).unwrap_or_default();
    let (scheme, domain) = grammar::parse_header(header, SOLANA_HEADER)?;

    let address = line(1).ok_or_else(|| VerifyError::message("line 2 (the address) is missing"))?;
    if solana::decode_public_key(address).is_err() {
        return Err(VerifyError::message(
            "line 2: the address is not base58 of a 32-byte public key",
        ));
    }
    let (statement, first_field) = match (line(2), line(3), line(4)) {
        (None, _, _) => (None, 2),
        (Some(""), Some(statement), Some("")) if !statement.is_empty() => {
            if !grammar::is_solana_statement(statement) {
                return Err(VerifyError::message(
                    "line 4: the statement contains control characters",
                ));
            }
            (Some(statement), 5)
        }
        (Some(""), Some(first), _) if !first.is_empty() => (None, 3),
        (Some(""), _, _) => return Err(VerifyError::message("line 4: unexpected blank line")),
        (Some(_), _, _) => return Err(VerifyError::message("line 3 must be blank")),
    };
    if first_field == 5 && line(5).is_none() {
        return Err(VerifyError::message("the message ends with a blank line"));
    }
    let field_lines = lines.get(first_field..).unwrap_or_default();
    let fields = grammar::parse_fields(Chain::Solana, field_lines, first_field + 1)?;
    fields.require(&[Field::Nonce])?;
    ParsedMessage::assemble(Chain::Solana, scheme, domain, address, statement, fields)
}

/// Formats a message as `createSignInMessageText` does.
pub(crate) fn format(m: &ParsedMessage) -> String {
    let mut out = String::with_capacity(256);
    grammar::format_header(&mut out, m, SOLANA_HEADER);
    if let Some(statement) = &m.statement {
        out.push_str("\n\n");
        out.push_str(statement);
    }
    // A parsed message always has at least its nonce, so there is always a fields block.
    out.push_str("\n\n");
    grammar::format_fields(&mut out, &m.fields());
    out
}

#[cfg(test)]
mod tests {
    use crate::verify::{parse_message, Chain, ParsedMessage, VerifyError};

    const ALL: &str = "app.example.com wants you to sign in with your Solana account:\n\
        3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2\n\n\
        I accept the Terms of Service: https://example.com/tos\n\n\
        URI: https://app.example.com/login\n\
        Version: 1\n\
        Chain ID: solana:mainnet\n\
        Nonce: sharedNonce0033abcXYZ\n\
        Issued At: 2026-11-22T12:00:00.000Z\n\
        Expiration Time: 2026-11-22T12:30:00.000Z\n\
        Not Before: 2026-11-22T11:59:00.000Z\n\
        Request ID: login-request-0042\n\
        Resources:\n\
        - https://app.example.com/terms";

    const HEAD: &str = "app.example.com wants you to sign in with your Solana account:\n\
        3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2";

    fn parse(text: &str) -> Result<ParsedMessage, VerifyError> {
        parse_message(Chain::Solana, text)
    }

    fn reason(text: &str) -> String {
        match parse(text) {
            Err(VerifyError::InvalidMessage(reason)) => reason,
            other => panic!("expected invalid_message, got {other:?}"),
        }
    }

    #[test]
    fn all_fields_round_trip() {
        let m = parse(ALL).unwrap();
        assert_eq!(m.chain_id.as_deref(), Some("solana:mainnet"));
        assert_eq!(m.normalized_chain_id().as_deref(), Some("mainnet"));
        assert_eq!(
            m.statement.as_deref(),
            Some("I accept the Terms of Service: https://example.com/tos")
        );
        assert_eq!(m.to_text(), ALL);
    }

    #[test]
    fn only_a_nonce() {
        let text = format!("{HEAD}\n\nNonce: abcdefgh");
        let m = parse(&text).unwrap();
        assert_eq!(m.statement, None);
        assert_eq!(m.uri, None);
        assert_eq!(m.chain_id, None);
        assert_eq!(m.to_text(), text);
        let text = format!("{HEAD}\n\nHello\n\nNonce: abcdefgh");
        let m = parse(&text).unwrap();
        assert_eq!(m.statement.as_deref(), Some("Hello"));
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn statement_that_looks_like_a_field() {
        let text = format!("{HEAD}\n\nNonce: notthisone\n\nNonce: abcdefgh");
        let m = parse(&text).unwrap();
        assert_eq!(m.statement.as_deref(), Some("Nonce: notthisone"));
        assert_eq!(m.nonce, "abcdefgh");
        assert_eq!(m.to_text(), text);
    }

    #[test]
    fn nonce_is_required() {
        assert!(reason(HEAD).contains("Nonce"));
        assert!(reason(&format!("{HEAD}\n\nHello")).contains("unknown"));
        assert!(reason(&format!("{HEAD}\n\nURI: https://a.b/")).contains("Nonce"));
    }

    #[test]
    fn address_must_be_32_bytes() {
        let text = ALL.replace(
            "3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2",
            "13RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2",
        );
        assert!(reason(&text).contains("32-byte"));
        let text = ALL.replace("3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2", "3RJt0vq");
        assert!(reason(&text).contains("32-byte"));
    }

    #[test]
    fn version_must_be_1() {
        assert!(reason(&ALL.replace("Version: 1", "Version: 2")).contains("Version"));
    }

    #[test]
    fn structure_errors() {
        for text in [
            format!("{HEAD}\n\n\nNonce: abcdefgh"),
            format!("{HEAD}\nNonce: abcdefgh"),
            format!("{HEAD}\n\nHello\n\n\nNonce: abcdefgh"),
            format!("{HEAD}\n\nHello\n\n"),
            format!("{HEAD}\n\nNonce: abcdefgh\n\nURI: https://a.b/"),
            format!("{HEAD}\n\nNonce: abcdefgh\nNonce: abcdefgh"),
            format!("{HEAD}\n\nNonce: abcdefgh\nURI: https://a.b/"),
            format!("{HEAD}\n\nHello\x07\n\nNonce: abcdefgh"),
            ALL.replace("Solana account", "Ethereum account"),
        ] {
            parse(&text).unwrap_err();
        }
    }

    #[test]
    fn chain_id_forms() {
        assert!(parse(&ALL.replace("solana:mainnet", "devnet")).is_ok());
        assert!(parse(&ALL.replace("solana:mainnet", "solana:")).is_err());
        assert!(parse(&ALL.replace("solana:mainnet", "eip155:1")).is_err());
    }
}
