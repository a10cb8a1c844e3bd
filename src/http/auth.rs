//! Wallet sign-in (`/auth/nonce`, `/auth/verify`) and the wallet session routes
//! (`/auth/session`, `/auth/refresh`, `/auth/logout`, `/auth/logout-all`, `/auth/sessions`).

use std::time::Duration;

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
use super::extract::{ClientInfo, JsonBody, OptionalJsonBody, PathParam};
use super::openapi::Op;
use super::{ApiError, ApiResult, AuthState, WalletSession};
use crate::config::EthChainIds;
use crate::session::crypto::random_alphanumeric;
use crate::session::unix_ms;
use crate::session::{AuditEvent, AuditKind, RotateOutcome, SessionInfo};
use crate::verify::{
    self, Chain, ChainIdPolicy, MessageParams, NoncePolicy, ParsedMessage, Policy, Verified,
    VerifyError, WalletType,
};

/// Nonce length: 24 alphanumeric characters ≈ 142 bits.
pub const NONCE_LEN: usize = 24;

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
        .routes(Op::wallet().on(routes!(logout_all)))
        .routes(Op::wallet().on(routes!(list)))
        .routes(
            Op::wallet()
                .errors(&[E::BadRequest, E::NotFound])
                .on(routes!(revoke)),
        )
}

fn parse_chain(s: Option<&str>) -> ApiResult<Chain> {
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

/// What a nonce is stored with.
#[derive(Debug, Serialize, Deserialize)]
struct NonceBinding {
    chain: Chain,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    address: Option<String>,
    /// When the nonce expires, Unix ms: what is left of its lifetime when a sign-in that took
    /// it failed on the store and puts it back. (Absent from nonces issued before it was kept:
    /// those are not put back.)
    #[serde(skip_serializing_if = "Option::is_none", default)]
    exp: Option<i64>,
    /// When the nonce was issued, Unix ms: a signed `Issued At` may not be earlier than this
    /// minus the clock skew. (Absent from nonces issued before it was kept.)
    #[serde(rename = "iat", skip_serializing_if = "Option::is_none", default)]
    issued_at_ms: Option<i64>,
}

/// A nonce taken by a sign-in that then failed on the store is put back for the retry; when the
/// store is still failing, putting it back is retried in the background for at most this long
/// (and never past the nonce's expiry).
pub const NONCE_RELEASE_RETRY: Duration = Duration::from_secs(60);
/// First and longest pause between two attempts to put a nonce back.
const NONCE_RELEASE_BACKOFF: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(2));

/// A fresh nonce.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct NonceResponse {
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

