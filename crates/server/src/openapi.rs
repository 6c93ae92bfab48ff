//! The OpenAPI 3.0 document of every route, served at `/openapi.json`.
//!
//! It describes each operation as the server checks it, so that a tool generating requests from it
//! (schemathesis runs in the suite) finds no request the document calls valid refused, and none it calls
//! invalid accepted: path parameters with their patterns, bounds, required bodies, `additionalProperties:
//! false` where unknown fields are refused, the Basic scheme on revoke and introspect, every status an
//! operation answers.
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

/// One operation: route, Falcon-style operation ID, summary, authentication, inputs, answers.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    pub route: Route,
    pub id: &'static str,
    pub summary: &'static str,
    pub auth: Auth,
    pub params: &'static [Param],
    pub body: Option<RequestBody>,
    /// The status of success.
    pub success: u16,
    /// The error statuses particular to the operation; those its authentication and inputs imply (401,
    /// 403, 429; 400; 413, 415) are added by [`responses`].
    pub errors: &'static [u16],
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Path,
}

impl In {
    fn as_str(self) -> &'static str {
        match self {
            In::Query => "query",
            In::Path => "path",
        }
    }
}

/// A query or path parameter. Schemas and examples are JSON text (consts cannot hold a `serde_json::Value`);
/// the document parses them, and every test run builds the document.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub required: bool,
    /// May be given more than once (`?ids=a&ids=b`): an array parameter, exploded.
    pub repeated: bool,
    /// An empty value (`?sort=`) is taken as none given.
    pub empty_is_absent: bool,
    pub schema: Schema,
    pub example: &'static str,
    pub description: &'static str,
}

