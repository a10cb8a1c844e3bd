//! Configuration from the environment (and a `.env` file), exactly as the contract's table.
//!
//! Parsing is pure over a lookup function so it can be tested without touching the process
//! environment. A bad value yields a [`ConfigError`] naming the variable; the binary prints that
//! one line and exits with code 2.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::session::crypto::KeyRing;

/// A configuration value that is wrong, naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

fn bad(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// Which request properties a session is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// No binding.
    Off,
    /// Bound to a hash of the User-Agent.
    Device,
    /// Bound to the User-Agent and the client IP.
    Strict,
}

/// `SameSite` attribute of the session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `SameSite=Lax`.
    Lax,
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=None` (requires `Secure`).
    None,
}

impl SameSite {
    /// The attribute value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// Allowed Ethereum chain ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EthChainIds {
    /// Any chain id (`*`).
    Any,
    /// Only these, the first being the default for `/auth/nonce`.
    Only(Vec<u64>),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Where sessions live.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// In-process memory (the default).
    Memory,
    /// Redis: one URL, or several cluster node URLs.
    Redis(String),
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Memory => f.write_str("Memory"),
            StoreConfig::Redis(url) => write!(f, "Redis({})", mask_url(url)),
        }
    }
}

/// Hides the password part of `redis://user:password@host` URLs (each of a comma list).
#[must_use]
pub fn mask_url(url: &str) -> String {
    url.split(',')
        .map(|u| {
            let u = u.trim();
            match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s + 3 => {
                    let userinfo = &u[s + 3..at];
                    let user = userinfo.split(':').next().unwrap_or("");
                    if userinfo.contains(':') {
                        format!("{}{}:****{}", &u[..s + 3], user, &u[at..])
                    } else {
                        format!("{}****{}", &u[..s + 3], &u[at..])
                    }
                }
                _ => u.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A secret string: never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    #[must_use]
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself: call only where it is compared or used.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(****)")
    }
}

/// The whole server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `AUTH_DOMAINS`: domains accepted in signed messages; the first is the default.
    pub domains: Vec<String>,
    /// `AUTH_URI`: URI put into prepared messages.
    pub uri: String,
    /// `AUTH_STRICT_URI`: also require the message URI's authority to be one of the domains.
    pub strict_uri: bool,
    /// `ETH_CHAIN_IDS`.
    pub eth_chain_ids: EthChainIds,
    /// `SOLANA_CHAIN_IDS`.
    pub solana_chain_ids: Vec<String>,
    /// `REDIS_URL`.
    pub store: StoreConfig,
    /// `REDIS_PREFIX`: key prefix in Redis.
    pub redis_prefix: String,
    /// `STORE_TIMEOUT`: bound on every store call.
    pub store_timeout: Duration,
    /// `SESSION_ENCRYPTION_KEY`: keys (first encrypts, all decrypt); generated when unset with
    /// the memory store.
    pub keys: KeyRing,
    /// Whether the keys were generated at start-up (memory store without a configured key).
    pub keys_generated: bool,
    /// `WALLET_SESSION_TTL`.
    pub session_ttl: Duration,
    /// `WALLET_SESSION_REFRESH_WINDOW`.
    pub refresh_window: Duration,
    /// `WALLET_SESSION_MAX_LIFETIME`.
    pub max_lifetime: Duration,
    /// `MAX_SESSIONS_PER_WALLET`.
    pub max_sessions_per_wallet: usize,
    /// `NONCE_TTL`.
    pub nonce_ttl: Duration,
    /// `CLOCK_SKEW`.
    pub clock_skew: Duration,
    /// `SESSION_BINDING`.
    pub binding: Binding,
    /// `TRUST_PROXY`.
    pub trust_proxy: bool,
    /// `COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// `COOKIE_SAMESITE`.
    pub cookie_samesite: SameSite,
    /// `RATE_LIMIT_PER_MIN` (0: off).
    pub rate_limit_per_min: u32,
    /// `ADMIN_TOKEN`: enables `/admin/*`.
    pub admin_token: Option<Secret>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `CORS_ORIGINS` / `CSRF_TRUSTED_ORIGINS`: browser origins allowed to call with
    /// credentials, and accepted in place of a CSRF token.
    pub allowed_origins: Vec<String>,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `DEMO_PAGE`: serve the demo sign-in page at `/`.
    pub demo_page: bool,
    /// `ETH_RPC_URLS`: a JSON-RPC node per chain id for contract-wallet signatures, ascending
    /// by chain id (the URLs may hold API keys: secrets).
    pub eth_rpc_urls: Vec<(u64, Secret)>,
    /// `ETH_RPC_TIMEOUT`: bound on one node call.
    pub eth_rpc_timeout: Duration,
}

