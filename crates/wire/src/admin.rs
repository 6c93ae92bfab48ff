//! The admin API's bodies: API clients as the admin API shows them, the create and update requests, and
//! audit log entries. The CLI's `--json` output uses the same shapes, so local and remote agree.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The admin API's routes (also the console's).
pub mod path {
    /// List (GET, paged) and create (POST) API clients.
    pub const CLIENTS: &str = "/api-clients/entities/clients/v1";
    /// One client: show (GET), update (PATCH), delete (DELETE).
    pub const CLIENT: &str = "/api-clients/entities/clients/v1/{id}";
    /// Replace a client's secret (POST); answers the new secret once.
    pub const RESET_SECRET: &str = "/api-clients/entities/clients/v1/{id}/reset-secret";
    /// End every live token of a client (POST).
    pub const REVOKE_TOKENS: &str = "/api-clients/entities/clients/v1/{id}/revoke-tokens";
    /// The audit log (GET, paged, newest first).
    pub const AUDIT: &str = "/api-clients/entities/audit/v1";
    /// Load fixtures (POST): records and canned answers behind Falcon operations, for the caller's customers.
    pub const FIXTURES: &str = "/api-clients/entities/fixtures/v1";

    /// A path template with `{id}` filled in.
    pub fn with_id(template: &str, id: &str) -> String {
        template.replace("{id}", id)
    }
}

/// Most items a list answer holds per page, and the default page size.
pub const MAX_PAGE: u64 = 500;
pub const DEFAULT_PAGE: u64 = 100;

/// What a client listing asks, as the admin API's query parameters say it: filters (`name` held by the
/// name, `scope` held, `enabled`, `cid`), `sort` (`created_at` or `name`, `.asc`/`.desc`) and the page
/// (`limit`, and `offset` or `after`, the seek token of the previous page, which wins over an offset).
/// Checked where it is run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientListing {
    pub name: Option<String>,
    pub scope: Option<String>,
    pub enabled: Option<bool>,
    pub cid: Option<String>,
    pub sort: Option<String>,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
    pub after: Option<String>,
}

impl ClientListing {
    /// The listing as query parameters, those given only.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let text = [
            ("name", &self.name),
            ("scope", &self.scope),
            ("cid", &self.cid),
            ("sort", &self.sort),
            ("after", &self.after),
        ];
        let mut pairs: Vec<(&'static str, String)> =
            text.into_iter().filter_map(|(k, v)| v.clone().map(|v| (k, v))).collect();
        pairs.extend(self.enabled.map(|e| ("enabled", e.to_string())));
        pairs.extend(self.offset.map(|n| ("offset", n.to_string())));
        pairs.extend(self.limit.map(|n| ("limit", n.to_string())));
        pairs
    }

    /// Reads the parameters through `get` (a query string's values by name); a number or boolean that
    /// is not one is an error naming the parameter.
    pub fn read<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<ClientListing, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            get(name).map(|v| v.parse::<u64>().map_err(|_| format!("{name} must be a whole number"))).transpose()
        };
        let enabled = match get("enabled") {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err("enabled must be true or false".into()),
        };
        Ok(ClientListing {
            name: get("name").map(str::to_owned),
            scope: get("scope").map(str::to_owned),
            enabled,
            cid: get("cid").map(str::to_owned),
            sort: get("sort").map(str::to_owned),
            offset: number("offset")?,
            limit: number("limit")?,
            after: get("after").map(str::to_owned),
        })
    }
}

/// `meta.pagination` of the client listing: the offset style's fields, and `after`, the token that asks
/// for the next page by seek (absent on the last page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientPagination {
    pub offset: u64,
    pub limit: u64,
    pub total: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// An API client as the admin API answers it. `client_secret` is present only in the answers of create
/// and reset-secret, the one time it is shown; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiClientView {
    pub client_id: String,
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
    pub cid: String,
    pub member_cids: Vec<String>,
    pub allowed_ips: Vec<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl fmt::Debug for ApiClientView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClientView")
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .field("cid", &self.cid)
            .field("enabled", &self.enabled)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// `POST /api-clients/entities/clients/v1`. Unknown fields are refused (a typo must not be ignored), and
/// so is anything but a JSON object (see [`ObjectOnly`]). `enabled` defaults to true, on the wire and in
/// `Default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct CreateClientRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub scopes: Vec<String>,
    /// The customer the client belongs to; the server's default customer when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub member_cids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_ips: Vec<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

