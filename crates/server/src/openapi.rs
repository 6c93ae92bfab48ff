//! The OpenAPI 3.0 document of every route, served at `/openapi.json`.
//!
//! Generated from [`OPERATIONS`], the table the router itself is built from: `router()` registers each
//! handler by its operation ID and takes the method and path from this table, so a route cannot exist
//! without its entry here (the lookup would fail at start, in every test), and the tests send every entry to
//! the router to prove each documented method and path is served.

use serde_json::{json, Map, Value};
use talon_wire::discovery::{INTROSPECT_PATH, JWKS_PATH, METADATA_PATH};

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <token>` holding this scope.
    Bearer(&'static str),
    /// Client credentials: Basic, or `client_id`/`client_secret` in the form.
    Client,
}

/// One operation: method, path, Falcon-style operation ID, summary, authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
}

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    auth: Auth,
) -> Operation {
    Operation { method, path, id, summary, auth }
}

/// Every route of the server.
pub const OPERATIONS: &[Operation] = &[
    op("post", "/oauth2/token", "oauth2AccessToken", "Issue an access token for client credentials", Auth::Client),
    op("post", "/oauth2/revoke", "oauth2RevokeToken", "Revoke one of the caller's tokens", Auth::Client),
    op("post", INTROSPECT_PATH, "oauth2IntrospectToken", "RFC 7662: describe one of the caller's tokens", Auth::Client),
    op("get", JWKS_PATH, "oauth2Jwks", "The public keys that verify access tokens", Auth::None),
    op("get", METADATA_PATH, "oauth2Metadata", "RFC 8414 server metadata", Auth::None),
    op(
        "get",
        "/devices/queries/devices/v1",
        "QueryDevicesByFilter",
        "Search hosts with FQL, sorted and paged",
        Auth::Bearer("devices:read"),
    ),
    op(
        "get",
        "/devices/entities/devices/v2",
        "GetDeviceDetailsV2",
        "Details of up to 100 hosts",
        Auth::Bearer("devices:read"),
    ),
    op(
        "post",
        "/devices/entities/devices/v2",
        "PostDeviceDetailsV2",
        "Details of up to 5000 hosts",
        Auth::Bearer("devices:read"),
    ),
    op(
        "post",
        "/devices/entities/devices-actions/v2",
        "PerformActionV2",
        "Contain, lift containment, hide or unhide hosts",
        Auth::Bearer("devices:write"),
    ),
    op(
        "get",
        "/settings/entities/policy/v1",
        "GetCSPMPolicySettings",
        "CSPM policy settings",
        Auth::Bearer("cspm-registration:read"),
    ),
    op(
        "patch",
        "/settings/entities/policy/v1",
        "UpdateCSPMPolicySettings",
        "Change CSPM policy settings",
        Auth::Bearer("cspm-registration:write"),
    ),
    op("get", "/healthz", "healthz", "Liveness", Auth::None),
    op("get", "/readyz", "readyz", "Readiness: the store answers", Auth::None),
    op("get", "/metrics", "metrics", "Prometheus metrics", Auth::None),
    op("get", "/openapi.json", "openapi", "This document", Auth::None),
];

/// The path of an operation, for the router. Panics on an unknown ID: a programming error that every test
/// run would show at once.
pub fn path_of(id: &str) -> &'static str {
    OPERATIONS.iter().find(|o| o.id == id).map(|o| o.path).unwrap_or_else(|| panic!("operation {id} is not documented"))
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let security = match o.auth {
            Auth::None => json!([]),
            Auth::Bearer(scope) => json!([{ "bearer": [scope] }]),
            // Basic, or client_id/client_secret as form fields (which OpenAPI 3.0 cannot name as a scheme).
            Auth::Client => json!([{ "basic": [] }, {}]),
        };
        let entry = json!({
            "operationId": o.id,
            "summary": o.summary,
            "security": security,
            "responses": responses(o.auth),
        });
        let item = paths.entry(o.path.to_owned()).or_insert_with(|| json!({}));
        item[o.method] = entry;
    }
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Talon", "version": env!("CARGO_PKG_VERSION"),
                  "description": "A Falcon-compatible OAuth2 authorization server with an emulated Falcon API." },
        "paths": paths,
        "components": { "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
            "basic": { "type": "http", "scheme": "basic",
                       "description": "Or client_id and client_secret as form fields of the request body" }
        }}
    })
}

fn responses(auth: Auth) -> Value {
    let mut r = json!({
        "200": { "description": "Success (201 for a new token, 202 for a host action)" },
        "400": { "description": "Bad input, in the Falcon envelope" },
        "429": { "description": "Rate limited; X-Ratelimit-Retryafter holds the epoch second to retry at" }
    });
    match auth {
        Auth::Bearer(_) => {
            r["401"] = json!({ "description": "access denied, invalid bearer token" });
            r["403"] = json!({ "description": "access denied, authorization failed (scope or IP allow-list)" });
            r["404"] = json!({ "description": "A named host or policy does not exist" });
            r["413"] = json!({ "description": "Body too large" });
            r["415"] = json!({ "description": "Body is not JSON" });
        }
        Auth::Client => {
            r["401"] = json!({ "description": "Client credentials refused (introspection)" });
            r["403"] = json!({ "description": "Client credentials refused" });
            r["413"] = json!({ "description": "Body too large" });
            r["415"] = json!({ "description": "Body is not a form" });
        }
        Auth::None => {}
    }
    r
}
