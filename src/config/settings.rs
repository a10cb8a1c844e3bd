//! The settings, one struct per concern, as plain data: what the layers above build their
//! objects from (the session layer its key ring, the HTTP layer its CORS layer and cookies, the
//! store its connection). Values derived from several fields are methods here, so no caller
//! recomputes them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use super::values::{
    keyword_value, list, mask_db_url, mask_url, uri_scheme, Keyword, Secret, Value,
};

/// The whole server configuration. [`Config::default`] is the contract's defaults with the
/// memory store; every field is public, and [`Config::validate`] checks a configuration built
/// in code as the environment reader would.
#[derive(Debug, Clone)]
pub struct Config {
    /// The HTTP server.
    pub http: HttpSettings,
    /// What signed messages must say.
    pub signin: SignInSettings,
    /// Wallet session lifetimes, limits and binding.
    pub sessions: SessionSettings,
    /// The session cookies.
    pub cookies: CookieSettings,
    /// Browser origins trusted for CORS and for CSRF.
    pub origins: OriginSettings,
    /// The store and the encryption of its records.
    pub store: StoreSettings,
    /// The nodes checking contract-wallet signatures.
    pub contract_wallets: ContractWalletSettings,
    /// Tokens for other services.
    pub tokens: TokenSettings,
    /// Rate and concurrency budgets.
    pub limits: LimitSettings,
    /// Operator access.
    pub ops: OpsSettings,
    /// Logging.
    pub log: LogSettings,
}

impl Config {
    /// Placeholders that the table overwrites: every field is some variable's, so none of
    /// these values survives [`Config::default`] or [`Config::from_lookup`] (see the table).
    pub(crate) fn blank() -> Self {
        let zero = Duration::ZERO;
        Config {
            http: HttpSettings {
                bind_addr: std::net::SocketAddr::from(([0, 0, 0, 0], 0)),
                header_timeout: zero,
                idle_timeout: zero,
                request_timeout: zero,
                shutdown_timeout: zero,
                max_connections: 0,
                max_connections_per_ip: 0,
                max_body_bytes: 0,
                demo_page: false,
                trust_proxy: false,
                trust_proxy_hops: 0,
            },
            signin: SignInSettings {
                domains: Vec::new(),
                uri: String::new(),
                strict_uri: false,
                eth_chain_ids: EthChainIds::Any,
                solana_chain_ids: Vec::new(),
                nonce_ttl: zero,
                clock_skew: zero,
            },
            sessions: SessionSettings {
                ttl: zero,
                refresh_window: zero,
                max_lifetime: zero,
                max_per_wallet: 0,
                binding: Binding::Off,
                reauth_max_age: zero,
            },
            cookies: CookieSettings {
                secure: false,
                same_site: SameSite::Lax,
            },
            origins: OriginSettings::default(),
            store: StoreSettings {
                backend: StoreConfig::Memory,
                redis_prefix: String::new(),
                timeout: zero,
                prune_interval: zero,
                encryption_keys: EncryptionKeys::default(),
                session_cache: false,
                session_cache_entries: 0,
            },
            contract_wallets: ContractWalletSettings {
                rpc_urls: Vec::new(),
                rpc_timeout: zero,
            },
            tokens: TokenSettings {
                issuer: None,
                audience: None,
                ttl: zero,
                keys_cache: zero,
            },
            limits: LimitSettings {
                rate_limit_per_min: 0,
                password_checks: 0,
            },
            ops: OpsSettings::default(),
            log: LogSettings {
                format: LogFormat::Pretty,
            },
        }
    }

    /// `iss` of the tokens for other services: `TOKEN_ISSUER`, default `AUTH_URI`.
    #[must_use]
    pub fn token_issuer(&self) -> &str {
        self.tokens.issuer.as_deref().unwrap_or(&self.signin.uri)
    }

    /// `aud` of the tokens for other services: `TOKEN_AUDIENCE`, default the issuer.
    #[must_use]
    pub fn token_audience(&self) -> &str {
        self.tokens
            .audience
            .as_deref()
            .unwrap_or_else(|| self.token_issuer())
    }
}

