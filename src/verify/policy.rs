//! What the server requires of a signed message beyond its form and signature: our domain, an
//! allowed chain, time bounds, and the nonce we issued. Every input is explicit: a check
//! without its input is an error ([`VerifyError::MissingPolicy`]), never a silent skip.

use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use super::chain::Chain;
use super::error::VerifyError;
use super::grammar;
use super::message::{standard, ParsedMessage};
use super::timestamp::Timestamp;

/// Which chain ids are accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainIdPolicy {
    /// Any chain id.
    Any,
    /// Only these: Ethereum ids as decimal strings (`"1"`, `"137"`), Solana ids like
    /// `"mainnet"` (a `solana:` prefix, in the list or in a message, is ignored). A SIWS message
    /// without a `Chain ID` is accepted.
    Only(Vec<String>),
}

/// How the message's nonce is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoncePolicy {
    /// The nonce must equal this one (compared in constant time).
    Expect(String),
    /// The caller checks the nonce itself (e.g. consumes it atomically in its store) with the
    /// nonce of the verified message ([`super::SignIn::message`]).
    ReturnToCaller,
}

/// The checks applied to a message after its signature is verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Accepted domains, `host[:port]`, compared case-insensitively (a `scheme://` prefix, here
    /// or in the message, is ignored). Never empty.
    pub domains: Vec<String>,
    /// Accepted chain ids.
    pub chain_ids: ChainIdPolicy,
    /// The current time (verification never reads the clock).
    pub now: OffsetDateTime,
    /// How far the signer's clock may be from ours, both ways: `Issued At` may be up to this
    /// far in the future, and (with [`Policy::nonce_issued_at`]) up to this far before the
    /// nonce was issued.
    pub skew: Duration,
    /// When set, `Issued At` older than `now - max_age` is expired.
    pub max_age: Option<Duration>,
    /// When set (a sign-in with a nonce this server issued at that time), `Issued At` earlier
    /// than this minus `skew` is expired: a message is not written before its nonce exists.
    pub nonce_issued_at: Option<OffsetDateTime>,
    /// How the nonce is checked.
    pub nonce: NoncePolicy,
    /// Whether the `URI`'s authority must also be one of `domains`.
    pub strict_uri_origin: bool,
    /// The scheme the server is reached with (`https`, from its own URI), compared
    /// case-insensitively: an EIP-4361 scheme prefix must equal it, and so must the `URI`'s
    /// scheme when the URI origin is checked. `None`: any scheme.
    pub scheme: Option<String>,
}

impl Policy {
    /// A policy with no maximum age and a URI that may have any origin.
    ///
    /// # Errors
    /// [`VerifyError::MissingPolicy`] when `domains` is empty, `chain_ids` is an empty
    /// allow-list, or the expected nonce is empty.
    pub fn new(
        domains: Vec<String>,
        chain_ids: ChainIdPolicy,
        now: OffsetDateTime,
        skew: Duration,
        nonce: NoncePolicy,
    ) -> Result<Self, VerifyError> {
        let policy = Self {
            domains,
            chain_ids,
            now,
            skew,
            max_age: None,
            nonce_issued_at: None,
            nonce,
            strict_uri_origin: false,
            scheme: None,
        };
        policy.validate()?;
        Ok(policy)
    }

    /// Sets the maximum age of `Issued At`.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    /// Sets when the message's nonce was issued: `Issued At` may not be earlier than that
    /// minus the skew.
    #[must_use]
    pub fn with_nonce_issued_at(mut self, issued_at: OffsetDateTime) -> Self {
        self.nonce_issued_at = Some(issued_at);
        self
    }

    /// Requires (or not) the `URI`'s authority to be one of the domains.
    #[must_use]
    pub fn with_strict_uri_origin(mut self, strict: bool) -> Self {
        self.strict_uri_origin = strict;
        self
    }

    /// Requires messages to use `scheme` (the scheme of the server's own URI): the EIP-4361
    /// scheme prefix, when written, and the `URI`'s scheme when the URI origin is checked.
    #[must_use]
    pub fn with_scheme(mut self, scheme: impl Into<String>) -> Self {
        self.scheme = Some(scheme.into());
        self
    }

