//! Wallet sign-in (`/auth/nonce`, `/auth/verify`) and the wallet session routes
//! (`/auth/session`, `/auth/refresh`, `/auth/logout`, `/auth/logout-all`, `/auth/sessions`).

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::body::{rfc3339, ChainId, ChainName, Revoked, WalletKind};
use super::cookie::SessionCookie;
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::extract::WalletSession;
use super::extract::{ClientInfo, JsonBody, OptionalJsonBody, PathParam, QueryParams};
use super::openapi::Op;
use super::state::AuthState;
use crate::session::signin::{SignInFailure, SignInRequest, SignedIn};
use crate::session::{RotateOutcome, SessionInfo};
use crate::verify::{self, Chain, WalletType};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    let signin = Op::public().json_body().rate_limited();
    OpenApiRouter::new()
        .routes(signin.errors(&[E::ChainNotAllowed]).on(routes!(nonce)))
        .routes(
            signin
                .errors(&[
                    E::InvalidMessage,
                    E::InvalidSignature,
                    E::DomainMismatch,
                    E::ChainNotAllowed,
                    E::NonceInvalid,
                    E::MessageExpired,
                    E::MessageNotYetValid,
                    E::VerifierUnavailable,
                ])
                .on(routes!(verify_signin)),
        )
        .routes(Op::wallet().on(routes!(current)))
        // Rotations are limited per session (not per client IP).
        .routes(Op::wallet().errors(&[E::RateLimited]).on(routes!(refresh)))
        .routes(Op::wallet().on(routes!(logout)))
        .routes(Op::wallet().json_body().on(routes!(logout_all)))
        .routes(Op::wallet().errors(&[E::BadRequest]).on(routes!(list)))
        .routes(
            Op::wallet()
                .errors(&[E::BadRequest, E::NotFound])
                .on(routes!(revoke)),
        )
}

pub(crate) fn parse_chain(s: Option<&str>) -> ApiResult<Chain> {
    match s {
        None => Ok(Chain::Ethereum),
        Some(c) => c
            .parse()
            .map_err(|_| ApiError::BadRequest("unknown `chain`: use ethereum or solana".into())),
    }
}

/// `POST /auth/nonce` body (optional).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NonceRequest {
    /// `ethereum` (default) or `solana`.
    #[schema(value_type = Option<ChainName>)]
    chain: Option<String>,
    /// Binds the nonce to this wallet and asks for a ready-to-sign `message`.
    address: Option<String>,
    /// EIP-155 chain id (number) or SIWS chain id (string); default: the first allowed.
    #[serde(rename = "chainId")]
    #[schema(value_type = Option<ChainId>)]
    chain_id: Option<serde_json::Value>,
}

/// A fresh nonce.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NonceResponse {
    /// Single-use, alphanumeric.
    nonce: String,
    #[schema(format = DateTime)]
    issued_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    domain: String,
    uri: String,
    chain: ChainName,
    #[serde(skip_serializing_if = "Option::is_none")]
    chain_id: Option<ChainId>,
    /// A ready-to-sign message, when `address` was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

fn no_store(mut res: Response) -> Response {
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The chain id a nonce request asks for, as text (a number or a string in the JSON).
fn requested_chain_id(raw: Option<&serde_json::Value>) -> ApiResult<Option<String>> {
    match raw {
        None => Ok(None),
        Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::BadRequest(
            "chainId must be a number or a string".into(),
        )),
    }
}

#[utoipa::path(post, path = "/auth/nonce", tag = "wallet sign-in",
    request_body(content = Option<NonceRequest>, description = "Optional; default chain `ethereum`"),
    responses((status = 200, description = "A nonce (`Cache-Control: no-store`)", body = NonceResponse)))]
#[tracing::instrument(skip_all)]
async fn nonce(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    OptionalJsonBody(body): OptionalJsonBody<NonceRequest>,
) -> ApiResult<Response> {
    st.rate_limit("nonce", &client.ip).await?;
    let (chain, address, chain_id) = match body {
        None => (None, None, None),
        Some(b) => (b.chain, b.address, b.chain_id),
    };
    issue_nonce(&st, chain, address, chain_id, None).await
}

/// Issues a sign-in nonce, or with `account` a link nonce of that account: the body of
/// `/auth/nonce` and `/auth/link/nonce`.
pub(crate) async fn issue_nonce(
    st: &AuthState,
    chain: Option<String>,
    address: Option<String>,
    chain_id: Option<serde_json::Value>,
    account: Option<&crate::store::AccountId>,
) -> ApiResult<Response> {
    let chain = parse_chain(chain.as_deref())?;
    let address = address
        .as_deref()
        .map(|a| verify::normalize_address(chain, a))
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("address: {e}")))?;
    let chain_id = requested_chain_id(chain_id.as_ref())?;
    let issued = match account {
        None => st.signins().issue_nonce(chain, address, chain_id).await?,
        Some(a) => {
            st.signins()
                .issue_link_nonce(a, chain, address, chain_id)
                .await?
        }
    };
    let res = NonceResponse {
        nonce: issued.nonce,
        issued_at: rfc3339(issued.issued_at),
        expires_at: rfc3339(issued.expires_at),
        domain: issued.domain,
        uri: issued.uri,
        chain: issued.chain.into(),
        chain_id: ChainId::of(issued.chain, issued.chain_id.as_deref()),
        message: issued.message,
    };
    Ok(no_store(Json(res).into_response()))
}

