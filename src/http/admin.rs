//! Operator routes, for `ADMIN_TOKEN` (`Authorization: Bearer $ADMIN_TOKEN`, compared in
//! constant time) and for sessions whose account has the `admin` role: session statistics, the
//! audit trail, forced logout of a wallet (and the account roles, in `super::accounts`). With
//! no token configured, every `/admin` route answers `404 not_found` to anyone but an admin
//! session.

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{rfc3339, ChainName, Revoked};
use super::caller::AnySession;
use super::cookie::SessionCookie;
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::extract::{PathParam, QueryParams};
use super::openapi::Op;
use super::state::AuthState;
use crate::session::accounts::ADMIN_ROLE;
use crate::session::audit::parse_wallet;
use crate::session::crypto::ct_eq;
use crate::session::{AuditEvent, AuditKind};
use crate::verify::{self, Chain};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(Op::admin().on(routes!(stats)))
        .routes(Op::admin().errors(&[E::BadRequest]).on(routes!(audit)))
        .routes(
            Op::admin()
                .errors(&[E::BadRequest])
                .on(routes!(force_logout)),
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
        let token = st.config().ops.admin_token.as_ref();
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim().to_owned());
        if let (Some(expected), Some(t)) = (token, &presented) {
            if ct_eq(t.as_bytes(), expected.expose().as_bytes()) {
                return Ok(Admin);
            }
        }
        // Else a session whose account has the admin role (whether or not ADMIN_TOKEN is set).
        let has_session = presented.is_some()
            || SessionCookie::Wallet
                .read(&parts.headers)
                .ok()
                .flatten()
                .is_some()
            || SessionCookie::User
                .read(&parts.headers)
                .ok()
                .flatten()
                .is_some();
        let session = if has_session {
            Some(AnySession::from_request_parts(parts, state).await)
        } else {
            None
        };
        match session {
            Some(Ok(s)) if s.roles().iter().any(|r| r == ADMIN_ROLE) => Ok(Admin),
            Some(Err(e @ ApiError::StoreUnavailable(_))) => Err(e),
            // Without ADMIN_TOKEN the admin routes do not exist for anyone but admin sessions.
            _ if token.is_none() => Err(ApiError::NotFound("no such route")),
            None => Err(ApiError::Unauthenticated),
            Some(_) => Err(ApiError::Forbidden(
                "this endpoint needs the admin token or a session with the admin role",
            )),
        }
    }
}

/// Active sessions by chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ByChain {
    /// Ethereum sessions.
    pub ethereum: u64,
    /// Solana sessions.
    pub solana: u64,
}

/// Active sessions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActiveSessions {
    /// All chains.
    pub total: u64,
    /// Per chain.
    pub by_chain: ByChain,
}

/// Sign-ins in the last hour.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LastHour {
    /// Successful sign-ins.
    pub sign_ins: u64,
    /// Failed sign-ins.
    pub failures: u64,
}

/// `GET /admin/sessions/stats`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Active sessions.
    pub active_sessions: ActiveSessions,
    /// The last hour's sign-ins.
    pub last_hour: LastHour,
}

#[utoipa::path(get, path = "/admin/sessions/stats", tag = "admin",
    responses((status = 200, description = "Active sessions and the last hour's sign-ins", body = Stats)))]