    /// Checks that every input is there (the fields are public, so this runs on every
    /// verification too).
    pub(crate) fn validate(&self) -> Result<(), VerifyError> {
        if self.domains.is_empty() || self.domains.iter().any(|d| strip_scheme(d).is_empty()) {
            return Err(VerifyError::MissingPolicy("domains"));
        }
        if matches!(&self.chain_ids, ChainIdPolicy::Only(ids) if ids.is_empty()) {
            return Err(VerifyError::MissingPolicy("chain ids"));
        }
        if matches!(&self.nonce, NoncePolicy::Expect(n) if n.is_empty()) {
            return Err(VerifyError::MissingPolicy("expected nonce"));
        }
        if matches!(&self.scheme, Some(s) if !grammar::is_scheme(s)) {
            return Err(VerifyError::MissingPolicy("scheme"));
        }
        Ok(())
    }

    /// Domain, then chain id, then time, then nonce.
    pub(crate) fn check(&self, m: &ParsedMessage) -> Result<(), VerifyError> {
        self.check_domain(m)?;
        self.check_chain(m)?;
        self.check_time(m)?;
        self.check_nonce(&m.nonce)
    }

    fn domain_allowed(&self, authority: &str) -> bool {
        let wanted = grammar::normalize_authority(authority);
        self.domains
            .iter()
            .any(|d| grammar::normalize_authority(strip_scheme(d)) == wanted)
    }

    fn scheme_allowed(&self, scheme: &str) -> bool {
        self.scheme
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(scheme))
    }

    fn check_domain(&self, m: &ParsedMessage) -> Result<(), VerifyError> {
        if !self.domain_allowed(&m.domain) {
            return Err(VerifyError::DomainMismatch);
        }
        if let Some(prefix) = &m.scheme {
            if !self.scheme_allowed(prefix) {
                return Err(VerifyError::DomainMismatch);
            }
        }
        if self.strict_uri_origin {
            // EIP-4361 always has a URI; a SIWS message may leave it out, and then there is no
            // origin to check. A URI that is there must be `scheme://authority` with our scheme
            // and one of our domains as its authority.
            let uri_ok = match m.uri.as_deref() {
                None => m.chain == Chain::Solana,
                Some(uri) => grammar::uri_authority(uri).is_some_and(|(scheme, authority)| {
                    self.scheme_allowed(scheme)
                        && (self.domain_allowed(authority)
                            || without_default_port(scheme, authority)
                                .is_some_and(|host| self.domain_allowed(host)))
                }),
            };
            if !uri_ok {
                return Err(VerifyError::DomainMismatch);
            }
        }
        Ok(())
    }

    fn check_chain(&self, m: &ParsedMessage) -> Result<(), VerifyError> {
        let ChainIdPolicy::Only(allowed) = &self.chain_ids else {
            return Ok(());
        };
        let Some(id) = m.normalized_chain_id() else {
            // Only SIWS messages can lack a chain id; the standard makes it optional.
            return match m.chain {
                Chain::Solana if m.chain_id.is_none() => Ok(()),
                _ => Err(VerifyError::ChainNotAllowed),
            };
        };
        let normalize = standard(m.chain).normalize_chain_id;
        let listed = allowed
            .iter()
            .any(|a| normalize(a.trim()).is_some_and(|a| a == id));
        if listed {
            Ok(())
        } else {
            Err(VerifyError::ChainNotAllowed)
        }
    }

    fn check_time(&self, m: &ParsedMessage) -> Result<(), VerifyError> {
        let now = self.now;
        // A message that expires when or before it is issued, or before it becomes valid, is
        // never valid, whatever the clock says: expired.
        if let Some(exp) = m.expiration_time.as_ref().map(Timestamp::value) {
            let issued_later = m.issued_at.as_ref().is_some_and(|iat| iat.value() >= exp);
            let valid_later = m.not_before.as_ref().is_some_and(|nbf| nbf.value() >= exp);
            if issued_later || valid_later {
                return Err(VerifyError::MessageExpired);
            }
        }
        if let Some(exp) = &m.expiration_time {
            if now >= exp.value() {
                return Err(VerifyError::MessageExpired);
            }
        }
        if let Some(nbf) = &m.not_before {
            if now < nbf.value() {
                return Err(VerifyError::MessageNotYetValid);
            }
        }
        if let Some(iat) = &m.issued_at {
            let iat = iat.value();
            if let Some(latest) = now.checked_add(self.skew) {
                if iat > latest {
                    return Err(VerifyError::MessageNotYetValid);
                }
            }
            if let Some(oldest) = self.max_age.and_then(|age| now.checked_sub(age)) {
                if iat < oldest {
                    return Err(VerifyError::MessageExpired);
                }
            }
            if let Some(oldest) = self
                .nonce_issued_at
                .and_then(|issued| issued.checked_sub(self.skew))
            {
                if iat < oldest {
                    return Err(VerifyError::MessageExpired);
                }
            }
        }
        Ok(())
    }

    fn check_nonce(&self, nonce: &str) -> Result<(), VerifyError> {
        match &self.nonce {
            NoncePolicy::ReturnToCaller => Ok(()),
            NoncePolicy::Expect(expected) => {
                if bool::from(expected.as_bytes().ct_eq(nonce.as_bytes())) {
                    Ok(())
                } else {
                    Err(VerifyError::NonceInvalid)
                }
            }
        }
    }
}

