//! Accounts over HTTP: `GET /auth/account`, linking (`/auth/link/nonce`, `/auth/link`,
//! `/auth/link/password`), unlinking (`DELETE /auth/identities/{chain}/{address}`) and
//! `PUT /admin/accounts/{accountId}/roles`; and the extractors [`AnySession`] (a wallet or a
//! legacy user session) and [`RequireRole`] (a session whose account has a role). The rules
//! are in [`crate::session::accounts`]; this module only translates.
//!
//! # Requiring a role in an embedding app
//! ```
//! use axum::{routing::get, Router};
//! use wallet_auth::http::accounts::{RequireRole, RoleName};
//! use wallet_auth::http::state::AuthState;
//!
//! struct Editor;
//! impl RoleName for Editor {
//!     const ROLE: &'static str = "editor";
//! }
//!
//! // 401 without a session, 403 `forbidden` for a session whose account lacks `editor`.
//! async fn edit(session: RequireRole<Editor>) -> String {
//!     format!("hello {}", session.0.account_id())
//! }
//!
//! fn routes(state: AuthState) -> Router {
//!     wallet_auth::http::with_session_headers(
//!         Router::new().route("/edit", get(edit)).with_state(state),
//!     )
//! }
//! ```

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{rfc3339, ChainId, ChainName};
use super::cookie::SessionCookie;
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::extract::{ClientInfo, JsonBody, OptionalJsonBody, PathParam, WalletSession};
use super::openapi::Op;
use super::state::AuthState;
use super::user::UserSession;
use crate::session::accounts::{Account, AccountError, Identity};
use crate::session::signin::{SignInFailure, SignInRequest};
use crate::store::AccountId;
use crate::verify::{self, Chain};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    let link = Op::any_session().json_body().rate_limited();
    OpenApiRouter::new()
        .routes(Op::any_session().on(routes!(account)))
        .routes(link.errors(&[E::ChainNotAllowed]).on(routes!(link_nonce)))
        .routes(
            link.errors(&[
                E::InvalidMessage,
                E::InvalidSignature,
                E::DomainMismatch,
                E::ChainNotAllowed,
                E::NonceInvalid,
                E::MessageExpired,
                E::MessageNotYetValid,
                E::ReauthenticationRequired,
                E::IdentityInUse,
                E::VerifierUnavailable,
            ])
            .on(routes!(link_wallet)),
        )
        .routes(
            Op::wallet()
                .json_body()
                .rate_limited()
                .errors(&[E::ReauthenticationRequired, E::IdentityInUse])
                .on(routes!(link_password)),
        )
        .routes(
            Op::any_session()
                .rate_limited()
                .errors(&[
                    E::BadRequest,
                    E::NotFound,
                    E::ReauthenticationRequired,
                    E::LastIdentity,
                ])
                .on(routes!(unlink)),
        )
        .routes(
            Op::admin()
                .json_body()
                .errors(&[E::BadRequest])
                .on(routes!(set_roles)),
        )
}

/// A request authenticated by a wallet session or, failing a wallet credential, by a legacy
/// user session (`sid` cookie); the CSRF rule applies to both when cookie-authenticated. A
/// wallet cookie that names no live session falls back to a user session cookie sent with it;
/// a bearer token never does.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per request, never stored
pub enum AnySession {
    /// A wallet session.
    Wallet(WalletSession),
    /// A legacy user session.
    User(UserSession),
}

impl AnySession {
    /// The session's account.
    #[must_use]
    pub fn account_id(&self) -> &AccountId {
        match self {
            AnySession::Wallet(ws) => &ws.session.account_id,
            AnySession::User(us) => &us.session.account_id,
        }
    }

    /// The account's roles (at most [`crate::session::accounts::ROLES_REFRESH`] old).
    #[must_use]
    pub fn roles(&self) -> &[String] {
        match self {
            AnySession::Wallet(ws) => &ws.session.roles,
            AnySession::User(us) => &us.session.roles,
        }
    }

    /// The session's public id.
    #[must_use]
    pub fn session_id(&self) -> String {
        match self {
            AnySession::Wallet(ws) => ws.session.session_id.clone(),
            AnySession::User(us) => us.session.session_id.clone(),
        }
    }

    /// When the session signed in (what "recent" is measured from).
    #[must_use]
    pub fn signed_in_at(&self) -> OffsetDateTime {
        match self {
            AnySession::Wallet(ws) => ws.session.created_at,
            AnySession::User(us) => us.session.created_at,
        }
    }

