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

/// Most trusted proxies `TRUST_PROXY_HOPS` accepts.
pub const MAX_PROXY_HOPS: u8 = 16;

/// The scheme of an absolute URI (`https` of `https://app.example.com/login`), when it has
/// one followed by `://`.
#[must_use]
pub fn uri_scheme(uri: &str) -> Option<&str> {
    let (scheme, rest) = uri.split_once("://")?;
    let mut chars = scheme.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (first_ok && rest_ok && !rest.is_empty()).then_some(scheme)
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
    /// Bound to a coarse device fingerprint of the User-Agent (browser family and operating
    /// system, no versions); a mismatch is refused (`401 session_binding_mismatch`) and
    /// audited, and the session stays valid on its own device.
    Device,
    /// Bound to the device fingerprint and the client IP; a mismatch also revokes the session.
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
    /// PostgreSQL: a `postgres://` URL.
    Postgres(String),
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreConfig::Memory => f.write_str("Memory"),
            StoreConfig::Redis(url) => write!(f, "Redis({})", mask_url(url)),
            StoreConfig::Postgres(url) => write!(f, "Postgres({})", mask_db_url(url)),
        }
    }
}

/// Hides the passwords of a `postgres://` URL: the userinfo's, and a `password=` parameter.
#[must_use]
pub fn mask_db_url(url: &str) -> String {
    let masked = mask_url(url);
    match masked.split_once('?') {
        None => masked,
        Some((base, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", params.join("&"))
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
    /// `AUTH_URI`: URI put into prepared messages; its scheme is the one messages must use.
    pub uri: String,
    /// `AUTH_STRICT_URI` (default on): also require the message URI's origin to be
    /// `AUTH_URI`'s scheme with one of the domains.
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
    /// `STORE_PRUNE_INTERVAL`: PostgreSQL: mean interval between deletions of expired rows.
    pub store_prune_interval: Duration,
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
    /// `TRUST_PROXY_HOPS`: how many trusted proxies append to `X-Forwarded-For` (the client is
    /// the entry this many places from the right).
    pub trust_proxy_hops: u8,
    /// `COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// `COOKIE_SAMESITE`.
    pub cookie_samesite: SameSite,
    /// `RATE_LIMIT_PER_MIN` (0: off).
    pub rate_limit_per_min: u32,
    /// `PASSWORD_CHECKS_MAX`: legacy password checks (Argon2id, ~19 MiB each) in flight.
    pub password_checks: usize,
    /// `ADMIN_TOKEN`: enables `/admin/*`.
    pub admin_token: Option<Secret>,
    /// `METRICS_TOKEN`: when set, `/metrics` needs `Authorization: Bearer $METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `CORS_ORIGINS` / `CSRF_TRUSTED_ORIGINS`: browser origins allowed to call with
    /// credentials, and accepted in place of a CSRF token.
    pub allowed_origins: Vec<String>,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `DEMO_PAGE`: serve the demo sign-in page at `/`.
    pub demo_page: bool,
    /// `HTTP_HEADER_TIMEOUT`: bound on receiving a request head, from its first byte.
    pub header_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT`: a keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT`: bound on handling one request, reading its body included.
    pub request_timeout: Duration,
    /// `MAX_CONNECTIONS`: open client connections at most (lowered to fit the file limit).
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_IP`: open connections per client address (IPv6: per /64) at most;
    /// not applied with `TRUST_PROXY=true`, where every connection comes from the proxy.
    pub max_connections_per_ip: usize,
    /// `SHUTDOWN_TIMEOUT`: after a shutdown signal, connections still open this long are dropped.
    pub shutdown_timeout: Duration,
    /// `ETH_RPC_URLS`: a JSON-RPC node per chain id for contract-wallet signatures, ascending
    /// by chain id (the URLs may hold API keys: secrets).
    pub eth_rpc_urls: Vec<(u64, Secret)>,
    /// `ETH_RPC_TIMEOUT`: bound on one node call.
    pub eth_rpc_timeout: Duration,
    /// `TOKEN_ISSUER`: `iss` of the tokens for other services; `None`: `AUTH_URI` (see
    /// [`Config::token_issuer`]).
    pub token_issuer: Option<String>,
    /// `TOKEN_AUDIENCE`: `aud` of the tokens; `None`: the issuer (see [`Config::token_audience`]).
    pub token_audience: Option<String>,
    /// `TOKEN_TTL`: lifetime of a token for other services (capped at its session's expiry).
    pub token_ttl: Duration,
    /// `TOKEN_KEYS_CACHE`: how long an instance keeps the signing keys it read from the store
    /// before reading them again (so a `keys rotate` reaches every instance within this).
    pub token_keys_cache: Duration,
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

/// The longest duration any variable accepts: beyond it, time arithmetic would leave the
/// range of dates and millisecond counters.
pub const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The accepted range of each duration variable (inclusive). Every duration read from the
/// environment is checked against it, so no later arithmetic on a configured duration can
/// overflow.
#[must_use]
pub fn duration_bounds(var: &str) -> (Duration, Duration) {
    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);
    const MIN: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);
    const DAY: Duration = Duration::from_secs(86_400);
    match var {
        "STORE_TIMEOUT" => (MS, MIN),
        "STORE_PRUNE_INTERVAL" => (SEC, DAY),
        "WALLET_SESSION_TTL" | "WALLET_SESSION_REFRESH_WINDOW" => (SEC, 365 * DAY),
        "WALLET_SESSION_MAX_LIFETIME" => (SEC, 5 * 365 * DAY),
        "NONCE_TTL" => (SEC, DAY),
        "CLOCK_SKEW" => (Duration::ZERO, DAY),
        "HTTP_HEADER_TIMEOUT" | "HTTP_REQUEST_TIMEOUT" => (100 * MS, 10 * MIN),
        "HTTP_IDLE_TIMEOUT" | "SHUTDOWN_TIMEOUT" => (100 * MS, HOUR),
        "ETH_RPC_TIMEOUT" => (100 * MS, 30 * SEC),
        "TOKEN_TTL" => (SEC, DAY),
        "TOKEN_KEYS_CACHE" => (SEC, MIN),
        _ => (MS, MAX_DURATION),
    }
}

/// Formats a bound for an error message (`500ms`, `90s`, `2h`, `365d`).
fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    let s = d.as_secs();
    if ms % 1000 != 0 {
        format!("{ms}ms")
    } else if s != 0 && s % 86_400 == 0 {
        format!("{}d", s / 86_400)
    } else if s != 0 && s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s != 0 && s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// Parses the duration of `var` and checks it against [`duration_bounds`].
fn bounded_duration(var: &'static str, v: &str) -> Result<Duration, ConfigError> {
    let d = parse_duration(v).map_err(|r| bad(var, r))?;
    let (min, max) = duration_bounds(var);
    if d < min || d > max {
        return Err(bad(
            var,
            if min.is_zero() {
                format!("must be at most {}", show_duration(max))
            } else {
                format!(
                    "must be from {} to {}",
                    show_duration(min),
                    show_duration(max)
                )
            },
        ));
    }
    Ok(d)
}

/// Parses a count of `var` within `min..=max`.
fn bounded_count(var: &'static str, v: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match v.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(bad(var, format!("an integer from {min} to {max}"))),
    }
}

/// The largest `MAX_BODY_BYTES` accepted (1 MiB).
pub const MAX_BODY_LIMIT: usize = 1024 * 1024;

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
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        "d" => n.checked_mul(86_400).map(Duration::from_secs),
        _ => return Err(format!("{s:?} has an unknown unit (use s, m, h or d)")),
    };
    secs.filter(|d| *d <= MAX_DURATION)
        .ok_or_else(|| format!("{s:?} is too large (at most 3650d)"))
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
            let d = bounded_duration(var, &v)?;
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
        if uri_scheme(&uri).is_none() || uri.contains(char::is_whitespace) {
            return Err(bad(
                "AUTH_URI",
                format!("{uri:?} is not an absolute URI (scheme://host…)"),
            ));
        }
        let strict_uri = get("AUTH_STRICT_URI")
            .map(|v| parse_bool("AUTH_STRICT_URI", &v))
            .transpose()?
            .unwrap_or(true);

        let eth_raw = get("ETH_CHAIN_IDS").unwrap_or_else(|| "*".into());
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
                .map(|s| {
                    crate::verify::normalize_solana_chain_id(&s).ok_or_else(|| {
                        bad(
                            "SOLANA_CHAIN_IDS",
                            format!("{s:?} is not mainnet, testnet, devnet or localnet"),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;

        let store = match get("REDIS_URL") {
            Some(_) if get("DATABASE_URL").is_some() => {
                return Err(bad(
                    "DATABASE_URL",
                    "set at most one of REDIS_URL and DATABASE_URL",
                ))
            }
            None if get("DATABASE_URL").is_some() => {
                let url = get("DATABASE_URL").unwrap_or_default();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(bad(
                        "DATABASE_URL",
                        "must start with postgres:// or postgresql://",
                    ));
                }
                StoreConfig::Postgres(url)
            }
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
        let store_prune_interval = dur("STORE_PRUNE_INTERVAL", "5m")?;

        let (keys, keys_generated) = match get("SESSION_ENCRYPTION_KEY") {
            Some(v) => (
                KeyRing::from_hex_list(&v).map_err(|r| bad("SESSION_ENCRYPTION_KEY", r))?,
                false,
            ),
            None if store == StoreConfig::Memory => (KeyRing::generate(), true),
            None => return Err(bad(
                "SESSION_ENCRYPTION_KEY",
                "required with REDIS_URL or DATABASE_URL (64 hex characters; generate with `openssl rand -hex 32`)",
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
                Ok(n) if (1..=1000).contains(&n) => n,
                _ => return Err(bad("MAX_SESSIONS_PER_WALLET", "an integer from 1 to 1000")),
            },
        };
        let nonce_ttl = dur("NONCE_TTL", "5m")?;
        let clock_skew = match get("CLOCK_SKEW") {
            None => Duration::from_secs(300),
            Some(v) => bounded_duration("CLOCK_SKEW", &v)?,
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
        let trust_proxy_hops = match get("TRUST_PROXY_HOPS") {
            None => 1,
            Some(v) => match v.trim().parse::<u8>() {
                Ok(n @ 1..=MAX_PROXY_HOPS) => n,
                _ => {
                    return Err(bad(
                        "TRUST_PROXY_HOPS",
                        format!("{v:?} is not a number of proxies from 1 to {MAX_PROXY_HOPS}"),
                    ))
                }
            },
        };
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
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n <= 1_000_000 => n,
                _ => {
                    return Err(bad(
                        "RATE_LIMIT_PER_MIN",
                        "an integer from 0 (off) to 1000000",
                    ))
                }
            },
        };
        let password_checks = match get("PASSWORD_CHECKS_MAX") {
            None => crate::session::user::default_password_checks(),
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => return Err(bad("PASSWORD_CHECKS_MAX", "an integer from 1 to 256")),
            },
        };
        let admin_token = match get("ADMIN_TOKEN") {
            Some(t) if t.len() < 16 => {
                return Err(bad("ADMIN_TOKEN", "must be at least 16 characters"))
            }
            other => other.map(Secret::new),
        };
        let metrics_token = match get("METRICS_TOKEN") {
            Some(t) if t.len() < 16 => {
                return Err(bad("METRICS_TOKEN", "must be at least 16 characters"))
            }
            Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
                return Err(bad(
                    "METRICS_TOKEN",
                    "must be printable ASCII without spaces (it is sent in a header)",
                ))
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
                Ok(n) if (1024..=MAX_BODY_LIMIT).contains(&n) => n,
                _ => {
                    return Err(bad(
                        "MAX_BODY_BYTES",
                        format!("an integer from 1024 to {MAX_BODY_LIMIT}"),
                    ))
                }
            },
        };
        let demo_page = flag("DEMO_PAGE", true)?;
        let header_timeout = dur("HTTP_HEADER_TIMEOUT", "10s")?;
        let idle_timeout = dur("HTTP_IDLE_TIMEOUT", "60s")?;
        let request_timeout = dur("HTTP_REQUEST_TIMEOUT", "30s")?;
        let shutdown_timeout = dur("SHUTDOWN_TIMEOUT", "10s")?;
        let max_connections = match get("MAX_CONNECTIONS") {
            None => 1024,
            Some(v) => bounded_count("MAX_CONNECTIONS", &v, 1, 1_000_000)?,
        };
        let max_connections_per_ip = match get("MAX_CONNECTIONS_PER_IP") {
            None => max_connections.min(64),
            Some(v) => bounded_count("MAX_CONNECTIONS_PER_IP", &v, 1, max_connections)
                .map_err(|e| bad(e.var, format!("{} (at most MAX_CONNECTIONS)", e.reason)))?,
        };
        let max_connections = usize::try_from(max_connections).unwrap_or(usize::MAX);
        let max_connections_per_ip = usize::try_from(max_connections_per_ip).unwrap_or(usize::MAX);
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

        let token_issuer = get("TOKEN_ISSUER").map(|v| v.trim().to_owned());
        let token_audience = get("TOKEN_AUDIENCE").map(|v| v.trim().to_owned());
        for (var, v) in [
            ("TOKEN_ISSUER", &token_issuer),
            ("TOKEN_AUDIENCE", &token_audience),
        ] {
            if v.as_deref()
                .is_some_and(|v| v.len() > 512 || v.chars().any(char::is_control))
            {
                return Err(bad(var, "at most 512 characters, no control characters"));
            }
        }
        let token_ttl = dur("TOKEN_TTL", "5m")?;
        let token_keys_cache = dur("TOKEN_KEYS_CACHE", "30s")?;

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
            store_prune_interval,
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
            trust_proxy_hops,
            cookie_secure,
            cookie_samesite,
            rate_limit_per_min,
            password_checks,
            admin_token,
            metrics_token,
            log_format,
            allowed_origins,
            max_body_bytes,
            demo_page,
            header_timeout,
            idle_timeout,
            request_timeout,
            max_connections,
            max_connections_per_ip,
            shutdown_timeout,
            eth_rpc_urls,
            eth_rpc_timeout,
            token_issuer,
            token_audience,
            token_ttl,
            token_keys_cache,
        })
    }

    /// Brings every duration and count into its accepted range (see [`duration_bounds`]). The
    /// environment reader refuses out-of-range values; this catches a configuration built or
    /// changed in code (the fields are public), so no request can meet an unbounded value.
    /// Returns the names of the variables that were changed.
    pub fn clamp_to_bounds(&mut self) -> Vec<&'static str> {
        let mut changed = Vec::new();
        let mut fix = |var: &'static str, d: &mut Duration| {
            let (min, max) = duration_bounds(var);
            let fixed = (*d).clamp(min, max);
            if fixed != *d {
                *d = fixed;
                changed.push(var);
            }
        };
        fix("STORE_TIMEOUT", &mut self.store_timeout);
        fix("STORE_PRUNE_INTERVAL", &mut self.store_prune_interval);
        fix("WALLET_SESSION_TTL", &mut self.session_ttl);
        fix("WALLET_SESSION_REFRESH_WINDOW", &mut self.refresh_window);
        fix("WALLET_SESSION_MAX_LIFETIME", &mut self.max_lifetime);
        fix("NONCE_TTL", &mut self.nonce_ttl);
        fix("CLOCK_SKEW", &mut self.clock_skew);
        fix("HTTP_HEADER_TIMEOUT", &mut self.header_timeout);
        fix("HTTP_IDLE_TIMEOUT", &mut self.idle_timeout);
        fix("HTTP_REQUEST_TIMEOUT", &mut self.request_timeout);
        fix("SHUTDOWN_TIMEOUT", &mut self.shutdown_timeout);
        fix("TOKEN_TTL", &mut self.token_ttl);
        fix("TOKEN_KEYS_CACHE", &mut self.token_keys_cache);
        let mut count = |var: &'static str, n: &mut usize, min: usize, max: usize| {
            let fixed = (*n).clamp(min, max);
            if fixed != *n {
                *n = fixed;
                changed.push(var);
            }
        };
        count(
            "MAX_SESSIONS_PER_WALLET",
            &mut self.max_sessions_per_wallet,
            1,
            1000,
        );
        count(
            "MAX_BODY_BYTES",
            &mut self.max_body_bytes,
            1024,
            MAX_BODY_LIMIT,
        );
        count("MAX_CONNECTIONS", &mut self.max_connections, 1, 1_000_000);
        let max = self.max_connections;
        count(
            "MAX_CONNECTIONS_PER_IP",
            &mut self.max_connections_per_ip,
            1,
            max,
        );
        if self.rate_limit_per_min > 1_000_000 {
            self.rate_limit_per_min = 1_000_000;
            changed.push("RATE_LIMIT_PER_MIN");
        }
        changed
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

    /// `iss` of the tokens for other services: `TOKEN_ISSUER`, default `AUTH_URI`.
    #[must_use]
    pub fn token_issuer(&self) -> &str {
        self.token_issuer.as_deref().unwrap_or(&self.uri)
    }

    /// `aud` of the tokens for other services: `TOKEN_AUDIENCE`, default the issuer.
    #[must_use]
    pub fn token_audience(&self) -> &str {
        self.token_audience
            .as_deref()
            .unwrap_or_else(|| self.token_issuer())
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
                    StoreConfig::Postgres(_) => "(unset)".to_owned(),
                    StoreConfig::Redis(u) => mask_url(u),
                }
            ),
            format!(
                "DATABASE_URL={}",
                match &self.store {
                    StoreConfig::Postgres(u) => mask_db_url(u),
                    _ => "(unset)".to_owned(),
                }
            ),
            format!("REDIS_PREFIX={}", self.redis_prefix),
            format!("STORE_TIMEOUT={}ms", self.store_timeout.as_millis()),
            format!(
                "STORE_PRUNE_INTERVAL={}s",
                self.store_prune_interval.as_secs()
            ),
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
            format!("TRUST_PROXY_HOPS={}", self.trust_proxy_hops),
            format!("COOKIE_SECURE={}", self.cookie_secure),
            format!(
                "COOKIE_SAMESITE={}",
                self.cookie_samesite.as_str().to_lowercase()
            ),
            format!("RATE_LIMIT_PER_MIN={}", self.rate_limit_per_min),
            format!("PASSWORD_CHECKS_MAX={}", self.password_checks),
            format!(
                "ADMIN_TOKEN={}",
                if self.admin_token.is_some() {
                    "****"
                } else {
                    "(unset: /admin disabled)"
                }
            ),
            format!(
                "METRICS_TOKEN={}",
                if self.metrics_token.is_some() {
                    "****"
                } else {
                    "(unset: /metrics is public)"
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
            format!("HTTP_HEADER_TIMEOUT={}ms", self.header_timeout.as_millis()),
            format!("HTTP_IDLE_TIMEOUT={}ms", self.idle_timeout.as_millis()),
            format!(
                "HTTP_REQUEST_TIMEOUT={}ms",
                self.request_timeout.as_millis()
            ),
            format!("MAX_CONNECTIONS={}", self.max_connections),
            format!("MAX_CONNECTIONS_PER_IP={}", self.max_connections_per_ip),
            format!("SHUTDOWN_TIMEOUT={}ms", self.shutdown_timeout.as_millis()),
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
            format!("TOKEN_ISSUER={}", self.token_issuer()),
            format!("TOKEN_AUDIENCE={}", self.token_audience()),
            format!("TOKEN_TTL={}", d(self.token_ttl)),
            format!("TOKEN_KEYS_CACHE={}", d(self.token_keys_cache)),
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
        assert_eq!(c.eth_chain_ids, EthChainIds::Any);
        assert_eq!(c.solana_chain_ids, vec!["mainnet", "devnet", "testnet"]);
        assert_eq!(c.store, StoreConfig::Memory);
        assert!(c.keys_generated);
        assert_eq!(c.session_ttl, Duration::from_secs(7200));
        assert_eq!(c.refresh_window, Duration::from_secs(1800));
        assert_eq!(c.max_lifetime, Duration::from_secs(7 * 86400));
        assert_eq!(c.max_sessions_per_wallet, 5);
        assert_eq!(c.nonce_ttl, Duration::from_secs(300));
        assert_eq!(c.clock_skew, Duration::from_secs(300));
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
            ("SOLANA_CHAIN_IDS", "mainnet,solana:localnet"),
            ("SOLANA_CHAIN_IDS", "mainnet-beta"),
            ("SESSION_BINDING", "maybe"),
            ("COOKIE_SECURE", "perhaps"),
            ("COOKIE_SAMESITE", "loose"),
            ("RATE_LIMIT_PER_MIN", "-1"),
            ("PASSWORD_CHECKS_MAX", "0"),
            ("PASSWORD_CHECKS_MAX", "100000"),
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
    fn database_url_selects_postgres() {
        let key = "ab".repeat(32);
        let url = "postgres://wa:hunter2@127.0.0.1:5432/wa?sslmode=disable&password=swordfish";
        let c = with(&[("DATABASE_URL", url), ("SESSION_ENCRYPTION_KEY", &key)]).unwrap();
        assert_eq!(c.store, StoreConfig::Postgres(url.to_owned()));
        assert_eq!(c.store_prune_interval, Duration::from_secs(300));
        let shown = format!("{:?} {}", c.store, c.masked_lines().join(" "));
        assert!(
            !shown.contains("hunter2") && !shown.contains("swordfish"),
            "{shown}"
        );
        assert!(
            shown.contains("DATABASE_URL=postgres://wa:****@127.0.0.1:5432/wa"),
            "{shown}"
        );
        // The key is required, as with Redis.
        let e = with(&[("DATABASE_URL", url)]).unwrap_err();
        assert_eq!(e.var, "SESSION_ENCRYPTION_KEY");
        // Not a PostgreSQL URL.
        let e = with(&[
            ("DATABASE_URL", "mysql://x"),
            ("SESSION_ENCRYPTION_KEY", &key),
        ])
        .unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        // Both stores at once is a configuration error.
        let e = with(&[
            ("DATABASE_URL", url),
            ("REDIS_URL", "redis://127.0.0.1:6379"),
            ("SESSION_ENCRYPTION_KEY", &key),
        ])
        .unwrap_err();
        assert_eq!(e.var, "DATABASE_URL");
        assert!(e
            .to_string()
            .contains("at most one of REDIS_URL and DATABASE_URL"));
        // The pruning interval is bounded.
        for bad in ["0s", "2d", "soon"] {
            let e = with(&[
                ("DATABASE_URL", url),
                ("SESSION_ENCRYPTION_KEY", &key),
                ("STORE_PRUNE_INTERVAL", bad),
            ])
            .unwrap_err();
            assert_eq!(e.var, "STORE_PRUNE_INTERVAL", "{bad}");
        }
    }

    /// Every duration variable, with a value that must parse within its bounds.
    const DURATION_VARS: &[&str] = &[
        "STORE_TIMEOUT",
        "STORE_PRUNE_INTERVAL",
        "WALLET_SESSION_TTL",
        "WALLET_SESSION_REFRESH_WINDOW",
        "WALLET_SESSION_MAX_LIFETIME",
        "NONCE_TTL",
        "CLOCK_SKEW",
        "HTTP_HEADER_TIMEOUT",
        "HTTP_IDLE_TIMEOUT",
        "HTTP_REQUEST_TIMEOUT",
        "SHUTDOWN_TIMEOUT",
    ];

    #[test]
    fn extreme_durations_are_config_errors() {
        for var in DURATION_VARS {
            for val in [
                "1000000000d",
                "18446744073709551615",
                "18446744073709551615ms",
                "99999999999999999999d",
                "3651d",
                "106751991167300d",
                "9223372036854775807s",
            ] {
                let e = with(&[(var, val)]).expect_err(&format!("{var}={val} accepted"));
                assert_eq!(e.var, *var, "{var}={val}: {e}");
                assert!(!e.to_string().contains('\n'), "one line: {e}");
            }
            // The largest value each accepts is accepted (with its companions made to fit), and
            // one millisecond more is refused.
            let (min, max) = duration_bounds(var);
            let max_ms = format!("{}ms", max.as_millis());
            let over_ms = format!("{}ms", max.as_millis() + 1);
            let fit = |v: &str| -> Vec<(&str, String)> {
                let mut pairs = vec![(*var, v.to_owned())];
                match *var {
                    "WALLET_SESSION_TTL" => {
                        pairs.push(("WALLET_SESSION_MAX_LIFETIME", max_ms.clone()));
                    }
                    "WALLET_SESSION_REFRESH_WINDOW" => {
                        pairs.push(("WALLET_SESSION_TTL", max_ms.clone()));
                        pairs.push(("WALLET_SESSION_MAX_LIFETIME", max_ms.clone()));
                    }
                    _ => {}
                }
                pairs
            };
            let pairs = fit(&max_ms);
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let c = with(&pairs).unwrap_or_else(|e| panic!("{var}={max_ms} refused: {e}"));
            drop(c);
            let e = with(&[(var, &over_ms)]).expect_err(&format!("{var}={over_ms} accepted"));
            assert_eq!(e.var, *var);
            if !min.is_zero() {
                let under = format!("{}ms", min.as_millis() - 1);
                let e = with(&[(var, &under)]).expect_err(&format!("{var}={under} accepted"));
                assert_eq!(e.var, *var);
            }
        }
    }

    #[test]
    fn extreme_counts_are_config_errors() {
        for (var, val) in [
            ("MAX_SESSIONS_PER_WALLET", "1001"),
            ("MAX_SESSIONS_PER_WALLET", "18446744073709551616"),
            ("RATE_LIMIT_PER_MIN", "1000001"),
            ("RATE_LIMIT_PER_MIN", "4294967296"),
            ("MAX_BODY_BYTES", "1048577"),
            ("MAX_BODY_BYTES", "18446744073709551615"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS", "1000001"),
            ("MAX_CONNECTIONS_PER_IP", "0"),
            ("MAX_CONNECTIONS_PER_IP", "1025"),
        ] {
            let e = with(&[(var, val)]).expect_err(&format!("{var}={val} accepted"));
            assert_eq!(e.var, var, "{var}={val}: {e}");
        }
        let c = with(&[("MAX_CONNECTIONS", "10")]).unwrap();
        assert_eq!((c.max_connections, c.max_connections_per_ip), (10, 10));
        let c = Config::defaults();
        assert_eq!((c.max_connections, c.max_connections_per_ip), (1024, 64));
        assert_eq!(c.header_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.request_timeout, Duration::from_secs(30));
        assert_eq!(c.shutdown_timeout, Duration::from_secs(10));
    }

    #[test]
    fn proxy_hops_and_uri_scheme() {
        for (var, val) in [
            ("TRUST_PROXY_HOPS", "0"),
            ("TRUST_PROXY_HOPS", "17"),
            ("TRUST_PROXY_HOPS", "-1"),
            ("TRUST_PROXY_HOPS", "one"),
            ("AUTH_URI", "localhost:8080"),
            ("AUTH_URI", "://app.example.com"),
            ("AUTH_URI", "1http://app.example.com"),
            ("AUTH_URI", "https://"),
            ("AUTH_STRICT_URI", "sometimes"),
        ] {
            let e = with(&[(var, val)]).unwrap_err();
            assert_eq!(e.var, var, "{var}={val}");
        }
        let c = with(&[
            ("TRUST_PROXY_HOPS", "2"),
            ("AUTH_URI", "https://a.example/x"),
        ])
        .unwrap();
        assert_eq!(c.trust_proxy_hops, 2);
        assert_eq!(uri_scheme(&c.uri), Some("https"));
        assert!(c.strict_uri, "the URI origin is checked unless turned off");
        assert_eq!(Config::defaults().trust_proxy_hops, 1);
        assert!(!with(&[("AUTH_STRICT_URI", "false")]).unwrap().strict_uri);
    }

    #[test]
    fn secrets_are_masked() {
        let key = "11".repeat(32);
        let c = with(&[
            ("REDIS_URL", "redis://user:hunter2@127.0.0.1:6379"),
            ("SESSION_ENCRYPTION_KEY", &key),
            ("ADMIN_TOKEN", "super-secret-admin-token"),
            ("METRICS_TOKEN", "super-secret-metrics-token"),
        ])
        .unwrap();
        let text = c.masked_lines().join("\n") + &format!("{c:?}");
        assert!(!text.contains("super-secret-metrics-token"), "{text}");
        assert!(text.contains("METRICS_TOKEN=****"), "{text}");
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
        assert_eq!(
            with(&[("SOLANA_CHAIN_IDS", "solana:devnet, localnet")])
                .unwrap()
                .solana_chain_ids,
            vec!["devnet", "localnet"]
        );
    }
}