/// The HTTP server: where it listens, its timeouts and connection caps, and who the client is
/// behind proxies.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// `BIND_ADDR`.
    pub bind_addr: SocketAddr,
    /// `HTTP_HEADER_TIMEOUT`: bound on receiving a request head, from its first byte.
    pub header_timeout: Duration,
    /// `HTTP_IDLE_TIMEOUT`: a keep-alive connection with no request for this long is closed.
    pub idle_timeout: Duration,
    /// `HTTP_REQUEST_TIMEOUT`: bound on handling one request, reading its body included.
    pub request_timeout: Duration,
    /// `SHUTDOWN_TIMEOUT`: after a shutdown signal, connections still open this long are dropped.
    pub shutdown_timeout: Duration,
    /// `MAX_CONNECTIONS`: open client connections at most (lowered to fit the file limit).
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_IP`: open connections per client address (IPv6: per /64) at most;
    /// not applied with `TRUST_PROXY=true`, where every connection comes from the proxy.
    pub max_connections_per_ip: usize,
    /// `MAX_BODY_BYTES`.
    pub max_body_bytes: usize,
    /// `DEMO_PAGE`: serve the demo sign-in page at `/`.
    pub demo_page: bool,
    /// `TRUST_PROXY`: take the client address from `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// `TRUST_PROXY_HOPS`: how many trusted proxies append to `X-Forwarded-For` (the client is
    /// the entry this many places from the right).
    pub trust_proxy_hops: u8,
}

/// What a signed sign-in message must say to be accepted.
#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// `AUTH_DOMAINS`: domains accepted in signed messages; the first is the default.
    pub domains: Vec<String>,
    /// `AUTH_URI`: URI put into prepared messages; its scheme is the one messages must use.
    pub uri: String,
    /// `AUTH_STRICT_URI` (default on): also require the message URI's origin to be
    /// `AUTH_URI`'s scheme with one of the domains.
    pub strict_uri: bool,
    /// `ETH_CHAIN_IDS`.
    pub eth_chain_ids: EthChainIds,
    /// `SOLANA_CHAIN_IDS`, without their `solana:` prefix.
    pub solana_chain_ids: Vec<String>,
    /// `NONCE_TTL`.
    pub nonce_ttl: Duration,
    /// `CLOCK_SKEW`.
    pub clock_skew: Duration,
}