/// Longest `ETH_RPC_TIMEOUT` accepted.
pub const MAX_ETH_RPC_TIMEOUT: Duration = Duration::from_secs(30);
/// Shortest `ETH_RPC_TIMEOUT` accepted.
pub const MIN_ETH_RPC_TIMEOUT: Duration = Duration::from_millis(100);

/// A JSON-RPC node URL as it may be shown: scheme, host and port only (no user info, path or
/// query, where providers put API keys).
#[must_use]
pub fn mask_rpc_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "****".to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let hidden = authority.len() != host.len() || !rest[end..].trim_matches('/').is_empty();
    format!("{scheme}://{host}{}", if hidden { "/****" } else { "" })
}

/// Parses `ETH_RPC_URLS`: comma-separated `chainId=url` pairs.
fn parse_rpc_urls(v: &str) -> Result<Vec<(u64, Secret)>, String> {
    let mut nodes: Vec<(u64, Secret)> = Vec::new();
    for pair in list(v) {
        let Some((id, url)) = pair.split_once('=') else {
            return Err(format!(
                "{:?} is not chainId=url (e.g. 1=https://node.example)",
                mask_rpc_url(&pair)
            ));
        };
        let id: u64 = match id.trim().parse() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("{:?} is not a positive chain id", id.trim())),
        };
        let url = url.trim();
        let host = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"));
        if host.is_none_or(|h| h.is_empty() || h.starts_with('/'))
            || url.contains(char::is_whitespace)
        {
            return Err(format!(
                "the URL of chain {id} must be http:// or https:// and a host"
            ));
        }
        if nodes.iter().any(|(n, _)| *n == id) {
            return Err(format!("chain {id} is listed twice"));
        }
        nodes.push((id, Secret::new(url)));
    }
    nodes.sort_by_key(|(id, _)| *id);
    Ok(nodes)
}

/// Parses `90s`, `30m`, `2h`, `7d` (and `500ms`; a bare number is seconds).
///
/// # Errors
/// A human reason when the text is not such a duration.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 90s, 30m, 2h or 7d"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => return Err(format!("{s:?} has an unknown unit (use s, m, h or d)")),
    };
    secs.map(Duration::from_secs)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(bad(var, format!("{v:?} is not true or false"))),
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn eth_chain_ids_contains(ids: &EthChainIds, id: u64) -> bool {
    match ids {
        EthChainIds::Any => true,
        EthChainIds::Only(ids) => ids.contains(&id),
    }
}

