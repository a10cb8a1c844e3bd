//! Storage behind one trait: the in-memory reference store, the Redis store and the PostgreSQL
//! store.
//!
//! The store knows nothing of HTTP, tokens or cryptography: it keeps opaque (already encrypted)
//! byte strings under keys the session layer chooses, with the atomicity each operation
//! documents. Every backend failure becomes a [`StoreError`], so "not found" (`Ok(None)` /
//! `Ok(false)`) and "the store is down" (`Err`) are different types, never strings.
//!
//! # Keys and wallet tags
//! Everything belonging to one wallet (its sessions, its index, its preferences) is addressed by
//! a *wallet tag*, a short string derived from the wallet. The Redis store puts the tag in a
//! `{hash tag}` so that one wallet's keys live in one cluster slot and every multi-key change of
//! one wallet is a single atomic script.

pub mod api;
pub mod lazy;
pub mod memory;
pub mod metered;
pub mod open;
pub mod postgres;
pub mod redis;
pub mod redis_cache;
pub use self::redis::RedisStore;
pub use lazy::LazyStore;
pub use memory::MemoryStore;
pub use metered::{CacheEvent, MeteredStore, StoreRecorder};
pub use open::{open, open_in_background};
pub use postgres::PostgresStore;

pub use api::*;
