//! Tokens for the app's other services: `POST /auth/token` mints a short-lived ES256 JWT for
//! the calling session (wallet or legacy user session), `GET /.well-known/jwks.json` publishes
//! the keys that verify them. Keys and rotation: [`crate::session::tokens`].
//!
//! Claims: `iss` (`TOKEN_ISSUER`), `aud` (`TOKEN_AUDIENCE`), `sub`, `sid`, `iat`, `exp`,
//! `roles`, and for a wallet session `wallet` (CAIP-10). `sub` is the session's `accountId`
//! (the same for every wallet and the password of one account), `roles` its account's roles
//! as the session has them.

use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::OffsetDateTime;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::rfc3339;
use super::caller::AnySession;
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::openapi::Op;
use super::state::AuthState;
use crate::session::tokens::{
    solana_caip2_reference, KeysError, JWKS_MAX_AGE_SECS, MINTS_PER_MINUTE,
};
use crate::session::{unix_ms, SessionInfo};
use crate::store::RateDecision;
use crate::verify::Chain;

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        // Minting is limited per session (not per client IP).
        .routes(
            Op::any_session()
                .errors(&[E::RateLimited])
                .on(routes!(mint)),
        )
        .routes(
            Op::public()
                .errors(&[E::StoreUnavailable])
                .on(routes!(jwks)),
        )
}

/// A minted token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MintedToken {
    /// The JWT (ES256), for the app's other services.
    pub token: String,
    /// Its `exp`.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// The JSON Web Key Set of the token signing keys (RFC 7517).
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Jwks {
    /// EC P-256 public keys: `{"kty":"EC","crv":"P-256","x","y","kid","alg":"ES256","use":"sig"}`.
    pub keys: Vec<serde_json::Map<String, Value>>,
}

/// The CAIP-10 account id of a wallet session: `eip155:<chainId>:<EIP-55 address>` or
/// `solana:<genesis hash prefix>:<base58 address>`.
#[must_use]
pub fn caip10(s: &SessionInfo) -> String {
    match s.chain {
        // Every EIP-4361 message carries a Chain ID; sessions always keep it.
        Chain::Ethereum => format!(
            "eip155:{}:{}",
            s.chain_id.as_deref().unwrap_or("1"),
            s.address
        ),
        Chain::Solana => format!(
            "solana:{}:{}",
            solana_caip2_reference(s.chain_id.as_deref()),
            s.address
        ),
    }
}

fn keys_failed(e: KeysError) -> ApiError {
    match e {
        KeysError::Store(e) => ApiError::StoreUnavailable(e),
        e => {
            tracing::error!(error = %e, "token signing keys unavailable");
            ApiError::Internal("token signing keys unavailable".into())
        }
    }
}

#[utoipa::path(post, path = "/auth/token", tag = "tokens",
    responses(
        (status = 200, description = "A JWT for the app's other services: ES256, verified with `GET /.well-known/jwks.json`. Claims `iss`, `aud`, `sub`, `sid`, `iat`, `exp` (at most `TOKEN_TTL`, never past the session's expiry), `roles`, and `wallet` (CAIP-10) for a wallet session. At most 30 tokens per session and minute (429 `rate_limited`)", body = MintedToken),
    ))]
async fn mint(State(st): State<AuthState>, req: axum::extract::Request) -> ApiResult<Response> {
    let (mut parts, _body) = req.into_parts();
    let caller = AnySession::from_request_parts(&mut parts, &st).await?;
    let config = st.config();
    let (sid, wallet) = match &caller {
        AnySession::Wallet(ws) => (ws.session.session_id.clone(), Some(caip10(&ws.session))),
        AnySession::User(us) => (us.session_id(), None),
    };
    let sub = caller.account_id().as_str().to_owned();
    let roles = caller.roles().to_vec();
    let session_expiry = caller.expires_at();
    let now = st.clock().now();
    match st
        .store()
        .rate_limit(
            &format!("token-mint:{sid}"),
            crate::store::RateBudget {
                limit: MINTS_PER_MINUTE,
                window: Duration::from_secs(60),
            },
            unix_ms(now),
        )
        .await?
    {
        RateDecision::Allowed => {}
        RateDecision::Limited { retry_after } => return Err(ApiError::RateLimited(retry_after)),
    }
    let iat = now.unix_timestamp();
    let ttl = i64::try_from(config.tokens.ttl.as_secs()).unwrap_or(i64::MAX);
    // Whole seconds, rounded down: `exp` is never past the session's expiry.
    let exp = iat.saturating_add(ttl).min(session_expiry.unix_timestamp());
    if exp <= iat {
        // The session ends within this second.
        return Err(ApiError::Unauthenticated);
    }
    let mut claims = json!({
        "iss": config.token_issuer(),
        "aud": config.token_audience(),
        "sub": sub,
        "sid": sid,
        "iat": iat,
        "exp": exp,
        "roles": roles,
    });
    if let Some(w) = wallet {
        claims["wallet"] = json!(w);
    }
    let token = st.token_keys().sign(&claims).await.map_err(keys_failed)?;
    let expires_at = OffsetDateTime::from_unix_timestamp(exp).unwrap_or(now);
    Ok(Json(MintedToken {
        token,
        expires_at: rfc3339(expires_at),
    })
    .into_response())
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "The public keys of the tokens for other services: the current key, the next one (published before it signs), and retired ones until every token they signed has expired. `Cache-Control: public, max-age=300`", body = Jwks,
        headers(("Cache-Control" = String, description = "`public, max-age=300`")))))]
async fn jwks(State(st): State<AuthState>) -> ApiResult<Response> {
    let set = st.token_keys().jwks().await.map_err(keys_failed)?;
    let set: Jwks = serde_json::from_value(set)
        .map_err(|e| ApiError::Internal(format!("the key set has the wrong shape: {e}")))?;
    let mut res = Json(set).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECS}")) {
        res.headers_mut().insert(header::CACHE_CONTROL, v);
    }
    Ok(res)
}
