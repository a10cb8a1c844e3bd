//! Smart-contract wallet signatures (EIP-1271, ERC-6492) through the chains' JSON-RPC nodes.
//!
//! One node per chain id (`ETH_RPC_URLS`). A [`ContractClaim`] (from
//! [`crate::verify::verify_or_defer`]) is checked with one `eth_call` of the deployless
//! validator ([`validator`]), bounded by a gas cap ([`validator::GAS_CAP`]) and the timeout:
//!
//! - the validator answers `0x01`: valid; `0x00`, a revert, or running out of gas: not valid;
//! - the node cannot be reached, times out, or answers anything else: [`Unavailable`] (the
//!   server answers `503 verifier_unavailable`, never `invalid_signature`).
//!
//! Each node's state (`up` / `down`, for `/ready`) follows its last answer: a probe
//! (`eth_chainId`, at start-up and then at most every [`PROBE_INTERVAL`] when `/ready` is
//! asked) or a check. A node whose `eth_chainId` is not the chain id it is listed under is
//! never asked to check a signature.

pub mod rpc;
pub mod validator;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use self::rpc::{RpcClient, RpcError};
use crate::config::ContractWalletSettings;
use crate::verify::ContractClaim;

/// `/ready` refreshes the nodes' state at most this often (in the background).
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);

/// Checks in flight at once per node; past it a check is refused at once as unavailable
/// (each check already costs its caller a fresh nonce, so this bounds a burst, not a rate).
pub const MAX_IN_FLIGHT_PER_NODE: usize = 64;

/// The check could not be made: the node is down, slow, or misbehaving. The reason is for
/// the log (it never holds the node's URL).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the node of chain {chain_id} is unavailable: {reason}")]
pub struct Unavailable {
    /// The chain.
    pub chain_id: u64,
    /// What went wrong.
    pub reason: String,
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// The node answers and serves the chain it is listed under.
    Up,
    /// The node serves another chain.
    WrongChain(u64),
    /// The node did not answer properly.
    Down(String),
}

/// One node call, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct NodeCall<'a> {
    /// The chain.
    pub chain_id: u64,
    /// `eth_chainId` or `eth_call`.
    pub method: &'a str,
    /// How long it took.
    pub seconds: f64,
    /// `ok`, `invalid` (the signature was refused) or `unavailable`.
    pub outcome: &'a str,
}

/// Receives every node call (the server's metrics).
pub type Observer = Arc<dyn Fn(NodeCall<'_>) + Send + Sync>;

const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;
const WRONG_CHAIN: u8 = 3;

struct Node {
    chain_id: u64,
    client: RpcClient,
    state: AtomicU8,
    in_flight: tokio::sync::Semaphore,
}

impl Node {
    fn set(&self, state: u8) {
        // A node found serving another chain stays refused until a probe finds it right.
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                (old != WRONG_CHAIN || state == WRONG_CHAIN).then_some(state)
            });
    }
}

/// The nodes of the chains with contract-wallet sign-in.
pub struct ContractWallets {
    nodes: Vec<Node>,
    chain_ids: Vec<u64>,
    observer: Option<Observer>,
    last_probe: Mutex<Option<Instant>>,
    probing: AtomicBool,
}

impl std::fmt::Debug for ContractWallets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractWallets")
            .field("chains", &self.chain_ids())
            .finish_non_exhaustive()
    }
}

