//! Redis memory per wallet session, for `bench/run.sh`.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:PORT SESSION_ENCRYPTION_KEY=… bench_sessions --n 100000
//! ```
//!
//! Reads the server's configuration from the environment (the same variables as
//! `wallet-auth serve`), and creates N wallet sessions through the library
//! (`WalletSessions::create` over `RedisStore`, exactly what a sign-in does after the signature
//! check) from many concurrent tasks, one wallet per session by default. Prints Redis
//! `used_memory` before and after, and the difference per session: session records, wallet
//! indexes and the active-session set all included.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::Instant;

use alloy_primitives::Address;
use clap::Parser;
use futures::stream::{self, StreamExt as _};
use wallet_auth::config::{Config, StoreConfig};
use wallet_auth::session::RequestContext;
use wallet_auth::store::RedisStore;
use wallet_auth::verify::{Chain, WalletType};
use wallet_auth::AuthState;

#[derive(Parser)]
struct Args {
    /// Sessions to create.
    #[arg(long, default_value_t = 100_000)]
    n: usize,
    /// Sessions per wallet.
    #[arg(long, default_value_t = 1)]
    per_wallet: usize,
    /// Concurrent creations.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .expect("INFO memory");
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let config =
        Config::from_lookup(|k| std::env::var(k).ok()).expect("configuration from the environment");
    let StoreConfig::Redis(url) = &config.store.backend else {
        panic!("set REDIS_URL");
    };
    let url = url.clone();
    let store = RedisStore::connect(&url, &config.store.redis_prefix, config.store.timeout)
        .await
        .expect("connect to Redis");
    let state = AuthState::new(config, Arc::new(store));
    let mut info = redis::Client::open(url.as_str())
        .expect("Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis");

    let per_wallet = args.per_wallet.max(1);
    let wallets: Vec<String> = (0..args.n.div_ceil(per_wallet))
        .map(|_| Address::from(rand::random::<[u8; 20]>()).to_checksum(None))
        .collect();
    let ctx = RequestContext {
        user_agent: "wallet-auth-bench/1".to_owned(),
        ip: "127.0.0.1".to_owned(),
    };

    let before = used_memory(&mut info).await;
    let t = Instant::now();
    let sessions = state.sessions();
    let created = stream::iter(0..args.n)
        .map(|i| {
            let address = &wallets[i / per_wallet];
            let ctx = &ctx;
            async move {
                sessions
                    .create(
                        Chain::Ethereum,
                        address,
                        Some("1".to_owned()),
                        WalletType::Eoa,
                        ctx,
                    )
                    .await
                    .expect("create a session");
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .count()
        .await;
    let secs = t.elapsed().as_secs_f64();
    let after = used_memory(&mut info).await;
    #[allow(clippy::cast_precision_loss)]
    let per_session = (after - before) as f64 / created as f64;
    #[allow(clippy::cast_precision_loss)]
    let rate = created as f64 / secs;
    println!(
        "sessions_created {created} per_wallet {per_wallet} secs {secs:.1} rate {rate:.0} \
         used_memory_before {before} used_memory_after {after} bytes_per_session {per_session:.0}"
    );
}