impl SignInSettings {
    /// The scheme signed messages must use: `AUTH_URI`'s (`https` if it had none).
    #[must_use]
    pub fn scheme(&self) -> &str {
        uri_scheme(&self.uri).unwrap_or("https")
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

impl EthChainIds {
    /// Whether chain `id` is allowed.
    #[must_use]
    pub fn allows(&self, id: u64) -> bool {
        match self {
            EthChainIds::Any => true,
            EthChainIds::Only(ids) => ids.contains(&id),
        }
    }
}

impl Value for EthChainIds {
    fn parse(text: &str) -> Result<Self, String> {
        if text == "*" {
            return Ok(EthChainIds::Any);
        }
        let ids = list(text)
            .iter()
            .map(|s| s.parse::<u64>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| "a comma-separated list of integers, or *".to_owned())?;
        if ids.is_empty() {
            return Err("at least one chain id, or *".into());
        }
        Ok(EthChainIds::Only(ids))
    }
    fn show(&self) -> Option<String> {
        Some(match self {
            EthChainIds::Any => "*".to_owned(),
            EthChainIds::Only(ids) => ids.iter().map(u64::to_string).collect::<Vec<_>>().join(","),
        })
    }
}

/// The chain ids the SIWS ABNF allows (`message-chain-id`), as written: the vocabulary of
/// `SOLANA_CHAIN_IDS` and of the messages themselves (the verifier reads this list too).
pub const SIWS_CHAIN_IDS: [&str; 7] = [
    "mainnet",
    "testnet",
    "devnet",
    "localnet",
    "solana:mainnet",
    "solana:testnet",
    "solana:devnet",
];

/// A SIWS chain id (one of [`SIWS_CHAIN_IDS`]) without its `solana:` prefix: `mainnet`,
/// `testnet`, `devnet` or `localnet`; `None` for anything else.
#[must_use]
pub fn normalize_solana_chain_id(s: &str) -> Option<String> {
    SIWS_CHAIN_IDS
        .contains(&s)
        .then(|| s.strip_prefix("solana:").unwrap_or(s).to_owned())
}

/// The JSON-RPC nodes that check contract-wallet signatures.
#[derive(Debug, Clone)]
pub struct ContractWalletSettings {
    /// `ETH_RPC_URLS`: a JSON-RPC node per chain id, ascending by chain id (the URLs may hold
    /// API keys: secrets).
    pub rpc_urls: Vec<(u64, Secret)>,
    /// `ETH_RPC_TIMEOUT`: bound on one node call.
    pub rpc_timeout: Duration,
}

impl Value for Vec<(u64, Secret)> {
    fn parse(text: &str) -> Result<Self, String> {
        let mut nodes: Vec<(u64, Secret)> = Vec::new();
        for pair in list(text) {
            let Some((id, url)) = pair.split_once('=') else {
                return Err(format!(
                    "{:?} is not chainId=url (e.g. 1=https://node.example)",
                    super::values::mask_rpc_url(&pair)
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
    fn show(&self) -> Option<String> {
        (!self.is_empty()).then(|| {
            self.iter()
                .map(|(id, url)| format!("{id}={}", url.expose()))
                .collect::<Vec<_>>()
                .join(",")
        })
    }
}

/// Where sessions live, and how their records are kept.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `REDIS_URL` / `DATABASE_URL`.
    pub backend: StoreConfig,
    /// `REDIS_PREFIX`: key prefix in Redis.
    pub redis_prefix: String,
    /// `STORE_TIMEOUT`: bound on every store call.
    pub timeout: Duration,
    /// `STORE_PRUNE_INTERVAL`: PostgreSQL: mean interval between deletions of expired rows.
    pub prune_interval: Duration,
    /// `SESSION_CACHE`: Redis: validate sessions from an in-process cache kept coherent by
    /// Redis's invalidation messages (see `store::redis_cache`).
    pub session_cache: bool,
    /// `SESSION_CACHE_ENTRIES`: most sessions that cache holds.
    pub session_cache_entries: usize,
    /// `SESSION_ENCRYPTION_KEY`: the keys records are encrypted with (first encrypts, all
    /// decrypt). Empty: unset, allowed only with the memory store, where the session layer
    /// makes a random key for the process.
    pub encryption_keys: EncryptionKeys,
}

/// Which store holds the sessions.
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

/// Length of one record encryption key (AES-256).
pub const ENCRYPTION_KEY_LEN: usize = 32;

/// Record encryption keys as configured: raw key material, never printed. The session layer
/// builds its cipher ring from them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionKeys(Vec<[u8; ENCRYPTION_KEY_LEN]>);

impl EncryptionKeys {
    /// These keys, the first encrypting.
    #[must_use]
    pub fn new(keys: Vec<[u8; ENCRYPTION_KEY_LEN]>) -> Self {
        EncryptionKeys(keys)
    }

    /// Parses a comma-separated list of 64-hex-character keys.
    ///
    /// # Errors
    /// A human reason when a key is not 64 hex characters, or a key is listed twice.
    pub fn from_hex_list(s: &str) -> Result<Self, String> {
        let mut keys: Vec<[u8; ENCRYPTION_KEY_LEN]> = Vec::new();
        for part in list(s) {
            let bytes =
                hex::decode(&part).map_err(|_| "each key must be 64 hex characters".to_owned())?;
            let key: [u8; ENCRYPTION_KEY_LEN] = bytes
                .try_into()
                .map_err(|_| "each key must be 64 hex characters (32 bytes)".to_owned())?;
            if keys.contains(&key) {
                return Err("a key is listed twice; use distinct keys".into());
            }
            keys.push(key);
        }
        if keys.is_empty() {
            return Err("at least one key of 64 hex characters".into());
        }
        Ok(EncryptionKeys(keys))
    }

    /// The key material: call only where a cipher is built from it.
    #[must_use]
    pub fn expose(&self) -> &[[u8; ENCRYPTION_KEY_LEN]] {
        &self.0
    }

    /// Whether no key is configured.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptionKeys({} key(s), ****)", self.0.len())
    }
}

impl Value for EncryptionKeys {
    fn parse(text: &str) -> Result<Self, String> {
        Self::from_hex_list(text)
    }
    fn show(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.0.iter().map(hex::encode).collect::<Vec<_>>().join(","))
    }
}

/// Lifetimes and limits of wallet sessions; the session manager takes them as they are.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// `WALLET_SESSION_TTL`: lifetime of a session (and of each extension).
    pub ttl: Duration,
    /// `WALLET_SESSION_REFRESH_WINDOW`: a request in the last `refresh_window` of a session
    /// extends it.
    pub refresh_window: Duration,
    /// `WALLET_SESSION_MAX_LIFETIME`: absolute cap since sign-in.
    pub max_lifetime: Duration,
    /// `MAX_SESSIONS_PER_WALLET`: concurrent sessions per wallet.
    pub max_per_wallet: usize,
    /// `SESSION_BINDING`: what a session is bound to.
    pub binding: Binding,
    /// `REAUTH_MAX_AGE`: how recent a session's sign-in must be to link or unlink identities.
    pub reauth_max_age: Duration,
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

impl Keyword for Binding {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("off", Binding::Off),
        ("device", Binding::Device),
        ("strict", Binding::Strict),
    ];
}

/// The session cookies' attributes.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// `COOKIE_SECURE`.
    pub secure: bool,
    /// `COOKIE_SAMESITE`.
    pub same_site: SameSite,
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

impl Keyword for SameSite {
    const NAMES: &'static [(&'static str, Self)] = &[
        ("lax", SameSite::Lax),
        ("strict", SameSite::Strict),
        ("none", SameSite::None),
    ];
}

impl SameSite {
    /// The attribute value as a cookie carries it (`Lax`, `Strict`, `None`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// Which browser origins may do what. The two lists are kept apart: an origin trusted for CSRF
/// is not thereby allowed to read responses cross-origin.
#[derive(Debug, Clone, Default)]
pub struct OriginSettings {
    /// `CORS_ORIGINS`: origins allowed to call with credentials (CORS), and accepted in place
    /// of the CSRF token.
    pub cors: Vec<String>,
    /// `CSRF_TRUSTED_ORIGINS`: more origins accepted in place of the CSRF token only.
    pub csrf_trusted: Vec<String>,
}

impl OriginSettings {
    /// Whether a cookie-authenticated unsafe request from `origin` passes without the CSRF
    /// token: the origin is in `CORS_ORIGINS` or `CSRF_TRUSTED_ORIGINS`.
    #[must_use]
    pub fn csrf_trusts(&self, origin: &str) -> bool {
        self.cors
            .iter()
            .chain(&self.csrf_trusted)
            .any(|o| o == origin)
    }
}

/// Checks a list of origins (`CORS_ORIGINS`, `CSRF_TRUSTED_ORIGINS`): each `http(s)://host`
/// without a path.
pub(crate) fn check_origins(origins: Vec<String>) -> Result<Vec<String>, String> {
    match origins
        .iter()
        .find(|o| !(o.starts_with("http://") || o.starts_with("https://")) || o.ends_with('/'))
    {
        Some(o) => Err(format!(
            "{o:?} is not an origin like https://app.example.com"
        )),
        None => Ok(origins),
    }
}

/// Budgets per client.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// `RATE_LIMIT_PER_MIN` (0: off).
    pub rate_limit_per_min: u32,
    /// `PASSWORD_CHECKS_MAX`: legacy password checks (Argon2id, ~19 MiB each) in flight.
    pub password_checks: usize,
}

/// The default `PASSWORD_CHECKS_MAX` is the CPU count, at most this.
pub const DEFAULT_MAX_PASSWORD_CHECKS: usize = 8;

/// The default bound on password checks in flight: the CPU count, at most
/// [`DEFAULT_MAX_PASSWORD_CHECKS`].
#[must_use]
pub fn default_password_checks() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, DEFAULT_MAX_PASSWORD_CHECKS)
}

