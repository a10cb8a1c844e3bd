//! wallet-auth: wallet-signature authentication (Sign-In with Ethereum, EIP-4361, and Sign In
//! With Solana) with server-side wallet sessions on Redis, PostgreSQL or in memory.
//!
//! Used two ways: the `wallet-auth` binary, or embedded in an axum application. An app merges
//! the routers it wants — [`http::auth_router`] (the auth API: `/auth/*`, `/api/*`, `/admin/*`,
//! `/.well-known/jwks.json`), [`http::ops_router`] (`/health`, `/ready`, `/metrics`,
//! `/openapi.json`), [`http::demo_router`] (the demo page at `/`) — none of which claims a
//! fallback, and wraps its own routes that read a wallet session in
//! [`http::with_session_headers`] (renewed cookies, `Cache-Control: no-store`; without it the
//! session extractors answer `500 session_layer_missing`):
//!
//! ```no_run
//! use std::net::SocketAddr;
//! use std::sync::Arc;
//! use std::time::Duration;
//! use axum::{routing::get, Router};
//! use wallet_auth::config::Config;
//! use wallet_auth::http::{self, AuthState, WalletSession};
//! use wallet_auth::store::RedisStore;
//!
//! async fn mine(ws: WalletSession) -> String {
//!     format!("hello {}", ws.session.address)
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // The configuration, built in code (or read with `Config::from_lookup`).
//! let mut config = Config::default();
//! config.signin.domains = vec!["app.example.com".into()];
//! config.signin.uri = "https://app.example.com".into();
//! // Sessions on Redis: a URL (a comma-separated list of node URLs for a cluster), a key
//! // prefix of the app's own, and a bound on every store call. With Redis the session
//! // encryption keys must be configured (`SESSION_ENCRYPTION_KEY`), not generated.
//! let store = RedisStore::connect("redis://127.0.0.1:6379", "myapp:", Duration::from_secs(1)).await?;
//! let state = AuthState::new(config, Arc::new(store));
//!
//! let app: Router = Router::new()
//!     .route("/", get(|| async { "my home page" }))
//!     .merge(http::with_session_headers(Router::new().route("/mine", get(mine))).with_state(state.clone()))
//!     .merge(http::auth_router(state))
//!     .fallback(|| async { "my 404" });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! // The client address (rate limits, session binding) comes from `ConnectInfo`.
//! axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/embed.rs` is the same, runnable (its test: `tests/integration/embed.rs`).
//! [`store::open`] builds the store a [`config::Config`] names (memory, Redis, Redis Cluster or
//! PostgreSQL), as the binary does.
//!
//! Layout, each layer importing only those below it: [`http`] (routes, extractors, errors, the
//! OpenAPI document) → [`session`] (wallet and user sessions, the audit trail) → [`store`] (one
//! trait, several backends); [`http`] and [`session`] → [`verify`] (pure message verification)
//! and [`contract_wallets`] (the chains' nodes, for smart-contract wallet signatures); [`config`]
//! (plain settings) and [`clock`] at the bottom, read by all, importing none; [`cli`] on top.

pub mod cli;
pub mod cli_verify;
pub mod clock;
pub mod config;
pub mod contract_wallets;
pub mod http;
pub mod session;
pub mod store;
pub mod verify;

pub use http::{
    auth_router, demo_router, ops_router, router, with_session_headers, AuthState,
    OptionalWalletSession, WalletSession,
};
