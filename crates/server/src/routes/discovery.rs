//! Beyond Falcon: RFC 8414 metadata and the JWKS, so that third-party resource servers can find Talon's
//! endpoints and verify its tokens offline.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use talon_wire::discovery::{Jwk, JwkSet, ServerMetadata, INTROSPECT_PATH, JWKS_PATH};
use talon_wire::scope::Scope;

use crate::error::json_response;
use crate::state::{AppState, AuthSnapshot};

/// Where discovery points when no public URL is configured (in-process use; `talon serve` always sets one).
const UNCONFIGURED_URL: &str = "http://localhost";

/// How long a client may keep the metadata: it changes only when the server restarts with another URL.
const METADATA_CACHE: &str = "public, max-age=300";

/// `GET /.well-known/oauth-authorization-server`. Endpoint URLs are built from the configured public URL
/// (`--public-url`, else the address `talon serve` listens on, `https` when it serves TLS), never from the
/// request's `Host`: a client that sends `Host: evil.example` must not be told to send credentials there.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let base = state.config().public_url.as_deref().unwrap_or(UNCONFIGURED_URL);
    let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let body = ServerMetadata {
        issuer: state.auth().keyring().issuer().to_owned(),
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
    ([(header::CACHE_CONTROL, METADATA_CACHE)], json_response(StatusCode::OK, &body)).into_response()
}

/// `GET /oauth2/jwks`: every verification key, newest first. Old keys stay until they are retired (keys
/// are never deleted), so a verifier with this set accepts every live token and no token of a retired key.
pub async fn jwks(State(auth): State<Arc<AuthSnapshot>>) -> Response {
    let keyring = auth.keyring();
    let keys = keyring.public_keys(auth.now()).map(|(kid, x)| Jwk::ed25519(kid.to_owned(), x.to_owned())).collect();
    json_response(StatusCode::OK, &JwkSet { keys })
}
