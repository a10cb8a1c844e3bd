//! The last-resort layers around every route: a bound on handling one request, a panic
//! catcher, and a net that turns any error response without a JSON body (a timeout, a layer's
//! bare status, a framework rejection) into the contract's error shape.

use std::any::Any;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::Route;
use axum::Router;
use std::convert::Infallible;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::TimeoutLayer;

use super::error::ApiError;
use super::error::{ErrorBody, ErrorCode, ErrorCodeTag};

/// Wraps `app` in the protective layers: `408 request_timeout` once handling a request (its
/// body read included) takes longer than `request_timeout`; `500 internal` (logged) when a
/// handler or an inner layer panics, so the connection lives on; and the JSON error shape for
/// every error response that lacks it. [`super::router`] applies it; an embedding app can too.
pub fn protect<S>(app: Router<S>, request_timeout: Duration) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(layers(request_timeout))
}

/// [`protect`]'s layers as one tower layer, outermost first: JSON errors, panic catcher,
/// request timeout. One layer, so that a router applying it (with more layers stacked on it,
/// see `super::contract_layers`) boxes its routes once for all of them.
pub(crate) fn layers(
    request_timeout: Duration,
) -> impl Layer<
    Route,
    Service: Service<Request, Response = Response, Error = Infallible, Future: Send + 'static>
                 + Clone
                 + Send
                 + Sync
                 + 'static,
> + Clone
       + Send
       + Sync
       + 'static {
    ServiceBuilder::new()
        .layer(axum::middleware::from_fn(json_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
}

/// The answer to a panic: logged with its message, answered `500 internal`.
fn panic_response(err: Box<dyn Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned());
    ApiError::Internal(format!("panic while handling a request: {what}")).into_response()
}

/// Whether a response already carries a JSON body.
fn has_json_body(res: &Response) -> bool {
    res.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| m == "application/json")
}

/// The contract's status, code and a generic message for an error status that came without a
/// body, from the code table ([`ErrorCode::for_bare_status`]). A 5xx is always `500 internal`:
/// a bare 5xx says nothing a client could act on, and its cause was logged where it arose.
fn describe(status: StatusCode) -> (StatusCode, ErrorCode, &'static str) {
    match ErrorCode::for_bare_status(status) {
        Some(code) => (code.status(), code, code.generic_message()),
        None => (
            status,
            ErrorCode::BadRequest,
            "the request cannot be served",
        ),
    }
}

/// Gives every error response without a JSON body the contract's shape. Headers set by inner
/// layers (`Allow`, `Retry-After`, cookies) stay; a non-JSON body is dropped, never relayed, so
/// no framework text (which may quote the request) reaches the client.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) || has_json_body(&res) {
        return res;
    }
    let (status, code, message) = describe(status);
    if status.is_server_error() {
        tracing::error!(
            original = res.status().as_u16(),
            "an inner layer answered an error without a body: answered 500 internal"
        );
    }
    let (mut parts, _) = res.into_parts();
    let body = serde_json::to_vec(&ErrorBody::new(code, message)).unwrap_or_default();
    parts.status = status;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    parts.headers.remove(header::CONTENT_ENCODING);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.extensions.insert(ErrorCodeTag(code));
    Response::from_parts(parts, axum::body::Body::from(body))
}
