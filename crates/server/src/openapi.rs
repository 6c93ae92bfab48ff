//! The OpenAPI 3.0 document of every route, served at `/openapi.json`.
//!
//! Generated from [`OPERATIONS`], the table the router itself is built from: `router()` registers each
//! handler by its operation ID and takes the method and path from this table, so a route cannot exist
//! without its entry here (the lookup would fail at start, in every test), and the tests send every entry to
//! the router to prove each documented method and path is served. Each operation also lists its inputs
//! (query parameters and request body, with a JSON schema and an example); the tests send the examples and
//! leave out each required input in turn, so the document cannot claim what the router does not accept.
//! The emulated Falcon operations take their ID, method, path and scope from `talon_wire::operation`, the
//! table the SDK calls them by.

use serde_json::{json, Map, Value};
use talon_wire::admin::path as admin;
use talon_wire::discovery::{INTROSPECT_PATH, JWKS_PATH, METADATA_PATH};
use talon_wire::operation as wire;
use talon_wire::Scope;

/// How an operation authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `Authorization: Bearer <token>` holding this scope.
    Bearer(Scope),
    /// Client credentials: Basic, or `client_id`/`client_secret` in the form.
    Client,
}

/// Where an operation's method and path come from: the Falcon catalogue, or this table (Talon's own routes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Falcon(wire::OperationId),
    Own { method: &'static str, path: &'static str },
}

/// One operation: route, Falcon-style operation ID, summary, authentication, inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub route: Route,
    pub id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub query: &'static [QueryParam],
    pub body: Option<RequestBody>,
}

/// A query parameter. Schemas and examples are JSON text (consts cannot hold a `serde_json::Value`); the
/// document parses them, and every test run builds the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParam {
    pub name: &'static str,
    pub required: bool,
    /// May be given more than once (`?ids=a&ids=b`): an array parameter, exploded.
    pub repeated: bool,
    pub schema: &'static str,
    pub example: &'static str,
    pub description: &'static str,
}

/// A request body: its media type, schema and an example.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestBody {
    pub media_type: &'static str,
    pub schema: &'static str,
    pub example: &'static str,
}

const fn query(
    name: &'static str,
    schema: &'static str,
    example: &'static str,
    description: &'static str,
) -> QueryParam {
    QueryParam { name, required: false, repeated: false, schema, example, description }
}

impl QueryParam {
    const fn required(self) -> QueryParam {
        QueryParam { required: true, ..self }
    }
    const fn repeated(self) -> QueryParam {
        QueryParam { repeated: true, ..self }
    }
}

impl Operation {
    /// The method in lowercase, as OpenAPI keys it.
    pub fn method(&self) -> &'static str {
        match self.route {
            Route::Falcon(id) => id.method().lowercase(),
            Route::Own { method, .. } => method,
        }
    }

    /// The route.
    pub fn path(&self) -> &'static str {
        match self.route {
            Route::Falcon(id) => id.path(),
            Route::Own { path, .. } => path,
        }
    }

    const fn query(self, query: &'static [QueryParam]) -> Operation {
        Operation { query, ..self }
    }
    const fn body(self, media_type: &'static str, schema: &'static str, example: &'static str) -> Operation {
        Operation { body: Some(RequestBody { media_type, schema, example }), ..self }
    }
    const fn json_body(self, schema: &'static str, example: &'static str) -> Operation {
        self.body(JSON, schema, example)
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const EXAMPLE_DEVICE_ID: &str = "0123456789abcdef0123456789abcdef";
const IDS_BODY: &str = r#"{"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array",
    "minItems": 1, "maxItems": 5000, "items": {"type": "string", "minLength": 1}}}}"#;
const IDS_EXAMPLE: &str = r#"{"ids": ["0123456789abcdef0123456789abcdef"]}"#;

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    auth: Auth,
) -> Operation {
    Operation { route: Route::Own { method, path }, id, summary, auth, query: &[], body: None }
}

/// An emulated Falcon operation: ID, method, path and scope from talon-wire's table (which the SDK calls
/// by), the summary and inputs from here. A scope-less Falcon operation is an OAuth2 endpoint, which takes
/// client credentials.
const fn falcon(o: wire::OperationId, scope: Option<Scope>, summary: &'static str) -> Operation {
    let auth = match scope {
        Some(scope) => Auth::Bearer(scope),
        None => Auth::Client,
    };
    Operation { route: Route::Falcon(o), id: o.as_str(), summary, auth, query: &[], body: None }
}

