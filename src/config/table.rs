//! The one table of environment variables. Each row names a variable once with its default,
//! its bounds, whether it is secret, and the field it fills; parsing ([`super::Config::from_lookup`]),
//! re-checking a configuration built in code ([`super::Config::validate`]), clamping
//! ([`super::Config::clamp_to_bounds`]) and printing ([`super::Config::masked_lines`]) all walk
//! this table, so none of them can forget a variable or disagree with another about it.
//!
//! The order of the rows is the order of `config check`'s output and of parsing: a row whose
//! default depends on another (`MAX_CONNECTIONS_PER_IP` on `MAX_CONNECTIONS`) comes after it.

use std::sync::LazyLock;
use std::time::Duration;

use super::settings::{
    check_origins, default_password_checks, normalize_solana_chain_id, Config, StoreConfig,
};
use super::values::{list, mask_db_url, mask_rpc_url, mask_url, uri_scheme, Secret, Value};

/// What a variable is when it is not set.
#[derive(Debug, Clone, Copy)]
pub enum Fallback {
    /// This text, parsed like a set value (the contract's default column).
    Text(&'static str),
    /// Nothing; the text says what that means ("" when it needs no words).
    Unset(&'static str),
    /// Computed from the machine or from variables before it; the text says how.
    Computed(&'static str, fn(&mut Config)),
}

/// How a variable's value is printed by `config check`.
#[derive(Debug, Clone, Copy)]
pub enum Mask {
    /// As it is.
    Plain,
    /// A secret: `****`.
    Hidden,
    /// A secret with a harmless part worth showing (a URL's host): this function keeps only
    /// that part.
    Partly(fn(&str) -> String),
}

type SetFn = Box<dyn Fn(&mut Config, &str) -> Result<(), String> + Send + Sync>;
type ShowFn = Box<dyn Fn(&Config) -> Option<String> + Send + Sync>;
type ClampFn = Box<dyn Fn(&mut Config) -> bool + Send + Sync>;

/// One environment variable of the table.
pub struct Var {
    /// The variable's name, matched exactly.
    pub name: &'static str,
    /// Its value when unset.
    pub fallback: Fallback,
    /// How `config check` prints it; anything but [`Mask::Plain`] is a secret.
    pub mask: Mask,
    /// The accepted range, as printed in error messages (`("1s", "365d")`).
    pub bounds: Option<(String, String)>,
    set: SetFn,
    show: ShowFn,
    clamp: Option<ClampFn>,
}

impl std::fmt::Debug for Var {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Var")
            .field("name", &self.name)
            .field("fallback", &self.fallback)
            .field("mask", &self.mask)
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

impl Var {
    /// Whether the value is a secret (masked when printed, never logged).
    #[must_use]
    pub fn is_secret(&self) -> bool {
        !matches!(self.mask, Mask::Plain)
    }

    /// Parses `text` (trimmed, non-empty) into the variable's field of `config`.
    pub(crate) fn set(&self, config: &mut Config, text: &str) -> Result<(), String> {
        (self.set)(config, text)
    }

    /// The variable's value in `config` as the parser would read it back, unmasked; `None`
    /// when unset.
    pub(crate) fn show(&self, config: &Config) -> Option<String> {
        (self.show)(config)
    }

    /// The value as `config check` prints it: masked when secret, or what unset means.
    #[must_use]
    pub fn print(&self, config: &Config) -> String {
        match (self.show(config), &self.fallback) {
            (Some(text), _) => match self.mask {
                Mask::Plain => text,
                Mask::Hidden => "****".to_owned(),
                Mask::Partly(mask) => mask(&text),
            },
            (None, Fallback::Unset(meaning)) if !meaning.is_empty() => {
                format!("(unset: {meaning})")
            }
            (None, _) => "(unset)".to_owned(),
        }
    }

    /// Brings the field into its bounds; whether it changed.
    pub(crate) fn clamp(&self, config: &mut Config) -> bool {
        self.clamp.as_ref().is_some_and(|clamp| clamp(config))
    }

    fn fallback(mut self, fallback: Fallback) -> Self {
        self.fallback = fallback;
        self
    }
    fn default(self, text: &'static str) -> Self {
        self.fallback(Fallback::Text(text))
    }
    fn unset(self, meaning: &'static str) -> Self {
        self.fallback(Fallback::Unset(meaning))
    }
    fn mask(mut self, mask: Mask) -> Self {
        self.mask = mask;
        self
    }
    fn secret(self) -> Self {
        self.mask(Mask::Hidden)
    }

    /// A row over a value that is not one field (the store backend, set by two variables).
    fn custom(
        name: &'static str,
        set: fn(&mut Config, &str) -> Result<(), String>,
        show: fn(&Config) -> Option<String>,
    ) -> Self {
        Var {
            name,
            fallback: Fallback::Unset(""),
            mask: Mask::Plain,
            bounds: None,
            set: Box::new(set),
            show: Box::new(show),
            clamp: None,
        }
    }
}

/// A field of [`Config`], read and written (made by `field!(path.to.field)`).
struct Field<T> {
    get: fn(&Config) -> &T,
    get_mut: fn(&mut Config) -> &mut T,
}

macro_rules! field {
    ($($path:ident).+) => {
        Field { get: |c| &c.$($path).+, get_mut: |c| &mut c.$($path).+ }
    };
}

/// A further check of a parsed value, which may also normalize it.
type Refine<T> = fn(T) -> Result<T, String>;
type CheckFn<T> = Box<dyn Fn(&T) -> Result<(), String> + Send + Sync>;
type ClampValueFn<T> = Box<dyn Fn(&mut T) -> bool + Send + Sync>;

/// A row being built over a field of type `T`.
struct Row<T> {
    name: &'static str,
    field: Field<T>,
    refine: Option<Refine<T>>,
    range: Option<(String, String, CheckFn<T>, ClampValueFn<T>)>,
}

fn row<T: Value + 'static>(name: &'static str, field: Field<T>) -> Row<T> {
    Row {
        name,
        field,
        refine: None,
        range: None,
    }
}

impl<T: Value + 'static> Row<T> {
    /// A further check of the parsed value, which may also normalize it.
    fn refine(mut self, refine: Refine<T>) -> Self {
        self.refine = Some(refine);
        self
    }

    fn build(self) -> Var {
        let Field { get, get_mut } = self.field;
        let refine = self.refine;
        let (bounds, check, clamp) = match self.range {
            Some((min, max, check, clamp)) => (Some((min, max)), Some(check), Some(clamp)),
            None => (None, None, None),
        };
        Var {
            name: self.name,
            fallback: Fallback::Unset(""),
            mask: Mask::Plain,
            bounds,
            set: Box::new(move |c, text| {
                let mut value = T::parse(text)?;
                if let Some(refine) = refine {
                    value = refine(value)?;
                }
                if let Some(check) = &check {
                    check(&value)?;
                }
                *get_mut(c) = value;
                Ok(())
            }),
            show: Box::new(move |c| get(c).show()),
            clamp: clamp.map(|clamp| -> ClampFn { Box::new(move |c| clamp(get_mut(c))) }),
        }
    }
}

impl<T: Value + PartialOrd + Copy + Send + Sync + 'static> Row<T> {
    /// The inclusive range of accepted values.
    fn range(mut self, min: T, max: T) -> Self {
        let shown = |v: T| v.show().unwrap_or_default();
        let reason = format!("must be from {} to {}", shown(min), shown(max));
        self.range = Some((
            shown(min),
            shown(max),
            Box::new(move |v| {
                if *v < min || *v > max {
                    Err(reason.clone())
                } else {
                    Ok(())
                }
            }),
            Box::new(move |v| {
                let fixed = if *v < min {
                    min
                } else if *v > max {
                    max
                } else {
                    *v
                };
                let changed = fixed != *v;
                *v = fixed;
                changed
            }),
        ));
        self
    }
}

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);
const MIN: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// The largest `MAX_BODY_BYTES` accepted (1 MiB).
pub const MAX_BODY_LIMIT: usize = 1024 * 1024;
/// Most trusted proxies `TRUST_PROXY_HOPS` accepts.
pub const MAX_PROXY_HOPS: u8 = 16;

