//! Running one test on every store backend: memory, a private redis-server, the shared Redis
//! Cluster and PostgreSQL. A test is an `async fn name(x: T)` where `T` is anything
//! [`FromBackend`] opens (the [`Backend`] itself for the API tests, which start their app with
//! it; a store fixture for the store suite); [`on_every_backend!`](crate::on_every_backend)
//! generates one `#[tokio::test]` per backend, in a module named after it
//! (`on_memory::name`, `on_redis::name`, ...: a filter such as `cargo test on_redis::` picks
//! one backend, and no module shadows the `redis` crate).

use std::future::Future;

/// Which store a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Memory,
    /// A private redis-server per test (API tests) or the shared one (the store suite).
    Redis,
    /// The 3-master Redis Cluster shared by the test binary (tests keep apart by key prefix).
    Cluster,
    /// A fresh database on the PostgreSQL server shared by the test binary.
    Postgres,
}

impl Backend {
    /// Whether the backend is Redis (single node or cluster).
    pub fn is_redis(self) -> bool {
        matches!(self, Backend::Redis | Backend::Cluster)
    }
}

/// What a test run by [`on_every_backend!`](crate::on_every_backend) takes, opened for one
/// backend.
pub trait FromBackend: Sized {
    fn from_backend(backend: Backend) -> impl Future<Output = Self>;
}

impl FromBackend for Backend {
    async fn from_backend(backend: Backend) -> Self {
        backend
    }
}

/// Opens what `test` takes for `backend`, and runs it.
pub async fn run<T: FromBackend, F: Future<Output = ()>>(
    backend: Backend,
    test: impl FnOnce(T) -> F,
) {
    test(T::from_backend(backend).await).await;
}

/// `on_every_backend!(a, b)`: runs each `async fn a(x: impl FromBackend)` on every backend,
/// as `on_memory::a`, `on_redis::a`, `on_cluster::a` and `on_postgres::a`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $crate::on_backends!(
            on_memory: Memory, on_redis: Redis, on_cluster: Cluster, on_postgres: Postgres;
            $($name),*
        );
    };
}

/// `on_backends!(redis_keys: Redis, cluster_keys: Cluster; a, b)`: runs each test on the
/// backends listed, each in the module named beside it.
#[macro_export]
macro_rules! on_backends {
    (@module $module:ident $backend:ident [$($name:ident),*]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = $crate::harness::backends::Backend::$backend;
                    $crate::harness::backends::run(backend, super::$name).await;
                }
            )*
        }
    };
    (@modules $names:tt $($module:ident: $backend:ident),+) => {
        $( $crate::on_backends!(@module $module $backend $names); )+
    };
    ($($module:ident: $backend:ident),+; $($name:ident),* $(,)?) => {
        $crate::on_backends!(@modules [$($name),*] $($module: $backend),+);
    };
}
