//! The line grammar both message formats share: the header line, the field lines
//! (`URI`, `Version`, `Chain ID`, `Nonce`, `Issued At`, `Expiration Time`, `Not Before`,
//! `Request ID`, `Resources`) in their one fixed order, and the RFC 3986 character classes the
//! EIP-4361 ABNF is written in.
//!
//! Errors name a line number or a field, never the text found there.

use super::timestamp::Timestamp;
use super::{Chain, VerifyError};

/// What ends the first line of an Ethereum message (after `[scheme "://"] domain`).
pub(crate) const ETHEREUM_HEADER: &str = " wants you to sign in with your Ethereum account:";
/// What ends the first line of a Solana message (after `[scheme "://"] domain`).
pub(crate) const SOLANA_HEADER: &str = " wants you to sign in with your Solana account:";

/// The shortest nonce EIP-4361 allows.
pub(crate) const MIN_NONCE_LEN: usize = 8;
/// The longest Solana chain id reference we take (CAIP-2 references are at most 32).
const MAX_SOLANA_CHAIN_REF: usize = 32;

// --- RFC 3986 character classes (ASCII only) ---

pub(crate) fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
}

pub(crate) fn is_sub_delim(c: char) -> bool {
    matches!(
        c,
        '!' | '$' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | ';' | '='
    )
}

pub(crate) fn is_gen_delim(c: char) -> bool {
    matches!(c, ':' | '/' | '?' | '#' | '[' | ']' | '@')
}

pub(crate) fn is_reserved(c: char) -> bool {
    is_gen_delim(c) || is_sub_delim(c)
}

/// Every `%` in `s` is followed by two hex digits.
fn percent_encoding_ok(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return false,
            }
        } else {
            i += 1;
        }
    }
    true
}

/// RFC 3986 `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// An RFC 3986 URI: `scheme ":"` and then only URI characters (unreserved, reserved, well-formed
/// percent-escapes), with at most one `#`. This is the character-level grammar; the
/// hierarchical parts are not taken apart.
pub(crate) fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    is_scheme(scheme)
        && rest
            .chars()
            .all(|c| is_unreserved(c) || is_reserved(c) || c == '%')
        && percent_encoding_ok(rest)
        && rest.matches('#').count() <= 1
}

/// RFC 3986 `pchar` (what a `Request ID` is made of).
fn is_pchars(s: &str) -> bool {
    s.chars()
        .all(|c| is_unreserved(c) || is_sub_delim(c) || matches!(c, ':' | '@' | '%'))
        && percent_encoding_ok(s)
}

/// An RFC 3986 `authority` without `userinfo`: `host [":" port]`, where host is an IP literal
/// (`[...]`), an IPv4 address or a reg-name. Userinfo (`user@host`) is refused: it has no place
/// in a sign-in domain and is a classic way to make a foreign host look like ours.
pub(crate) fn is_authority(s: &str) -> bool {
    let (host_ok, port) = if let Some(rest) = s.strip_prefix('[') {
        let Some((literal, after)) = rest.split_once(']') else {
            return false;
        };
        let literal_ok = !literal.is_empty()
            && literal
                .chars()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '.' | 'v' | 'V'));
        let port = if after.is_empty() {
            None
        } else if let Some(port) = after.strip_prefix(':') {
            Some(port)
        } else {
            return false;
        };
        (literal_ok, port)
    } else {
        let (host, port) = match s.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        };
        let reg_name_ok = !host.is_empty()
            && host
                .chars()
                .all(|c| is_unreserved(c) || is_sub_delim(c) || c == '%')
            && percent_encoding_ok(host);
        (reg_name_ok, port)
    };
    host_ok && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// The part of an authority used for comparisons: lowercased `host[:port]`.
pub(crate) fn normalize_authority(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The authority of a URI with `//` (`scheme://authority/...`), without userinfo; `None` for a
/// URI without one (`urn:...`, `mailto:...`).
pub(crate) fn uri_authority(uri: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = uri.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = rest.get(..end)?;
    let authority = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Some((scheme, authority))
}

/// The first line: `[scheme "://"] domain <suffix>`. Returns `(scheme, domain)`.
pub(crate) fn parse_header<'a>(
    line: &'a str,
    suffix: &str,
) -> Result<(Option<&'a str>, &'a str), VerifyError> {
    let prefix = line
        .strip_suffix(suffix)
        .ok_or_else(|| VerifyError::message(format!("line 1 must be `<domain>{suffix}`",)))?;
    let (scheme, domain) = match prefix.split_once("://") {
        Some((scheme, domain)) => {
            if !is_scheme(scheme) {
                return Err(VerifyError::message(
                    "line 1: malformed scheme before the domain",
                ));
            }
            (Some(scheme), domain)
        }
        None => (None, prefix),
    };
    if !is_authority(domain) {
        return Err(VerifyError::message(
            "line 1: the domain is not a valid host[:port] authority",
        ));
    }
    Ok((scheme, domain))
}

