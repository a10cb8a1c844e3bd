//! The integration suite in one test binary: every test file is a module here, so the crate is
//! linked into one test executable instead of one per file, and the private Redis, Cluster and
//! PostgreSQL servers the harness starts are shared by the whole suite.
//!
//! A test needing a process of its own stays outside, in its own binary: `tests/logs.rs`
//! installs the process-wide tracing subscriber. (The tests here that start the binary, kill
//! it or read environment do so in child processes.)
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failure

#[path = "../harness/mod.rs"]
pub mod harness;

mod api;
mod cli_verify;
mod container;
mod contract_cli;
mod contracts;
mod cookie_checks;
mod crash;
mod docs;
mod embed;
mod layers;
mod process;
mod session_cache;
mod startup;
mod store;
mod verify_cases;
mod verify_props;
mod verify_vectors;
