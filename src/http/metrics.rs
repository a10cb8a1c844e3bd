//! Prometheus metrics: requests by route and status with latency, sign-ins by chain and
//! outcome, active sessions by chain (read from the store at scrape time), store latency and
//! errors.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    chain: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabel {
    chain: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: String,
}

/// The server's metrics.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RouteLabels, Counter>,
    latency: Family<RouteOnly, Histogram>,
    signins: Family<SignInLabels, Counter>,
    active: Family<ChainLabel, Gauge>,
    store_latency: Family<OpLabel, Histogram>,
    store_errors: Family<OpLabel, Counter>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    // 100 µs .. ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("wallet_auth");
        let requests = Family::<RouteLabels, Counter>::default();
        let latency = Family::<RouteOnly, Histogram>::new_with_constructor(latency_histogram);
        let signins = Family::<SignInLabels, Counter>::default();
        let active = Family::<ChainLabel, Gauge>::default();
        let store_latency = Family::<OpLabel, Histogram>::new_with_constructor(latency_histogram);
        let store_errors = Family::<OpLabel, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "signins",
            "Wallet sign-ins by chain and outcome (ok or the error code)",
            signins.clone(),
        );
        registry.register(
            "active_sessions",
            "Active wallet sessions by chain",
            active.clone(),
        );
        registry.register(
            "store_operation_duration_seconds",
            "Session store latency by operation",
            store_latency.clone(),
        );
        registry.register(
            "store_errors",
            "Session store failures by operation",
            store_errors.clone(),
        );
        // Expose the store series from the start, before the first operation.
        for op in ["validate", "ping"] {
            drop(store_latency.get_or_create(&OpLabel { op: op.to_owned() }));
            drop(store_errors.get_or_create(&OpLabel { op: op.to_owned() }));
        }
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            signins,
            active,
            store_latency,
            store_errors,
        }
    }

    /// Counts a finished request.
    pub fn request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteOnly {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a sign-in attempt.
    pub fn signin(&self, chain: &str, outcome: &str) {
        self.signins
            .get_or_create(&SignInLabels {
                chain: chain.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Sets the active-session gauge of a chain.
    pub fn set_active(&self, chain: &str, n: u64) {
        self.active
            .get_or_create(&ChainLabel {
                chain: chain.to_owned(),
            })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records one store operation.
    pub fn store_op(&self, op: &str, seconds: f64, ok: bool) {
        let label = OpLabel { op: op.to_owned() };
        self.store_latency.get_or_create(&label).observe(seconds);
        if !ok {
            self.store_errors.get_or_create(&label).inc();
        }
    }

    /// The Prometheus text exposition.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