fn domains(d: Vec<String>) -> Result<Vec<String>, String> {
    if d.is_empty() {
        return Err("at least one domain is required".into());
    }
    match d
        .iter()
        .find(|d| d.contains(char::is_whitespace) || d.contains('/'))
    {
        Some(d) => Err(format!("{d:?} is not a host[:port]")),
        None => Ok(d),
    }
}

fn absolute_uri(uri: String) -> Result<String, String> {
    if uri_scheme(&uri).is_none() || uri.contains(char::is_whitespace) {
        return Err(format!("{uri:?} is not an absolute URI (scheme://host…)"));
    }
    Ok(uri)
}

fn solana_chain_ids(ids: Vec<String>) -> Result<Vec<String>, String> {
    ids.iter()
        .map(|id| {
            normalize_solana_chain_id(id)
                .ok_or_else(|| format!("{id:?} is not mainnet, testnet, devnet or localnet"))
        })
        .collect()
}

fn admin_token(t: Option<Secret>) -> Result<Option<Secret>, String> {
    match t {
        Some(t) if t.expose().len() < 16 => Err("must be at least 16 characters".into()),
        t => Ok(t),
    }
}

/// `ADMIN_WALLETS` entries, checked and put in the form they are compared in: `ethereum:` and
/// 40 hex digits (any case, kept in lower case), or `solana:` and a base58 32-byte key.
fn admin_wallets(entries: Vec<String>) -> Result<Vec<String>, String> {
    entries
        .into_iter()
        .map(|entry| {
            let bad = || {
                format!("{entry:?} is not ethereum:0x<40 hex digits> or solana:<base58 public key>")
            };
            let (chain, address) = entry.split_once(':').ok_or_else(bad)?;
            match chain.to_ascii_lowercase().as_str() {
                "ethereum" => {
                    let hex = address.strip_prefix("0x").ok_or_else(bad)?;
                    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(bad());
                    }
                    Ok(format!("ethereum:0x{}", hex.to_ascii_lowercase()))
                }
                "solana" => match bs58::decode(address).into_vec() {
                    Ok(key) if key.len() == 32 => Ok(format!("solana:{address}")),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            }
        })
        .collect()
}

