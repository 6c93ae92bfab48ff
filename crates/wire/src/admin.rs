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

    /// A path template with `{id}` filled in.
    pub fn with_id(template: &str, id: &str) -> String {
        template.replace("{id}", id)
    }
}

/// Most items a list answer holds per page, and the default page size.
pub const MAX_PAGE: u64 = 500;
pub const DEFAULT_PAGE: u64 = 100;

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

/// `POST /api-clients/entities/clients/v1`. Unknown fields are refused (a typo must not be ignored).
/// `enabled` defaults to true, on the wire and in `Default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
}