impl ContractWallets {
    /// Clients for `nodes` (`(chain id, URL)`), each call bounded by `timeout`. Nothing is
    /// contacted yet.
    #[must_use]
    pub fn new(nodes: &[(u64, String)], timeout: Duration, observer: Option<Observer>) -> Self {
        let mut nodes: Vec<Node> = nodes
            .iter()
            .map(|(chain_id, url)| Node {
                chain_id: *chain_id,
                client: RpcClient::new(url, timeout),
                state: AtomicU8::new(UNKNOWN),
                in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT_PER_NODE),
            })
            .collect();
        nodes.sort_by_key(|n| n.chain_id);
        nodes.dedup_by_key(|n| n.chain_id);
        ContractWallets {
            chain_ids: nodes.iter().map(|n| n.chain_id).collect(),
            nodes,
            observer,
            last_probe: Mutex::new(None),
            probing: AtomicBool::new(false),
        }
    }

    /// Clients for the configured nodes (`ETH_RPC_URLS`, `ETH_RPC_TIMEOUT`).
    #[must_use]
    pub fn from_config(settings: &ContractWalletSettings, observer: Option<Observer>) -> Self {
        let nodes: Vec<(u64, String)> = settings
            .rpc_urls
            .iter()
            .map(|(id, url)| (*id, url.expose().to_owned()))
            .collect();
        Self::new(&nodes, settings.rpc_timeout, observer)
    }

    /// The chain ids that have a node, ascending.
    #[must_use]
    pub fn chain_ids(&self) -> &[u64] {
        &self.chain_ids
    }

    fn node(&self, chain_id: u64) -> Option<&Node> {
        self.nodes.iter().find(|n| n.chain_id == chain_id)
    }

    fn observe(&self, chain_id: u64, method: &str, started: Instant, outcome: &str) {
        if let Some(o) = &self.observer {
            o(NodeCall {
                chain_id,
                method,
                seconds: started.elapsed().as_secs_f64(),
                outcome,
            });
        }
    }

    /// Asks the claim's chain whether the wallet signed: `Ok(true)` valid, `Ok(false)` not.
    ///
    /// # Errors
    /// [`Unavailable`]: no node for that chain, the node serves another chain, cannot be
    /// reached, timed out or answered garbage.
    pub async fn check(&self, claim: &ContractClaim) -> Result<bool, Unavailable> {
        let unavailable = |reason: String| Unavailable {
            chain_id: claim.chain_id,
            reason,
        };
        let Some(node) = self.node(claim.chain_id) else {
            return Err(unavailable("no node is configured for this chain".into()));
        };
        if node.state.load(Ordering::Acquire) == WRONG_CHAIN {
            return Err(unavailable(
                "the node serves another chain than the one it is listed under".into(),
            ));
        }
        let Ok(_permit) = node.in_flight.try_acquire() else {
            return Err(unavailable(format!(
                "{MAX_IN_FLIGHT_PER_NODE} checks are already in flight on this node"
            )));
        };
        let started = Instant::now();
        let answer = node
            .client
            .call_creation(&validator::call_data(claim), validator::GAS_CAP)
            .await;
        let verdict = match answer {
            Ok(bytes) => validator::read_answer(&bytes).ok_or_else(|| {
                RpcError::Unavailable(format!(
                    "the validator answered {} bytes instead of one 0 or 1 byte",
                    bytes.len()
                ))
            }),
            Err(e) => Err(e),
        };
        match verdict {
            Ok(valid) => {
                node.set(UP);
                self.observe(
                    claim.chain_id,
                    "eth_call",
                    started,
                    if valid { "ok" } else { "invalid" },
                );
                Ok(valid)
            }
            Err(RpcError::Execution(reason)) => {
                node.set(UP);
                self.observe(claim.chain_id, "eth_call", started, "invalid");
                tracing::debug!(chain_id = claim.chain_id, %reason, "the contract-wallet check failed");
                Ok(false)
            }
            Err(RpcError::Unavailable(reason)) => {
                node.set(DOWN);
                self.observe(claim.chain_id, "eth_call", started, "unavailable");
                Err(unavailable(reason))
            }
        }
    }

    /// Asks every node its `eth_chainId` (concurrently) and records what it found.
    pub async fn probe(&self) -> Vec<(u64, Probe)> {
        let probes = self.nodes.iter().map(|node| async move {
            let started = Instant::now();
            let probe = match node.client.chain_id().await {
                Ok(id) if id == node.chain_id => Probe::Up,
                Ok(id) => Probe::WrongChain(id),
                Err(e) => Probe::Down(e.to_string()),
            };
            let (state, outcome) = match &probe {
                Probe::Up => (UP, "ok"),
                Probe::WrongChain(_) => (WRONG_CHAIN, "unavailable"),
                Probe::Down(_) => (DOWN, "unavailable"),
            };
            node.state.store(state, Ordering::Release);
            self.observe(node.chain_id, "eth_chainId", started, outcome);
            (node.chain_id, probe)
        });
        let found = join_all(probes).await;
        if let Ok(mut at) = self.last_probe.lock() {
            *at = Some(Instant::now());
        }
        found
    }

    /// Each node's state as `/ready` shows it: `"up"` or `"down"` (a node serving another
    /// chain, or not probed yet, is down).
    #[must_use]
    pub fn states(&self) -> BTreeMap<String, &'static str> {
        self.nodes
            .iter()
            .map(|n| {
                let state = if n.state.load(Ordering::Acquire) == UP {
                    "up"
                } else {
                    "down"
                };
                (n.chain_id.to_string(), state)
            })
            .collect()
    }

    /// Starts a probe in the background when the last one is older than [`PROBE_INTERVAL`]
    /// and none is running. Needs a Tokio runtime.
    pub fn refresh_in_background(self: &Arc<Self>) {
        if self.nodes.is_empty() {
            return;
        }
        let stale = self
            .last_probe
            .lock()
            .map(|at| at.is_none_or(|t| t.elapsed() >= PROBE_INTERVAL))
            .unwrap_or(true);
        if !stale || self.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            for (chain_id, probe) in this.probe().await {
                match probe {
                    Probe::Up => {}
                    Probe::Down(reason) => {
                        tracing::warn!(chain_id, %reason, "contract-wallet node is down");
                    }
                    Probe::WrongChain(actual) => {
                        tracing::error!(
                            chain_id,
                            actual,
                            "contract-wallet node serves another chain; it is not used"
                        );
                    }
                }
            }
            this.probing.store(false, Ordering::Release);
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_node_per_chain_sorted() {
        let w = ContractWallets::new(
            &[
                (137, "http://127.0.0.1:1".into()),
                (1, "http://127.0.0.1:2".into()),
                (137, "http://127.0.0.1:3".into()),
            ],
            Duration::from_millis(100),
            None,
        );
        assert_eq!(w.chain_ids(), &[1, 137]);
        assert_eq!(
            w.states().into_iter().collect::<Vec<_>>(),
            vec![("1".to_owned(), "down"), ("137".to_owned(), "down")]
        );
    }

    /// A node that accepts connections and never answers.
    fn hung_node() -> (std::net::TcpListener, String) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        (listener, url)
    }

    fn claim() -> ContractClaim {
        ContractClaim {
            chain_id: 1,
            address: alloy_primitives::Address::repeat_byte(1),
            hash: alloy_primitives::B256::repeat_byte(2),
            signature: vec![3; 100],
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn checks_in_flight_are_bounded_per_node() {
        let (_listener, url) = hung_node();
        let w = Arc::new(ContractWallets::new(
            &[(1, url)],
            Duration::from_millis(1500),
            None,
        ));
        let mut pending = Vec::new();
        for _ in 0..MAX_IN_FLIGHT_PER_NODE {
            let w = Arc::clone(&w);
            pending.push(tokio::spawn(async move { w.check(&claim()).await }));
        }
        // Let them all take their permit.
        let deadline = Instant::now() + Duration::from_secs(1);
        while w.nodes[0].in_flight.available_permits() > 0 {
            assert!(Instant::now() < deadline);
            tokio::task::yield_now().await;
        }
        let started = Instant::now();
        let refused = w.check(&claim()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(200));
        assert!(refused.reason.contains("in flight"), "{refused}");
        for p in pending {
            let e = p.await.unwrap().unwrap_err();
            assert!(e.reason.contains("timed out"), "{e}");
        }
        // The permits are back.
        assert_eq!(
            w.nodes[0].in_flight.available_permits(),
            MAX_IN_FLIGHT_PER_NODE
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_node_or_wrong_chain_is_unavailable_without_a_call() {
        let w = ContractWallets::new(&[], Duration::from_millis(100), None);
        assert!(w.check(&claim()).await.is_err());
        let (_listener, url) = hung_node();
        let w = ContractWallets::new(&[(1, url)], Duration::from_secs(5), None);
        w.nodes[0].state.store(WRONG_CHAIN, Ordering::Release);
        let started = Instant::now();
        let e = w.check(&claim()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_millis(500));
        assert!(e.reason.contains("another chain"), "{e}");
    }

    #[test]
    fn a_wrong_chain_stays_until_probed_right() {
        let node = Node {
            chain_id: 1,
            client: RpcClient::new("http://127.0.0.1:1", Duration::from_millis(100)),
            state: AtomicU8::new(WRONG_CHAIN),
            in_flight: tokio::sync::Semaphore::new(1),
        };
        node.set(UP);
        assert_eq!(node.state.load(Ordering::Acquire), WRONG_CHAIN);
        node.state.store(UP, Ordering::Release);
        node.set(DOWN);
        assert_eq!(node.state.load(Ordering::Acquire), DOWN);
    }
}