/// The chain id a nonce request asks for, checked against the allow-list.
fn requested_chain_id(
    st: &AuthState,
    chain: Chain,
    raw: Option<&serde_json::Value>,
) -> ApiResult<Option<String>> {
    let cfg = st.config();
    let as_text = |v: &serde_json::Value| match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    };
    let requested =
        match raw {
            None => None,
            Some(v) => Some(as_text(v).ok_or_else(|| {
                ApiError::BadRequest("chainId must be a number or a string".into())
            })?),
        };
    match chain {
        Chain::Ethereum => {
            let id = match requested {
                Some(t) => t.parse::<u64>().map_err(|_| {
                    ApiError::BadRequest("chainId must be a positive integer".into())
                })?,
                None => match &cfg.signin.eth_chain_ids {
                    EthChainIds::Only(ids) => ids.first().copied().unwrap_or(1),
                    EthChainIds::Any => 1,
                },
            };
            if let EthChainIds::Only(ids) = &cfg.signin.eth_chain_ids {
                if !ids.contains(&id) {
                    return Err(VerifyError::ChainNotAllowed.into());
                }
            }
            Ok(Some(id.to_string()))
        }
        Chain::Solana => {
            let id = requested
                .map(|t| t.strip_prefix("solana:").map(str::to_owned).unwrap_or(t))
                .or_else(|| cfg.signin.solana_chain_ids.first().cloned());
            if let Some(id) = &id {
                if !cfg.signin.solana_chain_ids.contains(id) {
                    return Err(VerifyError::ChainNotAllowed.into());
                }
            }
            Ok(id)
        }
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
    let body = body.unwrap_or(NonceRequest {
        chain: None,
        address: None,
        chain_id: None,
    });
    let chain = parse_chain(body.chain.as_deref())?;
    let address = body
        .address
        .as_deref()
        .map(|a| verify::normalize_address(chain, a))
        .transpose()
        .map_err(|e| ApiError::BadRequest(format!("address: {e}")))?;
    let chain_id = requested_chain_id(&st, chain, body.chain_id.as_ref())?;
    let cfg = st.config();
    let now = st.clock().now();
    let expires_at = time::Duration::try_from(cfg.signin.nonce_ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .ok_or_else(|| ApiError::Internal("nonce expiry out of range".into()))?;
    let nonce = random_alphanumeric(NONCE_LEN);
    let binding = NonceBinding {
        chain,
        address: address.clone(),
        exp: Some(unix_ms(now + cfg.signin.nonce_ttl)),
        issued_at_ms: Some(unix_ms(now)),
    };
    let value = serde_json::to_vec(&binding).unwrap_or_default();
    if !st
        .store()
        .put_nonce(&nonce, &value, cfg.signin.nonce_ttl)
        .await?
    {
        return Err(ApiError::Internal("nonce collision".into()));
    }
    let domain = cfg.signin.domains.first().cloned().unwrap_or_default();
    let message = address.as_deref().map(|addr| {
        verify::prepare_message(&MessageParams {
            chain,
            domain: &domain,
            address: addr,
            statement: Some("Sign in with your wallet."),
            uri: &cfg.signin.uri,
            chain_id: chain_id.as_deref(),
            nonce: &nonce,
            issued_at: now,
            expiration_time: None,
        })
    });
    let res = NonceResponse {
        nonce,
        issued_at: rfc3339(now),
        expires_at: rfc3339(expires_at),
        domain,
        uri: cfg.signin.uri.clone(),
        chain: chain.into(),
        chain_id: ChainId::of(chain, chain_id.as_deref()),
        message,
    };
    Ok(no_store(Json(res).into_response()))
}

/// `POST /auth/verify` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct VerifyRequest {
    /// `ethereum` or `solana`.
    #[schema(value_type = ChainName)]
    chain: String,
    /// The exact EIP-4361 / SIWS text that was signed.
    message: String,
    /// Ethereum: 65-byte (or 64-byte EIP-2098) hex, or a contract wallet's EIP-1271 /
    /// ERC-6492 signature (hex, at most 8 KiB); Solana: 64 bytes as base58, base64 or hex.
    signature: String,
    /// Solana only: base58 public key; must equal the message's address.
    #[serde(rename = "publicKey")]
    public_key: Option<String>,
}

/// A session as the API shows it (`token` only from verify and refresh).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SessionBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    session_id: String,
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

/// The checks of a sign-in with `nonce`, issued at `nonce_issued_at` (unknown for a nonce of an
/// older version: then `Issued At` may be at most the nonce lifetime old).
fn policy(
    st: &AuthState,
    chain: Chain,
    nonce: String,
    nonce_issued_at: Option<time::OffsetDateTime>,
) -> ApiResult<Policy> {
    let cfg = st.config();
    let chain_ids = match chain {
        Chain::Ethereum => match &cfg.signin.eth_chain_ids {
            EthChainIds::Any => ChainIdPolicy::Any,
            EthChainIds::Only(ids) => ChainIdPolicy::Only(ids.iter().map(u64::to_string).collect()),
        },
        Chain::Solana => ChainIdPolicy::Only(cfg.signin.solana_chain_ids.clone()),
    };
    let skew = time::Duration::try_from(cfg.signin.clock_skew)
        .map_err(|_| ApiError::Internal("clock skew out of range".into()))?;
    let policy = Policy::new(
        cfg.signin.domains.clone(),
        chain_ids,
        st.clock().now(),
        skew,
        NoncePolicy::Expect(nonce),
    )?;
    let policy = match nonce_issued_at {
        Some(issued_at) => policy.with_nonce_issued_at(issued_at),
        None => policy.with_max_age(
            time::Duration::try_from(cfg.signin.nonce_ttl)
                .map_err(|_| ApiError::Internal("nonce ttl out of range".into()))?,
        ),
    };
    Ok(policy
        .with_strict_uri_origin(cfg.signin.strict_uri)
        .with_scheme(crate::config::uri_scheme(&cfg.signin.uri).unwrap_or("https")))
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
    let mut attempt = Attempt::default();
    let outcome = signin(&st, chain, &req, &client, &mut attempt).await;
    let wallet_label = attempt.wallet_type.map_or("unknown", WalletType::as_str);
    let proven = attempt.proven;
    match &outcome {
        Ok((_, info)) => {
            st.metrics()
                .signin(chain.as_str(), info.wallet_type.as_str(), "ok");
            st.audit()
                .record(
                    AuditEvent::new(AuditKind::SignIn, st.clock().now())
                        .wallet(chain, &info.address)
                        .session(&info.session_id)
                        .ip(&client.ip),
                )
                .await;
        }
        Err(e) => {
            st.metrics()
                .signin(chain.as_str(), wallet_label, e.code().as_str());
            if !matches!(e, ApiError::StoreUnavailable(_)) {
                // With no proven wallet the failure is only counted (never stored), so
                // anonymous traffic cannot flush the audit logs; a failure after a valid
                // signature goes to that wallet's log.
                let mut ev = AuditEvent::new(AuditKind::SignInFailure, st.clock().now())
                    .code(e.code().as_str())
                    .ip(&client.ip);
                ev.chain = Some(chain);
                ev.address = proven;
                st.audit().record(ev).await;
            }
        }
    }
    let (token, info) = outcome?;
    let body = SessionBody::new(&info, Some(token.clone()));
    Ok(with_session_cookie(
        &st,
        &token,
        &info,
        Json(body).into_response(),
    ))
}

