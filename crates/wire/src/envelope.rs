//! The Falcon response envelope: `{"meta": {...}, "resources": ..., "errors": [...]}`.

use serde::{Deserialize, Deserializer, Serialize};

/// `meta` of every enveloped answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Seconds spent on the request, as a float.
    pub query_time: f64,
    pub powered_by: String,
    pub trace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

/// `meta.pagination` of query answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pagination {
    pub offset: u64,
    pub limit: u64,
    pub total: u64,
}

/// One entry of `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorItem {
    pub code: u16,
    pub message: String,
}

/// The envelope. `resources` is omitted when `None` (token failures carry no `resources` key); use
/// `Some(())` to render `"resources": null` (revoke), or `Some(vec)` for a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<R> {
    pub meta: Meta,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub resources: Option<R>,
    /// Some real answers carry `"errors": null`; it reads as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub errors: Vec<ErrorItem>,
}

fn none<R>() -> Option<R> {
    None
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ErrorItem>, D::Error> {
    Ok(Option::<Vec<ErrorItem>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Meta {
        Meta { query_time: 0.001, powered_by: "csam".into(), trace_id: "t".into(), pagination: None }
    }

    #[test]
    fn token_failure_has_no_resources_key() {
        let env: Envelope<()> =
            Envelope { meta: meta(), resources: None, errors: vec![ErrorItem { code: 403, message: "m".into() }] };
        let json = serde_json::to_value(&env).expect("serializes");
        assert!(json.get("resources").is_none());
        assert_eq!(json["errors"][0]["code"], 403);
    }

    #[test]
    fn revoke_success_has_null_resources_and_empty_errors() {
        let env = Envelope { meta: meta(), resources: Some(()), errors: vec![] };
        let json = serde_json::to_string(&env).expect("serializes");
        assert!(json.contains(r#""resources":null"#), "{json}");
        assert!(json.contains(r#""errors":[]"#), "{json}");
    }

    #[test]
    fn reads_null_errors_as_empty() {
        let body = r#"{"meta":{"query_time":0.1,"powered_by":"x","trace_id":"t"},"resources":["a"],"errors":null}"#;
        let env: Envelope<Vec<String>> = serde_json::from_str(body).expect("parses");
        assert!(env.errors.is_empty());
        assert_eq!(env.resources, Some(vec!["a".to_owned()]));
    }
}
