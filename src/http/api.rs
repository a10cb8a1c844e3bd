//! Example application routes protected by wallet sessions: `/api/me` (required),
//! `/api/public/hello` (optional), `/api/preferences` (the wallet's encrypted preferences).

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{ChainId, ChainName, WalletKind};
use super::error::{ApiError, ApiResult};
use super::extract::JsonBody;
use super::extract::{OptionalWalletSession, WalletSession};
use super::openapi::Op;
use super::state::AuthState;

/// Largest preferences document, serialized.
pub const MAX_PREFERENCES_BYTES: usize = 4096;

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(Op::wallet().on(routes!(me)))
        .routes(Op::wallet_optional().on(routes!(hello)))
        .routes(Op::wallet().on(routes!(get_preferences)))
        .routes(Op::wallet().json_body().on(routes!(put_preferences)))
}

/// `GET /api/me`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// The account the session belongs to.
    pub account_id: String,
    /// The account's roles.
    pub roles: Vec<String>,
    /// The wallet's chain.
    pub chain: ChainName,
    /// The wallet's address (EIP-55 or base58).
    pub address: String,
    /// The chain id signed in with, if any.
    pub chain_id: Option<ChainId>,
    /// `eoa`, or `contract` for a smart-contract wallet (EIP-1271 / ERC-6492).
    pub wallet_type: WalletKind,
    /// The current session.
    pub session_id: String,
}

/// `GET /api/public/hello`: `chain` and `address` only when authenticated.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hello {
    /// Whether a valid wallet session came with the request.
    pub authenticated: bool,
    /// The wallet's chain, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainName>,
    /// The wallet's address, when authenticated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A wallet's preferences: any JSON object of at most 4 KiB.
#[derive(Debug, Serialize, ToSchema)]
pub struct Preferences(pub Map<String, Value>);

#[utoipa::path(get, path = "/api/me", tag = "api",
    responses((status = 200, description = "The signed-in wallet", body = Me)))]
async fn me(ws: WalletSession) -> Json<Me> {
    let s = &ws.session;
    Json(Me {
        account_id: s.account_id.as_str().to_owned(),
        roles: s.roles.clone(),
        chain: s.chain.into(),
        address: s.address.clone(),
        chain_id: ChainId::of(s.chain, s.chain_id.as_deref()),
        wallet_type: s.wallet_type.into(),
        session_id: s.session_id.clone(),
    })
}

#[utoipa::path(get, path = "/api/public/hello", tag = "api",
    responses((status = 200, description = "Anonymous or the wallet; a bad token counts as anonymous", body = Hello)))]
async fn hello(OptionalWalletSession(ws): OptionalWalletSession) -> Json<Hello> {
    Json(match ws {
        Some(ws) => Hello {
            authenticated: true,
            chain: Some(ws.session.chain.into()),
            address: Some(ws.session.address),
        },
        None => Hello {
            authenticated: false,
            chain: None,
            address: None,
        },
    })
}

/// The stored preferences as the API shows them: an object (`{}` for anything else).
fn preferences(value: Value) -> Preferences {
    match value {
        Value::Object(map) => Preferences(map),
        _ => Preferences(Map::new()),
    }
}

#[utoipa::path(get, path = "/api/preferences", tag = "api",
    responses((status = 200, description = "The wallet's preferences (`{}` when none)", body = Preferences)))]
async fn get_preferences(
    State(st): State<AuthState>,
    ws: WalletSession,
) -> ApiResult<Json<Preferences>> {
    Ok(Json(preferences(
        st.sessions().preferences(ws.tag()).await?,
    )))
}

#[utoipa::path(put, path = "/api/preferences", tag = "api",
    request_body(content = Preferences, description = "A JSON object of at most 4 KiB"),
    responses((status = 200, description = "Stored; echoed back", body = Preferences)))]
async fn put_preferences(
    State(st): State<AuthState>,
    ws: WalletSession,
    JsonBody(value): JsonBody<Value>,
) -> ApiResult<Json<Preferences>> {
    if !value.is_object() {
        return Err(ApiError::BadRequest(
            "preferences must be a JSON object".into(),
        ));
    }
    if serde_json::to_vec(&value).map_or(usize::MAX, |v| v.len()) > MAX_PREFERENCES_BYTES {
        return Err(ApiError::PayloadTooLarge(MAX_PREFERENCES_BYTES));
    }
    st.sessions().set_preferences(ws.tag(), &value).await?;
    Ok(Json(preferences(value)))
}