/// What a sign-in attempt established before it ended, for metrics and the audit trail.
#[derive(Debug, Default)]
struct Attempt {
    /// The wallet whose signature was proven valid, if the attempt got that far.
    proven: Option<String>,
    /// Whether the signature was judged an EOA's or a contract's.
    wallet_type: Option<WalletType>,
}

/// Verifies a sign-in and opens its session. The nonce is consumed (atomically: of concurrent
/// verifies of one message, one gets it) before the signature is checked: a failed attempt
/// burns it, so one nonce buys at most one expensive verification (and at most one node call,
/// for a contract wallet) at a time. An EOA signature is checked locally and never waits on a
/// node; a contract wallet's (on a chain with a node) goes to the node last, after every local
/// check. Only when a dependency then fails — the store while opening the session, or the
/// chain's node (`503` either way) — is the nonce put back, with what is left of its
/// lifetime, so the same signed message can be retried.
async fn signin(
    st: &AuthState,
    chain: Chain,
    req: &VerifyRequest,
    client: &crate::session::RequestContext,
    attempt: &mut Attempt,
) -> ApiResult<(String, SessionInfo)> {
    let message = verify::parse_message(chain, &req.message)?;
    let nonce = message.nonce.clone();
    let Some(taken) = st.store().take_nonce(&nonce).await? else {
        return Err(ApiError::NonceInvalid);
    };
    let outcome = signin_with(st, message, req, client, &taken, attempt).await;
    if matches!(
        outcome,
        Err(ApiError::StoreUnavailable(_) | ApiError::VerifierUnavailable(_))
    ) {
        release_nonce(st, nonce, taken).await;
    }
    outcome
}

/// [`signin`] once the nonce of `message` is taken: `taken` is what it was stored with.
async fn signin_with(
    st: &AuthState,
    message: ParsedMessage,
    req: &VerifyRequest,
    client: &crate::session::RequestContext,
    taken: &[u8],
    attempt: &mut Attempt,
) -> ApiResult<(String, SessionInfo)> {
    let chain = message.chain;
    let bound: NonceBinding = serde_json::from_slice(taken).map_err(|_| ApiError::NonceInvalid)?;
    if bound.chain != chain {
        return Err(ApiError::NonceInvalid);
    }
    let nonce_issued_at = bound.issued_at_ms.map(crate::session::from_unix_ms);
    let policy = policy(st, chain, message.nonce.clone(), nonce_issued_at)?;
    let contracts = st.contract_wallets();
    let verified = verify::verify_or_defer(
        message,
        &req.signature,
        req.public_key.as_deref(),
        &policy,
        contracts.chain_ids(),
    )?;
    let (signin, claim) = match verified {
        Verified::Eoa(signin) => {
            attempt.proven = Some(signin.address.clone());
            (signin, None)
        }
        Verified::Contract(signin, claim) => (signin, Some(claim)),
    };
    if bound
        .address
        .as_deref()
        .is_some_and(|a| a != signin.address)
    {
        return Err(ApiError::NonceInvalid);
    }
    let kind = match claim {
        None => WalletType::Eoa,
        Some(claim) => {
            attempt.wallet_type = Some(WalletType::Contract);
            if !contracts
                .check(&claim)
                .await
                .map_err(ApiError::VerifierUnavailable)?
            {
                return Err(VerifyError::InvalidSignature(
                    "the wallet's contract did not accept it (EIP-1271 / ERC-6492)".into(),
                )
                .into());
            }
            attempt.proven = Some(signin.address.clone());
            WalletType::Contract
        }
    };
    attempt.wallet_type = Some(kind);
    Ok(st
        .sessions()
        .create(
            chain,
            &signin.address,
            signin.chain_id.clone(),
            kind,
            client,
        )
        .await?)
}

