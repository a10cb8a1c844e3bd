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

use super::error::VerifyError;
use super::grammar::{Field, Standard};
use super::solana;

/// What SIWS does differently from EIP-4361.
pub(crate) const SIWS: Standard = Standard {
    header: " wants you to sign in with your Solana account:",
    is_address,
    bad_address: "line 2: the address is not base58 of a 32-byte public key",
    statement,
    keeps_empty_statement_line: false,
    required: &[Field::Nonce],
    normalize_chain_id: normalize_solana_chain_id,
};

fn is_address(text: &str) -> bool {
    solana::decode_public_key(text).is_ok()
}

/// Nothing after the address, or a blank line and then either the fields, or the statement, a
/// blank line and the fields.
fn statement<'a>(lines: &[&'a str]) -> Result<(Option<&'a str>, usize), VerifyError> {
    let line = |i: usize| lines.get(i).copied();
    let (statement, first_field) = match (line(2), line(3), line(4)) {
        (None, _, _) => (None, 2),
        (Some(""), Some(statement), Some("")) if !statement.is_empty() => {
            if !is_statement(statement) {
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
    Ok((statement, first_field))
}

/// SIWS statement: the wallet standard restricts nothing but the line structure, so any text
/// a person can read on one line, non-empty: no character that [`hides_or_reorders`].
pub(crate) fn is_statement(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(hides_or_reorders)
}

/// Characters that change what a person sees in a wallet's prompt without being visible
/// themselves: controls (line breaks included), the Unicode line and paragraph separators
/// (U+2028, U+2029: a second line the parser does not see), the bidirectional controls
/// (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069: text that displays in another order
/// than it is signed), and invisible characters with no place in a sentence (U+200B zero-width
/// space, U+2060–U+2064 word joiner and invisible operators, U+FEFF byte-order mark, U+FFF9–U+FFFB
/// interlinear annotation, the U+E0000 tag block outside emoji tag sequences, which a statement
/// has no use for). Zero-width (non-)joiners stay allowed: emoji and several scripts need them.
fn hides_or_reorders(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{061C}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// The SIWS chain ids (the ABNF's `message-chain-id`) are configuration's vocabulary too
/// (`SOLANA_CHAIN_IDS`): one list, kept with the configuration that every layer reads.
pub use crate::config::normalize_solana_chain_id;

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