fn metrics_token(t: Option<Secret>) -> Result<Option<Secret>, String> {
    match t {
        Some(t) if t.expose().len() < 16 => Err("must be at least 16 characters".into()),
        Some(t) if !t.expose().bytes().all(|b| b.is_ascii_graphic()) => {
            Err("must be printable ASCII without spaces (it is sent in a header)".into())
        }
        t => Ok(t),
    }
}

fn claim(v: Option<String>) -> Result<Option<String>, String> {
    match v {
        Some(v) if v.len() > 512 || v.chars().any(char::is_control) => {
            Err("at most 512 characters, no control characters".into())
        }
        v => Ok(v),
    }
}

fn set_redis(c: &mut Config, text: &str) -> Result<(), String> {
    if list(text)
        .iter()
        .any(|u| !(u.starts_with("redis://") || u.starts_with("rediss://")))
    {
        return Err("every URL must start with redis:// or rediss://".into());
    }
    c.store.backend = StoreConfig::Redis(text.to_owned());
    Ok(())
}

fn set_postgres(c: &mut Config, text: &str) -> Result<(), String> {
    if matches!(c.store.backend, StoreConfig::Redis(_)) {
        return Err("set at most one of REDIS_URL and DATABASE_URL".into());
    }
    if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
        return Err("must start with postgres:// or postgresql://".into());
    }
    c.store.backend = StoreConfig::Postgres(text.to_owned());
    Ok(())
}