/// `POST /auth/verify` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub(crate) struct VerifyRequest {
    /// `ethereum` or `solana`.
    #[schema(value_type = ChainName)]
    pub(crate) chain: String,
    /// The exact EIP-4361 / SIWS text that was signed.
    pub(crate) message: String,
    /// Ethereum: 65-byte (or 64-byte EIP-2098) hex, or a contract wallet's EIP-1271 /
    /// ERC-6492 signature (hex, at most 8 KiB); Solana: 64 bytes as base58, base64 or hex.
    pub(crate) signature: String,
    /// Solana only: base58 public key; must equal the message's address.
    #[serde(rename = "publicKey")]
    pub(crate) public_key: Option<String>,
}

/// A session as the API shows it (`token` only from verify and refresh).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    session_id: String,
    /// The account the session belongs to.
    account_id: String,
    /// The account's roles.
    roles: Vec<String>,
    chain: ChainName,
    address: String,
    chain_id: Option<ChainId>,
    /// `eoa`, or `contract` for a smart-contract wallet (EIP-1271 / ERC-6492).
    wallet_type: WalletKind,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    #[schema(format = DateTime)]
    refresh_after: String,
    csrf_token: String,
}

impl SessionBody {
    fn new(s: &SessionInfo, token: Option<String>) -> Self {
        SessionBody {
            token,
            session_id: s.session_id.clone(),
            account_id: s.account_id.as_str().to_owned(),
            roles: s.roles.clone(),
            chain: s.chain.into(),
            address: s.address.clone(),
            chain_id: ChainId::of(s.chain, s.chain_id.as_deref()),
            wallet_type: s.wallet_type.into(),
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            refresh_after: rfc3339(s.refresh_after),
            csrf_token: s.csrf_token.clone(),
        }
    }
}

fn with_session_cookie(
    st: &AuthState,
    token: &str,
    info: &SessionInfo,
    mut res: Response,
) -> Response {
    let secs = (info.expires_at - st.clock().now()).whole_seconds();
    SessionCookie::Wallet.append_set(res.headers_mut(), st.config(), token, secs);
    if let Ok(v) = HeaderValue::from_str(&rfc3339(info.expires_at)) {
        res.headers_mut().insert("x-session-expires-at", v);
    }
    no_store(res)
}

#[utoipa::path(post, path = "/auth/verify", tag = "wallet sign-in",
    request_body = VerifyRequest,
    responses((status = 200, description = "Signed in: a new wallet session", body = SessionBody,
        headers(("Set-Cookie" = String, description = "`wallet_session` cookie")))))]
#[tracing::instrument(skip_all)]
async fn verify_signin(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    JsonBody(req): JsonBody<VerifyRequest>,
) -> ApiResult<Response> {
    st.rate_limit("verify", &client.ip).await?;
    let chain = parse_chain(Some(&req.chain))?;
    let outcome = st
        .signins()
        .sign_in(SignInRequest {
            chain,
            message: &req.message,
            signature: &req.signature,
            public_key: req.public_key.as_deref(),
            client: &client,
        })
        .await;
    let SignedIn { token, info } = match outcome {
        Ok(signed_in) => {
            let wallet = signed_in.info.wallet_type.as_str();
            st.metrics().signin(chain.as_str(), wallet, "ok");
            signed_in
        }
        Err(SignInFailure { error, wallet_type }) => {
            let error = ApiError::from(error);
            let wallet = wallet_type.map_or("unknown", WalletType::as_str);
            st.metrics()
                .signin(chain.as_str(), wallet, error.code().as_str());
            return Err(error);
        }
    };
    let body = SessionBody::new(&info, Some(token.clone()));
    Ok(with_session_cookie(
        &st,
        &token,
        &info,
        Json(body).into_response(),
    ))
}

#[utoipa::path(get, path = "/auth/session", tag = "wallet sessions",
    responses((status = 200, description = "The current session (no `token`)", body = SessionBody)))]
async fn current(ws: WalletSession) -> Json<SessionBody> {
    Json(SessionBody::new(&ws.session, None))
}

#[utoipa::path(post, path = "/auth/refresh", tag = "wallet sessions",
    responses((status = 200, description = "Rotated: a new token; the old one stops working", body = SessionBody,
        headers(("Set-Cookie" = String, description = "`wallet_session` cookie")))))]
