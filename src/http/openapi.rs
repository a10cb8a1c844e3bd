//! `GET /openapi.json`: the OpenAPI document of the contract, derived from the route
//! registrations themselves.
//!
//! Each route is registered once, with utoipa-axum's `routes!` inside an [`Op`]: the handler's
//! `#[utoipa::path]` gives its path, method, parameters and typed success body; the [`Op`] says
//! who may call it ([`Access`]) and what can go wrong (a JSON body, a rate limit, further
//! codes). From that one registration come the axum route and the operation's security, its
//! `X-CSRF-Token` header, its session response headers and every error response, each listing
//! the codes of [`ErrorCode`] it can answer with. The document therefore cannot list a route
//! the server does not serve, nor miss one it does.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use utoipa::openapi::path::{HttpMethod, Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, HeaderBuilder, InfoBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required,
    ResponseBuilder, Type,
};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use super::error::{ErrorBody, ErrorCode, ErrorDetail};
use super::state::AuthState;

/// `/openapi.json`, registered like every other route.
pub(crate) fn router() -> OpenApiRouter<AuthState> {
    OpenApiRouter::new().routes(Op::public().on(routes!(openapi_json)))
}

/// The rendered document as `/openapi.json` serves it. The router that registers the route
/// hands it over (an [`axum::Extension`]), so this module needs to know no route but its own.
#[derive(Clone, Copy, Debug)]
pub struct Document(pub &'static str);

/// Renders the document of `doc`, the registrations' operations, with the parts that belong
/// to no one operation.
pub(crate) fn render(doc: OpenApi) -> String {
    finish(doc).to_json().unwrap_or_else(|_| "{}".to_owned())
}

/// The OpenAPI document of this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = serde_json::Value))
)]
async fn openapi_json(Extension(Document(doc)): Extension<Document>) -> Response {
    let mut res = doc.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// The parts of the document that belong to no one operation: its title, tags, security
/// schemes and the error schemas the operations' error responses refer to.
fn finish(mut doc: OpenApi) -> OpenApi {
    doc.info = InfoBuilder::new()
        .title("wallet-auth")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some(
            "Wallet-signature authentication: Sign-In with Ethereum (EIP-4361) and Sign In \
             With Solana, wallet sessions, legacy user sessions, operations.",
        ))
        .build();
    doc.tags = Some(
        [
            ("wallet sign-in", "Nonce and signature verification"),
            (
                "wallet sessions",
                "The current wallet session and its siblings",
            ),
            ("api", "Example routes protected by wallet sessions"),
            (
                "user sessions",
                "Legacy username/password sessions (`sid` cookie)",
            ),
            (
                "tokens",
                "Signed tokens (JWT, ES256) for the app's other services, and their keys",
            ),
            ("operations", "Health, readiness, metrics, this document"),
            (
                "admin",
                "Operator routes (`Authorization: Bearer $ADMIN_TOKEN`)",
            ),
        ]
        .into_iter()
        .map(|(name, description)| {
            TagBuilder::new()
                .name(name)
                .description(Some(description))
                .build()
        })
        .collect(),
    );
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in [
        (ErrorBody::name(), ErrorBody::schema()),
        (ErrorDetail::name(), ErrorDetail::schema()),
        (ErrorCode::name(), ErrorCode::schema()),
    ] {
        components.schemas.insert(name.into_owned(), schema);
    }
    for (name, scheme) in [
        (
            "walletBearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        ),
        (
            "walletCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("wallet_session"))),
        ),
        (
            "userCookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("sid"))),
        ),
        (
            "adminBearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        ),
    ] {
        components.add_security_scheme(name, scheme);
    }
    doc
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone.
    Public,
    /// A wallet session (bearer token or `wallet_session` cookie).
    Wallet,
    /// A wallet session if one is presented; anonymous otherwise.
    WalletOptional,
    /// A legacy user session (`sid` cookie), when one is needed.
    User,
    /// A wallet session (bearer token or cookie) or a legacy user session (`sid` cookie).
    AnySession,
    /// The admin token.
    Admin,
}

/// What the contract says of a route beyond its handler's `#[utoipa::path]`: who may call it
/// and what can go wrong. [`Op::on`] applies it to a `routes!` registration.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct Op {
    access: Access,
    json_body: bool,
    rate_limited: bool,
    extra: &'static [ErrorCode],
}

impl Op {
    const fn new(access: Access) -> Self {
        Op {
            access,
            json_body: false,
            rate_limited: false,
            extra: &[],
        }
    }
    /// Anyone may call it.
    pub const fn public() -> Self {
        Self::new(Access::Public)
    }
    /// It needs a wallet session.
    pub const fn wallet() -> Self {
        Self::new(Access::Wallet)
    }
    /// It reads a wallet session when there is one.
    pub const fn wallet_optional() -> Self {
        Self::new(Access::WalletOptional)
    }
    /// It reads a legacy user session.
    pub const fn user() -> Self {
        Self::new(Access::User)
    }
    /// It needs a wallet session or a legacy user session.
    pub const fn any_session() -> Self {
        Self::new(Access::AnySession)
    }
    /// It needs the admin token.
    pub const fn admin() -> Self {
        Self::new(Access::Admin)
    }
    /// It reads a JSON body (400 / 413 / 415).
    pub const fn json_body(mut self) -> Self {
        self.json_body = true;
        self
    }
    /// It is rate limited per client IP (429, and 503 when the store cannot count).
    pub const fn rate_limited(mut self) -> Self {
        self.rate_limited = true;
        self
    }
    /// Further codes it can answer with.
    pub const fn errors(mut self, extra: &'static [ErrorCode]) -> Self {
        self.extra = extra;
        self
    }

    /// Every error code an operation with `method` can answer with, in the contract's order.
    #[must_use]
    pub fn codes(&self, method: &HttpMethod) -> Vec<ErrorCode> {
        use ErrorCode as E;
        let mut codes: Vec<ErrorCode> = self.extra.to_vec();
        if self.json_body {
            codes.extend([E::BadRequest, E::PayloadTooLarge, E::UnsupportedMediaType]);
        }
        if self.rate_limited {
            codes.extend([E::RateLimited, E::StoreUnavailable]);
        }
        match self.access {
            Access::Public => {}
            Access::Wallet | Access::AnySession => {
                codes.extend([
                    E::Unauthenticated,
                    E::SessionBindingMismatch,
                    E::StoreUnavailable,
                ]);
                if *method != HttpMethod::Get {
                    codes.push(E::CsrfFailed);
                }
            }
            Access::WalletOptional | Access::User => codes.push(E::StoreUnavailable),
            Access::Admin => codes.extend([
                E::Unauthenticated,
                E::Forbidden,
                E::NotFound,
                E::StoreUnavailable,
            ]),
        }
        // Any request may outlast HTTP_REQUEST_TIMEOUT.
        codes.extend([E::RequestTimeout, E::Internal]);
        ErrorCode::ALL
            .iter()
            .copied()
            .filter(|c| codes.contains(c))
            .collect()
    }

    /// The registration `routes` (from `routes!`) with this contract written into each of its
    /// operations.
    pub fn on<S>(self, mut routes: UtoipaMethodRouter<S>) -> UtoipaMethodRouter<S> {
        for item in routes.1.paths.values_mut() {
            for (method, op) in [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Delete, &mut item.delete),
                (HttpMethod::Patch, &mut item.patch),
            ] {
                if let Some(op) = op {
                    self.write(&method, op);
                }
            }
        }
        routes
    }

    fn write(&self, method: &HttpMethod, op: &mut Operation) {
        let no_scopes: [&str; 0] = [];
        let req = |name: &str| SecurityRequirement::new(name, no_scopes);
        op.security = match self.access {
            Access::Public => None,
            Access::Wallet => Some(vec![req("walletBearer"), req("walletCookie")]),
            Access::WalletOptional => Some(vec![
                req("walletBearer"),
                req("walletCookie"),
                SecurityRequirement::default(),
            ]),
            Access::User => Some(vec![req("userCookie"), SecurityRequirement::default()]),
            Access::AnySession => Some(vec![
                req("walletBearer"),
                req("walletCookie"),
                req("userCookie"),
            ]),
            Access::Admin => Some(vec![req("adminBearer")]),
        };
        if matches!(self.access, Access::Wallet | Access::AnySession) && *method != HttpMethod::Get
        {
            op.parameters.get_or_insert_with(Vec::new).push(
                ParameterBuilder::new()
                    .name("X-CSRF-Token")
                    .parameter_in(ParameterIn::Header)
                    .required(Required::False)
                    .description(Some(
                        "The session's `csrfToken`; required when the session comes from the \
                         cookie and the Origin is not an allowed one",
                    ))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                    .build(),
            );
        }
        if matches!(self.access, Access::Wallet | Access::WalletOptional) {
            for resp in op.responses.responses.values_mut() {
                if let RefOr::T(resp) = resp {
                    resp.headers.insert(
                        "X-Session-Expires-At".to_owned(),
                        string_header(
                            "RFC 3339 expiry of the session (on every authenticated response)",
                        ),
                    );
                    resp.headers.insert(
                        "X-Session-Refreshed".to_owned(),
                        string_header(
                            "`true` when this request extended the session in its refresh window",
                        ),
                    );
                }
            }
        }
        let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        for code in self.codes(method) {
            by_status
                .entry(code.status().as_u16())
                .or_default()
                .push(code);
        }
        for (status, codes) in by_status {
            let list = codes
                .iter()
                .map(|c| format!("`{}`", c.as_str()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut resp = ResponseBuilder::new()
                .description(format!("Error: {list}"))
                .content(
                    "application/json",
                    Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
                );
            if status == 429 || status == 503 {
                resp = resp.header(
                    "Retry-After",
                    HeaderBuilder::new()
                        .schema(ObjectBuilder::new().schema_type(Type::Integer))
                        .description(Some("Seconds to wait before retrying"))
                        .build(),
                );
            }
            op.responses
                .responses
                .insert(status.to_string(), resp.build().into());
        }
    }
}

fn string_header(description: &str) -> utoipa::openapi::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}
