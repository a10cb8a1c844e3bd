//! Legacy username/password user sessions (`sid` cookie, `__Host-sid` when `Secure`).
//!
//! Every route but login is authenticated by the [`UserSession`] extractor, which follows the
//! same rules as wallet sessions: a duplicated cookie is refused, and an unsafe method needs
//! the session's CSRF token or an allowed `Origin`.

use std::time::Duration;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::cookie::SessionCookie;
use super::error::ErrorCode as E;
use super::error::{ApiError, ApiResult};
use super::extract::JsonBody;
use super::extract::{csrf_ok, ClientInfo};
use super::openapi::Op;
use super::state::AuthState;
use crate::session::user::{CheckError, USER_SESSION_TTL};

pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new()
        .routes(
            Op::public()
                .json_body()
                .rate_limited()
                .errors(&[E::Unauthenticated])
                .on(routes!(login)),
        )
        .routes(Op::user().on(routes!(logout)))
        .routes(Op::user().errors(&[E::Unauthenticated]).on(routes!(me)))
}

/// The signed-in user: `POST /auth/user/login`, `GET /api/user/me` (which adds `roles`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Username {
    /// The user's name.
    pub username: String,
    /// The account the user's password belongs to.
    #[serde(rename = "accountId")]
    pub account_id: String,
    /// The account's roles (`GET /api/user/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The session's CSRF token: send it as `X-CSRF-Token` on cookie-authenticated unsafe
    /// requests.
    #[serde(rename = "csrfToken")]
    pub csrf_token: String,
}

impl Username {
    fn of(session: &crate::session::user::UserSession) -> Self {
        Username {
            username: session.username.clone(),
            account_id: session.account_id.as_str().to_owned(),
            roles: None,
            csrf_token: session.csrf_token.clone(),
        }
    }
}

/// Legacy sign-in.
#[derive(Deserialize, ToSchema)]
struct Login {
    username: String,
    password: String,
}

/// A request authenticated by a legacy user session. Rejects with `unauthenticated` (no
/// cookie, a duplicated cookie, an unknown, expired or ended session), `csrf_failed` (an unsafe
/// method without the session's `X-CSRF-Token` or an allowed `Origin`) or `store_unavailable`.
#[derive(Debug, Clone)]
pub struct UserSession {
    /// The session.
    pub session: crate::session::user::UserSession,
    token: String,
}

impl<S> FromRequestParts<S> for UserSession
where
    AuthState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let st = AuthState::from_ref(state);
        let token = SessionCookie::User
            .read(&parts.headers)
            .map_err(|_| ApiError::Unauthenticated)?
            .ok_or(ApiError::Unauthenticated)?;
        let session = st
            .user_sessions()
            .validate(&token)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        if !csrf_ok(parts, &st, &session.csrf_token) {
            return Err(ApiError::CsrfFailed);
        }
        Ok(UserSession { session, token })
    }
}

impl UserSession {
    /// A public id of this session (`sid` of its tokens for other services): `u-` and a hash
    /// of the session token under its own label, stable for the session's life; it says
    /// nothing of the token or of the store key.
    #[must_use]
    pub fn session_id(&self) -> String {
        let mut input = b"wallet-auth user session id\0".to_vec();
        input.extend_from_slice(self.token.as_bytes());
        format!("u-{}", crate::session::crypto::hash_b64(&input, 18))
    }
}

fn check_failed(e: CheckError) -> ApiError {
    match e {
        CheckError::Busy => ApiError::RateLimited(Duration::from_secs(1)),
        CheckError::Store(e) => ApiError::StoreUnavailable(e),
    }
}

#[utoipa::path(post, path = "/auth/user/login", tag = "user sessions", operation_id = "user_login",
    request_body = Login,
    responses((status = 200, description = "Signed in; sets the `sid` cookie (`__Host-sid` with `COOKIE_SECURE`)", body = Username,
        headers(("Set-Cookie" = String, description = "`sid` cookie")))))]
async fn login(
    State(st): State<AuthState>,
    ClientInfo(client): ClientInfo,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Response> {
    st.rate_limit("login", &client.ip).await?;
    st.rate_limit("login-user", &body.username.to_ascii_lowercase())
        .await?;
    let who = st
        .users()
        .verify(&body.username, &body.password, Some(&client.ip))
        .await
        .map_err(check_failed)?
        .ok_or(ApiError::BadCredentials)?;
    // A new session on every sign-in (no fixation); the one this browser had ends.
    if let Ok(Some(old)) = SessionCookie::User.read(&headers) {
        if let Err(e) = st.user_sessions().end(&old).await {
            tracing::warn!(error = %e, "could not end the previous user session at sign-in");
        }
    }
    // Written here, before answering: a store failure is a 503, and no cookie is sent for a
    // session that does not exist.
    let (token, session) = st.user_sessions().create(&who).await?;
    let mut res = Json(Username::of(&session)).into_response();
    let secs = i64::try_from(USER_SESSION_TTL.as_secs()).unwrap_or(i64::MAX);
    SessionCookie::User.append_set(res.headers_mut(), st.config(), &token, secs);
    Ok(res)
}

#[utoipa::path(post, path = "/auth/user/logout", tag = "user sessions", operation_id = "user_logout",
    responses((status = 204, description = "The user session is gone")))]
async fn logout(State(st): State<AuthState>, us: UserSession) -> ApiResult<Response> {
    st.user_sessions().end(&us.token).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    SessionCookie::User.append_clear(res.headers_mut(), st.config());
    Ok(res)
}

#[utoipa::path(get, path = "/api/user/me", tag = "user sessions", operation_id = "user_me",
    responses((status = 200, description = "The signed-in user, its account and roles", body = Username)))]
async fn me(us: UserSession) -> Json<Username> {
    Json(Username {
        roles: Some(us.session.roles.clone()),
        ..Username::of(&us.session)
    })
}
