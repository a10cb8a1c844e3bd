//! The server's configuration: plain data, read by every layer, importing none of them.
//!
//! Why it is shaped this way:
//! - **Settings per concern** ([`HttpSettings`], [`SignInSettings`], [`SessionSettings`], …),
//!   nested in [`Config`]; the layers above take their part and build their objects from it
//!   (the session layer its key ring from [`EncryptionKeys`], the HTTP layer its CORS layer
//!   from [`OriginSettings`]). Values derived from several fields are methods.
//! - **One table** ([`vars`]) names each environment variable once, with its default, bounds,
//!   whether it is secret, and the field it fills. Parsing, re-checking, clamping and
//!   `config check`'s printing all walk it.
//! - **Pure parsing**: [`Config::from_lookup`] is a function of a lookup closure, so tests
//!   need no process environment. Nothing in the library reads the environment or a `.env`
//!   file: the binary does, and hands [`Config::from_lookup`] `std::env::var`. A library user
//!   starts from [`Config::default`] and sets fields.
//!
//! Text handling, the same for every variable: names are matched exactly; a value is trimmed,
//! and an empty value is unset; keywords (flags such as `true`/`off`, and enum names such as
//! `device` or `json`) are matched without regard to case; URLs, domains, tokens and keys are
//! taken as written. A bad value yields a [`ConfigError`] naming the variable; the binary
//! prints that one line and exits with code 2.

mod settings;
mod table;
mod values;

pub use settings::{
    default_password_checks, normalize_solana_chain_id, Binding, Config, ContractWalletSettings,
    CookieSettings, EncryptionKeys, EthChainIds, HttpSettings, LimitSettings, LogFormat,
    LogSettings, OpsSettings, OriginSettings, SameSite, SessionSettings, SignInSettings,
    StoreConfig, StoreSettings, TokenSettings, DEFAULT_MAX_PASSWORD_CHECKS, ENCRYPTION_KEY_LEN,
    SIWS_CHAIN_IDS,
};
pub use table::{var, vars, Fallback, Mask, Var, MAX_BODY_LIMIT, MAX_PROXY_HOPS};
pub use values::{
    mask_db_url, mask_rpc_url, mask_url, parse_duration, show_duration, uri_scheme, Keyword,
    Secret, MAX_DURATION,
};

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

impl Default for Config {
    /// The contract's defaults: memory store, no encryption key configured (the session layer
    /// makes a random one), no origins trusted, no admin or metrics token.
    fn default() -> Self {
        let mut config = Self::blank();
        for var in vars() {
            // The table's defaults parse (the tests check every one), so this never fails.
            let _ = apply_fallback(var, &mut config);
        }
        config
    }
}

/// Gives `var` its fallback in `config`.
fn apply_fallback(var: &Var, config: &mut Config) -> Result<(), ConfigError> {
    match var.fallback {
        Fallback::Text(text) => var.set(config, text).map_err(|r| bad(var.name, r)),
        Fallback::Unset(_) => Ok(()),
        Fallback::Computed(_, compute) => {
            compute(config);
            Ok(())
        }
    }
}

impl Config {
    /// Reads the configuration through `get` (a variable name to its value). The binary passes
    /// `|k| std::env::var(k).ok()`; tests pass a table.
    ///
    /// # Errors
    /// The first variable with a bad value, in the table's order, then the first rule between
    /// variables that fails (see [`Config::validate`]).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::blank();
        for var in vars() {
            match get(var.name) {
                Some(v) if !v.trim().is_empty() => var
                    .set(&mut config, v.trim())
                    .map_err(|r| bad(var.name, r))?,
                _ => apply_fallback(var, &mut config)?,
            }
        }
        config.check_rules()?;
        Ok(config)
    }

    /// Checks a configuration as [`Config::from_lookup`] would have: every field is shown and
    /// parsed back through its variable's row (bounds and formats), then the rules between
    /// variables.
    ///
    /// # Errors
    /// The first variable whose value would be refused.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for var in vars() {
            if let Some(text) = var.show(self) {
                var.set(&mut self.clone(), &text)
                    .map_err(|r| bad(var.name, r))?;
            }
        }
        self.check_rules()
    }

    /// The rules that involve more than one variable, each naming the one to change.
    fn check_rules(&self) -> Result<(), ConfigError> {
        if self.store.backend != StoreConfig::Memory && self.store.encryption_keys.is_empty() {
            return Err(bad(
                "SESSION_ENCRYPTION_KEY",
                "required with REDIS_URL or DATABASE_URL (64 hex characters; generate with `openssl rand -hex 32`)",
            ));
        }
        let s = &self.sessions;
        if s.refresh_window > s.ttl {
            return Err(bad(
                "WALLET_SESSION_REFRESH_WINDOW",
                "must not be longer than WALLET_SESSION_TTL",
            ));
        }
        if s.max_lifetime < s.ttl {
            return Err(bad(
                "WALLET_SESSION_MAX_LIFETIME",
                "must not be shorter than WALLET_SESSION_TTL",
            ));
        }
        if self.cookies.same_site == SameSite::None && !self.cookies.secure {
            return Err(bad(
                "COOKIE_SAMESITE",
                "none requires COOKIE_SECURE=true (browsers drop such cookies)",
            ));
        }
        if self.http.max_connections_per_ip > self.http.max_connections {
            return Err(bad(
                "MAX_CONNECTIONS_PER_IP",
                "must be at most MAX_CONNECTIONS",
            ));
        }
        let ids = &self.signin.eth_chain_ids;
        if let Some((id, _)) = self
            .contract_wallets
            .rpc_urls
            .iter()
            .find(|(id, _)| !ids.allows(*id))
        {
            return Err(bad(
                "ETH_RPC_URLS",
                format!(
                    "chain {id} is not in ETH_CHAIN_IDS ({ids:?}): its node would never be used"
                ),
            ));
        }
        Ok(())
    }

    /// Brings every duration and count into its accepted range (the table's bounds). The
    /// environment reader refuses out-of-range values; this catches a configuration built or
    /// changed in code (the fields are public), so no request can meet an unbounded value.
    /// Returns the names of the variables that were changed.
    pub fn clamp_to_bounds(&mut self) -> Vec<&'static str> {
        let mut changed: Vec<&'static str> = vars()
            .iter()
            .filter(|var| var.clamp(self))
            .map(|var| var.name)
            .collect();
        if self.http.max_connections_per_ip > self.http.max_connections {
            self.http.max_connections_per_ip = self.http.max_connections;
            changed.push("MAX_CONNECTIONS_PER_IP");
        }
        changed
    }

    /// The configuration as `KEY=value` lines in the table's order, secrets masked (for
    /// `wallet-auth config check`).
    #[must_use]
    pub fn masked_lines(&self) -> Vec<String> {
        vars()
            .iter()
            .map(|var| format!("{}={}", var.name, var.print(self)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