    /// The session's expiry.
    #[must_use]
    pub fn expires_at(&self) -> OffsetDateTime {
        match self {
            AnySession::Wallet(ws) => ws.session.expires_at,
            AnySession::User(us) => us.session.expires_at,
        }
    }
}

impl<S> FromRequestParts<S> for AnySession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let bearer = parts.headers.contains_key(header::AUTHORIZATION);
        let wallet_cookie = SessionCookie::Wallet
            .read(&parts.headers)
            .map_err(|_| ApiError::Unauthenticated)?
            .is_some();
        let user_cookie = SessionCookie::User
            .read(&parts.headers)
            .map_err(|_| ApiError::Unauthenticated)?
            .is_some();
        if bearer || wallet_cookie {
            match WalletSession::from_request_parts(parts, state).await {
                Ok(ws) => return Ok(AnySession::Wallet(ws)),
                Err(ApiError::Unauthenticated) if !bearer && user_cookie => {}
                Err(e) => return Err(e),
            }
        }
        Ok(AnySession::User(
            UserSession::from_request_parts(parts, state).await?,
        ))
    }
}

/// A role an embedding app requires with [`RequireRole`].
pub trait RoleName {
    /// The role's name.
    const ROLE: &'static str;
}

/// A session (as [`AnySession`]) whose account has the role `R::ROLE`; `403 forbidden`
/// otherwise. See the module docs for an example.
#[derive(Debug, Clone)]
pub struct RequireRole<R: RoleName>(pub AnySession, pub PhantomData<R>);

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    AuthState: FromRef<S>,
    S: Send + Sync,
    R: RoleName,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let session = AnySession::from_request_parts(parts, state).await?;
        if session.roles().iter().any(|r| r == R::ROLE) {
            Ok(RequireRole(session, PhantomData))
        } else {
            Err(ApiError::Forbidden(
                "this request needs a role the account does not have",
            ))
        }
    }
}

/// One identity of an account: a wallet or a password.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum IdentityBody {
    /// A wallet.
    Wallet {
        /// Its chain.
        chain: ChainName,
        /// Its address.
        address: String,
    },
    /// A username with a password.
    Password {
        /// The username.
        username: String,
    },
}

impl From<&Identity> for IdentityBody {
    fn from(i: &Identity) -> Self {
        match i {
            Identity::Wallet { chain, address } => IdentityBody::Wallet {
                chain: (*chain).into(),
                address: address.clone(),
            },
            Identity::Password { username } => IdentityBody::Password {
                username: username.clone(),
            },
        }
    }
}

/// An account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccountBody {
    account_id: String,
    roles: Vec<String>,
    identities: Vec<IdentityBody>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<Account> for AccountBody {
    fn from(a: Account) -> Self {
        AccountBody {
            account_id: a.id.into_string(),
            roles: a.roles,
            identities: a.identities.iter().map(IdentityBody::from).collect(),
            created_at: rfc3339(a.created_at),
        }
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => ApiError::StoreUnavailable(s),
            AccountError::InUse(why) => ApiError::IdentityInUse(why),
            AccountError::LastIdentity => ApiError::LastIdentity,
            AccountError::NotFound(why) => ApiError::NotFound(why),
            AccountError::BadRoles(why) => ApiError::BadRequest(why),
            AccountError::BadUser(u) => ApiError::BadRequest(u.to_string()),
        }
    }
}

fn recent(st: &AuthState, s: &AnySession) -> ApiResult<()> {
    if st.accounts().is_recent(s.signed_in_at()) {
        Ok(())
    } else {
        Err(ApiError::ReauthenticationRequired)
    }
}

#[utoipa::path(get, path = "/auth/account", tag = "accounts",
    responses((status = 200, description = "The session's account", body = AccountBody)))]
async fn account(State(st): State<AuthState>, s: AnySession) -> ApiResult<Json<AccountBody>> {
    Ok(Json(st.accounts().get(s.account_id()).await?.into()))
}

/// `POST /auth/link/nonce` body (optional), as `/auth/nonce`'s.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LinkNonceRequest {
    #[schema(value_type = Option<ChainName>)]
    chain: Option<String>,
    address: Option<String>,
    #[serde(rename = "chainId")]
    #[schema(value_type = Option<ChainId>)]
    chain_id: Option<serde_json::Value>,
}

#[utoipa::path(post, path = "/auth/link/nonce", tag = "accounts",
    request_body(content = Option<LinkNonceRequest>, description = "As `/auth/nonce`"),
    responses((status = 200, description = "A nonce bound to this account, usable only at `/auth/link` (`Cache-Control: no-store`)", body = super::auth::NonceResponse)))]
