//! The web console at `/console`: plain HTML, CSS and JavaScript modules (no build step), embedded in the
//! binary so that it works air-gapped, served with a Content-Security-Policy that allows only this
//! server's own scripts, styles and API (no inline script, no outside host, no framing).

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use talon_wire::scope::RESOURCES;

use crate::openapi::path_of;
use crate::state::AppState;

/// Scripts, styles and calls from this origin only; nothing inline, no plugins, no framing, no `<base>`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file: its operation ID (and so its path, from the OpenAPI table), media type and bytes.
struct Asset {
    id: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const ASSETS: &[Asset] = &[
    Asset { id: "consoleIndex", content_type: "text/html; charset=utf-8", body: include_str!("../console/index.html") },
    Asset { id: "consoleApp", content_type: "text/javascript; charset=utf-8", body: include_str!("../console/app.js") },
    Asset { id: "consoleApi", content_type: "text/javascript; charset=utf-8", body: include_str!("../console/api.js") },
    Asset { id: "consoleStyle", content_type: "text/css; charset=utf-8", body: include_str!("../console/console.css") },
];

/// Adds the console's routes.
pub fn routes(router: Router<AppState>) -> Router<AppState> {
    let router = ASSETS.iter().fold(router, |router, asset| {
        router.route(path_of(asset.id), get(move || async move { respond(asset.content_type, asset.body.to_owned()) }))
    });
    router.route(path_of("consoleScopes"), get(scopes))
}

/// The scope catalogue's resource names, for the scope grid (one catalogue for server and console).
async fn scopes() -> Response {
    respond("application/json", serde_json::Value::from(RESOURCES.to_vec()).to_string())
}

fn respond(content_type: &'static str, body: String) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (X_FRAME_OPTIONS, "DENY"),
            (REFERRER_POLICY, "no-referrer"),
            // Revalidate every time: a new binary's console is picked up at once.
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
