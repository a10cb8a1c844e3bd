//! wallet-auth: wallet-signature authentication (Sign-In with Ethereum, EIP-4361, and Sign In
//! With Solana) with server-side wallet sessions on Redis or in memory.
//!
//! Used two ways: the `wallet-auth` binary, or embedded in an axum application:
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{routing::get, Router};
//! use wallet_auth::{config::Config, http::{self, AuthState, WalletSession}, store::MemoryStore};
//!
//! async fn mine(ws: WalletSession) -> String {
//!     format!("hello {}", ws.session.address)
//! }
//!
//! # async fn run() {
//! let state = AuthState::new(Config::defaults(), Arc::new(MemoryStore::new()));
//! let app: Router = Router::new()
//!     .route("/mine", get(mine))
//!     .with_state(state.clone())
//!     .merge(http::router(state));
//! # }
//! ```
//!
//! Layout: [`verify`] (pure message verification) ← [`session`] (wallet and user sessions over
//! a [`store::Store`]) ← [`http`] (routes, extractors, errors); [`contract_wallets`] (the
//! chains' nodes, for smart-contract wallet signatures), [`config`] and [`cli`] beside.

pub mod cli;
pub mod cli_verify;
pub mod clock;
pub mod config;
pub mod contract_wallets;
pub mod http;
pub mod session;
pub mod store;
pub mod verify;

pub use http::{router, AuthState, OptionalWalletSession, WalletSession};