/// Writes the first two lines shared by both formats: `[scheme://]domain<header>` and the
/// address, without a trailing line break.
pub(crate) fn format_header(out: &mut String, m: &super::ParsedMessage, header: &str) {
    if let Some(scheme) = &m.scheme {
        out.push_str(scheme);
        out.push_str("://");
    }
    out.push_str(&m.domain);
    out.push_str(header);
    out.push('\n');
    out.push_str(&m.address);
}

/// EIP-4361 statement: `*( reserved / unreserved / " " )`, non-empty (an empty one would be an
/// extra blank line).
pub(crate) fn is_ethereum_statement(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| is_reserved(c) || is_unreserved(c) || c == ' ')
}

/// SIWS statement: the wallet standard restricts nothing but the line structure, so any text
/// a person can read on one line, non-empty: no character that [`hides_or_reorders`].
pub(crate) fn is_solana_statement(s: &str) -> bool {
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
pub(crate) fn hides_or_reorders(c: char) -> bool {
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

/// EIP-4361 `nonce = 8*( ALPHA / DIGIT )`.
pub(crate) fn is_nonce(s: &str) -> bool {
    s.len() >= MIN_NONCE_LEN && s.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Checks a chain id as written and returns its normalized form: Ethereum `1*DIGIT` that fits
/// in a u64, normalized to plain decimal (`"01"` -> `"1"`); Solana `[solana:]reference` with the
/// reference made of `[-_a-zA-Z0-9]{1,32}`, normalized without the `solana:` prefix.
pub(crate) fn normalize_chain_id(chain: Chain, s: &str) -> Option<String> {
    match chain {
        Chain::Ethereum => {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse::<u64>().ok().map(|n| n.to_string())
        }
        Chain::Solana => {
            let reference = s.strip_prefix("solana:").unwrap_or(s);
            let ok = !reference.is_empty()
                && reference.len() <= MAX_SOLANA_CHAIN_REF
                && reference
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
            ok.then(|| reference.to_owned())
        }
    }
}

/// The field lines, in the one order both formats use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Field {
    Uri,
    Version,
    ChainId,
    Nonce,
    IssuedAt,
    ExpirationTime,
    NotBefore,
    RequestId,
    Resources,
}

impl Field {
    const ALL: [Self; 9] = [
        Self::Uri,
        Self::Version,
        Self::ChainId,
        Self::Nonce,
        Self::IssuedAt,
        Self::ExpirationTime,
        Self::NotBefore,
        Self::RequestId,
        Self::Resources,
    ];

    /// The field's name as written before the colon.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Uri => "URI",
            Self::Version => "Version",
            Self::ChainId => "Chain ID",
            Self::Nonce => "Nonce",
            Self::IssuedAt => "Issued At",
            Self::ExpirationTime => "Expiration Time",
            Self::NotBefore => "Not Before",
            Self::RequestId => "Request ID",
            Self::Resources => "Resources",
        }
    }

    /// Which field a line is, and the value after `Name: `. `Resources:` takes no value.
    fn recognize(line: &str) -> Option<(Self, &str)> {
        if line == "Resources:" {
            return Some((Self::Resources, ""));
        }
        Self::ALL.into_iter().find_map(|field| {
            let rest = line.strip_prefix(field.name())?.strip_prefix(": ")?;
            (field != Self::Resources).then_some((field, rest))
        })
    }
}

/// The field lines of a message, each as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fields {
    pub uri: Option<String>,
    pub version: Option<String>,
    pub chain_id: Option<String>,
    pub nonce: Option<String>,
    pub issued_at: Option<Timestamp>,
    pub expiration_time: Option<Timestamp>,
    pub not_before: Option<Timestamp>,
    pub request_id: Option<String>,
    pub resources: Option<Vec<String>>,
}