fn mask_rpc_urls(text: &str) -> String {
    list(text)
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((id, url)) => format!("{id}={}", mask_rpc_url(url)),
            None => "****".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn mask_keys(text: &str) -> String {
    format!("**** ({} key(s))", list(text).len())
}

/// Every variable, in order.
#[must_use]
pub fn vars() -> &'static [Var] {
    static VARS: LazyLock<Vec<Var>> = LazyLock::new(table);
    &VARS
}

/// The row of `name`.
#[must_use]
pub fn var(name: &str) -> Option<&'static Var> {
    vars().iter().find(|v| v.name == name)
}

#[rustfmt::skip]
fn table() -> Vec<Var> {
    vec![
        row("BIND_ADDR", field!(http.bind_addr)).build().default("127.0.0.1:8080"),
        row("AUTH_DOMAINS", field!(signin.domains)).refine(domains).build().default("localhost:8080"),
        row("AUTH_URI", field!(signin.uri)).refine(absolute_uri).build().default("http://localhost:8080"),
        row("AUTH_STRICT_URI", field!(signin.strict_uri)).build().default("true"),
        row("ETH_CHAIN_IDS", field!(signin.eth_chain_ids)).build().default("*"),
        row("SOLANA_CHAIN_IDS", field!(signin.solana_chain_ids)).refine(solana_chain_ids).build()
            .default("mainnet,devnet,testnet"),
        Var::custom("REDIS_URL", set_redis, |c| match &c.store.backend {
            StoreConfig::Redis(url) => Some(url.clone()),
            _ => None,
        })
        .unset("with DATABASE_URL unset too: the in-memory store")
        .mask(Mask::Partly(mask_url)),
        Var::custom("DATABASE_URL", set_postgres, |c| match &c.store.backend {
            StoreConfig::Postgres(url) => Some(url.clone()),
            _ => None,
        })
        .mask(Mask::Partly(mask_db_url)),
        row("REDIS_PREFIX", field!(store.redis_prefix)).build().default("wa:"),
        row("STORE_TIMEOUT", field!(store.timeout)).range(MS, MIN).build().default("500ms"),
        row("STORE_PRUNE_INTERVAL", field!(store.prune_interval)).range(SEC, DAY).build().default("5m"),
        row("SESSION_CACHE", field!(store.session_cache)).build().default("true"),
        row("SESSION_CACHE_ENTRIES", field!(store.session_cache_entries)).range(1, 10_000_000).build()
            .default("100000"),
        row("SESSION_ENCRYPTION_KEY", field!(store.encryption_keys)).build()
            .unset("a random key for this process, sessions lost at restart")
            .mask(Mask::Partly(mask_keys)),
        row("WALLET_SESSION_TTL", field!(sessions.ttl)).range(SEC, 365 * DAY).build().default("2h"),
        row("WALLET_SESSION_REFRESH_WINDOW", field!(sessions.refresh_window)).range(SEC, 365 * DAY).build()
            .default("30m"),
        row("WALLET_SESSION_MAX_LIFETIME", field!(sessions.max_lifetime)).range(SEC, 5 * 365 * DAY).build()
            .default("7d"),
        row("MAX_SESSIONS_PER_WALLET", field!(sessions.max_per_wallet)).range(1, 1000).build().default("5"),
        row("NONCE_TTL", field!(signin.nonce_ttl)).range(SEC, DAY).build().default("5m"),
        row("CLOCK_SKEW", field!(signin.clock_skew)).range(Duration::ZERO, DAY).build().default("5m"),
        row("SESSION_BINDING", field!(sessions.binding)).build().default("device"),
        row("REAUTH_MAX_AGE", field!(sessions.reauth_max_age)).range(SEC, 30 * DAY).build().default("10m"),
        row("TRUST_PROXY", field!(http.trust_proxy)).build().default("false"),
        row("TRUST_PROXY_HOPS", field!(http.trust_proxy_hops)).range(1, MAX_PROXY_HOPS).build().default("1"),
        row("COOKIE_SECURE", field!(cookies.secure)).build().default("true"),
        row("COOKIE_SAMESITE", field!(cookies.same_site)).build().default("lax"),
        row("CORS_ORIGINS", field!(origins.cors)).refine(check_origins).build()
            .unset("no cross-origin calls with credentials"),
        row("CSRF_TRUSTED_ORIGINS", field!(origins.csrf_trusted)).refine(check_origins).build()
            .unset("only CORS_ORIGINS"),
        row("RATE_LIMIT_PER_MIN", field!(limits.rate_limit_per_min)).range(0, 1_000_000).build().default("60"),
        row("PASSWORD_CHECKS_MAX", field!(limits.password_checks)).range(1, 256).build()
            .fallback(Fallback::Computed("CPU count, at most 8", |c| {
                c.limits.password_checks = default_password_checks();
            })),
        row("ADMIN_TOKEN", field!(ops.admin_token)).refine(admin_token).build()
            .unset("/admin only for sessions with the admin role").secret(),
        row("ADMIN_WALLETS", field!(ops.admin_wallets)).refine(admin_wallets).build()
            .unset("no account is given admin by its wallet"),
        row("METRICS_TOKEN", field!(ops.metrics_token)).refine(metrics_token).build()
            .unset("/metrics is public").secret(),
        row("LOG_FORMAT", field!(log.format)).build().default("pretty"),
        row("MAX_BODY_BYTES", field!(http.max_body_bytes)).range(1024, MAX_BODY_LIMIT).build().default("16384"),
        row("DEMO_PAGE", field!(http.demo_page)).build().default("true"),
        row("HTTP_HEADER_TIMEOUT", field!(http.header_timeout)).range(100 * MS, 10 * MIN).build().default("10s"),
        row("HTTP_IDLE_TIMEOUT", field!(http.idle_timeout)).range(100 * MS, HOUR).build().default("60s"),
        row("HTTP_REQUEST_TIMEOUT", field!(http.request_timeout)).range(100 * MS, 10 * MIN).build().default("30s"),
        row("MAX_CONNECTIONS", field!(http.max_connections)).range(1, 1_000_000).build().default("1024"),
        row("MAX_CONNECTIONS_PER_IP", field!(http.max_connections_per_ip)).range(1, 1_000_000).build()
            .fallback(Fallback::Computed("64, or MAX_CONNECTIONS if lower", |c| {
                c.http.max_connections_per_ip = c.http.max_connections.min(64);
            })),
        row("SHUTDOWN_TIMEOUT", field!(http.shutdown_timeout)).range(100 * MS, HOUR).build().default("10s"),
        row("ETH_RPC_URLS", field!(contract_wallets.rpc_urls)).build()
            .unset("contract-wallet sign-in disabled")
            .mask(Mask::Partly(mask_rpc_urls)),
        row("ETH_RPC_TIMEOUT", field!(contract_wallets.rpc_timeout)).range(100 * MS, 30 * SEC).build()
            .default("3s"),
        row("TOKEN_ISSUER", field!(tokens.issuer)).refine(claim).build().unset("AUTH_URI"),
        row("TOKEN_AUDIENCE", field!(tokens.audience)).refine(claim).build().unset("the issuer"),
        row("TOKEN_TTL", field!(tokens.ttl)).range(SEC, DAY).build().default("5m"),
        row("TOKEN_KEYS_CACHE", field!(tokens.keys_cache)).range(SEC, MIN).build().default("30s"),
    ]
}
