//! An axum application that embeds wallet-auth: it keeps its own `/`, `/health` and fallback,
//! merges the auth API (sessions on Redis), and reads the wallet session on a route of its own.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 SESSION_ENCRYPTION_KEY=$(openssl rand -hex 32) \
//! BIND_ADDR=127.0.0.1:3000 AUTH_DOMAINS=127.0.0.1:3000 AUTH_URI=http://127.0.0.1:3000 \
//! COOKIE_SECURE=false cargo run --example embed
//! ```
//!
//! The configuration is read from those variables explicitly (`Config::from_lookup`); an app
//! can as well build it in code from `Config::default()`. It prints `listening on <address>`
//! once it serves.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use wallet_auth::config::Config;
use wallet_auth::http::{self, AuthState, WalletSession};
use wallet_auth::store::RedisStore;

/// The app's own home page.
async fn home() -> &'static str {
    "the host application's home page"
}

/// The app's own health check.
async fn health() -> Json<Value> {
    Json(json!({ "app": "up" }))
}

/// A route of the app that needs a signed-in wallet.
async fn whoami(ws: WalletSession) -> Json<Value> {
    Json(json!({
        "chain": ws.session.chain,
        "address": ws.session.address,
        "sessionId": ws.session.session_id,
    }))
}

/// The app's own answer to an unknown path.
async fn not_found() -> (StatusCode, &'static str) {
    (
        StatusCode::NOT_FOUND,
        "the host application has no such page",
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_lookup(|name| std::env::var(name).ok())?;
    let redis_url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is required")?;

    // The Redis store: a URL (`redis://`, `rediss://`, or a comma-separated list of cluster
    // nodes), a key prefix of this app's own, and a bound on every store call.
    let store =
        RedisStore::connect(&redis_url, "embed:", std::time::Duration::from_secs(2)).await?;
    let auth = AuthState::new(config.clone(), Arc::new(store));

    // Routes of the app that read a wallet session go inside `with_session_headers`: it sends
    // the renewed cookie of a session extended in its refresh window, and marks the responses
    // `Cache-Control: no-store`.
    let wallet_routes = http::with_session_headers(Router::new().route("/whoami", get(whoami)))
        .with_state(auth.clone());

    let app = Router::new()
        .route("/", get(home))
        .route("/health", get(health))
        .merge(wallet_routes)
        .merge(http::auth_router(auth))
        .fallback(not_found);

    let listener = tokio::net::TcpListener::bind(config.http.bind_addr).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
