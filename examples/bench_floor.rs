//! The yardstick of the HTTP figures: the smallest axum server (`axum::serve`, no layer, one
//! route answering `{"status":"ok"}`, the body of `GET /health`) on the same runtime, so that a
//! benchmark can tell what the server's own stack costs beyond what any axum server costs on
//! the same cores. bench/run.sh measures it beside `GET /health`.
//!
//! `bench_floor ADDR` (e.g. `127.0.0.1:8099`): serves until killed.

use axum::routing::get;
use axum::{Json, Router};

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8099".to_owned());
    let app = Router::new().route("/health", get(|| async { Json(Health { status: "ok" }) }));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
