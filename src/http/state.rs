//! The state every handler and extractor shares: the configuration, the store, the session
//! managers built over it, metrics and the contract-wallet clients. Why here, apart from the
//! routers: the route modules and the routers both need it, and it needs neither.

use std::sync::Arc;
use std::time::Duration;

use super::error::{ApiError, ApiResult};
use super::metrics::Metrics;
use crate::config::Config;
use crate::contract_wallets::ContractWallets;
use crate::session::accounts::{Accounts, Directory};
use crate::session::crypto::KeyRing;
use crate::session::tokens::TokenKeys;
use crate::session::user::{UserAccounts, UserSessions};
use crate::session::{Audit, Clock, SignIns, SystemClock, WalletSessions};
use crate::store::{RateDecision, Store};

/// Everything the handlers and extractors share. Cheap to clone.
#[derive(Clone)]
pub struct AuthState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    sessions: WalletSessions,
    signins: SignIns,
    users: UserAccounts,
    user_sessions: UserSessions,
    accounts: Accounts,
    audit: Audit,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    contract_wallets: Arc<ContractWallets>,
    token_keys: TokenKeys,
}

impl std::fmt::Debug for AuthState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthState")
            .field("store", &self.inner.store.kind())
            .finish_non_exhaustive()
    }
}

impl AuthState {
    /// State over `store` with the system clock.
    #[must_use]
    pub fn new(config: Config, store: Arc<dyn Store>) -> Self {
        Self::with_clock(config, store, Arc::new(SystemClock))
    }

    /// State over `store` with an injected clock (tests move time with it).
    #[must_use]
    pub fn with_clock(mut config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        for var in config.clamp_to_bounds() {
            tracing::warn!(variable = var, "configured value out of range: clamped");
        }
        let metrics = Metrics::new();
        for (chain_id, _) in &config.contract_wallets.rpc_urls {
            metrics.declare_node(*chain_id);
        }
        let store: Arc<dyn Store> = Arc::new(crate::store::MeteredStore::new(
            store,
            Arc::new(metrics.clone()),
        ));
        let audit = Audit::new(store.clone());
        let keys = KeyRing::from_config(&config.store.encryption_keys);
        let directory = Directory::new(
            store.clone(),
            clock.clone(),
            config.ops.admin_wallets.clone(),
        );
        let sessions = WalletSessions::new(
            store.clone(),
            keys.clone(),
            clock.clone(),
            config.sessions.clone(),
            audit.clone(),
            directory.clone(),
        );
        let users = UserAccounts::with_max_checks(store.clone(), config.limits.password_checks);
        let user_sessions = UserSessions::new(
            store.clone(),
            keys.clone(),
            users.clone(),
            clock.clone(),
            directory,
        );
        let accounts = Accounts::new(
            sessions.clone(),
            user_sessions.clone(),
            users.clone(),
            audit.clone(),
            clock.clone(),
            config.sessions.reauth_max_age,
        );
        let contract_wallets = Arc::new(ContractWallets::from_config(
            &config.contract_wallets,
            Some(metrics.node_observer()),
        ));
        let signins = SignIns::new(
            store.clone(),
            sessions.clone(),
            contract_wallets.clone(),
            audit.clone(),
            clock.clone(),
            config.signin.clone(),
        );
        let token_keys = TokenKeys::new(
            store.clone(),
            keys,
            clock.clone(),
            config.tokens.keys_cache,
            config.tokens.ttl,
        );
        AuthState {
            inner: Arc::new(Inner {
                config,
                store,
                sessions,
                signins,
                users,
                user_sessions,
                accounts,
                audit,
                clock,
                metrics,
                contract_wallets,
                token_keys,
            }),
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// The store.
    #[must_use]
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    /// The wallet session manager.
    #[must_use]
    pub fn sessions(&self) -> &WalletSessions {
        &self.inner.sessions
    }
    /// Wallet sign-in.
    #[must_use]
    pub fn signins(&self) -> &SignIns {
        &self.inner.signins
    }
    /// Legacy user accounts.
    #[must_use]
    pub fn users(&self) -> &UserAccounts {
        &self.inner.users
    }
    /// Legacy user sessions.
    #[must_use]
    pub fn user_sessions(&self) -> &UserSessions {
        &self.inner.user_sessions
    }
    /// Accounts: linking, unlinking, roles, account-wide sessions.
    #[must_use]
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }
    /// The audit trail.
    #[must_use]
    pub fn audit(&self) -> &Audit {
        &self.inner.audit
    }
    /// The clock.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
    /// The metrics.
    #[must_use]
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The chains' nodes for contract-wallet signatures.
    #[must_use]
    pub fn contract_wallets(&self) -> &Arc<ContractWallets> {
        &self.inner.contract_wallets
    }

    /// The signing keys of the tokens for other services.
    #[must_use]
    pub fn token_keys(&self) -> &TokenKeys {
        &self.inner.token_keys
    }

    /// Counts a hit of `client` against the per-minute budget of `bucket`.
    ///
    /// # Errors
    /// `rate_limited` over budget; `store_unavailable` when the store fails.
    pub async fn rate_limit(&self, bucket: &str, client: &str) -> ApiResult<()> {
        let limit = self.inner.config.limits.rate_limit_per_min;
        if limit == 0 {
            return Ok(());
        }
        let key = format!("{bucket}:{client}");
        let now = crate::session::unix_ms(self.inner.clock.now());
        match self
            .inner
            .store
            .rate_limit(
                &key,
                crate::store::RateBudget {
                    limit,
                    window: Duration::from_secs(60),
                },
                now,
            )
            .await?
        {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { retry_after } => Err(ApiError::RateLimited(retry_after)),
        }
    }
}