/// Puts back a nonce taken by a sign-in that failed on the store: tried at once, then, while
/// the store keeps failing, in the background with backoff for at most [`NONCE_RELEASE_RETRY`]
/// and never past the nonce's expiry. The nonce is put back only if it is still absent (`SET
/// NX`), with what is left of its lifetime.
async fn release_nonce(st: &AuthState, nonce: String, taken: Vec<u8>) {
    let Some(exp) = serde_json::from_slice::<NonceBinding>(&taken)
        .ok()
        .and_then(|b| b.exp)
    else {
        return;
    };
    if put_nonce_back(st, &nonce, &taken, exp).await {
        return;
    }
    let st = st.clone();
    tokio::spawn(async move {
        let give_up = tokio::time::Instant::now() + NONCE_RELEASE_RETRY;
        let (mut pause, longest) = NONCE_RELEASE_BACKOFF;
        loop {
            tokio::time::sleep(pause).await;
            if tokio::time::Instant::now() >= give_up {
                tracing::warn!("gave up putting back the nonce of a sign-in the store failed");
                return;
            }
            if put_nonce_back(&st, &nonce, &taken, exp).await {
                return;
            }
            pause = (pause * 2).min(longest);
        }
    });
}

/// One attempt of [`release_nonce`]; `true` when there is nothing more to do.
async fn put_nonce_back(st: &AuthState, nonce: &str, value: &[u8], exp_ms: i64) -> bool {
    let left = exp_ms - unix_ms(st.clock().now());
    let Ok(left) = u64::try_from(left) else {
        return true;
    };
    if left == 0 {
        return true;
    }
    match st
        .store()
        .put_nonce(nonce, value, Duration::from_millis(left))
        .await
    {
        Ok(_) => {
            tracing::info!("put back the nonce of a sign-in the store failed; it can be retried");
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not put back the nonce of a sign-in yet");
            false
        }
    }
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
    st.sessions()
        .revoke(ws.tag(), ws.session.chain, &ws.session.session_id)
        .await?;
    ws.end_current();
    st.audit()
        .record(
            AuditEvent::new(AuditKind::Logout, st.clock().now())
                .wallet(ws.session.chain, &ws.session.address)
                .session(&ws.session.session_id),
        )
        .await;
    let mut res = StatusCode::NO_CONTENT.into_response();
    SessionCookie::Wallet.append_clear(res.headers_mut(), st.config());
    Ok(res)
}

#[utoipa::path(post, path = "/auth/logout-all", tag = "wallet sessions",
    responses((status = 200, description = "Every session of this wallet is gone", body = Revoked)))]
async fn logout_all(State(st): State<AuthState>, ws: WalletSession) -> ApiResult<Response> {
    let n = st
        .sessions()
        .revoke_all(ws.session.chain, &ws.session.address)
        .await?;
    ws.end_current();
    st.audit()
        .record(
            AuditEvent::new(AuditKind::LogoutAll, st.clock().now())
                .wallet(ws.session.chain, &ws.session.address)
                .session(&ws.session.session_id)
                .count(n),
        )
        .await;
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
}

/// `GET /auth/sessions`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct SessionList {
    /// This wallet's live sessions.
    sessions: Vec<ListedSession>,
}

#[utoipa::path(get, path = "/auth/sessions", tag = "wallet sessions",
    responses((status = 200, description = "This wallet's sessions", body = SessionList)))]
async fn list(State(st): State<AuthState>, ws: WalletSession) -> ApiResult<Json<SessionList>> {
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
        .revoke(ws.tag(), ws.session.chain, &session_id)
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
    st.audit()
        .record(
            AuditEvent::new(AuditKind::Revoke, st.clock().now())
                .wallet(ws.session.chain, &ws.session.address)
                .session(&session_id),
        )
        .await;
    Ok(res)
}
