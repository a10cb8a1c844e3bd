//! The line grammar both message formats share: the header line, the field lines
//! (`URI`, `Version`, `Chain ID`, `Nonce`, `Issued At`, `Expiration Time`, `Not Before`,
//! `Request ID`, `Resources`) in their one fixed order, and the RFC 3986 character classes the
//! EIP-4361 ABNF is written in.
//!
//! Errors name a line number or a field, never the text found there.

use iri_string::spec::UriSpec;
use iri_string::types::UriStr;

use super::timestamp::Timestamp;
use super::{Chain, VerifyError};
use crate::config::normalize_solana_chain_id;

/// What ends the first line of an Ethereum message (after `[scheme "://"] domain`).
pub(crate) const ETHEREUM_HEADER: &str = " wants you to sign in with your Ethereum account:";
/// What ends the first line of a Solana message (after `[scheme "://"] domain`).
pub(crate) const SOLANA_HEADER: &str = " wants you to sign in with your Solana account:";

/// The shortest nonce EIP-4361 allows.
pub(crate) const MIN_NONCE_LEN: usize = 8;

// --- RFC 3986 ---
//
// URIs, resources and the domain's authority are checked against the full RFC 3986 grammar by
// `iri-string` (IP literals included: `[::0.0.0.256]` is refused, `[2001:db8::7]` accepted).
// The character classes below are for what RFC 3986 has no production of its own here: the
// EIP-4361 statement and the `Request ID` (`*pchar`).

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
    iri_string::validate::scheme(s).is_ok()
}

/// An RFC 3986 `URI` (`scheme ":" hier-part [ "?" query ] [ "#" fragment ]`), by the full
/// grammar: authority (userinfo, IP literal with a valid IPv6 or IPv4 address, IPvFuture,
/// reg-name, port), path, query and fragment. ASCII only (no IRIs), no relative references.
pub(crate) fn is_uri(s: &str) -> bool {
    UriStr::new(s).is_ok()
}

/// RFC 3986 `pchar` (what a `Request ID` is made of).
fn is_pchars(s: &str) -> bool {
    s.chars()
        .all(|c| is_unreserved(c) || is_sub_delim(c) || matches!(c, ':' | '@' | '%'))
        && percent_encoding_ok(s)
}

/// The domain of a sign-in message: an RFC 3986 `authority` restricted to what a browser origin
/// can be, `host [":" port]` with a non-empty host and, when the colon is there, a non-empty
/// port. The host is a reg-name, an IPv4 address or an IPv6 literal (checked by the RFC 3986
/// grammar). Refused: userinfo (`user@host`: no origin has one, and it is a classic way to make
/// a foreign host look like ours) and IPvFuture literals (`[v1.x]`: no browser origin has one).
pub(crate) fn is_authority(s: &str) -> bool {
    if s.contains('@') || iri_string::validate::authority::<UriSpec>(s).is_err() {
        return false;
    }
    let (host, port) = split_host_port(s);
    let future = host.starts_with("[v") || host.starts_with("[V");
    !host.is_empty() && !future && port.is_none_or(|p| !p.is_empty())
}

/// `host` and `port` of an authority without userinfo that RFC 3986 accepts (an IP literal's
/// colons are inside its brackets).
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    let host_end = if authority.starts_with('[') {
        authority.find(']').map_or(authority.len(), |i| i + 1)
    } else {
        authority.find(':').unwrap_or(authority.len())
    };
    let (host, rest) = authority.split_at(host_end);
    (host, rest.strip_prefix(':'))
}