impl Config {
    /// Reads the configuration from the process environment (after loading `.env` if present).
    ///
    /// # Errors
    /// The first variable with a bad value.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads the configuration through `get` (a variable name to its value).
    ///
    /// # Errors
    /// The first variable with a bad value.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let dur = |var: &'static str, default: &str| -> Result<Duration, ConfigError> {
            let v = get(var).unwrap_or_else(|| default.to_owned());
            let d = parse_duration(&v).map_err(|r| bad(var, r))?;
            if d.is_zero() {
                return Err(bad(var, "must be greater than zero"));
            }
            Ok(d)
        };

        let bind_addr = get("BIND_ADDR")
            .unwrap_or_else(|| "127.0.0.1:8080".into())
            .parse()
            .map_err(|_| bad("BIND_ADDR", "not a socket address like 127.0.0.1:8080"))?;
        let domains = list(&get("AUTH_DOMAINS").unwrap_or_else(|| "localhost:8080".into()));
        if domains.is_empty() {
            return Err(bad("AUTH_DOMAINS", "at least one domain is required"));
        }
        if let Some(d) = domains
            .iter()
            .find(|d| d.contains(char::is_whitespace) || d.contains('/'))
        {
            return Err(bad("AUTH_DOMAINS", format!("{d:?} is not a host[:port]")));
        }
        let uri = get("AUTH_URI").unwrap_or_else(|| "http://localhost:8080".into());
        if !uri.contains(':') || uri.contains(char::is_whitespace) {
            return Err(bad("AUTH_URI", format!("{uri:?} is not an absolute URI")));
        }
        let strict_uri = get("AUTH_STRICT_URI")
            .map(|v| parse_bool("AUTH_STRICT_URI", &v))
            .transpose()?
            .unwrap_or(false);

        let eth_raw = get("ETH_CHAIN_IDS").unwrap_or_else(|| "1".into());
        let eth_chain_ids = if eth_raw.trim() == "*" {
            EthChainIds::Any
        } else {
            let ids = list(&eth_raw)
                .iter()
                .map(|s| s.parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| bad("ETH_CHAIN_IDS", "a comma-separated list of integers, or *"))?;
            if ids.is_empty() {
                return Err(bad("ETH_CHAIN_IDS", "at least one chain id, or *"));
            }
            EthChainIds::Only(ids)
        };
        let solana_chain_ids =
            list(&get("SOLANA_CHAIN_IDS").unwrap_or_else(|| "mainnet,devnet,testnet".into()))
                .into_iter()
                .map(|s| s.strip_prefix("solana:").map(str::to_owned).unwrap_or(s))
                .collect();

        let store = match get("REDIS_URL") {
            None => StoreConfig::Memory,
            Some(url) => {
                for u in list(&url) {
                    if !(u.starts_with("redis://") || u.starts_with("rediss://")) {
                        return Err(bad(
                            "REDIS_URL",
                            "every URL must start with redis:// or rediss://",
                        ));
                    }
                }
                StoreConfig::Redis(url)
            }
        };
        let redis_prefix = get("REDIS_PREFIX").unwrap_or_else(|| "wa:".into());
        let store_timeout = dur("STORE_TIMEOUT", "500ms")?;

        let (keys, keys_generated) = match get("SESSION_ENCRYPTION_KEY") {
            Some(v) => (
                KeyRing::from_hex_list(&v).map_err(|r| bad("SESSION_ENCRYPTION_KEY", r))?,
                false,
            ),
            None if store == StoreConfig::Memory => (KeyRing::generate(), true),
            None => return Err(bad(
                "SESSION_ENCRYPTION_KEY",
                "required with REDIS_URL (64 hex characters; generate with `openssl rand -hex 32`)",
            )),
        };

        let session_ttl = dur("WALLET_SESSION_TTL", "2h")?;
        let refresh_window = dur("WALLET_SESSION_REFRESH_WINDOW", "30m")?;
        if refresh_window > session_ttl {
            return Err(bad(
                "WALLET_SESSION_REFRESH_WINDOW",
                "must not be longer than WALLET_SESSION_TTL",
            ));
        }
        let max_lifetime = dur("WALLET_SESSION_MAX_LIFETIME", "7d")?;
        if max_lifetime < session_ttl {
            return Err(bad(
                "WALLET_SESSION_MAX_LIFETIME",
                "must not be shorter than WALLET_SESSION_TTL",
            ));
        }
        let max_sessions_per_wallet = match get("MAX_SESSIONS_PER_WALLET") {
            None => 5,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => return Err(bad("MAX_SESSIONS_PER_WALLET", "a positive integer")),
            },
        };
        let nonce_ttl = dur("NONCE_TTL", "5m")?;
        let clock_skew = match get("CLOCK_SKEW") {
            None => Duration::from_secs(60),
            Some(v) => parse_duration(&v).map_err(|r| bad("CLOCK_SKEW", r))?,
        };
        let binding = match get("SESSION_BINDING")
            .unwrap_or_else(|| "device".into())
            .as_str()
        {
            "off" => Binding::Off,
            "device" => Binding::Device,
            "strict" => Binding::Strict,
            other => {
                return Err(bad(
                    "SESSION_BINDING",
                    format!("{other:?} is not off, device or strict"),
                ))
            }
        };
        let flag = |var: &'static str, default: bool| -> Result<bool, ConfigError> {
            get(var)
                .map(|v| parse_bool(var, &v))
                .transpose()
                .map(|b| b.unwrap_or(default))
        };
        let trust_proxy = flag("TRUST_PROXY", false)?;
        let cookie_secure = flag("COOKIE_SECURE", true)?;
        let cookie_samesite = match get("COOKIE_SAMESITE")
            .unwrap_or_else(|| "lax".into())
            .to_ascii_lowercase()
            .as_str()
        {
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            other => {
                return Err(bad(
                    "COOKIE_SAMESITE",
                    format!("{other:?} is not lax, strict or none"),
                ))
            }
        };
        if cookie_samesite == SameSite::None && !cookie_secure {
            return Err(bad(
                "COOKIE_SAMESITE",
                "none requires COOKIE_SECURE=true (browsers drop such cookies)",
            ));
        }
        let rate_limit_per_min = match get("RATE_LIMIT_PER_MIN") {
            None => 60,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| bad("RATE_LIMIT_PER_MIN", "a non-negative integer (0: off)"))?,
        };
        let admin_token = match get("ADMIN_TOKEN") {
            Some(t) if t.len() < 16 => {
                return Err(bad("ADMIN_TOKEN", "must be at least 16 characters"))
            }
            other => other.map(Secret::new),
        };
        let log_format = match get("LOG_FORMAT")
            .unwrap_or_else(|| "pretty".into())
            .as_str()
        {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(bad(
                    "LOG_FORMAT",
                    format!("{other:?} is not pretty or json"),
                ))
            }
        };
        let mut allowed_origins = list(&get("CORS_ORIGINS").unwrap_or_default());
        allowed_origins.extend(list(&get("CSRF_TRUSTED_ORIGINS").unwrap_or_default()));
        if let Some(o) = allowed_origins
            .iter()
            .find(|o| !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/'))
        {
            return Err(bad(
                "CORS_ORIGINS",
                format!("{o:?} is not an origin like https://app.example.com"),
            ));
        }
        let max_body_bytes = match get("MAX_BODY_BYTES") {
            None => 16 * 1024,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n >= 1024 => n,
                _ => return Err(bad("MAX_BODY_BYTES", "an integer of at least 1024")),
            },
        };
        let demo_page = flag("DEMO_PAGE", true)?;
        let eth_rpc_urls = parse_rpc_urls(&get("ETH_RPC_URLS").unwrap_or_default())
            .map_err(|r| bad("ETH_RPC_URLS", r))?;
        if let (EthChainIds::Only(ids), Some((id, _))) = (
            &eth_chain_ids,
            eth_rpc_urls
                .iter()
                .find(|(id, _)| !eth_chain_ids_contains(&eth_chain_ids, *id)),
        ) {
            return Err(bad(
                "ETH_RPC_URLS",
                format!(
                    "chain {id} is not in ETH_CHAIN_IDS ({ids:?}): its node would never be used"
                ),
            ));
        }
        let eth_rpc_timeout = dur("ETH_RPC_TIMEOUT", "3s")?;
        if !(MIN_ETH_RPC_TIMEOUT..=MAX_ETH_RPC_TIMEOUT).contains(&eth_rpc_timeout) {
            return Err(bad("ETH_RPC_TIMEOUT", "must be between 100ms and 30s"));
        }

        Ok(Config {
            bind_addr,
            domains,
            uri,
            strict_uri,
            eth_chain_ids,
            solana_chain_ids,
            store,
            redis_prefix,
            store_timeout,
            keys,
            keys_generated,
            session_ttl,
            refresh_window,
            max_lifetime,
            max_sessions_per_wallet,
            nonce_ttl,
            clock_skew,
            binding,
            trust_proxy,
            cookie_secure,
            cookie_samesite,
            rate_limit_per_min,
            admin_token,
            log_format,
            allowed_origins,
            max_body_bytes,
            demo_page,
            eth_rpc_urls,
            eth_rpc_timeout,
        })
    }

    /// A configuration for tests and embedding: the defaults, with the memory store.
    ///
    /// # Panics
    /// Never: the defaults are valid.
    #[must_use]
    pub fn defaults() -> Self {
        #[allow(clippy::expect_used)]
        Self::from_lookup(|_| None).expect("the default configuration is valid")
    }

    /// The configuration as `KEY=value` lines, secrets masked (for `wallet-auth config check`).
    #[must_use]
    pub fn masked_lines(&self) -> Vec<String> {
        let d = |d: Duration| format!("{}s", d.as_secs());
        vec![
            format!("BIND_ADDR={}", self.bind_addr),
            format!("AUTH_DOMAINS={}", self.domains.join(",")),
            format!("AUTH_URI={}", self.uri),
            format!("AUTH_STRICT_URI={}", self.strict_uri),
            format!(
                "ETH_CHAIN_IDS={}",
                match &self.eth_chain_ids {
                    EthChainIds::Any => "*".to_owned(),
                    EthChainIds::Only(ids) =>
                        ids.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
                }
            ),
            format!("SOLANA_CHAIN_IDS={}", self.solana_chain_ids.join(",")),
            format!(
                "REDIS_URL={}",
                match &self.store {
                    StoreConfig::Memory => "(unset: in-memory store)".to_owned(),
                    StoreConfig::Redis(u) => mask_url(u),
                }
            ),
            format!("REDIS_PREFIX={}", self.redis_prefix),
            format!("STORE_TIMEOUT={}ms", self.store_timeout.as_millis()),
            format!(
                "SESSION_ENCRYPTION_KEY={}",
                if self.keys_generated {
                    "(unset: random key, sessions lost at restart)".to_owned()
                } else {
                    format!("**** ({} key(s))", self.keys.len())
                }
            ),
            format!("WALLET_SESSION_TTL={}", d(self.session_ttl)),
            format!("WALLET_SESSION_REFRESH_WINDOW={}", d(self.refresh_window)),
            format!("WALLET_SESSION_MAX_LIFETIME={}", d(self.max_lifetime)),
            format!("MAX_SESSIONS_PER_WALLET={}", self.max_sessions_per_wallet),
            format!("NONCE_TTL={}", d(self.nonce_ttl)),
            format!("CLOCK_SKEW={}", d(self.clock_skew)),
            format!(
                "SESSION_BINDING={}",
                match self.binding {
                    Binding::Off => "off",
                    Binding::Device => "device",
                    Binding::Strict => "strict",
                }
            ),
            format!("TRUST_PROXY={}", self.trust_proxy),
            format!("COOKIE_SECURE={}", self.cookie_secure),
            format!(
                "COOKIE_SAMESITE={}",
                self.cookie_samesite.as_str().to_lowercase()
            ),
            format!("RATE_LIMIT_PER_MIN={}", self.rate_limit_per_min),
            format!(
                "ADMIN_TOKEN={}",
                if self.admin_token.is_some() {
                    "****"
                } else {
                    "(unset: /admin disabled)"
                }
            ),
            format!(
                "LOG_FORMAT={}",
                match self.log_format {
                    LogFormat::Pretty => "pretty",
                    LogFormat::Json => "json",
                }
            ),
            format!("CORS_ORIGINS={}", self.allowed_origins.join(",")),
            format!("MAX_BODY_BYTES={}", self.max_body_bytes),
            format!("DEMO_PAGE={}", self.demo_page),
            format!(
                "ETH_RPC_URLS={}",
                if self.eth_rpc_urls.is_empty() {
                    "(unset: contract-wallet sign-in disabled)".to_owned()
                } else {
                    self.eth_rpc_urls
                        .iter()
                        .map(|(id, url)| format!("{id}={}", mask_rpc_url(url.expose())))
                        .collect::<Vec<_>>()
                        .join(",")
                }
            ),
            format!("ETH_RPC_TIMEOUT={}ms", self.eth_rpc_timeout.as_millis()),
        ]
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(604_800));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn defaults_match_the_contract() {
        let c = Config::defaults();
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.domains, vec!["localhost:8080"]);
        assert_eq!(c.eth_chain_ids, EthChainIds::Only(vec![1]));
        assert_eq!(c.solana_chain_ids, vec!["mainnet", "devnet", "testnet"]);
        assert_eq!(c.store, StoreConfig::Memory);
        assert!(c.keys_generated);
        assert_eq!(c.session_ttl, Duration::from_secs(7200));
        assert_eq!(c.refresh_window, Duration::from_secs(1800));
        assert_eq!(c.max_lifetime, Duration::from_secs(7 * 86400));
        assert_eq!(c.max_sessions_per_wallet, 5);
        assert_eq!(c.nonce_ttl, Duration::from_secs(300));
        assert_eq!(c.clock_skew, Duration::from_secs(60));
        assert_eq!(c.binding, Binding::Device);
        assert!(!c.trust_proxy);
        assert!(c.cookie_secure);
        assert_eq!(c.cookie_samesite, SameSite::Lax);
        assert_eq!(c.rate_limit_per_min, 60);
        assert!(c.admin_token.is_none());
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, val) in [
            ("BIND_ADDR", "nowhere"),
            ("WALLET_SESSION_TTL", "2 hours"),
            ("NONCE_TTL", "0s"),
            ("ETH_CHAIN_IDS", "one"),
            ("SESSION_BINDING", "maybe"),
            ("COOKIE_SECURE", "perhaps"),
            ("COOKIE_SAMESITE", "loose"),
            ("RATE_LIMIT_PER_MIN", "-1"),
            ("LOG_FORMAT", "xml"),
            ("MAX_SESSIONS_PER_WALLET", "0"),
            ("SESSION_ENCRYPTION_KEY", "abcd"),
            ("REDIS_URL", "http://x"),
        ] {
            let e = with(&[(var, val)]).unwrap_err();
            assert_eq!(e.var, var, "{var}={val}");
        }
        let e = with(&[("REDIS_URL", "redis://127.0.0.1:6379")]).unwrap_err();
        assert_eq!(e.var, "SESSION_ENCRYPTION_KEY");
    }

    #[test]
    fn secrets_are_masked() {
        let key = "11".repeat(32);
        let c = with(&[
            ("REDIS_URL", "redis://user:hunter2@127.0.0.1:6379"),
            ("SESSION_ENCRYPTION_KEY", &key),
            ("ADMIN_TOKEN", "super-secret-admin-token"),
        ])
        .unwrap();
        let text = c.masked_lines().join("\n") + &format!("{c:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains(&key));
        assert!(!text.contains("super-secret-admin-token"));
        assert!(text.contains("redis://user:****@127.0.0.1:6379"));
    }

    #[test]
    fn rpc_nodes() {
        let c = with(&[
            ("ETH_CHAIN_IDS", "1,137"),
            (
                "ETH_RPC_URLS",
                "137=https://polygon.node.example/v1/KEY123, 1=http://127.0.0.1:8545",
            ),
        ])
        .unwrap();
        let ids: Vec<u64> = c.eth_rpc_urls.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![1, 137]);
        assert_eq!(c.eth_rpc_timeout, Duration::from_secs(3));
        let text = c.masked_lines().join("\n") + &format!("{c:?}");
        assert!(!text.contains("KEY123"), "{text}");
        assert!(text.contains(
            "ETH_RPC_URLS=1=http://127.0.0.1:8545,137=https://polygon.node.example/****"
        ));
        assert!(Config::defaults().eth_rpc_urls.is_empty());
        for bad_value in [
            "1",
            "x=http://a",
            "0=http://a",
            "1=ftp://a",
            "1=http://",
            "1=https:///path",
            "1=http://a,1=http://b",
        ] {
            let e = with(&[("ETH_CHAIN_IDS", "*"), ("ETH_RPC_URLS", bad_value)]).unwrap_err();
            assert_eq!(e.var, "ETH_RPC_URLS", "{bad_value}");
        }
        let e = with(&[("ETH_CHAIN_IDS", "1"), ("ETH_RPC_URLS", "10=http://a")]).unwrap_err();
        assert_eq!(e.var, "ETH_RPC_URLS");
        assert!(e.to_string().contains("chain 10"), "{e}");
        for (value, ok) in [
            ("50ms", false),
            ("100ms", true),
            ("30s", true),
            ("31s", false),
            ("0s", false),
        ] {
            assert_eq!(with(&[("ETH_RPC_TIMEOUT", value)]).is_ok(), ok, "{value}");
        }
        assert_eq!(
            mask_rpc_url("https://u:p@h.example:8545/"),
            "https://h.example:8545/****"
        );
        assert_eq!(mask_rpc_url("http://h:1/"), "http://h:1");
        assert_eq!(mask_rpc_url("http://h?key=1"), "http://h/****");
        assert_eq!(mask_rpc_url("nonsense"), "****");
    }

    #[test]
    fn wildcard_chain_ids() {
        assert_eq!(
            with(&[("ETH_CHAIN_IDS", "*")]).unwrap().eth_chain_ids,
            EthChainIds::Any
        );
        assert_eq!(
            with(&[("ETH_CHAIN_IDS", "1, 137")]).unwrap().eth_chain_ids,
            EthChainIds::Only(vec![1, 137])
        );
    }
}
