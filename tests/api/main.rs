//! Black-box API tests over a real socket, each run against the memory store and a real
//! redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod contract_wallets;
mod demo;
mod errors;
mod legacy;
mod openapi;
mod ops;
mod redis_only;
mod sessions;
mod signin;
