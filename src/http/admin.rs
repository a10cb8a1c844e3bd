//! Operator routes, enabled by `ADMIN_TOKEN` (`Authorization: Bearer $ADMIN_TOKEN`, compared in
//! constant time): session statistics, the audit trail, forced logout of a wallet. With no
//! token configured every `/admin` route answers `404 not_found`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRef, FromRequestParts, Path, Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use time::Duration;

use super::{ApiError, ApiResult, AuthState};
use crate::session::audit::parse_wallet;
use crate::session::crypto::ct_eq;
use crate::session::{AuditEvent, AuditKind};
use crate::verify::{self, Chain};

pub(crate) fn router() -> Router<AuthState> {
    Router::new()
        .route("/admin/sessions/stats", get(stats))
        .route("/admin/audit", get(audit))
        .route(
            "/admin/wallets/{chain}/{address}/logout-all",
            post(force_logout),
        )
}

/// An authenticated operator.
#[derive(Debug, Clone, Copy)]
pub struct Admin;

impl<S> FromRequestParts<S> for Admin
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = AuthState::from_ref(state);
        let Some(expected) = &st.config().ops.admin_token else {
            return Err(ApiError::NotFound("no such route"));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match presented {
            None => Err(ApiError::Unauthenticated),
            Some(t) if ct_eq(t.as_bytes(), expected.expose().as_bytes()) => Ok(Admin),
            Some(_) => Err(ApiError::Forbidden("this endpoint needs the admin token")),
        }
    }
}

#[utoipa::path(get, path = "/admin/sessions/stats", tag = "admin",
    responses((status = 200, description = "Active sessions and the last hour's sign-ins", body = super::openapi::Stats)))]
async fn stats(State(st): State<AuthState>, _: Admin) -> ApiResult<Json<Value>> {
    let mut by_chain = serde_json::Map::new();
    let mut total = 0u64;
    for chain in [Chain::Ethereum, Chain::Solana] {
        let n = st.sessions().count_active(chain).await?;
        total += n;
        by_chain.insert(chain.as_str().to_owned(), json!(n));
    }
    // Counted, not read from the audit logs: anonymous failures are never stored as events.
    let now = st.clock().now();
    let counts = st
        .audit()
        .sign_ins_since(now - Duration::hours(1), now)
        .await?;
    let (ok, failed) = (counts.ok, counts.failed);
    Ok(Json(json!({
        "activeSessions": { "total": total, "byChain": by_chain },
        "lastHour": { "signIns": ok, "failures": failed },
    })))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQuery {
    /// Only this wallet's events (its address; an Ethereum address in any case). Without it:
    /// the newest security events of every wallet, and the newest other events in the room
    /// left.
    wallet: Option<String>,
    /// At most this many events (1 to 1000, default 100).
    #[param(value_type = Option<usize>)]
    limit: Option<String>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "The audit trail, newest first", body = super::openapi::AuditPage)))]
async fn audit(
    State(st): State<AuthState>,
    _: Admin,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    // A malformed query gets the contract's JSON error, not axum's plain-text rejection.
    let Query(q) = q.map_err(|_| super::input::bad_query())?;
    let limit = match q.limit.as_deref().map(str::trim) {
        None | Some("") => 100,
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| ApiError::BadRequest("`limit` must be an integer from 1 to 1000".into()))?
            .clamp(1, 1000),
    };
    let wallet = q.wallet.as_deref().filter(|w| !w.is_empty());
    if wallet.is_some_and(|w| parse_wallet(w).is_none()) {
        return Err(ApiError::BadRequest(
            "wallet: not an Ethereum or Solana address".into(),
        ));
    }
    let events = st.audit().read(wallet, limit).await?;
    Ok(Json(json!({ "events": events })))
}

#[utoipa::path(post, path = "/admin/wallets/{chain}/{address}/logout-all", tag = "admin",
    params(("chain" = Chain, Path, description = "`ethereum` or `solana`"),
           ("address" = String, Path, description = "The wallet's address")),
    responses((status = 200, description = "Every session of that wallet is gone", body = super::openapi::Revoked)))]
async fn force_logout(
    State(st): State<AuthState>,
    _: Admin,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Value>> {
    let Path((chain, address)) = path.map_err(|_| super::input::bad_path("chain/address"))?;
    let chain: Chain = chain.parse().map_err(|_| {
        ApiError::BadRequest("unknown chain in the path: use ethereum or solana".into())
    })?;
    let address = verify::normalize_address(chain, &address)
        .map_err(|e| ApiError::BadRequest(format!("address: {e}")))?;
    let n = st.sessions().revoke_all(chain, &address).await?;
    st.audit()
        .record(
            AuditEvent::new(AuditKind::ForcedLogout, st.clock().now())
                .wallet(chain, &address)
                .count(n),
        )
        .await;
    Ok(Json(json!({ "revoked": n })))
}