/// Operator access: the admin API and the metrics.
#[derive(Debug, Clone, Default)]
pub struct OpsSettings {
    /// `ADMIN_TOKEN`: enables `/admin/*`.
    pub admin_token: Option<Secret>,
    /// `METRICS_TOKEN`: when set, `/metrics` needs `Authorization: Bearer $METRICS_TOKEN`.
    pub metrics_token: Option<Secret>,
    /// `ADMIN_WALLETS`: wallets whose accounts have the `admin` role, as `ethereum:<address in
    /// lower case>` or `solana:<base58>`.
    pub admin_wallets: Vec<String>,
}

/// Tokens for other services (JWTs).
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// `TOKEN_ISSUER`: `iss`; `None`: `AUTH_URI` (see [`Config::token_issuer`]).
    pub issuer: Option<String>,
    /// `TOKEN_AUDIENCE`: `aud`; `None`: the issuer (see [`Config::token_audience`]).
    pub audience: Option<String>,
    /// `TOKEN_TTL`: lifetime of a token (capped at its session's expiry).
    pub ttl: Duration,
    /// `TOKEN_KEYS_CACHE`: how long an instance keeps the signing keys it read from the store
    /// before reading them again (so a `keys rotate` reaches every instance within this).
    pub keys_cache: Duration,
}

/// Logging.
#[derive(Debug, Clone)]
pub struct LogSettings {
    /// `LOG_FORMAT`.
    pub format: LogFormat,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

impl Keyword for LogFormat {
    const NAMES: &'static [(&'static str, Self)] =
        &[("pretty", LogFormat::Pretty), ("json", LogFormat::Json)];
}

keyword_value!(Binding, SameSite, LogFormat);
