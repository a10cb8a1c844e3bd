//! Operations: `/health`, `/ready`, `/metrics`, `/openapi.json`, and the demo page at `/`.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::{ApiError, ApiResult, AuthState};
use crate::verify::Chain;

pub(crate) fn router() -> Router<AuthState> {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
}

pub(crate) fn demo_router() -> Router<AuthState> {
    Router::new().route("/", get(demo))
}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process runs", body = super::openapi::Health)))]
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "The store answers", body = super::openapi::Ready)))]
async fn ready(State(st): State<AuthState>) -> ApiResult<Json<serde_json::Value>> {
    let started = std::time::Instant::now();
    let r = st.store().ping().await;
    st.metrics()
        .store_op("ping", started.elapsed().as_secs_f64(), r.is_ok());
    r?;
    Ok(Json(
        json!({ "status": "ready", "store": st.store().kind() }),
    ))
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus / OpenMetrics text", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
async fn metrics(State(st): State<AuthState>) -> Response {
    for chain in [Chain::Ethereum, Chain::Solana] {
        match st.sessions().count_active(chain).await {
            Ok(n) => st.metrics().set_active(chain.as_str(), n),
            Err(e) => tracing::warn!(error = %e, "could not count active sessions"),
        }
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics().render(),
    )
        .into_response()
}

async fn demo() -> Result<Html<&'static str>, ApiError> {
    Ok(Html(include_str!("../../assets/index.html")))
}