async fn stats(State(st): State<AuthState>, _: Admin) -> ApiResult<Json<Stats>> {
    let ethereum = st.sessions().count_active(Chain::Ethereum).await?;
    let solana = st.sessions().count_active(Chain::Solana).await?;
    // Counted, not read from the audit logs: anonymous failures are never stored as events.
    let now = st.clock().now();
    let counts = st
        .audit()
        .sign_ins_since(now - Duration::hours(1), now)
        .await?;
    Ok(Json(Stats {
        active_sessions: ActiveSessions {
            total: ethereum + solana,
            by_chain: ByChain { ethereum, solana },
        },
        last_hour: LastHour {
            sign_ins: counts.ok,
            failures: counts.failed,
        },
    }))
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

/// What happened (the audit trail's event kinds).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AuditKind)]
pub enum AuditKindName {
    /// A wallet signed in.
    SignIn,
    /// A sign-in attempt failed (see `code`).
    SignInFailure,
    /// A session was extended in its refresh window.
    Refresh,
    /// A session's token was rotated.
    Rotation,
    /// A session was ended by its owner.
    Logout,
    /// Every session of a wallet was ended by its owner.
    LogoutAll,
    /// A session was revoked by id.
    Revoke,
    /// The per-wallet limit evicted the oldest session.
    Eviction,
    /// A token was presented from another device (`code` `device_mismatch`), or in strict
    /// mode from another IP (`ip_mismatch`).
    BindingMismatch,
    /// A rotated token was replayed after its grace; the session was revoked.
    TokenReuse,
    /// An operator logged a wallet out everywhere.
    ForcedLogout,
    /// An identity was linked to an account.
    Link,
    /// An identity was unlinked from an account.
    Unlink,
    /// An account's roles changed.
    RolesChange,
}

impl From<AuditKind> for AuditKindName {
    fn from(k: AuditKind) -> Self {
        match k {
            AuditKind::SignIn => AuditKindName::SignIn,
            AuditKind::SignInFailure => AuditKindName::SignInFailure,
            AuditKind::Refresh => AuditKindName::Refresh,
            AuditKind::Rotation => AuditKindName::Rotation,
            AuditKind::Logout => AuditKindName::Logout,
            AuditKind::LogoutAll => AuditKindName::LogoutAll,
            AuditKind::Revoke => AuditKindName::Revoke,
            AuditKind::Eviction => AuditKindName::Eviction,
            AuditKind::BindingMismatch => AuditKindName::BindingMismatch,
            AuditKind::TokenReuse => AuditKindName::TokenReuse,
            AuditKind::ForcedLogout => AuditKindName::ForcedLogout,
            AuditKind::Link => AuditKindName::Link,
            AuditKind::Unlink => AuditKindName::Unlink,
            AuditKind::RolesChange => AuditKindName::RolesChange,
        }
    }
}

/// One audit event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventBody {
    /// When, RFC 3339.
    #[schema(format = DateTime)]
    pub at: String,
    /// What.
    pub kind: AuditKindName,
    /// Chain of the wallet concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainName>,
    /// Wallet address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Session id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Error code of a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Client IP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Number of sessions ended (logout-all, forced logout, strict binding mismatch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    /// Coarse device fingerprint of the client (binding mismatch), e.g. `firefox/linux`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// The account concerned (link, unlink, roles change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The identity linked or unlinked (`eip155:…`, `solana:…`, `password:…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The roles set (roles change).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
}

impl From<AuditEvent> for AuditEventBody {
    fn from(e: AuditEvent) -> Self {
        AuditEventBody {
            at: rfc3339(e.at),
            kind: e.kind.into(),
            chain: e.chain.map(ChainName::from),
            address: e.address,
            session_id: e.session_id,
            code: e.code,
            ip: e.ip,
            count: e.count,
            device: e.device,
            account_id: e.account_id,
            identity: e.identity,
            roles: e.roles,
        }
    }
}

/// `GET /admin/audit`: newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditEventBody>,
}

#[utoipa::path(get, path = "/admin/audit", tag = "admin", params(AuditQuery),
    responses((status = 200, description = "The audit trail, newest first", body = AuditPage)))]
async fn audit(
    State(st): State<AuthState>,
    _: Admin,
    QueryParams(q): QueryParams<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
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
    Ok(Json(AuditPage {
        events: events.into_iter().map(AuditEventBody::from).collect(),
    }))
}

#[utoipa::path(post, path = "/admin/wallets/{chain}/{address}/logout-all", tag = "admin",
    params(("chain" = ChainName, Path, description = "`ethereum` or `solana`"),
           ("address" = String, Path, description = "The wallet's address")),
    responses((status = 200, description = "Every session of that wallet is gone", body = Revoked)))]
async fn force_logout(
    State(st): State<AuthState>,
    _: Admin,
    PathParam((chain, address)): PathParam<(String, String)>,
) -> ApiResult<Json<Revoked>> {
    let chain: Chain = chain.parse().map_err(|_| {
        ApiError::BadRequest("unknown chain in the path: use ethereum or solana".into())
    })?;
    let address = verify::normalize_address(chain, &address)
        .map_err(|e| ApiError::BadRequest(format!("address: {e}")))?;
    let n = st.sessions().revoke_all(chain, &address).await?;
    Ok(Json(Revoked { revoked: n }))
}