/// Every route of the server.
pub const OPERATIONS: &[Operation] = &[
    falcon(wire::OAUTH2_ACCESS_TOKEN, None, "Issue an access token for client credentials").body(
        FORM,
        r#"{"type": "object", "properties": {
            "client_id": {"type": "string", "description": "Required unless given in a Basic header"},
            "client_secret": {"type": "string", "description": "Required unless given in a Basic header"},
            "member_cid": {"type": "string", "description": "Lock the token to a child customer (MSSP)"},
            "grant_type": {"type": "string", "enum": ["client_credentials"]}}}"#,
        r#"{"client_id": "0123456789abcdef0123456789abcdef",
            "client_secret": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123"}"#,
    ),
    falcon(wire::OAUTH2_REVOKE_TOKEN, None, "Revoke one of the caller's tokens").body(
        FORM,
        r#"{"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string"}, "client_id": {"type": "string"}}}"#,
        r#"{"token": "eyJ..."}"#,
    ),
    op("post", INTROSPECT_PATH, "oauth2IntrospectToken", "RFC 7662: describe one of the caller's tokens", Auth::Client)
        .body(
            FORM,
            r#"{"type": "object", "required": ["token"], "properties": {"token": {"type": "string"},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"}}}"#,
            r#"{"token": "eyJ..."}"#,
        ),
    op("get", JWKS_PATH, "oauth2Jwks", "The public keys that verify access tokens", Auth::None),
    op("get", METADATA_PATH, "oauth2Metadata", "RFC 8414 server metadata", Auth::None),
    falcon(wire::QUERY_DEVICES_BY_FILTER, Some(Scope::DEVICES_READ), "Search hosts with FQL, sorted and paged").query(
        &[
            query("offset", r#"{"type": "integer", "minimum": 0}"#, "0", "Index of the first ID"),
            query("limit", r#"{"type": "integer", "minimum": 1, "maximum": 5000}"#, "100", "Most IDs (default 100)"),
            query("sort", r#"{"type": "string"}"#, "hostname.asc", "field.asc or field.desc, on any device field"),
            query("filter", r#"{"type": "string"}"#, "platform_name:'Windows'", "FQL"),
        ],
    ),
    falcon(wire::GET_DEVICE_DETAILS_V2, Some(Scope::DEVICES_READ), "Details of up to 100 hosts").query(&[query(
        "ids",
        r#"{"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "minLength": 1}}"#,
        EXAMPLE_DEVICE_ID,
        "Device IDs; unknown ones are left out of the answer",
    )
    .required()
    .repeated()]),
    falcon(wire::POST_DEVICE_DETAILS_V2, Some(Scope::DEVICES_READ), "Details of up to 5000 hosts")
        .json_body(IDS_BODY, IDS_EXAMPLE),
    falcon(wire::PERFORM_ACTION_V2, Some(Scope::DEVICES_WRITE), "Contain, lift containment, hide or unhide hosts")
        .query(&[query(
            "action_name",
            r#"{"type": "string", "enum": ["contain", "lift_containment", "hide_host", "unhide_host"]}"#,
            "contain",
            "What to do to every named host (all of them or none)",
        )
        .required()])
        .json_body(
            r#"{"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array",
            "minItems": 1, "maxItems": 100, "items": {"type": "string", "minLength": 1}}}}"#,
            IDS_EXAMPLE,
        ),
    falcon(wire::GET_CSPM_POLICY_SETTINGS, Some(Scope::CSPM_READ), "CSPM policy settings").query(&[
        query("service", r#"{"type": "string"}"#, "S3", "Cloud service, e.g. EC2, S3, IAM"),
        query("policy-id", r#"{"type": "integer", "minimum": 0}"#, "4", "One policy"),
        query("cloud-platform", r#"{"type": "string", "enum": ["aws", "azure", "gcp"]}"#, "aws", "Cloud"),
    ]),
    falcon(wire::UPDATE_CSPM_POLICY_SETTINGS, Some(Scope::CSPM_WRITE), "Change CSPM policy settings").json_body(
        r#"{"type": "object", "required": ["resources"], "properties": {"resources": {"type": "array",
            "minItems": 1, "maxItems": 100, "items": {"type": "object", "required": ["policy_id"], "properties": {
                "policy_id": {"type": "integer", "minimum": 0},
                "enabled": {"type": "boolean"},
                "severity": {"type": "string", "enum": ["informational", "low", "medium", "high", "critical"]},
                "regions": {"type": "array", "items": {"type": "string"}},
                "tag_excluded": {"type": "boolean"}}}}}}"#,
        r#"{"resources": [{"policy_id": 4, "enabled": false, "severity": "high"}]}"#,
    ),
    op(
        "get",
        admin::CLIENTS,
        "ListApiClients",
        "API clients, paged (offset, limit)",
        Auth::Bearer(Scope::API_CLIENTS_READ),
    ),
    op(
        "post",
        admin::CLIENTS,
        "CreateApiClient",
        "Create an API client; the answer holds its secret, shown this once",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    ),
    op("get", admin::CLIENT, "GetApiClient", "One API client", Auth::Bearer(Scope::API_CLIENTS_READ)),
    op(
        "patch",
        admin::CLIENT,
        "UpdateApiClient",
        "Change an API client's name, description, scopes, member CIDs, allow-list or enabled state",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    ),
    op(
        "delete",
        admin::CLIENT,
        "DeleteApiClient",
        "Delete an API client; its tokens are refused at once",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    ),
    op(
        "post",
        admin::RESET_SECRET,
        "ResetApiClientSecret",
        "Replace an API client's secret (shown this once); the old one and its tokens stop working",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    ),
    op(
        "post",
        admin::REVOKE_TOKENS,
        "RevokeApiClientTokens",
        "Refuse every token an API client holds",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    ),
    op(
        "get",
        admin::AUDIT,
        "ListAuditEvents",
        "The audit log, newest first, paged (offset, limit)",
        Auth::Bearer(Scope::API_CLIENTS_READ),
    ),
    op("get", "/console", "consoleIndex", "The web console (sign in with an admin client)", Auth::None),
    op("get", "/console/app.js", "consoleApp", "The web console's views", Auth::None),
    op("get", "/console/api.js", "consoleApi", "The web console's API calls", Auth::None),
    op("get", "/console/console.css", "consoleStyle", "The web console's styles", Auth::None),
    op("get", "/console/scopes.json", "consoleScopes", "The scope catalogue's resources, for the console", Auth::None),
    op("get", "/healthz", "healthz", "Liveness", Auth::None),
    op("get", "/readyz", "readyz", "Readiness: the store answers", Auth::None),
    op("get", "/metrics", "metrics", "Prometheus metrics", Auth::None),
    op("get", "/openapi.json", "openapi", "This document", Auth::None),
];

