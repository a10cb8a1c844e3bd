//! The one test harness, shared by every test crate (the integration suite, the crates that
//! need a process of their own, and the contract-wallet benchmark):
//! - [`app`]: a real server on a random port over a real store, requests read whole into a
//!   [`app::Resp`], wallets that sign with local keys;
//! - [`backends`]: running one test on every store backend ([`on_every_backend!`]);
//! - [`cookies`]: every `Set-Cookie` parsed and checked against the contract;
//! - [`raw`]: raw HTTP/1.1 over TCP for the hardening tests;
//! - private servers the harness starts and stops itself: [`redis_server`],
//!   [`postgres_server`] (both shared per test binary, and fresh ones for outage tests),
//!   [`anvil`] with [`evm`] helpers for contract wallets, [`watchdog`] so that none outlives
//!   the test binary.
//!
//! Each crate mounts it as `pub mod harness` at its root: the harness is the crates' shared
//! API, so an item one crate leaves unused is not dead code there.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

pub mod anvil;
pub mod app;
pub mod backends;
pub mod cookies;
pub mod evm;
pub mod postgres_server;
pub mod raw;
pub mod redis_server;
pub mod watchdog;

use std::net::{Ipv4Addr, TcpListener};

/// A free loopback port (free when asked: a server started on it may still lose a race).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral loopback port")
}

/// Whether nothing listens on loopback `port`.
pub fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}
