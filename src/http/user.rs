//! Legacy username/password user sessions (`sid` cookie, tower-sessions).

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use super::extract::ClientInfo;
use super::{ApiError, ApiResult, AuthState, JsonBody};
use crate::session::user::USER_KEY;

pub(crate) fn router() -> Router<AuthState> {
    Router::new()
        .route("/auth/user/login", post(login))
        .route("/auth/user/logout", post(logout))
        .route("/api/user/me", get(me))
}

/// Legacy sign-in.
#[derive(Deserialize, utoipa::ToSchema)]
struct Login {
    username: String,
    password: String,
}

fn session_failed(e: tower_sessions::session::Error) -> ApiError {
    tracing::error!(error = %e, "user session store failed");
    ApiError::StoreUnavailable(crate::store::StoreError::Unavailable(
        "user session store".into(),
    ))
}

#[utoipa::path(post, path = "/auth/user/login", tag = "user sessions",
    request_body = Login,
    responses((status = 200, description = "Signed in; sets the `sid` cookie", body = super::openapi::Username,
        headers(("Set-Cookie" = String, description = "`sid` cookie")))))]
async fn login(
    State(st): State<AuthState>,
    session: Session,
    ClientInfo(client): ClientInfo,
    JsonBody(body): JsonBody<Login>,
) -> ApiResult<Json<Value>> {
    st.rate_limit("login", &client.ip).await?;
    st.rate_limit("login-user", &body.username.to_ascii_lowercase())
        .await?;
    if !st.users().check(&body.username, &body.password).await? {
        return Err(ApiError::BadCredentials);
    }
    // A new session id on every sign-in (no fixation).
    session.cycle_id().await.map_err(session_failed)?;
    session
        .insert(USER_KEY, body.username.clone())
        .await
        .map_err(session_failed)?;
    Ok(Json(json!({ "username": body.username })))
}

#[utoipa::path(post, path = "/auth/user/logout", tag = "user sessions",
    responses((status = 204, description = "The user session is gone")))]
async fn logout(session: Session) -> ApiResult<StatusCode> {
    session.flush().await.map_err(session_failed)?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/user/me", tag = "user sessions",
    responses((status = 200, description = "The signed-in user", body = super::openapi::Username)))]
async fn me(session: Session) -> ApiResult<Json<Value>> {
    match session
        .get::<String>(USER_KEY)
        .await
        .map_err(session_failed)?
    {
        Some(username) => Ok(Json(json!({ "username": username }))),
        None => Err(ApiError::Unauthenticated),
    }
}