async fn refresh(State(st): State<AuthState>, ws: WalletSession) -> ApiResult<Response> {
    let (token, info) = match st.sessions().rotate(&ws.auth).await? {
        RotateOutcome::Rotated(token, info) => (token, info),
        RotateOutcome::NotCurrent => return Err(ApiError::Unauthenticated),
        RotateOutcome::Limited(retry_after) => return Err(ApiError::RateLimited(retry_after)),
    };
    // The old token is retired: the response carries the new one only.
    ws.end_current();
    let body = SessionBody::new(&info, Some(token.clone()));
    let res = with_session_cookie(&st, &token, &info, Json(body).into_response());
    Ok(res)
}

#[utoipa::path(post, path = "/auth/logout", tag = "wallet sessions",
    responses((status = 204, description = "The current session is gone")))]
async fn logout(State(st): State<AuthState>, ws: WalletSession) -> ApiResult<Response> {
    st.sessions().logout(&ws.auth).await?;
    ws.end_current();
    let mut res = StatusCode::NO_CONTENT.into_response();
    SessionCookie::Wallet.append_clear(res.headers_mut(), st.config());
    Ok(res)
}

/// Which sessions `/auth/sessions` and `/auth/logout-all` cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scope {
    /// This wallet's sessions (the default).
    Wallet,
    /// The sessions of every identity of the account, user sessions included.
    Account,
}

/// `POST /auth/logout-all` body (optional).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct LogoutAllRequest {
    /// `wallet` (default) or `account`.
    scope: Option<Scope>,
}

/// `GET /auth/sessions` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    /// `wallet` (default): this wallet's sessions; `account`: every identity's.
    scope: Option<Scope>,
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "wallet sessions",
    request_body(content = Option<LogoutAllRequest>, description = "Optional; `{\"scope\":\"account\"}` ends the sessions of every identity of the account"),
    responses((status = 200, description = "Every session of this wallet (or account) is gone", body = Revoked)))]
async fn logout_all(
    State(st): State<AuthState>,
    ws: WalletSession,
    OptionalJsonBody(body): OptionalJsonBody<LogoutAllRequest>,
) -> ApiResult<Response> {
    let n = if body.and_then(|b| b.scope) == Some(Scope::Account) {
        st.accounts().logout_all(&ws.session.account_id).await?
    } else {
        st.sessions().logout_all(&ws.auth).await?
    };
    ws.end_current();
    let mut res = Json(Revoked { revoked: n }).into_response();
    SessionCookie::Wallet.append_clear(res.headers_mut(), st.config());
    Ok(res)
}

/// One of a wallet's sessions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListedSession {
    session_id: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    user_agent: String,
    ip: String,
    current: bool,
    /// With `scope=account`: the identity the session was opened by.
    #[serde(skip_serializing_if = "Option::is_none")]
    identity: Option<super::caller::IdentityBody>,
}

/// `GET /auth/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionList {
    /// This wallet's live sessions.
    sessions: Vec<ListedSession>,
}

#[utoipa::path(get, path = "/auth/sessions", tag = "wallet sessions", params(ListQuery),
    responses((status = 200, description = "This wallet's sessions, or with `scope=account` every identity's (each with its `identity`)", body = SessionList)))]
async fn list(
    State(st): State<AuthState>,
    ws: WalletSession,
    QueryParams(q): QueryParams<ListQuery>,
) -> ApiResult<Json<SessionList>> {
    if q.scope == Some(Scope::Account) {
        let sessions = st
            .accounts()
            .sessions(&ws.session.account_id)
            .await?
            .into_iter()
            .map(|s| ListedSession {
                current: s.session_id == ws.session.session_id,
                identity: Some((&s.identity).into()),
                session_id: s.session_id,
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                expires_at: rfc3339(s.expires_at),
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect();
        return Ok(Json(SessionList { sessions }));
    }
    let sessions: Vec<ListedSession> = st
        .sessions()
        .list(ws.tag())
        .await?
        .into_iter()
        .map(|s| ListedSession {
            current: s.session_id == ws.session.session_id,
            session_id: s.session_id,
            created_at: rfc3339(s.created_at),
            last_seen_at: rfc3339(s.last_seen_at),
            expires_at: rfc3339(s.expires_at),
            user_agent: s.user_agent,
            ip: s.ip,
            identity: None,
        })
        .collect();
    Ok(Json(SessionList { sessions }))
}

#[utoipa::path(delete, path = "/auth/sessions/{sessionId}", tag = "wallet sessions",
    params(("sessionId" = String, Path, description = "One of this wallet's session ids")),
    responses((status = 204, description = "That session is gone")))]
async fn revoke(
    State(st): State<AuthState>,
    ws: WalletSession,
    PathParam(session_id): PathParam<String>,
) -> ApiResult<Response> {
    if !st
        .sessions()
        .revoke(ws.session.chain, &ws.session.address, &session_id)
        .await?
    {
        return Err(ApiError::NotFound("no such session for this wallet"));
    }
    let mut res = StatusCode::NO_CONTENT.into_response();
    if session_id == ws.session.session_id {
        // This request's own session: nothing may renew it, and its cookie goes.
        ws.end_current();
        if ws.via_cookie {
            SessionCookie::Wallet.append_clear(res.headers_mut(), st.config());
        }
    }
    Ok(res)
}
