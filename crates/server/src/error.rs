//! `ApiError`: every error answer, rendered as the Falcon envelope with the right status.
//! Also the helper that renders successful enveloped answers, so both share one `meta`.

use std::borrow::Cow;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use talon_wire::envelope::{Envelope, ErrorItem, Meta, Pagination};
use talon_wire::headers::{POWERED_BY_GATEWAY, POWERED_BY_OAUTH2};

use crate::context;

/// An error answer: status, message, and which component "powered" it (`meta.powered_by`).
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: Cow<'static, str>,
    pub powered_by: &'static str,
    /// Why a 403 was refused (`missing-scope` or `ip-not-allowed`), sent as `X-Talon-Deny-Reason` so
    /// clients can tell the two apart; the message stays the exact Falcon one.
    pub deny_reason: Option<&'static str>,
}

/// Header naming why a 403 on a resource route was refused.
pub const DENY_REASON: &str = "x-talon-deny-reason";

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError { status, message: message.into(), powered_by: POWERED_BY_OAUTH2, deny_reason: None }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    /// The gateway's 401 for a missing, malformed, expired, revoked or badly signed token.
    pub fn invalid_bearer() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "access denied, invalid bearer token").powered_by(POWERED_BY_GATEWAY)
    }

    /// The 403 for a missing scope or a source address outside the allow-list.
    pub fn authorization_failed(reason: &'static str) -> ApiError {
        ApiError {
            deny_reason: Some(reason),
            ..ApiError::new(StatusCode::FORBIDDEN, "access denied, authorization failed")
        }
    }

    pub fn rate_limited() -> ApiError {
        ApiError::new(StatusCode::TOO_MANY_REQUESTS, "API rate limit exceeded.")
    }

    pub fn not_found(message: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal() -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error; the trace ID identifies it in the logs")
    }

    pub fn powered_by(mut self, powered_by: &'static str) -> ApiError {
        self.powered_by = powered_by;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors = vec![ErrorItem { code: self.status.as_u16(), message: self.message.into_owned() }];
        // Error answers carry no `resources` key, as the real API's token failures.
        let mut response = envelope::<()>(self.status, self.powered_by, None, errors, None);
        if let Some(reason) = self.deny_reason {
            response.headers_mut().insert(DENY_REASON, HeaderValue::from_static(reason));
        }
        response
    }
}

/// The message of a 503 for a store that does not answer.
pub const STORE_UNAVAILABLE: &str = "the store is unavailable; try again";

impl From<talon_store::StoreError> for ApiError {
    fn from(e: talon_store::StoreError) -> ApiError {
        tracing::error!(trace_id = %context::current().trace_id, error = %e, "store failure");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, STORE_UNAVAILABLE)
    }
}

/// Renders an enveloped answer with this request's trace ID and query time.
pub fn envelope<R: Serialize>(
    status: StatusCode,
    powered_by: &str,
    resources: Option<R>,
    errors: Vec<ErrorItem>,
    pagination: Option<Pagination>,
) -> Response {
    let ctx = context::current();
    let meta = Meta {
        query_time: ctx.query_time(),
        powered_by: powered_by.to_owned(),
        trace_id: ctx.trace_id.clone(),
        pagination,
    };
    json_response(status, &Envelope { meta, resources, errors })
}

/// As [`envelope`], with a `meta.pagination` of another shape (the token paging of the scroll and
/// combined queries).
pub fn envelope_paged<R: Serialize, P: Serialize>(
    status: StatusCode,
    powered_by: &str,
    resources: Option<R>,
    errors: Vec<ErrorItem>,
    pagination: Option<P>,
) -> Response {
    /// `Meta` with any pagination: the fields and order of talon-wire's.
    #[derive(Serialize)]
    struct PagedMeta<'a, P> {
        query_time: f64,
        powered_by: &'a str,
        trace_id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        pagination: Option<P>,
    }
    #[derive(Serialize)]
    struct Paged<'a, R, P> {
        meta: PagedMeta<'a, P>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resources: Option<R>,
        errors: Vec<ErrorItem>,
    }
    let ctx = context::current();
    let meta = PagedMeta { query_time: ctx.query_time(), powered_by, trace_id: &ctx.trace_id, pagination };
    json_response(status, &Paged { meta, resources, errors })
}

/// Serializes `body` as the JSON answer, into a buffer sized for a page of IDs at once (axum's `Json`
/// starts at 128 bytes and grows by copying, which showed in profiles of the hosts query).
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    let mut buffer = Vec::with_capacity(4096);
    match serde_json::to_writer(&mut buffer, body) {
        Ok(()) => {
            (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], buffer).into_response()
        }
        // Our bodies are plain data; serialization cannot fail, but if it did the client gets an envelope 500.
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"errors": [{"code": 500, "message": "internal error"}]})),
        )
            .into_response(),
    }
}