/// The path of an operation, for the router. Panics on an unknown ID: a programming error that every test
/// run would show at once.
pub fn path_of(id: &str) -> &'static str {
    OPERATIONS
        .iter()
        .find(|o| o.id == id)
        .map(|o| o.path())
        .unwrap_or_else(|| panic!("operation {id} is not documented"))
}

/// How the operation `id` of this table authenticates. Panics on an unknown ID, as [`path_of`] does.
pub fn auth_of(id: &str) -> Auth {
    OPERATIONS.iter().find(|o| o.id == id).map(|o| o.auth).unwrap_or_else(|| panic!("operation {id} is not documented"))
}

/// The OpenAPI document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for o in OPERATIONS {
        let security = match o.auth {
            Auth::None => json!([]),
            Auth::Bearer(scope) => json!([{ "bearer": [scope.to_string()] }]),
            // Basic, or client_id/client_secret as form fields (which OpenAPI 3.0 cannot name as a scheme).
            Auth::Client => json!([{ "basic": [] }, {}]),
        };
        let mut entry = json!({
            "operationId": o.id,
            "summary": o.summary,
            "security": security,
            "responses": responses(o.auth),
        });
        if !o.query.is_empty() {
            entry["parameters"] = o.query.iter().map(parameter).collect();
        }
        if let Some(body) = o.body {
            entry["requestBody"] = json!({
                "required": true,
                "content": { body.media_type: { "schema": parse(body.schema), "example": parse(body.example) } }
            });
        }
        let item = paths.entry(o.path().to_owned()).or_insert_with(|| json!({}));
        item[o.method()] = entry;
    }
    // The rest of the Falcon API, as the catalogue describes it: routed, guarded, answered with 501.
    for (path, method, entry) in crate::openapi_catalogue::not_emulated() {
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = entry;
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

fn parameter(p: &QueryParam) -> Value {
    let mut entry = json!({
        "name": p.name, "in": "query", "required": p.required, "description": p.description,
        "schema": parse(p.schema),
    });
    if p.repeated {
        entry["style"] = json!("form");
        entry["explode"] = json!(true);
        entry["example"] = json!([p.example]);
    } else {
        entry["example"] = json!(p.example);
    }
    entry
}

/// Parses a schema or example of the table. They are constants, so a mistake shows in every test run.
fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("OpenAPI table holds bad JSON ({e}): {text}"))
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
            r["404"] = json!({ "description": "A named host, policy or API client does not exist" });
            r["409"] = json!({ "description": "An admin client may not delete or disable itself" });
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