impl Fields {
    /// Whether `field` was present.
    pub(crate) fn has(&self, field: Field) -> bool {
        match field {
            Field::Uri => self.uri.is_some(),
            Field::Version => self.version.is_some(),
            Field::ChainId => self.chain_id.is_some(),
            Field::Nonce => self.nonce.is_some(),
            Field::IssuedAt => self.issued_at.is_some(),
            Field::ExpirationTime => self.expiration_time.is_some(),
            Field::NotBefore => self.not_before.is_some(),
            Field::RequestId => self.request_id.is_some(),
            Field::Resources => self.resources.is_some(),
        }
    }

    /// Errors with "missing field" for the first of `required` that is absent.
    pub(crate) fn require(&self, required: &[Field]) -> Result<(), VerifyError> {
        match required.iter().find(|f| !self.has(**f)) {
            Some(f) => Err(VerifyError::message(format!(
                "the `{}` field is missing",
                f.name()
            ))),
            None => Ok(()),
        }
    }
}

/// Parses the field lines. `first_line` is the 1-based number of `lines[0]` in the message,
/// for error reasons. Every field at most once, in the fixed order; `Resources:` last, followed
/// only by `- <uri>` lines; no blank or unknown lines.
pub(crate) fn parse_fields(
    chain: Chain,
    lines: &[&str],
    first_line: usize,
) -> Result<Fields, VerifyError> {
    let mut fields = Fields::default();
    let mut last: Option<Field> = None;
    for (i, line) in lines.iter().enumerate() {
        let n = first_line + i;
        let at = |what: &str| VerifyError::message(format!("line {n}: {what}"));
        if let Some(resources) = fields.resources.as_mut() {
            let uri = line
                .strip_prefix("- ")
                .ok_or_else(|| at("only `- <uri>` lines may follow `Resources:`"))?;
            if !is_uri(uri) {
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
        if let Some(previous) = last {
            if field == previous {
                return Err(at(&format!("the `{}` field appears twice", field.name())));
            }
            if field < previous {
                return Err(at(&format!(
                    "the `{}` field is out of order (or repeated)",
                    field.name()
                )));
            }
        }
        last = Some(field);
        let invalid = || at(&format!("the `{}` value is not valid", field.name()));
        match field {
            Field::Uri => {
                if !is_uri(value) {
                    return Err(invalid());
                }
                fields.uri = Some(value.to_owned());
            }
            Field::Version => {
                if value != "1" {
                    return Err(at("unsupported `Version` (only 1 is defined)"));
                }
                fields.version = Some(value.to_owned());
            }
            Field::ChainId => {
                if normalize_chain_id(chain, value).is_none() {
                    return Err(invalid());
                }
                fields.chain_id = Some(value.to_owned());
            }
            Field::Nonce => {
                if !is_nonce(value) {
                    return Err(at("the `Nonce` must be at least 8 letters or digits"));
                }
                fields.nonce = Some(value.to_owned());
            }
            Field::IssuedAt | Field::ExpirationTime | Field::NotBefore => {
                let stamp = Timestamp::parse(value).ok_or_else(|| {
                    at(&format!(
                        "the `{}` value is not an RFC 3339 date-time",
                        field.name()
                    ))
                })?;
                let slot = match field {
                    Field::IssuedAt => &mut fields.issued_at,
                    Field::ExpirationTime => &mut fields.expiration_time,
                    _ => &mut fields.not_before,
                };
                *slot = Some(stamp);
            }
            Field::RequestId => {
                if !is_pchars(value) {
                    return Err(invalid());
                }
                fields.request_id = Some(value.to_owned());
            }
            Field::Resources => fields.resources = Some(Vec::new()),
        }
    }
    Ok(fields)
}

/// Writes the present fields, one per line, in the fixed order (no trailing newline).
pub(crate) fn format_fields(out: &mut String, fields: &Fields) {
    let mut lines: Vec<String> = Vec::new();
    let mut push = |name: &str, value: &str| lines.push(format!("{name}: {value}"));
    if let Some(v) = &fields.uri {
        push("URI", v);
    }
    if let Some(v) = &fields.version {
        push("Version", v);
    }
    if let Some(v) = &fields.chain_id {
        push("Chain ID", v);
    }
    if let Some(v) = &fields.nonce {
        push("Nonce", v);
    }
    if let Some(v) = &fields.issued_at {
        push("Issued At", v.as_str());
    }
    if let Some(v) = &fields.expiration_time {
        push("Expiration Time", v.as_str());
    }
    if let Some(v) = &fields.not_before {
        push("Not Before", v.as_str());
    }
    if let Some(v) = &fields.request_id {
        push("Request ID", v);
    }
    if let Some(resources) = &fields.resources {
        lines.push("Resources:".to_owned());
        lines.extend(resources.iter().map(|r| format!("- {r}")));
    }
    out.push_str(&lines.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        for ok in [
            "https://app.example.com/login",
            "ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "https://a.b/c?d=e&f=%20#frag",
            "http://[::1]:8080/",
        ] {
            assert!(is_uri(ok), "{ok}");
        }
        for bad in [
            "",
            "app.example.com",
            "://x",
            "1https://x",
            "https://a b",
            "https://x/%zz",
            "https://x/%2",
            "https://x/#a#b",
            "https://x/\u{e9}",
            "https://x/<script>",
        ] {
            assert!(!is_uri(bad), "{bad}");
        }
    }

    #[test]
    fn authorities() {
        for ok in [
            "app.example.com",
            "localhost:8080",
            "127.0.0.1",
            "[::1]",
            "[::1]:443",
            "xn--bcher-kva.example",
        ] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in [
            "",
            ":80",
            "host:",
            "host:8a",
            "user@host",
            "a b",
            "host/path",
            "[::1",
            "[]",
            "[::1]x",
            "h\u{e9}",
        ] {
            assert!(!is_authority(bad), "{bad}");
        }
    }

    #[test]
    fn uri_authority_strips_userinfo_and_path() {
        assert_eq!(
            uri_authority("https://u:p@App.example.com:8443/x?y#z"),
            Some(("https", "App.example.com:8443"))
        );
        assert_eq!(uri_authority("urn:x:y"), None);
        assert_eq!(uri_authority("https://h"), Some(("https", "h")));
    }

    #[test]
    fn chain_ids() {
        assert_eq!(
            normalize_chain_id(Chain::Ethereum, "137").as_deref(),
            Some("137")
        );
        assert_eq!(
            normalize_chain_id(Chain::Ethereum, "0137").as_deref(),
            Some("137")
        );
        assert_eq!(normalize_chain_id(Chain::Ethereum, ""), None);
        assert_eq!(normalize_chain_id(Chain::Ethereum, "+1"), None);
        assert_eq!(normalize_chain_id(Chain::Ethereum, "0x1"), None);
        assert_eq!(
            normalize_chain_id(Chain::Ethereum, "99999999999999999999999"),
            None
        );
        assert_eq!(
            normalize_chain_id(Chain::Solana, "solana:mainnet").as_deref(),
            Some("mainnet")
        );
        assert_eq!(
            normalize_chain_id(Chain::Solana, "devnet").as_deref(),
            Some("devnet")
        );
        assert_eq!(normalize_chain_id(Chain::Solana, "solana:"), None);
        assert_eq!(normalize_chain_id(Chain::Solana, "main net"), None);
    }

    #[test]
    fn nonces() {
        assert!(is_nonce("abcd1234"));
        assert!(!is_nonce("abc1234"));
        assert!(!is_nonce("abcd-1234"));
        assert!(!is_nonce("abcd\u{e9}1234"));
    }

    #[test]
    fn statements() {
        assert!(is_ethereum_statement(
            "I accept the Terms of Service: https://example.com/tos"
        ));
        assert!(!is_ethereum_statement(""));
        assert!(!is_ethereum_statement("tab\there"));
        assert!(!is_ethereum_statement("caf\u{e9}"));
        assert!(is_solana_statement("caf\u{e9} \u{1f600}"));
        assert!(!is_solana_statement("a\rb"));
        assert!(!is_solana_statement(""));
        // Emoji sequences keep their zero-width joiner.
        assert!(is_solana_statement(
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
            assert!(!is_solana_statement(&text), "U+{:04X}", u32::from(c));
            assert!(!is_ethereum_statement(&text), "U+{:04X}", u32::from(c));
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
        let fields = parse_fields(Chain::Solana, &ok, 4).unwrap();
        assert_eq!(fields.resources, Some(vec!["https://x.y/".to_owned()]));
        let mut out = String::new();
        format_fields(&mut out, &fields);
        assert_eq!(out, ok.join("\n"));

        let dup = ["Nonce: abcdefgh", "Nonce: abcdefgh"];
        let err = parse_fields(Chain::Solana, &dup, 4).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
        let reordered = ["Version: 1", "URI: https://a.b/"];
        let err = parse_fields(Chain::Solana, &reordered, 4).unwrap_err();
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
            assert!(parse_fields(Chain::Solana, bad, 4).is_err(), "{bad:?}");
        }
    }
}
