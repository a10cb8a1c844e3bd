//! `spawn_app()` and typed helpers: a real server on a random port over a real store (memory,
//! a private redis-server, the shared Redis Cluster, or a fresh database on the shared
//! PostgreSQL server), requests that come back as a [`Resp`] read whole (its cookies checked
//! by [`super::cookies`]), wallets that sign for real with local keys.

use std::sync::Arc;
use std::time::Duration;

use alloy_primitives::{eip191_hash_message, keccak256, Address};
use ed25519_dalek::Signer as _;
use k256::ecdsa::SigningKey;
use reqwest::header::HeaderMap;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{json, Value};
use time::OffsetDateTime;
use wallet_auth::config::Config;
use wallet_auth::http::{AuthState, Server};
use wallet_auth::session::ManualClock;
use wallet_auth::store::{MemoryStore, PostgresStore, RedisStore, Store};
use wallet_auth::verify::{prepare_message, Chain, MessageParams};

pub use super::backends::Backend;
use super::cookies::{self, CookieRules, SetCookie};
use super::postgres_server::shared_postgres;
use super::redis_server::{shared_cluster, RedisServer};

pub const DOMAIN: &str = "app.test:8080";
pub const UA: &str = "wallet-auth-tests/1.0";
pub const ADMIN: &str = "admin-token-for-tests-0123456789";

static PREFIX: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .try_init();
    }
}

/// A running app.
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub state: AuthState,
    pub redis: Option<RedisServer>,
    /// The Redis URL (or cluster node list), or the PostgreSQL URL, the app's store uses;
    /// `None` for memory.
    pub store_url: Option<String>,
    pub config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// The configuration tests start from: one domain, chain ids 1 and 137, cookies over http.
