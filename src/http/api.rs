//! Example application routes protected by wallet sessions: `/api/me` (required),
//! `/api/public/hello` (optional), `/api/preferences` (the wallet's encrypted preferences).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::auth::chain_id_json;
use super::{ApiError, ApiResult, AuthState, JsonBody, OptionalWalletSession, WalletSession};

/// Largest preferences document, serialized.
pub const MAX_PREFERENCES_BYTES: usize = 4096;

pub(crate) fn router() -> Router<AuthState> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/public/hello", get(hello))
        .route(
            "/api/preferences",
            get(get_preferences).put(put_preferences),
        )
}

#[utoipa::path(get, path = "/api/me", tag = "api",
    responses((status = 200, description = "The signed-in wallet", body = super::openapi::Me)))]
async fn me(ws: WalletSession) -> Json<Value> {
    let s = &ws.session;
    Json(json!({
        "chain": s.chain,
        "address": s.address,
        "chainId": chain_id_json(s.chain, s.chain_id.as_deref()),
        "walletType": s.wallet_type,
        "sessionId": s.session_id,
    }))
}

#[utoipa::path(get, path = "/api/public/hello", tag = "api",
    responses((status = 200, description = "Anonymous or the wallet; a bad token counts as anonymous", body = super::openapi::Hello)))]
async fn hello(OptionalWalletSession(ws): OptionalWalletSession) -> Json<Value> {
    match ws {
        Some(ws) => Json(json!({
            "authenticated": true,
            "chain": ws.session.chain,
            "address": ws.session.address,
        })),
        None => Json(json!({ "authenticated": false })),
    }
}

#[utoipa::path(get, path = "/api/preferences", tag = "api",
    responses((status = 200, description = "The wallet's preferences (`{}` when none)", body = super::openapi::Preferences)))]
async fn get_preferences(State(st): State<AuthState>, ws: WalletSession) -> ApiResult<Json<Value>> {
    Ok(Json(st.sessions().preferences(ws.tag()).await?))
}

#[utoipa::path(put, path = "/api/preferences", tag = "api",
    request_body(content = super::openapi::Preferences, description = "A JSON object of at most 4 KiB"),
    responses((status = 200, description = "Stored; echoed back", body = super::openapi::Preferences)))]
async fn put_preferences(
    State(st): State<AuthState>,
    ws: WalletSession,
    JsonBody(value): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "preferences must be a JSON object".into(),
        ));
    }
    if serde_json::to_vec(&value).map_or(usize::MAX, |v| v.len()) > MAX_PREFERENCES_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_PREFERENCES_BYTES));
    }
    st.sessions().set_preferences(ws.tag(), &value).await?;
    Ok(Json(value))
}