async fn link_nonce(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    s: AnySession,
    OptionalJsonBody(body): OptionalJsonBody<LinkNonceRequest>,
) -> ApiResult<axum::response::Response> {
    st.rate_limit("link-nonce", &client.ip).await?;
    let (chain, address, chain_id) = match body {
        None => (None, None, None),
        Some(b) => (b.chain, b.address, b.chain_id),
    };
    super::auth::issue_nonce(&st, chain, address, chain_id, Some(s.account_id())).await
}

#[utoipa::path(post, path = "/auth/link", tag = "accounts",
    request_body = super::auth::VerifyRequest,
    responses((status = 200, description = "The account, with the wallet among its identities", body = AccountBody)))]
async fn link_wallet(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    s: AnySession,
    JsonBody(req): JsonBody<super::auth::VerifyRequest>,
) -> ApiResult<Json<AccountBody>> {
    st.rate_limit("link", &client.ip).await?;
    recent(&st, &s)?;
    let chain = super::auth::parse_chain(Some(&req.chain))?;
    let (chain, address) = st
        .signins()
        .prove_for_link(
            SignInRequest {
                chain,
                message: &req.message,
                signature: &req.signature,
                public_key: req.public_key.as_deref(),
                client: &client,
            },
            s.account_id(),
        )
        .await
        .map_err(|SignInFailure { error, .. }| ApiError::from(error))?;
    let account = st
        .accounts()
        .link(s.account_id(), &Identity::wallet(chain, &address))
        .await?;
    Ok(Json(account.into()))
}

/// `POST /auth/link/password` body.
#[derive(Deserialize, ToSchema)]
struct LinkPassword {
    username: String,
    password: String,
}

#[utoipa::path(post, path = "/auth/link/password", tag = "accounts",
    request_body = LinkPassword,
    responses((status = 200, description = "The account, with its new password identity", body = AccountBody)))]
async fn link_password(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    ws: WalletSession,
    JsonBody(body): JsonBody<LinkPassword>,
) -> ApiResult<Json<AccountBody>> {
    st.rate_limit("link", &client.ip).await?;
    let s = AnySession::Wallet(ws);
    recent(&st, &s)?;
    let account = st
        .accounts()
        .link_password(s.account_id(), &body.username, &body.password)
        .await?;
    Ok(Json(account.into()))
}

#[utoipa::path(delete, path = "/auth/identities/{chain}/{address}", tag = "accounts",
    params(("chain" = ChainName, Path, description = "`ethereum` or `solana`"),
           ("address" = String, Path, description = "The wallet's address")),
    responses((status = 200, description = "The account without that wallet; its sessions are revoked", body = AccountBody)))]
async fn unlink(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    s: AnySession,
    PathParam((chain, address)): PathParam<(String, String)>,
) -> ApiResult<Json<AccountBody>> {
    st.rate_limit("link", &client.ip).await?;
    let chain: Chain = chain.parse().map_err(|_| {
        ApiError::BadRequest("unknown chain in the path: use ethereum or solana".into())
    })?;
    let address = verify::normalize_address(chain, &address)
        .map_err(|e| ApiError::BadRequest(format!("address: {e}")))?;
    recent(&st, &s)?;
    let identity = Identity::wallet(chain, &address);
    let account = st.accounts().unlink(s.account_id(), &identity).await?;
    if let AnySession::Wallet(ws) = &s {
        if ws.session.chain == chain && ws.session.address == address {
            // This request's own session ended with its wallet.
            ws.end_current();
        }
    }
    Ok(Json(account.into()))
}

/// `PUT /admin/accounts/{accountId}/roles` body and answer.
#[derive(Debug, Deserialize, ToSchema)]
struct RolesRequest {
    /// The account's roles (short lowercase names), replacing the ones it has.
    roles: Vec<String>,
}

/// An account's roles.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct RolesBody {
    account_id: String,
    roles: Vec<String>,
}

#[utoipa::path(put, path = "/admin/accounts/{accountId}/roles", tag = "admin",
    params(("accountId" = String, Path, description = "The account")),
    request_body = RolesRequest,
    responses((status = 200, description = "The roles stored (sessions get them within 60 s)", body = RolesBody)))]
async fn set_roles(
    State(st): State<AuthState>,
    _: super::admin::Admin,
    PathParam(account): PathParam<String>,
    JsonBody(body): JsonBody<RolesRequest>,
) -> ApiResult<Json<RolesBody>> {
    let id = AccountId::new(account);
    let roles = st
        .accounts()
        .change_roles(&id, Some(&body.roles), &[], &[])
        .await?;
    Ok(Json(RolesBody {
        account_id: id.into_string(),
        roles,
    }))
}
