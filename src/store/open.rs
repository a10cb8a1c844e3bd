//! Opening the store a [`Config`] names: what the `wallet-auth` binary does at start-up, and
//! what an application embedding the library calls to get the same store.
//!
//! Why here: choosing and connecting a backend is the store's business; the command line and
//! an embedding application only pass their configuration.

use std::sync::Arc;
use std::time::Duration;

use super::api::{Store, StoreError, StoreResult};
use super::{lazy::LazyStore, memory::MemoryStore, postgres::PostgresStore, redis::RedisStore};
use crate::config::{Config, StoreConfig};

/// Opens the store `config` names, ready to hand to the HTTP layer's `AuthState::new` (or to
/// the session managers directly):
///
/// - [`StoreConfig::Memory`] (no `REDIS_URL` nor `DATABASE_URL`): a fresh [`MemoryStore`] of
///   this process;
/// - [`StoreConfig::Redis`]: connects to the node (or the Redis Cluster, given several
///   comma-separated node URLs) with [`RedisStore::connect`], every key starting with
///   `config.store.redis_prefix`; with `config.store.session_cache`, through
///   [`RedisStore::connect_cached`] with a session cache of `config.store.session_cache_entries`;
/// - [`StoreConfig::Postgres`]: connects with [`PostgresStore::connect`], which applies the
///   schema migrations and starts pruning expired rows every `config.store.prune_interval`.
///
/// Every later call of the store is bounded by `config.store.timeout`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use wallet_auth::config::{Config, StoreConfig};
///
/// let mut config = Config::default();
/// config.store.backend = StoreConfig::Redis("redis://127.0.0.1:6379".to_owned());
/// let store = wallet_auth::store::open(&config).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// The Redis or PostgreSQL store cannot be reached within the timeout, or the PostgreSQL schema
/// cannot be migrated.
pub async fn open(config: &Config) -> StoreResult<Arc<dyn Store>> {
    Target::of(config).connect().await
}

/// The Redis store `config` names, connected in the background: for a server that should
/// start serving (and answer `503 store_unavailable` until Redis answers) when a first [`open`]
/// failed. Retries with a growing delay (see [`LazyStore`]).
///
/// Only Redis is opened this way: a PostgreSQL store, once open, reconnects through its own
/// pool, and one that cannot be opened at all (its schema cannot be checked) is a start-up
/// error; with PostgreSQL configured every attempt fails with [`StoreError::Unavailable`].
#[must_use]
pub fn open_in_background(config: &Config) -> LazyStore {
    let target = Target::of(config);
    let kind = match target.store {
        StoreConfig::Memory => "memory",
        StoreConfig::Redis(_) => "redis",
        StoreConfig::Postgres(_) => "postgres",
    };
    LazyStore::connect_in_background(
        kind,
        Box::new(move || {
            let target = target.clone();
            Box::pin(async move {
                match &target.store {
                    StoreConfig::Postgres(_) => Err(StoreError::Unavailable(
                        "the PostgreSQL store reconnects through its own pool".into(),
                    )),
                    StoreConfig::Memory => Ok(Arc::new(MemoryStore::new()) as Arc<dyn Store>),
                    StoreConfig::Redis(url) => {
                        Ok(Arc::new(target.redis(url).await?) as Arc<dyn Store>)
                    }
                }
            })
        }),
    )
}

/// What opening a store reads of the configuration, owned, so that a connection attempt is a
/// `'static` future (as a background reconnection needs) whatever the configuration's shape.
#[derive(Clone)]
struct Target {
    store: StoreConfig,
    redis_prefix: String,
    timeout: Duration,
    prune_interval: Duration,
    /// Entries of the Redis store's session cache; `None`: no cache.
    session_cache: Option<usize>,
}

impl Target {
    fn of(config: &Config) -> Self {
        Target {
            store: config.store.backend.clone(),
            redis_prefix: config.store.redis_prefix.clone(),
            timeout: config.store.timeout,
            prune_interval: config.store.prune_interval,
            session_cache: config
                .store
                .session_cache
                .then_some(config.store.session_cache_entries),
        }
    }

    async fn redis(&self, url: &str) -> StoreResult<RedisStore> {
        match self.session_cache {
            Some(entries) => {
                RedisStore::connect_cached(url, &self.redis_prefix, self.timeout, entries).await
            }
            None => RedisStore::connect(url, &self.redis_prefix, self.timeout).await,
        }
    }

    async fn connect(self) -> StoreResult<Arc<dyn Store>> {
        Ok(match &self.store {
            StoreConfig::Memory => Arc::new(MemoryStore::new()),
            StoreConfig::Redis(url) => Arc::new(self.redis(url).await?),
            StoreConfig::Postgres(url) => {
                Arc::new(PostgresStore::connect(url, self.timeout, self.prune_interval).await?)
            }
        })
    }
}