impl Default for CreateClientRequest {
    fn default() -> CreateClientRequest {
        CreateClientRequest {
            name: String::new(),
            description: String::new(),
            scopes: vec![],
            cid: None,
            member_cids: vec![],
            allowed_ips: vec![],
            enabled: true,
        }
    }
}

/// `PATCH /api-clients/entities/clients/v1/{id}`: absent fields keep their value; a list replaces the list.
/// A JSON object only, without unknown fields, as the create request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct UpdateClientRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_cids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// Reads a request from a map (a JSON object) only. serde's derive also reads a struct from a sequence,
/// field by position (`[null,null,null,null,null,false]` would be an update disabling a client), which no
/// client of this API means. The derives above are `remote = "Self"`, so their code is the inherent
/// `deserialize` and `serialize` these impls call.
struct ObjectOnly<T>(std::marker::PhantomData<T>);

macro_rules! object_only {
    ($name:ident) => {
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$name, D::Error> {
                deserializer.deserialize_map(ObjectOnly::<$name>(std::marker::PhantomData))
            }
        }

        impl<'de> serde::de::Visitor<'de> for ObjectOnly<$name> {
            type Value = $name;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<$name, A::Error> {
                $name::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                $name::serialize(self, serializer)
            }
        }
    };
}

object_only!(CreateClientRequest);
object_only!(UpdateClientRequest);

/// One entry of the audit log: who did what to which client, when, from where, in which request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// The admin client that acted, or the client ID a failed authentication named (or `-`).
    pub actor: String,
    /// e.g. `client.create`, `client.reset-secret`, `auth.failure-burst`.
    pub action: String,
    /// The client acted on, when there is one.
    pub target: Option<String>,
    pub source_ip: String,
    pub trace_id: String,
    /// What changed, in words (never a secret).
    pub details: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ApiClientView {
        ApiClientView {
            client_id: "c".into(),
            name: "n".into(),
            description: String::new(),
            scopes: vec!["devices:read".into()],
            cid: "x".into(),
            member_cids: vec![],
            allowed_ips: vec![],
            enabled: true,
            created_at: 1,
            updated_at: 1,
            last_used_at: None,
            client_secret: Some("SEKRIT".into()),
        }
    }

    #[test]
    fn debug_hides_the_secret_and_json_omits_it_when_absent() {
        assert!(!format!("{:?}", view()).contains("SEKRIT"));
        let json = serde_json::to_value(ApiClientView { client_secret: None, ..view() }).expect("json");
        assert!(json.get("client_secret").is_none());
        assert_eq!(json["scopes"][0], "devices:read");
    }

    #[test]
    fn requests_refuse_unknown_fields_and_default_sensibly() {
        let create: CreateClientRequest =
            serde_json::from_str(r#"{"name":"a","scopes":["devices:read"]}"#).expect("create");
        assert!(create.enabled);
        assert!(create.cid.is_none());
        assert!(CreateClientRequest::default().enabled, "a new client is enabled unless said otherwise");
        assert!(serde_json::from_str::<CreateClientRequest>(r#"{"name":"a","scopes":[],"scope":[]}"#).is_err());
        assert!(serde_json::from_str::<UpdateClientRequest>(r#"{"nmae":"a"}"#).is_err());
        let update: UpdateClientRequest = serde_json::from_str(r#"{"enabled":false}"#).expect("update");
        assert_eq!(update.enabled, Some(false));
        assert_eq!(path::with_id(path::RESET_SECRET, "ab"), "/api-clients/entities/clients/v1/ab/reset-secret");
    }

    #[test]
    fn requests_are_json_objects_only() {
        // Found by fuzzing (fuzz/fuzz_targets/admin_json.rs): serde's derive also reads a struct from an
        // array, field by position, so `[]` was an empty update and `[null,...,false]` disabled a client.
        assert!(serde_json::from_str::<UpdateClientRequest>("[]").is_err());
        assert!(serde_json::from_str::<UpdateClientRequest>("[null,null,null,null,null,false]").is_err());
        assert!(serde_json::from_str::<CreateClientRequest>(r#"["a","",["devices:read"]]"#).is_err());
        let update: UpdateClientRequest = serde_json::from_str(r#"{"name":"b"}"#).expect("an object reads");
        assert_eq!(update.name.as_deref(), Some("b"));
        let create =
            CreateClientRequest { name: "a".into(), scopes: vec!["devices:read".into()], ..Default::default() };
        let json = serde_json::to_string(&create).expect("serializes");
        assert_eq!(json, r#"{"name":"a","scopes":["devices:read"],"enabled":true}"#);
        assert_eq!(serde_json::from_str::<CreateClientRequest>(&json).expect("reads back"), create);
    }
}
