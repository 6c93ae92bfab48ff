//! Beyond Falcon: RFC 8414 metadata and the JWKS, so that third-party resource servers can find Talon's
//! endpoints and verify its tokens offline.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use talon_wire::discovery::{Jwk, JwkSet, ServerMetadata, INTROSPECT_PATH, JWKS_PATH};
use talon_wire::scope::Scope;

use crate::error::json_response;
use crate::state::AppState;

/// `GET /.well-known/oauth-authorization-server`. Endpoint URLs are built from the `Host` the client
/// used, so they are right behind any name the server is reached by.
pub async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&headers);
    let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let body = ServerMetadata {
        issuer: state.keyring().issuer().to_owned(),
        token_endpoint: format!("{base}/oauth2/token"),
        revocation_endpoint: format!("{base}/oauth2/revoke"),
        introspection_endpoint: format!("{base}{INTROSPECT_PATH}"),
        jwks_uri: format!("{base}{JWKS_PATH}"),
        grant_types_supported: list(&["client_credentials"]),
        response_types_supported: vec![],
        token_endpoint_auth_methods_supported: list(&["client_secret_post", "client_secret_basic"]),
        revocation_endpoint_auth_methods_supported: list(&["client_secret_basic"]),
        introspection_endpoint_auth_methods_supported: list(&["client_secret_basic", "client_secret_post"]),
        token_endpoint_auth_signing_alg_values_supported: vec![],
        scopes_supported: Scope::all().map(|s| s.to_string()).collect(),
    };
    json_response(StatusCode::OK, &body)
}

/// `GET /oauth2/jwks`: every verification key, newest first. Old keys stay until their last token has
/// expired (keys are never deleted), so a verifier with this set accepts every live token.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let keyring = state.keyring();
    let keys = keyring.public_keys().iter().map(|(kid, x)| Jwk::ed25519(kid.clone(), x.clone())).collect();
    json_response(StatusCode::OK, &JwkSet { keys })
}

/// `http://<Host>` of the request (`localhost` when the header is missing or not printable).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("localhost");
    format!("http://{host}")
}