/// A JSON schema: as text, or built when it depends on data (the scope catalogue).
#[derive(Debug, Clone, Copy)]
pub enum Schema {
    Text(&'static str),
    Built(fn() -> Value),
}

impl Schema {
    fn value(self) -> Value {
        match self {
            Schema::Text(text) => parse(text),
            Schema::Built(build) => build(),
        }
    }
}

/// A request body: its media type, schema and an example.
#[derive(Debug, Clone, Copy)]
pub struct RequestBody {
    pub media_type: &'static str,
    pub schema: Schema,
    pub example: &'static str,
}

const fn query(name: &'static str, schema: &'static str, example: &'static str, description: &'static str) -> Param {
    let schema = Schema::Text(schema);
    Param {
        name,
        location: In::Query,
        required: false,
        repeated: false,
        empty_is_absent: false,
        schema,
        example,
        description,
    }
}

impl Param {
    const fn empty_is_absent(self) -> Param {
        Param { empty_is_absent: true, ..self }
    }
    const fn built(self, schema: fn() -> Value) -> Param {
        Param { schema: Schema::Built(schema), ..self }
    }
    const fn required(self) -> Param {
        Param { required: true, ..self }
    }
    const fn repeated(self) -> Param {
        Param { repeated: true, ..self }
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

    const fn params(self, params: &'static [Param]) -> Operation {
        Operation { params, ..self }
    }
    const fn body(self, media_type: &'static str, schema: Schema, example: &'static str) -> Operation {
        Operation { body: Some(RequestBody { media_type, schema, example }), ..self }
    }
    const fn json_body(self, schema: &'static str, example: &'static str) -> Operation {
        self.body(JSON, Schema::Text(schema), example)
    }
    const fn form(self, schema: &'static str, example: &'static str) -> Operation {
        self.body(FORM, Schema::Text(schema), example)
    }
    const fn answers(self, success: u16, errors: &'static [u16]) -> Operation {
        Operation { success, errors, ..self }
    }
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";
const EXAMPLE_DEVICE_ID: &str = "0123456789abcdef0123456789abcdef";
const IDS_BODY: &str = r#"{"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array",
    "minItems": 1, "maxItems": 5000, "items": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,64}$"}}}}"#;
const IDS_EXAMPLE: &str = r#"{"ids": ["0123456789abcdef0123456789abcdef"]}"#;

/// The `{id}` of the API-client routes: a client ID, 32 lowercase hex digits (anything else is a 400).
const CLIENT_ID: Param = Param {
    name: "id",
    location: In::Path,
    required: true,
    repeated: false,
    empty_is_absent: false,
    schema: Schema::Text(r#"{"type": "string", "pattern": "^[0-9a-f]{32}$"}"#),
    example: "0123456789abcdef0123456789abcdef",
    description: "The API client's ID",
};
/// `offset` and `limit` of the admin lists (limit 1 to `MAX_PAGE`, 500).
const PAGING: &[Param] = &[
    query("offset", r#"{"type": "integer", "minimum": 0, "maximum": 18446744073709551615}"#, "0", "Index of the first"),
    query("limit", r#"{"type": "integer", "minimum": 1, "maximum": 500}"#, "100", "How many (default 100)"),
];

/// The client listing's parameters: paging by offset or by seek, filters and sort.
const CLIENT_LISTING: &[Param] = &[
    PAGING[0],
    PAGING[1],
    query(
        "after",
        r#"{"type": "string", "maxLength": 4200}"#,
        "n626f74.0123456789abcdef0123456789abcdef",
        "The previous page's meta.pagination.after token (of a listing in the same sort): the page after it",
    ),
    query(
        "name",
        r#"{"type": "string", "maxLength": 1024}"#,
        "bot",
        "Only clients whose name holds this (ASCII case ignored)",
    ),
    query("scope", "", "devices:read", "Only clients holding this scope").built(admin_schema::scope),
    query("enabled", r#"{"type": "string", "enum": ["true", "false"]}"#, "true", "Only enabled (or disabled) clients"),
    query("cid", "", "0123456789abcdef0123456789abcdef", "Only this customer's clients").built(admin_schema::cid),
    query(
        "sort",
        r#"{"type": "string", "enum": ["created_at", "created_at.asc", "created_at.desc", "name", "name.asc", "name.desc"]}"#,
        "name.asc",
        "The order (creation order by default)",
    ),
];

const fn op(
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    auth: Auth,
) -> Operation {
    bare(Route::Own { method, path }, id, summary, auth)
}

/// An operation without inputs that answers 200.
const fn bare(route: Route, id: &'static str, summary: &'static str, auth: Auth) -> Operation {
    Operation { route, id, summary, auth, params: &[], body: None, success: 200, errors: &[] }
}

/// An emulated Falcon operation: ID, method, path and scope from talon-wire's table (which the SDK calls
/// by), the summary and inputs from here. A scope-less Falcon operation is an OAuth2 endpoint, which takes
/// client credentials.
const fn falcon(o: wire::OperationId, scope: Option<Scope>, summary: &'static str) -> Operation {
    let auth = match scope {
        Some(scope) => Auth::Bearer(scope),
        None => Auth::Client,
    };
    bare(Route::Falcon(o), o.as_str(), summary, auth)
}

/// Every route of the server.
pub const OPERATIONS: &[Operation] = &[
    falcon(wire::OAUTH2_ACCESS_TOKEN, None, "Issue an access token for client credentials")
        .form(
            r#"{"type": "object", "properties": {
            "client_id": {"type": "string", "description": "Required unless given in a Basic header"},
            "client_secret": {"type": "string", "description": "Required unless given in a Basic header"},
            "member_cid": {"type": "string", "description": "Lock the token to a child customer (MSSP)"},
            "grant_type": {"type": "string", "enum": ["client_credentials", ""],
                "description": "Empty or absent: client_credentials"}},
            "additionalProperties": {"type": "string"}}"#,
            r#"{"client_id": "0123456789abcdef0123456789abcdef",
            "client_secret": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123"}"#,
        )
        .answers(201, &[308]),
    falcon(wire::OAUTH2_REVOKE_TOKEN, None, "Revoke one of the caller's tokens")
        .form(
            r#"{"type": "object", "required": ["token"], "properties": {
            "token": {"type": "string", "minLength": 1}},
            "additionalProperties": {"type": "string"},
            "description": "client_id may be given too: the Basic header's client ID"}"#,
            r#"{"token": "eyJ..."}"#,
        )
        .answers(200, &[]),
    op("post", INTROSPECT_PATH, "oauth2IntrospectToken", "RFC 7662: describe one of the caller's tokens", Auth::Client)
        .form(
            r#"{"type": "object", "required": ["token"], "properties": {"token": {"type": "string", "minLength": 1}},
                "additionalProperties": {"type": "string"},
                "description": "The client authenticates with Basic, or with client_id and client_secret in the form"}"#,
            r#"{"token": "eyJ..."}"#,
        )
        .answers(200, &[401]),
    op("get", JWKS_PATH, "oauth2Jwks", "The public keys that verify access tokens", Auth::None),
    op("get", METADATA_PATH, "oauth2Metadata", "RFC 8414 server metadata", Auth::None),
    falcon(wire::QUERY_DEVICES_BY_FILTER, Some(Scope::DEVICES_READ), "Search hosts with FQL, sorted and paged").params(
        &[
            query("offset", r#"{"type": "integer", "minimum": 0, "maximum": 18446744073709551615}"#, "0", "Index of the first ID")
                .empty_is_absent(),
            query("limit", r#"{"type": "integer", "minimum": 1, "maximum": 5000}"#, "100", "Most IDs (default 100)")
                .empty_is_absent(),
            query("sort", "{}", "hostname.asc", "field.asc or field.desc (field alone: ascending)")
                .built(device_sorts)
                .empty_is_absent(),
            query("filter", r#"{"type": "string"}"#, "platform_name:'Windows'", "FQL").empty_is_absent(),
        ],
    ),
    falcon(wire::GET_DEVICE_DETAILS_V2, Some(Scope::DEVICES_READ), "Details of up to 100 hosts")
        .params(&[query(
            "ids",
            r#"{"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,64}$"}}"#,
            EXAMPLE_DEVICE_ID,
            "Device IDs; unknown ones are left out of the answer",
        )
        .required()
        .repeated()])
        .answers(200, &[404]),
    falcon(wire::POST_DEVICE_DETAILS_V2, Some(Scope::DEVICES_READ), "Details of up to 5000 hosts")
        .json_body(IDS_BODY, IDS_EXAMPLE)
        .answers(200, &[404]),
    falcon(wire::PERFORM_ACTION_V2, Some(Scope::DEVICES_WRITE), "Contain, lift containment, hide or unhide hosts")
        .params(&[query(
            "action_name",
            r#"{"type": "string", "enum": ["contain", "lift_containment", "hide_host", "unhide_host"]}"#,
            "contain",
            "What to do to every named host (all of them or none)",
        )
        .required()])
        .json_body(
            r#"{"type": "object", "required": ["ids"], "properties": {"ids": {"type": "array",
            "minItems": 1, "maxItems": 100, "items": {"type": "string", "pattern": "^[0-9A-Za-z_-]{1,64}$"}}}}"#,
            IDS_EXAMPLE,
        )
        .answers(202, &[404]),
    falcon(wire::GET_CSPM_POLICY_SETTINGS, Some(Scope::CSPM_READ), "CSPM policy settings").params(&[
        query("service", r#"{"type": "string"}"#, "S3", "Cloud service, e.g. EC2, S3, IAM").empty_is_absent(),
        query("policy-id", r#"{"type": "integer", "minimum": 0, "maximum": 4294967295}"#, "4", "One policy")
            .empty_is_absent(),
        query("cloud-platform", r#"{"type": "string", "enum": ["aws", "azure", "gcp"]}"#, "aws", "Cloud")
            .empty_is_absent(),
    ]),
    falcon(wire::UPDATE_CSPM_POLICY_SETTINGS, Some(Scope::CSPM_WRITE), "Change CSPM policy settings")
        .json_body(
            r#"{"type": "object", "required": ["resources"], "properties": {"resources": {"type": "array",
            "minItems": 1, "maxItems": 100, "items": {"type": "object", "required": ["policy_id"], "properties": {
                "policy_id": {"type": "integer", "minimum": 0},
                "enabled": {"type": "boolean"},
                "severity": {"type": "string", "enum": ["informational", "low", "medium", "high", "critical"]},
                "regions": {"type": "array", "items": {"type": "string"}},
                "tag_excluded": {"type": "boolean"}}}}}}"#,
            r#"{"resources": [{"policy_id": 4, "enabled": false, "severity": "high"}]}"#,
        )
        .answers(200, &[404]),
    op("get", admin::CLIENTS, "ListApiClients", "API clients, filtered, sorted and paged", Auth::Bearer(Scope::API_CLIENTS_READ))
        .params(CLIENT_LISTING),
    op(
        "post",
        admin::CLIENTS,
        "CreateApiClient",
        "Create an API client; the answer holds its secret, shown this once",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .body(JSON, Schema::Built(admin_schema::create), r#"{"name": "ci", "scopes": ["devices:read"]}"#)
    .answers(201, &[]),
    op("get", admin::CLIENT, "GetApiClient", "One API client", Auth::Bearer(Scope::API_CLIENTS_READ))
        .params(&[CLIENT_ID])
        .answers(200, &[404]),
    op(
        "patch",
        admin::CLIENT,
        "UpdateApiClient",
        "Change an API client's name, description, scopes, member CIDs, allow-list or enabled state",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .params(&[CLIENT_ID])
    .body(JSON, Schema::Built(admin_schema::update), r#"{"enabled": false}"#)
    .answers(200, &[404, 409]),
    op(
        "delete",
        admin::CLIENT,
        "DeleteApiClient",
        "Delete an API client; its tokens are refused at once",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .params(&[CLIENT_ID])
    .answers(200, &[404, 409]),
    op(
        "post",
        admin::RESET_SECRET,
        "ResetApiClientSecret",
        "Replace an API client's secret (shown this once); the old one and its tokens stop working",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .params(&[CLIENT_ID])
    .answers(200, &[404]),
    op(
        "post",
        admin::REVOKE_TOKENS,
        "RevokeApiClientTokens",
        "Refuse every token an API client holds",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .params(&[CLIENT_ID])
    .answers(200, &[404]),
    op("get", admin::AUDIT, "ListAuditEvents", "The audit log, newest first, paged", Auth::Bearer(Scope::API_CLIENTS_READ))
        .params(PAGING),
    op(
        "post",
        admin::FIXTURES,
        "LoadFixtures",
        "Load fixtures (records and canned answers behind Falcon operations) for the caller's customers, all or nothing",
        Auth::Bearer(Scope::API_CLIENTS_WRITE),
    )
    .body(
        JSON,
        Schema::Text(r#"{"oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}]}"#),
        r#"{"operation": "queryPreventionPolicies", "records": [{"id": "p1", "name": "Workstations"}]}"#,
    )
    .answers(200, &[]),
    op("get", "/console", "consoleIndex", "The web console (sign in with an admin client)", Auth::None),
    op("get", "/console/app.js", "consoleApp", "The web console's views", Auth::None),
    op("get", "/console/api.js", "consoleApi", "The web console's API calls", Auth::None),
    op("get", "/console/console.css", "consoleStyle", "The web console's styles", Auth::None),
    op("get", "/console/scopes.json", "consoleScopes", "The scope catalogue's resources, for the console", Auth::None),
    op("get", "/healthz", "healthz", "Liveness", Auth::None),
    op("get", "/readyz", "readyz", "Readiness: the store answers", Auth::None).answers(200, &[503]),
    op("get", "/metrics", "metrics", "Prometheus metrics", Auth::None),
    op("get", "/openapi.json", "openapi", "This document", Auth::None),
];

/// `sort` of `QueryDevicesByFilter`: a sortable field, alone or with `.asc`, `.desc`, `|asc`, `|desc`.
fn device_sorts() -> Value {
    let sorts: Vec<String> = talon_emulator::Field::names()
        .flat_map(|f| ["", ".asc", ".desc", "|asc", "|desc"].map(|suffix| format!("{f}{suffix}")))
        .collect();
    json!({"type": "string", "enum": sorts})
}

/// The bodies of the API-client routes, as `talon_auth::admin` checks them (names, descriptions, scopes of
/// the catalogue, CIDs, networks); unknown fields are refused (`deny_unknown_fields`).
mod admin_schema {
    use serde_json::{json, Map, Value};
    use talon_wire::scope::LEGACY_RESOURCES;
    use talon_wire::Scope;

    /// What `str::trim` removes: Unicode White_Space (spelled out: a regex `\s` differs by engine).
    const WS: &str = r"\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
    /// Unicode control characters (`char::is_control`).
    const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";

    /// Unicode format characters of the Basic Multilingual Plane, as `talon_auth::admin::FORMAT_CHARS`
    /// lists them, for a regex class. The few past it (U+110BD, the tag characters U+E0001...) the server
    /// refuses too, but an ECMA 262 pattern without the `u` flag, which JSON Schema's is, cannot name
    /// characters past U+FFFF.
    fn format_chars() -> String {
        talon_auth::admin::FORMAT_CHARS
            .iter()
            .filter(|&&(_, high)| u32::from(high) <= 0xFFFF)
            .map(|&(low, high)| format!("\\u{:04x}-\\u{:04x}", u32::from(low), u32::from(high)))
            .collect()
    }

    /// Not blank once trimmed, no control or format character inside, at most 128 characters.
    fn name() -> Value {
        let banned = format!("{CONTROL}{}", format_chars());
        let inner = format!("[^{banned}]");
        let edge = format!("[^{WS}{banned}]");
        json!({"type": "string", "minLength": 1, "maxLength": 128,
               "pattern": format!("^[{WS}]*{edge}(?:{inner}*{edge})?[{WS}]*$")})
    }

    /// At most 1024 characters; tabs and line breaks are the only control characters allowed.
    fn description() -> Value {
        json!({"type": "string", "maxLength": 1024,
               "pattern": r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"})
    }

    /// Every scope of the catalogue, and the earlier names still accepted.
    fn scopes() -> Value {
        let mut names: Vec<String> = Scope::all().map(|s| s.to_string()).collect();
        for (old, _) in LEGACY_RESOURCES {
            names.extend(["read", "write"].map(|access| format!("{old}:{access}")));
        }
        json!({"type": "array", "minItems": 1, "items": {"type": "string", "enum": names}})
    }

    /// One scope of the catalogue, or an earlier name still accepted.
    pub(super) fn scope() -> Value {
        scopes()["items"].clone()
    }

    /// A CID: 32 hex digits, with or without the console's `-XX` checksum.
    pub(super) fn cid() -> Value {
        json!({"type": "string", "pattern": "^[0-9a-fA-F]{32}(-[0-9a-fA-F]{2})?$"})
    }

    /// An IP address, or an IPv4 network in CIDR form.
    fn network() -> Value {
        let octet = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
        json!({"anyOf": [
            {"type": "string", "format": "ipv4"},
            {"type": "string", "format": "ipv6"},
            {"type": "string", "pattern": format!("^({octet}\\.){{3}}{octet}/(3[0-2]|[12]?[0-9])$")}
        ]})
    }

    fn properties() -> Map<String, Value> {
        Map::from_iter([
            ("name".to_owned(), name()),
            ("description".to_owned(), description()),
            ("scopes".to_owned(), scopes()),
            ("member_cids".to_owned(), json!({"type": "array", "maxItems": 256, "items": cid()})),
            ("allowed_ips".to_owned(), json!({"type": "array", "maxItems": 256, "items": network()})),
            ("enabled".to_owned(), json!({"type": "boolean"})),
        ])
    }

    /// `schema` that also takes `null` (which the server reads as the field not given).
    fn nullable(mut schema: Value) -> Value {
        schema["nullable"] = json!(true);
        schema
    }

    pub fn create() -> Value {
        let mut properties = properties();
        properties.insert("cid".to_owned(), nullable(cid()));
        json!({"type": "object", "additionalProperties": false, "required": ["name", "scopes"], "properties": properties})
    }

    /// Every field optional, `null` meaning unchanged; at least one given a value (else there is nothing to
    /// change: a 400).
    pub fn update() -> Value {
        let fields = properties();
        let one_given: Vec<Value> =
            fields.iter().map(|(k, v)| json!({"required": [k], "properties": {k.as_str(): v.clone()}})).collect();
        let properties: Map<String, Value> = fields.into_iter().map(|(k, v)| (k, nullable(v))).collect();
        json!({"type": "object", "additionalProperties": false, "properties": properties, "anyOf": one_given})
    }
}

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
            Auth::Bearer(scope) => json!([{ "oauth2": [scope.to_string()] }]),
            // The token endpoint takes Basic, or client_id and client_secret as form fields (which OpenAPI
            // 3.0 cannot name as a scheme); revocation and introspection are described with Basic.
            Auth::Client if o.id == wire::OAUTH2_ACCESS_TOKEN.as_str() => json!([{ "basic": [] }, {}]),
            Auth::Client => json!([{ "basic": [] }]),
        };
        let mut entry = json!({
            "operationId": o.id,
            "summary": o.summary,
            "security": security,
            "responses": responses(o),
        });
        if !o.params.is_empty() {
            entry["parameters"] = o.params.iter().map(parameter).collect();
        }
        if let Some(body) = o.body {
            entry["requestBody"] = json!({
                // Basic credentials alone make a token request.
                "required": o.id != wire::OAUTH2_ACCESS_TOKEN.as_str(),
                "content": { body.media_type: { "schema": body.schema.value(), "example": parse(body.example) } }
            });
        }
        let item = paths.entry(o.path().to_owned()).or_insert_with(|| json!({}));
        item[o.method()] = entry;
    }
    // The rest of the Falcon API, as the catalogue describes it: routed, guarded, emulated or answered 501.
    let documented = |method: &str, path: &str| OPERATIONS.iter().any(|o| o.method() == method && o.path() == path);
    for (path, method, entry) in crate::openapi_catalogue::from_catalogue(documented) {
        let item = paths.entry(path).or_insert_with(|| json!({}));
        item[method] = entry;
    }
    let scopes: Map<String, Value> =
        Scope::all().map(|s| (s.to_string(), json!(format!("Falcon scope {s}")))).collect();
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Talon", "version": env!("CARGO_PKG_VERSION"),
                  "description": "A Falcon-compatible OAuth2 authorization server with an emulated Falcon API." },
        "paths": paths,
        "components": { "securitySchemes": {
            "oauth2": { "type": "oauth2", "description": "A bearer token from the client-credentials grant",
                        "flows": { "clientCredentials": { "tokenUrl": wire::OAUTH2_ACCESS_TOKEN.path(), "scopes": scopes } } },
            "basic": { "type": "http", "scheme": "basic", "description": "The API client's ID and secret" }
        }}
    })
}

fn parameter(p: &Param) -> Value {
    let mut entry = json!({
        "name": p.name, "in": p.location.as_str(), "required": p.required, "description": p.description,
        "schema": p.schema.value(),
    });
    if p.empty_is_absent {
        entry["allowEmptyValue"] = json!(true);
    }
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

/// Every status `o` answers: its success, its own errors, and those its authentication and inputs imply.
pub fn statuses(o: &Operation) -> Vec<u16> {
    let mut codes = vec![o.success];
    codes.extend_from_slice(o.errors);
    match o.auth {
        Auth::Bearer(_) => codes.extend([401, 403, 429]),
        Auth::Client => codes.extend([400, 403, 429]),
        Auth::None => {}
    }
    if !o.params.is_empty() || o.body.is_some() {
        codes.push(400);
    }
    if o.body.is_some() {
        codes.extend([413, 415]);
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}

fn responses(o: &Operation) -> Value {
    statuses(o).into_iter().map(|code| (code.to_string(), json!({ "description": describe(code, o.auth) }))).collect()
}

fn describe(code: u16, auth: Auth) -> &'static str {
    match (code, auth) {
        (200, _) => "Success",
        (201, _) => "Created",
        (202, _) => "Accepted: the action is under way",
        (308, _) => "The API client belongs to another region: Location names its token endpoint",
        (400, _) => "Bad input, in the Falcon envelope",
        (401, Auth::Client) => "Client credentials refused",
        (401, _) => "access denied, invalid bearer token",
        (403, Auth::Client) => "Client credentials refused, or the source address is not allowed",
        (403, _) => "access denied, authorization failed (scope or IP allow-list)",
        (404, _) => "A named host, policy or API client does not exist",
        (409, _) => "An admin client may not delete or disable itself, or take its own api-clients:write",
        (413, _) => "Body too large",
        (415, _) => "Body is not of the media type the operation takes",
        (429, _) => "Rate limited; X-Ratelimit-Retryafter holds the epoch second to retry at",
        (501, _) => "This Falcon operation is not emulated by this server (Falcon envelope)",
        (503, _) => "The store does not answer",
        _ => "See the status",
    }
}
