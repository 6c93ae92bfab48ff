//! talon-server: Talon's HTTP service.
//!
//! [`router`] builds the axum app (testable with `tower::ServiceExt::oneshot`); [`serve`] runs it on a
//! listener with the background refresh loop until `shutdown` resolves.

pub mod audit;
pub mod config;
pub mod connections;
pub mod console;
pub mod context;
pub mod error;
pub mod extract;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod openapi_catalogue;
pub mod routes;
pub mod state;
pub mod tls;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, MethodRouter};
use axum::{Extension, Router};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;

pub use config::{AuthErrorMode, Config, Limits, SharedLimits};
pub use error::ApiError;
pub use state::AppState;

/// The application with every route and layer.
pub fn router(state: AppState) -> Router {
    // Talon's own paths come from the OpenAPI table, so every route is documented (see `openapi`); the
    // Falcon API's from the operation catalogue (see `routes::falcon`).
    let at = openapi::path_of;
    let own = |id: &str, route: MethodRouter<AppState>| match openapi::auth_of(id) {
        openapi::Auth::Bearer(scope) => route.layer(Extension(extract::RequiredScope(scope))),
        _ => route,
    };
    let mut router = routes::falcon::routes(console::routes(Router::new()));
    if !state.config().metrics_apart {
        router = router.route(at("metrics"), get(routes::metrics));
    }
    router
        .route(at("oauth2IntrospectToken"), post(routes::oauth2::introspect))
        .route(at("oauth2Jwks"), get(routes::discovery::jwks))
        .route(at("oauth2Metadata"), get(routes::discovery::metadata))
        .route(
            at("ListApiClients"),
            own("ListApiClients", get(routes::admin::list)).merge(own("CreateApiClient", post(routes::admin::create))),
        )
        .route(
            at("GetApiClient"),
            own("GetApiClient", get(routes::admin::show))
                .merge(own("UpdateApiClient", patch(routes::admin::update)))
                .merge(own("DeleteApiClient", delete(routes::admin::delete))),
        )
        .route(at("ResetApiClientSecret"), own("ResetApiClientSecret", post(routes::admin::reset_secret)))
        .route(at("RevokeApiClientTokens"), own("RevokeApiClientTokens", post(routes::admin::revoke_tokens)))
        .route(at("ListAuditEvents"), own("ListAuditEvents", get(routes::admin::audit_log)))
        .route(at("LoadFixtures"), own("LoadFixtures", post(routes::admin::load_fixtures)))
        .route(at("healthz"), get(routes::healthz))
        .route(at("readyz"), get(routes::readyz))
        .route(at("openapi"), get(routes::openapi))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.config().limits.max_body_bytes))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(from_fn_with_state(state.clone(), context::middleware))
        .with_state(state)
}

/// The application of the metrics listener (`Config::metrics_apart`): `/metrics` alone, for a port that
/// only the monitoring system reaches.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(openapi::path_of("metrics"), get(routes::metrics))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state)
}

/// Serves [`metrics_router`] on `listener` until `shutdown` resolves, with the API's connection limits.
pub async fn serve_metrics(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = state.config().connections.clone();
    connections::serve(listener, None, metrics_router(state), &limits, vec![], shutdown).await
}

/// A handler panicked: answer 500 in the envelope, without the panic payload (it could hold request
/// data). `talon serve` also installs a panic hook that logs only the location.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!(trace_id = %context::current().trace_id, "request handler panicked");
    ApiError::internal().into_response()
}

/// Serves HTTP until `shutdown` resolves, then finishes in-flight requests and flushes pending writes.
/// Connections are capped and slow clients timed out as `Config::connections` says.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_on(listener, None, state, shutdown).await
}

/// As [`serve`], over HTTPS with `tls` (see [`tls::server_config`]).
pub async fn serve_tls(
    listener: std::net::TcpListener,
    tls: std::sync::Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    serve_on(TcpListener::from_std(listener)?, Some(acceptor), state, shutdown).await
}

async fn serve_on(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let refresher = tokio::spawn(refresh_loop(state.clone()));
    let config = state.config();
    let (limits, trusted) = (config.connections.clone(), config.trusted_proxies.clone());
    let served = connections::serve(listener, tls, router(state.clone()), &limits, trusted, shutdown).await;
    finish(refresher, &state).await;
    served
}

/// Stops the refresh loop and writes what is pending.
async fn finish(refresher: tokio::task::JoinHandle<()>, state: &AppState) {
    refresher.abort();
    if let Err(e) = state.queues().flush_last_used(&**state.store()).await {
        tracing::warn!(error = %e, "could not record last-use times at shutdown");
    }
    if let Err(e) = state.queues().flush_audit(&**state.store()).await {
        tracing::warn!(error = %e, "could not write the audit log at shutdown");
    }
}

/// Keeps the node in step with the store: at once when the store announces a change (PostgreSQL), and
/// every refresh interval in any case, the safety net that also covers a lost notification.
async fn refresh_loop(state: AppState) {
    let changed = std::sync::Arc::new(tokio::sync::Notify::new());
    let store = state.store().clone();
    let _watcher = AbortOnDrop(tokio::spawn({
        let changed = changed.clone();
        async move { store.watch_changes(changed).await }
    }));
    let mut tick = tokio::time::interval(state.config().refresh_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = changed.notified() => {}
        }
        if let Err(e) = state.refresh().await {
            tracing::warn!(error = %e, "refresh from the store failed; will retry");
        }
    }
}

/// Ends a spawned task when its owner ends (the refresh loop is aborted at shutdown).
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_panic_answers_500_in_the_envelope_without_its_payload() {
        let response = super::panic_response(Box::new("secret detail"));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.expect("body").to_bytes();
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["errors"][0]["code"], 500);
        assert!(!String::from_utf8_lossy(&body).contains("secret detail"));
    }
}
