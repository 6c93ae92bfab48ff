//! The routes: OAuth2 endpoints, the Falcon API (every catalogue operation: emulated, generic or 501), the admin
//! API, and the envelope answers for unknown routes.

pub mod admin;
pub mod devices;
pub mod discovery;
pub mod falcon;
pub mod generic;
pub mod host_groups;
pub mod mssp;
pub mod oauth2;
pub mod policies;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use talon_wire::headers::POWERED_BY_GATEWAY;

use crate::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::not_found("Not Found").powered_by(POWERED_BY_GATEWAY)
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed").powered_by(POWERED_BY_GATEWAY)
}

/// Readiness: 200 when the store answers, 503 (in the envelope) when it does not, so a load balancer
/// takes a node whose database is unreachable out of rotation. The store is asked at most once a second
/// however many probes come (see `AppState::readiness`): anyone may call this route.
pub async fn readyz(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::response::Response {
    if state.readiness().await {
        ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"status":"ready"}"#).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, crate::error::STORE_UNAVAILABLE).into_response()
    }
}

/// The OpenAPI document of every route: built once (it describes ~1,600 operations) and served as bytes.
pub async fn openapi() -> axum::response::Response {
    static DOCUMENT: std::sync::OnceLock<axum::body::Bytes> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| crate::openapi::document().to_string().into()).clone();
    ([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Prometheus metrics, in the text exposition format.
pub async fn metrics(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> axum::response::Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics().render()).into_response()
}

/// Liveness: answers as long as the process serves HTTP. Also the benchmark's ceiling route.
pub async fn healthz() -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#)
}