/// The part of an authority used for comparisons: lowercased `host[:port]`.
pub(crate) fn normalize_authority(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// The scheme and the authority, without userinfo (`host[:port]`), of a URI that has an
/// authority (`scheme://authority/...`); `None` for a URI without one (`urn:...`,
/// `mailto:...`) or for text that is not an RFC 3986 URI.
pub(crate) fn uri_authority(uri: &str) -> Option<(&str, &str)> {
    let uri = UriStr::new(uri).ok()?;
    let authority = uri.authority_str()?;
    let host_port = authority
        .split_once('@')
        .map_or(authority, |(_userinfo, host_port)| host_port);
    Some((uri.scheme_str(), host_port))
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
/// in a u64, normalized to plain decimal (`"01"` -> `"1"`); Solana one of the SIWS ABNF's values
/// (`mainnet`, `testnet`, `devnet`, `localnet`, `solana:mainnet`, `solana:testnet`,
/// `solana:devnet`; there is no `solana:localnet`), normalized without the `solana:` prefix.
pub(crate) fn normalize_chain_id(chain: Chain, s: &str) -> Option<String> {
    match chain {
        Chain::Ethereum => {
            if s.is_empty() || !s.chars().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse::<u64>().ok().map(|n| n.to_string())
        }
        Chain::Solana => normalize_solana_chain_id(s),
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
            // Every component may be empty.
            "x:",
            "x://",
            "x://@",
            "x://:",
            "x://@:",
            "x:?",
            "x:#",
            "x:///",
            // IP literals and addresses.
            "x://[2001:db8::7]",
            "x://[2001:db8::1]:80",
            "x://[::ffff:129.144.52.38]",
            "x://[2606:2800:220:1:248:1893:25c8:1946]/test",
            "x://[1:2:3:4:5:6:7:8]",
            "x://[1:2:3:4:5:6::]",
            "x://[::]",
            "x://[fe80::1:2:3:4:5]",
            "x://[v7.a:b!$]",
            "x://10.10.10.10",
            "x://010.0.00.000",
            "x://300.1.1.1",
            "x://10.10.10.10.example.com/en/process",
            // Userinfo, query and fragment characters.
            "x://user:pass@example.com:123/one/two.three?q1=a1&q2=a2#body",
            "x://a/b?c=/?:@#/?:@",
            "x://%41%62/%7e",
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
            "https://x/a b?c",
            "https://x/a?b #c",
            "https://x/a|b",
            "https://x/^",
            "https://x/`",
            "https://x/{a}",
            "https://x:8a/",
            "https://a@b@c/",
            // Malformed IP literals.
            "x://[::0.0.0.256]/p",
            "x://[::300.0.0.0]",
            "x://[::0.ff.0.255]",
            "x://[::.0.255.0]",
            "x://[ffff:abcd:0:10:200:3000:f8a:1:ffff]",
            "x://[ffff:abcd:0:10:200:3000:f8a]",
            "x://[ffff:abcd:0:10:200:3000:ff:255.255.255.255]",
            "x://[::1:2:3:4:5:6:7:8]",
            "x://[::1:2:3:4:5:6:198.162.10.255]",
            "x://[1:2:3:4:5:6:7:8::]",
            "x://[1:2:3:4:5:6::198.162.10.255]",
            "x://[1:2:3:4:5::6:7:8]",
            "x://[1::2::3]",
            "x://[12345::]",
            "x://[::1",
            "x://::1]",
            "x://[]",
            "x://[v.x]",
            "x://[vz.x]",
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
            "[2001:db8::7]:8443",
            "[::ffff:129.144.52.38]",
            "xn--bcher-kva.example",
            "%61pp.example",
            "a!$&'()*+,;=b.example",
        ] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in [
            "",
            ":80",
            "host:",
            "host:8a",
            "host:80:80",
            "user@host",
            "user:pass@host:80",
            "@host",
            "a b",
            "host/path",
            "host?q",
            "host#f",
            "[::1",
            "[]",
            "[::1]x",
            "[::1]:",
            "[::0.0.0.256]",
            "[1:2:3:4:5:6:7:8:9]",
            "[v1.future]",
            "[V1.future]:80",
            "h\u{e9}",
            "h%zz",
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
        assert_eq!(
            uri_authority("https://[2001:db8::7]:8443/p"),
            Some(("https", "[2001:db8::7]:8443"))
        );
        assert_eq!(uri_authority("https://a@b@c/"), None);
        assert_eq!(uri_authority("https://x/a b"), None);
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
            assert_eq!(
                normalize_chain_id(Chain::Solana, written).as_deref(),
                Some(normalized)
            );
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
            assert_eq!(normalize_chain_id(Chain::Solana, bad), None, "{bad}");
        }
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