fn strip_scheme(domain: &str) -> &str {
    domain.split_once("://").map_or(domain, |(_, rest)| rest)
}

/// `host` from `host:443` for https/wss or `host:80` for http/ws.
fn without_default_port<'a>(scheme: &str, authority: &'a str) -> Option<&'a str> {
    let (host, port) = authority.rsplit_once(':')?;
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => "443",
        "http" | "ws" => "80",
        _ => return None,
    };
    (port == default).then_some(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::parse_message;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:30 UTC);

    fn eth(extra: &str) -> ParsedMessage {
        let text = format!(
            "app.example.com wants you to sign in with your Ethereum account:\n\
             0x2E43D3C652F5ABE5294517195C989BA0b4B67A5f\n\n\n\
             URI: https://app.example.com/login\nVersion: 1\nChain ID: 137\n\
             Nonce: abcdefgh1234\nIssued At: 2026-11-22T12:00:00.000Z{extra}"
        );
        parse_message(Chain::Ethereum, &text).unwrap()
    }

    fn sol(chain_id: Option<&str>) -> ParsedMessage {
        let chain = chain_id
            .map(|c| format!("Chain ID: {c}\n"))
            .unwrap_or_default();
        let text = format!(
            "app.example.com wants you to sign in with your Solana account:\n\
             3RJt2vqAPYifcPdw3TkB8GHNKqPdayWXiCPNKJjNVuL2\n\n\
             URI: https://app.example.com/login\nVersion: 1\n{chain}\
             Nonce: abcdefgh1234\nIssued At: 2026-11-22T12:00:00.000Z"
        );
        parse_message(Chain::Solana, &text).unwrap()
    }

    fn policy() -> Policy {
        Policy::new(
            vec!["App.Example.com".into()],
            ChainIdPolicy::Any,
            NOW,
            Duration::seconds(60),
            NoncePolicy::ReturnToCaller,
        )
        .unwrap()
    }

    #[test]
    fn missing_inputs_are_errors() {
        let new = |domains: Vec<String>, chains, nonce| {
            Policy::new(domains, chains, NOW, Duration::seconds(60), nonce)
        };
        assert_eq!(
            new(vec![], ChainIdPolicy::Any, NoncePolicy::ReturnToCaller),
            Err(VerifyError::MissingPolicy("domains"))
        );
        assert_eq!(
            new(
                vec!["https://".into()],
                ChainIdPolicy::Any,
                NoncePolicy::ReturnToCaller
            ),
            Err(VerifyError::MissingPolicy("domains"))
        );
        assert_eq!(
            new(
                vec!["a".into()],
                ChainIdPolicy::Only(vec![]),
                NoncePolicy::ReturnToCaller
            ),
            Err(VerifyError::MissingPolicy("chain ids"))
        );
        assert_eq!(
            new(
                vec!["a".into()],
                ChainIdPolicy::Any,
                NoncePolicy::Expect(String::new())
            ),
            Err(VerifyError::MissingPolicy("expected nonce"))
        );
        let mut p = policy();
        p.domains.clear();
        assert_eq!(p.validate(), Err(VerifyError::MissingPolicy("domains")));
    }

    #[test]
    fn domains_case_insensitive_and_scheme_stripped() {
        let p = policy();
        p.check(&eth("")).unwrap();
        let mut with_scheme = policy();
        with_scheme.domains = vec!["https://app.example.com".into()];
        with_scheme.check(&eth("")).unwrap();
        let mut other = policy();
        other.domains = vec!["app.example.com:8080".into(), "example.com".into()];
        assert_eq!(other.check(&eth("")), Err(VerifyError::DomainMismatch));
    }

    #[test]
    fn strict_uri_origin() {
        let p = policy().with_strict_uri_origin(true);
        p.check(&eth("")).unwrap();
        let mut m = eth("");
        m.uri = Some("https://auth.example.net/cb".into());
        assert_eq!(p.check(&m), Err(VerifyError::DomainMismatch));
        assert!(policy().check(&m).is_ok());
        m.uri = Some("https://APP.example.com:443/x".into());
        p.check(&m).unwrap();
        m.uri = Some("https://app.example.com:8443/x".into());
        assert_eq!(p.check(&m), Err(VerifyError::DomainMismatch));
        m.uri = Some("https://app.example.com@evil.example/x".into());
        assert_eq!(p.check(&m), Err(VerifyError::DomainMismatch));
        m.uri = Some("urn:app.example.com".into());
        assert_eq!(p.check(&m), Err(VerifyError::DomainMismatch));
    }

    #[test]
    fn chain_ids() {
        let mut p = policy();
        p.chain_ids = ChainIdPolicy::Only(vec!["1".into(), "137".into()]);
        p.check(&eth("")).unwrap();
        p.chain_ids = ChainIdPolicy::Only(vec!["1".into()]);
        assert_eq!(p.check(&eth("")), Err(VerifyError::ChainNotAllowed));

        p.chain_ids = ChainIdPolicy::Only(vec!["mainnet".into()]);
        p.check(&sol(Some("mainnet"))).unwrap();
        p.check(&sol(Some("solana:mainnet"))).unwrap();
        p.check(&sol(None)).unwrap();
        assert_eq!(
            p.check(&sol(Some("devnet"))),
            Err(VerifyError::ChainNotAllowed)
        );
        p.chain_ids = ChainIdPolicy::Only(vec!["solana:devnet".into()]);
        p.check(&sol(Some("devnet"))).unwrap();
    }

    #[test]
    fn expiration_boundary() {
        let m = eth("\nExpiration Time: 2026-11-22T12:00:30.000Z");
        let mut p = policy();
        assert_eq!(p.check(&m), Err(VerifyError::MessageExpired));
        p.now = NOW - Duration::nanoseconds(1);
        p.check(&m).unwrap();
    }

    #[test]
    fn expiration_not_after_issued_at_or_not_before_is_expired() {
        // Whatever the time: the message is never valid.
        let mut p = policy();
        for extra in [
            "\nExpiration Time: 2026-11-22T11:59:59.999Z",
            "\nExpiration Time: 2026-11-22T12:00:00.000Z",
            "\nExpiration Time: 2026-11-22T12:10:00.000Z\nNot Before: 2026-11-22T12:10:00.000Z",
            "\nExpiration Time: 2026-11-22T12:10:00.000Z\nNot Before: 2026-11-22T12:20:00.000Z",
        ] {
            let m = eth(extra);
            for now in [
                datetime!(2026-11-22 11:59:30 UTC),
                datetime!(2026-11-22 12:00:00 UTC),
                datetime!(2026-11-22 12:05:00 UTC),
                datetime!(2026-11-22 12:15:00 UTC),
            ] {
                p.now = now;
                assert_eq!(
                    p.check(&m),
                    Err(VerifyError::MessageExpired),
                    "{extra} at {now}"
                );
            }
        }
        // One millisecond of validity is enough.
        p.now = datetime!(2026-11-22 12:00:00 UTC);
        p.check(&eth("\nExpiration Time: 2026-11-22T12:00:00.001Z"))
            .unwrap();
        p.check(&eth(
            "\nExpiration Time: 2026-11-22T12:10:00.000Z\nNot Before: 2026-11-22T11:00:00.000Z",
        ))
        .unwrap();
    }

    #[test]
    fn not_before_boundary() {
        let m = eth("\nNot Before: 2026-11-22T12:00:30.000Z");
        let mut p = policy();
        p.check(&m).unwrap();
        p.now = NOW - Duration::nanoseconds(1);
        assert_eq!(p.check(&m), Err(VerifyError::MessageNotYetValid));
    }

    #[test]
    fn issued_at_skew_boundary() {
        // Issued At is 12:00:00; with 60 s skew it is accepted from 11:59:00 on.
        let m = eth("");
        let mut p = policy();
        p.now = datetime!(2026-11-22 11:59:00 UTC);
        p.check(&m).unwrap();
        p.now = datetime!(2026-11-22 11:59:00 UTC) - Duration::nanoseconds(1);
        assert_eq!(p.check(&m), Err(VerifyError::MessageNotYetValid));
        p.skew = Duration::ZERO;
        p.now = datetime!(2026-11-22 12:00:00 UTC);
        p.check(&m).unwrap();
    }

    #[test]
    fn max_age_boundary() {
        let m = eth("");
        let mut p = policy().with_max_age(Duration::minutes(5));
        p.now = datetime!(2026-11-22 12:05:00 UTC);
        p.check(&m).unwrap();
        p.now = datetime!(2026-11-22 12:05:00 UTC) + Duration::nanoseconds(1);
        assert_eq!(p.check(&m), Err(VerifyError::MessageExpired));
        // No max age: old messages pass the issued-at check.
        p.max_age = None;
        p.now = datetime!(2027-11-22 12:05:00 UTC);
        p.check(&m).unwrap();
    }

    #[test]
    fn issued_at_from_the_nonce_issue_time_minus_skew() {
        // Issued At is 12:00:00; skew 60 s: a nonce issued up to 12:01:00 accepts it.
        let m = eth("");
        let mut p = policy().with_nonce_issued_at(datetime!(2026-11-22 12:01:00 UTC));
        p.now = datetime!(2026-11-22 12:01:30 UTC);
        p.check(&m).unwrap();
        p.nonce_issued_at = Some(datetime!(2026-11-22 12:01:00 UTC) + Duration::nanoseconds(1));
        assert_eq!(p.check(&m), Err(VerifyError::MessageExpired));
        // A wallet clock behind ours by less than the skew: accepted, as is one ahead by less.
        p.nonce_issued_at = Some(datetime!(2026-11-22 11:58:00 UTC));
        p.now = datetime!(2026-11-22 11:59:00 UTC);
        p.check(&m).unwrap();
        // Without a nonce issue time there is no lower bound (but max_age, if set).
        p.nonce_issued_at = None;
        p.now = datetime!(2027-01-01 00:00:00 UTC);
        p.check(&m).unwrap();
    }

    #[test]
    fn extreme_durations_do_not_overflow() {
        let mut p = policy()
            .with_max_age(Duration::MAX)
            .with_nonce_issued_at(OffsetDateTime::UNIX_EPOCH);
        p.skew = Duration::MAX;
        p.check(&eth("")).unwrap();
        p.nonce_issued_at = Some(time::PrimitiveDateTime::MAX.assume_utc());
        p.check(&eth("")).unwrap();
    }

    #[test]
    fn nonce() {
        let mut p = policy();
        p.nonce = NoncePolicy::Expect("abcdefgh1234".into());
        p.check(&eth("")).unwrap();
        p.nonce = NoncePolicy::Expect("abcdefgh1235".into());
        assert_eq!(p.check(&eth("")), Err(VerifyError::NonceInvalid));
        p.nonce = NoncePolicy::Expect("abcdefgh123".into());
        assert_eq!(p.check(&eth("")), Err(VerifyError::NonceInvalid));
    }
}
