//! Helpers shared by the integration test binaries. Each binary includes this module with
//! `mod support;` and uses only part of it.
#![allow(dead_code)]

pub mod anvil;
pub mod evm;
pub mod postgres_server;
pub mod redis_server;
pub mod watchdog;