pub fn test_config() -> Config {
    let mut c = Config::default();
    c.http.bind_addr = "127.0.0.1:0".parse().expect("addr");
    c.signin.domains = vec![DOMAIN.to_owned()];
    c.signin.uri = format!("http://{DOMAIN}/login");
    c.signin.eth_chain_ids = wallet_auth::config::EthChainIds::Only(vec![1, 137]);
    c.cookies.secure = false;
    c.limits.rate_limit_per_min = 0;
    // Every test client connects from 127.0.0.1: the per-address cap has its own tests.
    c.http.max_connections_per_ip = c.http.max_connections;
    c.ops.admin_token = Some(wallet_auth::config::Secret::new(ADMIN));
    // A configured key, so that sibling instances (same config) open each other's records.
    c.store.encryption_keys = wallet_auth::config::EncryptionKeys::new(vec![[0x5a; 32]]);
    // Generous: the suite runs many servers at once on few cores, and a store call that
    // waits for a core is not an outage. Tests of the timeout itself set their own.
    c.store.timeout = Duration::from_secs(3);
    c.store.redis_prefix = format!(
        "t{}-{}:",
        std::process::id(),
        PREFIX.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    c
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_wrapped(backend, tweak, |store| store).await
}

/// [`spawn_app_with`], the app running over what `wrap` makes of the backend's store (a
/// counting decorator around it, say).
pub async fn spawn_app_wrapped(
    backend: Backend,
    tweak: impl FnOnce(&mut Config),
    wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store>,
) -> TestApp {
    let mut config = test_config();
    tweak(&mut config);
    let (redis, url) = match backend {
        Backend::Memory => (None, None),
        Backend::Redis => {
            let r = RedisServer::start_new();
            let url = r.url();
            (Some(r), Some(url))
        }
        Backend::Cluster => (None, Some(shared_cluster().url())),
        Backend::Postgres => (None, Some(shared_postgres().fresh_database().await)),
    };
    let store = wrap(open(&config, url.as_deref()).await);
    spawn_on(
        config,
        store,
        redis,
        url,
        Arc::new(ManualClock::new(OffsetDateTime::now_utc())),
    )
    .await
}

pub async fn open(config: &Config, redis_url: Option<&str>) -> Arc<dyn Store> {
    match redis_url {
        None => Arc::new(MemoryStore::new()),
        Some(url) if url.starts_with("postgres://") => Arc::new(
            PostgresStore::connect(url, config.store.timeout, config.store.prune_interval)
                .await
                .expect("connect to the test postgres"),
        ),
        // With the session cache when the configuration has it (the default), as the server.
        Some(url) => {
            let (prefix, timeout) = (&config.store.redis_prefix, config.store.timeout);
            let store = if config.store.session_cache {
                let entries = config.store.session_cache_entries;
                RedisStore::connect_cached(url, prefix, timeout, entries).await
            } else {
                RedisStore::connect(url, prefix, timeout).await
            };
            Arc::new(store.expect("connect to the test redis-server"))
        }
    }
}

/// A second app instance over the same store backend (same Redis, same prefix and keys).
pub async fn spawn_sibling(of: &TestApp) -> TestApp {
    let store = open(&of.config, of.store_url.as_deref()).await;
    spawn_on(
        of.config.clone(),
        store,
        None,
        of.store_url.clone(),
        of.clock.clone(),
    )
    .await
}

pub async fn spawn_on(
    config: Config,
    store: Arc<dyn Store>,
    redis: Option<RedisServer>,
    store_url: Option<String>,
    clock: Arc<ManualClock>,
) -> TestApp {
    init_logs();
    let state = AuthState::with_clock(config.clone(), store, clock.clone());
    let server = Server::bind(state.clone()).await.expect("bind");
    let addr = server.addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = server
            .run(async {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        base: format!("http://{addr}"),
        http: reqwest::Client::builder()
            .user_agent(UA)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client"),
        clock,
        state,
        redis,
        store_url,
        config,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl TestApp {
    /// Stops serving (in-flight requests finish) and waits for it.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The socket address the app listens on (for raw connections).
    pub fn addr(&self) -> std::net::SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("socket address")
    }

    /// A request to `path` with the test client, to add headers or a body to and
    /// [`send`](Self::send).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends a request (from any client) to this app and reads the response whole; its
    /// cookies are checked against this app's configuration.
    pub async fn send(&self, request: RequestBuilder) -> Resp {
        let r = request.send().await.expect("request");
        let mut resp = Resp::from(r).await;
        resp.cookie_rules = Some(CookieRules::new(&self.config, self.clock_now()));
        resp
    }

    /// Any request; returns status, headers and JSON body (Null when empty / not JSON).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut rb = self.request(method, path);
        if let Some(t) = bearer {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        self.send(rb).await
    }

    pub async fn get(&self, path: &str, bearer: Option<&str>) -> Resp {
        self.call(Method::GET, path, bearer, None).await
    }

    pub async fn post(&self, path: &str, bearer: Option<&str>, body: Option<Value>) -> Resp {
        self.call(Method::POST, path, bearer, body).await
    }

    /// A request with `Cookie` headers (each entry of `cookies` is one header) and extra
    /// headers, no body.
    pub async fn with_cookies(
        &self,
        method: Method,
        path: &str,
        cookies: &[&str],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut rb = self.request(method, path);
        for c in cookies {
            rb = rb.header("cookie", *c);
        }
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        self.send(rb).await
    }

    pub async fn nonce(&self, chain: Chain, address: Option<&str>) -> Value {
        let mut body = json!({ "chain": chain.as_str() });
        if let Some(a) = address {
            body["address"] = json!(a);
        }
        let r = self.post("/auth/nonce", None, Some(body)).await;
        assert_eq!(r.status, StatusCode::OK, "nonce: {}", r.body);
        r.body
    }

    /// A full sign-in by `wallet`: nonce, sign, verify. Returns the verify response.
    pub async fn sign_in(&self, wallet: &Wallet) -> Resp {
        let body = self.signed_body(wallet).await;
        self.post("/auth/verify", None, Some(body)).await
    }

    /// The token of a successful sign-in.
    pub async fn token(&self, wallet: &Wallet) -> String {
        let r = self.sign_in(wallet).await;
        assert_eq!(r.status, StatusCode::OK, "sign-in: {}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    /// A signed verify body for a fresh nonce.
    pub async fn signed_body(&self, wallet: &Wallet) -> Value {
        let n = self.nonce(wallet.chain, None).await;
        let nonce = n["nonce"].as_str().expect("nonce");
        let msg = wallet.message(DOMAIN, nonce, self.clock_now());
        wallet.verify_body(&msg)
    }

    pub fn clock_now(&self) -> OffsetDateTime {
        use wallet_auth::session::Clock as _;
        self.clock.now()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as JSON; Null when empty or not JSON.
    pub body: Value,
    /// The body as text.
    pub text: String,
    /// What the app that answered promises about its cookies (`None` for a response not read
    /// through [`TestApp::send`]).
    cookie_rules: Option<CookieRules>,
}

impl Resp {
    pub async fn from(r: reqwest::Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
            cookie_rules: None,
        }
    }

    /// Asserts an error response of the contract's shape with `code`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "code; body {}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "message present: {}",
            self.body
        );
        assert!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/json")),
            "JSON content type"
        );
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// Every `Set-Cookie` of this response, each parsed and checked ([`cookies::check`]).
    #[track_caller]
    pub fn set_cookies(&self) -> Vec<SetCookie> {
        let rules = self
            .cookie_rules
            .as_ref()
            .expect("cookies are checked on responses read by TestApp::send");
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| cookies::check(v.to_str().expect("ASCII"), &self.headers, rules))
            .collect()
    }

    /// The value of cookie `name` set (not deleted) by this response.
    #[track_caller]
    pub fn cookie(&self, name: &str) -> Option<String> {
        let mut set = self
            .set_cookies()
            .into_iter()
            .filter(|c| c.name == name && !c.is_deletion());
        let first = set.next();
        assert!(set.next().is_none(), "{name} is set once");
        first.map(|c| c.value)
    }

    /// The value of cookie `name`, asserting this response sets it.
    #[track_caller]
    pub fn only_cookie(&self, name: &str) -> String {
        self.cookie(name)
            .unwrap_or_else(|| panic!("{name} is set: {:?}", self.headers))
    }

    /// Whether this response deletes cookie `name`.
    #[track_caller]
    pub fn deletes(&self, name: &str) -> bool {
        self.set_cookies()
            .iter()
            .any(|c| c.name == name && c.is_deletion())
    }

    /// The `wallet_session` cookie value set by this response.
    #[track_caller]
    pub fn session_cookie(&self) -> Option<String> {
        self.cookie("wallet_session")
    }
}

/// A wallet with a local key.
pub struct Wallet {
    pub chain: Chain,
    pub address: String,
    eth: Option<SigningKey>,
    sol: Option<ed25519_dalek::SigningKey>,
}

impl Wallet {
    pub fn ethereum() -> Self {
        let key = SigningKey::random(&mut rand::rngs::OsRng);
        let point = key.verifying_key().to_encoded_point(false);
        let hash = keccak256(&point.as_bytes()[1..]);
        let address = Address::from_slice(&hash[12..]).to_checksum(None);
        Wallet {
            chain: Chain::Ethereum,
            address,
            eth: Some(key),
            sol: None,
        }
    }

    pub fn solana() -> Self {
        let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let address = bs58::encode(key.verifying_key().as_bytes()).into_string();
        Wallet {
            chain: Chain::Solana,
            address,
            eth: None,
            sol: Some(key),
        }
    }

    pub fn message(&self, domain: &str, nonce: &str, issued_at: OffsetDateTime) -> String {
        self.message_with(domain, nonce, issued_at, None)
    }

    pub fn message_with(
        &self,
        domain: &str,
        nonce: &str,
        issued_at: OffsetDateTime,
        chain_id: Option<&str>,
    ) -> String {
        let default_id = match self.chain {
            Chain::Ethereum => "1",
            Chain::Solana => "mainnet",
        };
        let uri = format!("http://{DOMAIN}/login");
        prepare_message(&MessageParams {
            chain: self.chain,
            domain,
            address: &self.address,
            statement: Some("Sign in to the test app."),
            uri: &uri,
            chain_id: Some(chain_id.unwrap_or(default_id)),
            nonce,
            issued_at,
            expiration_time: None,
        })
    }

    pub fn sign(&self, message: &str) -> String {
        if let Some(k) = &self.eth {
            let prehash = eip191_hash_message(message.as_bytes());
            let (sig, recid) = k
                .sign_prehash_recoverable(prehash.as_slice())
                .expect("sign");
            let mut bytes = sig.to_bytes().to_vec();
            bytes.push(27 + recid.to_byte());
            format!("0x{}", hex::encode(bytes))
        } else if let Some(k) = &self.sol {
            bs58::encode(k.sign(message.as_bytes()).to_bytes()).into_string()
        } else {
            unreachable!("a wallet has a key")
        }
    }

    pub fn verify_body(&self, message: &str) -> Value {
        let mut body = json!({
            "chain": self.chain.as_str(),
            "message": message,
            "signature": self.sign(message),
        });
        if self.chain == Chain::Solana {
            body["publicKey"] = json!(self.address);
        }
        body
    }
}
