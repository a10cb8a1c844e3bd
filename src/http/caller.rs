//! Who is calling, for routes any signed-in person may use: [`AnySession`] (a wallet or a
//! legacy user session), [`RequireRole`] (one whose account has a role), and how an identity
//! is shown ([`IdentityBody`]). Apart from the account routes (`super::accounts`) because the
//! admin, token and session routes use them too, below those routes.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::body::ChainName;
use super::cookie::SessionCookie;
use super::error::ApiError;
use super::extract::WalletSession;
use super::state::AuthState;
use super::user::UserSession;
use crate::session::accounts::Identity;
use crate::store::AccountId;

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
