//! Black-box API tests over a real socket, each run against the memory store and a real
//! redis-server.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

#[path = "../support/mod.rs"]
mod support;

mod helpers;

mod audit;
mod binding;
mod contract_wallets;
mod demo;
mod errors;
mod hardening;
mod legacy;
mod openapi;
mod ops;
mod origin;
mod postgres_only;
mod redis_only;
mod sessions;
mod signin;
mod signin_faults;
mod tokens;
