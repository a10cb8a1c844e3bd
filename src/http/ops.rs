//! Operations: `/health`, `/ready`, `/metrics` (the OpenAPI document, `/openapi.json`, is
//! registered by `super::openapi`), and the demo page at `/` (with its script and the
//! JavaScript client under `/assets/`, for the demo page only: apps install the client's
//! package). The demo is a router of its own, so that an app embedding the crate keeps its `/`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use sha2::{Digest as _, Sha256};

use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::metrics;
use super::openapi::Op;
use super::state::AuthState;
use crate::session::crypto::ct_eq;
use crate::verify::Chain;

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(Op::public().on(routes!(health)))
        .routes(
            Op::public()
                .errors(&[E::StoreUnavailable])
                .on(routes!(ready)),
        )
        .routes(
            Op::public()
                .errors(&[E::Unauthenticated])
                .on(routes!(metrics)),
        )
}

pub(crate) fn demo_router() -> Router<AuthState> {
    Router::new()
        .route("/", get(demo))
        .route("/assets/wallet-auth.js", get(client_js))
        .route("/assets/demo.js", get(demo_js))
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok`.
    #[schema(pattern = "^ok$")]
    pub status: &'static str,
}

/// `GET /ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Ready {
    /// Always `ready`.
    #[schema(pattern = "^ready$")]
    pub status: &'static str,
    /// The store in use: `redis` (single node or cluster), `postgres` or `memory`.
    #[schema(pattern = "^(redis|postgres|memory)$")]
    pub store: &'static str,
    /// Each contract-wallet node by chain id: `up` or `down` as last seen (a node that is
    /// down does not make the server unready: EOA sign-in still works). Empty without
    /// `ETH_RPC_URLS`.
    pub verifiers: BTreeMap<String, VerifierState>,
}

/// A contract-wallet node's state.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum VerifierState {
    /// Its last answer was a proper one, for the chain it is listed under.
    Up,
    /// It did not answer, answered garbage, serves another chain, or was not asked yet.
    Down,
}

#[utoipa::path(get, path = "/health", tag = "operations",
    responses((status = 200, description = "The process runs", body = Health)))]
async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/ready", tag = "operations",
    responses((status = 200, description = "The store answers (a contract-wallet node that is down does not make the server unready)", body = Ready)))]
async fn ready(State(st): State<AuthState>) -> ApiResult<Json<Ready>> {
    st.store().ping().await?;
    // The nodes' state as last seen; a stale one is refreshed in the background, so a slow
    // node never slows readiness probes.
    let contracts = st.contract_wallets();
    contracts.refresh_in_background();
    let verifiers = contracts
        .states()
        .into_iter()
        .map(|(chain, state)| {
            let state = if state == "up" {
                VerifierState::Up
            } else {
                VerifierState::Down
            };
            (chain, state)
        })
        .collect();
    Ok(Json(Ready {
        status: "ready",
        store: st.store().kind(),
        verifiers,
    }))
}

#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "The metrics: OpenMetrics 1.0.0 text when `Accept` asks for `application/openmetrics-text`, Prometheus text format 0.0.4 otherwise", content(
            (String = "text/plain; version=0.0.4; charset=utf-8"),
            (String = "application/openmetrics-text; version=1.0.0; charset=utf-8")))))]
async fn metrics(State(st): State<AuthState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &st.config().ops.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        // Compared as SHA-256 digests in constant time: neither the content nor the length
        // of the token leaks through timing.
        let ok = presented.is_some_and(|t| {
            ct_eq(
                &Sha256::digest(t.as_bytes()),
                &Sha256::digest(expected.expose().as_bytes()),
            )
        });
        if !ok {
            let mut res = ApiError::Unauthenticated.into_response();
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"metrics\""),
            );
            return res;
        }
    }
    for chain in [Chain::Ethereum, Chain::Solana] {
        match st.sessions().count_active(chain).await {
            Ok(n) => st.metrics().set_active(chain.as_str(), n),
            Err(e) => tracing::warn!(error = %e, "could not count active sessions"),
        }
    }
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(metrics::accepts_openmetrics);
    let (content_type, body) = if openmetrics {
        (metrics::OPENMETRICS_CONTENT_TYPE, st.metrics().render())
    } else {
        (metrics::TEXT_CONTENT_TYPE, st.metrics().render_text())
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (header::VARY, "Accept"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

async fn demo() -> Result<Html<&'static str>, ApiError> {
    Ok(Html(include_str!("../../assets/index.html")))
}

/// The demo's scripts, for this server's own pages only: `Cross-Origin-Resource-Policy:
/// same-origin` (a browser refuses them to another site's page), and a request that a browser
/// says comes from another origin's page (`Sec-Fetch-Site` other than `same-origin` or `none`)
/// is refused with 403, whatever `CORS_ORIGINS` allows.
fn javascript(headers: &HeaderMap, source: &'static str) -> Response {
    if let Some(site) = headers.get("sec-fetch-site") {
        if !matches!(site.as_bytes(), b"same-origin" | b"none") {
            return ApiError::Forbidden("the demo's scripts are for this server's own pages")
                .into_response();
        }
    }
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (
                header::HeaderName::from_static("cross-origin-resource-policy"),
                "same-origin",
            ),
            (header::VARY, "Sec-Fetch-Site"),
        ],
        source,
    )
        .into_response()
}

/// The JavaScript client (`clients/js/wallet-auth.js`), which the demo page imports.
async fn client_js(headers: HeaderMap) -> Response {
    javascript(&headers, include_str!("../../clients/js/wallet-auth.js"))
}

async fn demo_js(headers: HeaderMap) -> Response {
    javascript(&headers, include_str!("../../assets/demo.js"))
}
