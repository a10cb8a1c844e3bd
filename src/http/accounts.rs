//! Accounts over HTTP: `GET /auth/account`, linking (`/auth/link/nonce`, `/auth/link`,
//! `/auth/link/password`), unlinking (`DELETE /auth/identities/{chain}/{address}`) and
//! `PUT /admin/accounts/{accountId}/roles`; it re-exports the extractors [`AnySession`] (a wallet or a
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

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{rfc3339, ChainId, ChainName};
pub use super::caller::{AnySession, IdentityBody, RequireRole, RoleName};
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::extract::{ClientInfo, JsonBody, OptionalJsonBody, PathParam, WalletSession};
use super::openapi::Op;
use super::state::AuthState;
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
