//! What EIP-4361 and SIWS messages share: the header line's shape, the field lines (`URI`,
//! `Version`, `Chain ID`, `Nonce`, `Issued At`, `Expiration Time`, `Not Before`, `Request ID`,
//! `Resources`) with their names and their one fixed order ([`Field`]), the values' grammars,
//! and the RFC 3986 character classes the EIP-4361 ABNF is written in. What the two formats do
//! differently is listed in one [`Standard`] each (`eip4361.rs`, `siws.rs`); `message.rs` reads
//! and writes a message with the two.
//!
//! Errors name a line number or a field, never the text found there.

use iri_string::spec::UriSpec;
use iri_string::types::UriStr;

use super::error::VerifyError;

/// The shortest nonce EIP-4361 allows.
pub(crate) const MIN_NONCE_LEN: usize = 8;

/// Given every line of a message, its statement (if any) and the index of its first field line.
pub(crate) type SplitStatement =
    for<'a> fn(&[&'a str]) -> Result<(Option<&'a str>, usize), VerifyError>;

/// What one message format does differently from the other; everything else is this module's.
pub(crate) struct Standard {
    /// What ends the first line (after `[scheme "://"] domain`).
    pub header: &'static str,
    /// Whether line 2 is an address of this format.
    pub is_address: fn(&str) -> bool,
    /// The reason given when it is not.
    pub bad_address: &'static str,
    /// The lines between the address and the fields.
    pub statement: SplitStatement,
    /// Whether a message without a statement keeps the statement's (empty) line.
    pub keeps_empty_statement_line: bool,
    /// The fields a message must have, in order.
    pub required: &'static [Field],
    /// A `Chain ID` as written, checked and normalized for comparisons; `None` when invalid.
    pub normalize_chain_id: fn(&str) -> Option<String>,
}

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
pub(crate) fn is_pchars(s: &str) -> bool {
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

/// EIP-4361 `nonce = 8*( ALPHA / DIGIT )`.
pub(crate) fn is_nonce(s: &str) -> bool {
    s.len() >= MIN_NONCE_LEN && s.chars().all(|c| c.is_ascii_alphanumeric())
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
    /// Every field, in the order a message writes them.
    pub(crate) const ALL: [Self; 9] = [
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

    /// The field's name as written before the colon (the only place it is spelled).
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

    /// Whether the field is the `Resources:` line, which takes no value: its values are the
    /// `- <uri>` lines that follow it.
    pub(crate) fn is_list(self) -> bool {
        self == Self::Resources
    }

    /// Which field a line is, and the value after `Name: ` (`Name:` alone for the list).
    pub(crate) fn recognize(line: &str) -> Option<(Self, &str)> {
        Self::ALL.into_iter().find_map(|field| {
            let rest = line.strip_prefix(field.name())?.strip_prefix(':')?;
            if field.is_list() {
                rest.is_empty().then_some((field, rest))
            } else {
                rest.strip_prefix(' ').map(|value| (field, value))
            }
        })
    }

    /// The refusal of a message without this field.
    pub(crate) fn missing(self) -> VerifyError {
        VerifyError::message(format!("the `{}` field is missing", self.name()))
    }
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
    fn nonces() {
        assert!(is_nonce("abcd1234"));
        assert!(!is_nonce("abc1234"));
        assert!(!is_nonce("abcd-1234"));
        assert!(!is_nonce("abcd\u{e9}1234"));
    }
}
