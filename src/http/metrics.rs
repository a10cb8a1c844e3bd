//! Prometheus metrics: requests by route and status with latency, sign-ins by chain, wallet
//! type and outcome, active sessions by chain (read from the store at scrape time), store
//! latency and errors (every store call, through [`crate::store::MeteredStore`]), the events of
//! the Redis store's session cache (hits, misses, invalidations, flushes; zero on the other
//! stores), and the latency and outcome of calls to the chains' nodes (contract-wallet
//! signatures).

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::store::{CacheEvent, StoreRecorder};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    chain: &'static str,
    wallet_type: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    chain_id: String,
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeOutcomeLabels {
    chain_id: String,
    method: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChainLabel {
    chain: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheEventLabel {
    event: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OpLabel {
    op: &'static str,
}

/// The label of a request method: one of the methods the server knows, or `other`. A label
/// never carries request text, so anonymous requests cannot grow the exposition.
#[must_use]
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
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
    node_latency: Family<NodeLabels, Histogram>,
    node_calls: Family<NodeOutcomeLabels, Counter>,
    /// One counter per [`CacheEvent`], in [`CacheEvent::ALL`] order (held directly: a hit
    /// costs one atomic add, no lookup).
    cache_events: [Counter; 4],
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
        let node_latency = Family::<NodeLabels, Histogram>::new_with_constructor(latency_histogram);
        let node_calls = Family::<NodeOutcomeLabels, Counter>::default();
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
            "Wallet sign-ins by chain, wallet type (eoa, contract, or unknown when refused before the signature was judged) and outcome (ok or the error code)",
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
        registry.register(
            "node_call_duration_seconds",
            "Latency of calls to the chains' JSON-RPC nodes (contract-wallet signatures) by chain id and method",
            node_latency.clone(),
        );
        registry.register(
            "node_calls",
            "Calls to the chains' JSON-RPC nodes by chain id, method and outcome (ok, invalid, unavailable)",
            node_calls.clone(),
        );
        let cache_family = Family::<CacheEventLabel, Counter>::default();
        registry.register(
            "session_cache_events",
            "Session cache of the Redis store: validation reads answered from memory (hit) or from Redis (miss), sessions dropped because they changed (invalidation), whole-cache drops (flush)",
            cache_family.clone(),
        );
        let cache_events = CacheEvent::ALL.map(|e| {
            cache_family
                .get_or_create(&CacheEventLabel { event: e.label() })
                .clone()
        });
        // Expose the store series from the start, before the first operation.
        for op in ["get_session", "ping"] {
            drop(store_latency.get_or_create(&OpLabel { op }));
            drop(store_errors.get_or_create(&OpLabel { op }));
        }
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            signins,
            active,
            store_latency,
            store_errors,
            node_latency,
            node_calls,
            cache_events,
        }
    }

    /// Counts a finished request. `route` is the matched route template, or `unmatched`;
    /// the method is labelled by [`method_label`].
    pub fn request(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RouteLabels {
                method: method_label(method),
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

    /// Counts a sign-in attempt. Labels are static text (a chain name; `eoa`, `contract`, or
    /// `unknown` when refused before the signature was judged; `ok` or an error code), never
    /// request text.
    pub fn signin(&self, chain: &'static str, wallet_type: &'static str, outcome: &'static str) {
        self.signins
            .get_or_create(&SignInLabels {
                chain,
                wallet_type,
                outcome,
            })
            .inc();
    }

    /// Records one call to a chain's node.
    pub fn node_call(&self, call: crate::contract_wallets::NodeCall<'_>) {
        let chain_id = call.chain_id.to_string();
        self.node_latency
            .get_or_create(&NodeLabels {
                chain_id: chain_id.clone(),
                method: call.method.to_owned(),
            })
            .observe(call.seconds);
        self.node_calls
            .get_or_create(&NodeOutcomeLabels {
                chain_id,
                method: call.method.to_owned(),
                outcome: call.outcome.to_owned(),
            })
            .inc();
    }

    /// Exposes the node series of `chain_id` from the start, before its first call, so that a
    /// dashboard sees the configured nodes at once.
    pub fn declare_node(&self, chain_id: u64) {
        let chain_id = chain_id.to_string();
        for method in ["eth_call", "eth_chainId"] {
            drop(self.node_latency.get_or_create(&NodeLabels {
                chain_id: chain_id.clone(),
                method: method.to_owned(),
            }));
        }
    }

    /// [`Metrics::node_call`] as an observer for [`crate::contract_wallets::ContractWallets`].
    #[must_use]
    pub fn node_observer(&self) -> crate::contract_wallets::Observer {
        let metrics = self.clone();
        Arc::new(move |call| metrics.node_call(call))
    }

    /// Sets the active-session gauge of a chain.
    pub fn set_active(&self, chain: &'static str, n: u64) {
        self.active
            .get_or_create(&ChainLabel { chain })
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records one store operation (`op` names a [`crate::store::Store`] method).
    pub fn store_op(&self, op: &'static str, seconds: f64, ok: bool) {
        let label = OpLabel { op };
        self.store_latency.get_or_create(&label).observe(seconds);
        if !ok {
            self.store_errors.get_or_create(&label).inc();
        }
    }

    /// The OpenMetrics 1.0.0 text exposition ([`OPENMETRICS_CONTENT_TYPE`]).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// The Prometheus text format 0.0.4 exposition ([`TEXT_CONTENT_TYPE`]).
    #[must_use]
    pub fn render_text(&self) -> String {
        openmetrics_to_text(&self.render())
    }
}

/// Content type of [`Metrics::render`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of [`Metrics::render_text`].
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether an `Accept` header value asks for OpenMetrics text (with a non-zero quality).
#[must_use]
pub fn accepts_openmetrics(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        if !media.eq_ignore_ascii_case("application/openmetrics-text") {
            return false;
        }
        !parts.any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("q")
                    && v.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        })
    })
}

/// OpenMetrics text as Prometheus text format 0.0.4: no `# UNIT` lines and no `# EOF`, and
/// a counter's `# HELP` / `# TYPE` lines name it with its `_total` suffix, as its samples do.
fn openmetrics_to_text(om: &str) -> String {
    let counters: std::collections::HashSet<&str> = om
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(om.len());
    for line in om.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        if let Some((prefix, rest)) = meta {
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            if counters.contains(name) && !name.ends_with("_total") {
                out.push_str(prefix);
                out.push_str(name);
                out.push_str("_total ");
                out.push_str(tail);
                out.push('\n');
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The store decorator ([`crate::store::MeteredStore`]) reports into these metrics.
impl StoreRecorder for Metrics {
    fn store_op(&self, op: &'static str, elapsed: Duration, ok: bool) {
        Metrics::store_op(self, op, elapsed.as_secs_f64(), ok);
    }

    fn cache_event(&self, event: CacheEvent, n: u64) {
        let i = CacheEvent::ALL
            .iter()
            .position(|e| *e == event)
            .unwrap_or(0);
        self.cache_events[i].inc_by(n);
    }
}
