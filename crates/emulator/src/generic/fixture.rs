//! Fixtures: a user's own data behind any operation. A fixture file is JSON (`.json`: one fixture or a list
//! of them) or JSON lines (`.jsonl`: one fixture a line). A fixture is either records of a resource the
//! generic engine serves:
//!
//! ```json
//! {"operation": "queryPreventionPolicies", "customer": "<cid>", "records": [{"id": "p1", "name": "..."}]}
//! {"resource": "policy/prevention", "records": [{"name": "..."}]}
//! ```
//!
//! (the resource named directly or by any of its operations; a record without its ID field gets one made
//! by the server; `customer` defaults to the store's default customer), or a canned answer for an
//! operation the engine does not shape (those answering 501):
//!
//! ```json
//! {"operation": "GetSCMIntegrations", "match": {"provider": "github"}, "status": 200,
//!  "headers": {"X-Custom": "1"}, "body": {"resources": []}}
//! ```
//!
//! (`match` is the query parameters the request must carry, each with that value; the first canned answer
//! whose match holds is given). Everything is checked before anything is written; an error names the
//! file, the line and what is wrong.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use talon_wire::catalogue::catalogue;

use super::entity::{check_id, check_size};
use super::select::Object;
use super::{GenericOp, Resource};

/// The resource canned answers are kept under, per customer (records named `<operation>:<n>`).
pub const CANNED_RESOURCE: &str = "talon/canned-answers";
/// Headers a canned answer may not set: the message's framing and connection (a wrong one would corrupt
/// the connection the answer travels on), its content type (the body is JSON), cookies, and what the
/// server sets on every answer (trace ID, region, rate limits).
pub const RESERVED_HEADERS: &[&str] = &[
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "content-type",
    "set-cookie",
    "x-cs-traceid",
    "x-cs-region",
    "date",
];
/// Largest canned body, as JSON text.
pub const MAX_CANNED_BODY_BYTES: usize = 1024 * 1024;

/// One fixture, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Fixture {
    Records { customer: Option<String>, resource: Resource, records: Vec<(String, Object)> },
    Canned { customer: Option<String>, answer: Canned },
}

/// A canned answer of an operation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Canned {
    pub operation: String,
    #[serde(default, rename = "match")]
    pub matches: BTreeMap<String, String>,
    pub status: u16,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Json,
}

/// Whether a stored canned answer (its JSON record) applies to a request with these query parameters,
/// read off the record without parsing all of it (the body may be large).
pub fn record_applies(record: &serde_json::Map<String, Json>, param: impl Fn(&str) -> Option<String>) -> bool {
    match record.get("match") {
        None | Some(Json::Null) => true,
        Some(Json::Object(m)) => {
            m.iter().all(|(name, value)| value.as_str().is_some_and(|v| param(name).as_deref() == Some(v)))
        }
        Some(_) => false,
    }
}

impl Canned {
    /// The ID it is kept under: its operation and a digest of its match, so that loading the same
    /// answer again replaces it.
    pub fn key(&self) -> String {
        use sha2::{Digest, Sha256};
        let matches = serde_json::to_string(&self.matches).unwrap_or_default();
        format!("{}:{}", self.operation, &hex::encode(Sha256::digest(matches))[..16])
    }
}

/// Why a fixture file was refused: where, and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct FixtureError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses the fixture file `file` (its name decides the form: `.jsonl` a fixture a line, else JSON).
/// `make_id` gives the ID of a record that has none.
pub fn parse(file: &str, text: &str, make_id: &mut dyn FnMut() -> String) -> Result<Vec<Fixture>, FixtureError> {
    let fail = |line: usize, message: String| FixtureError { file: file.to_owned(), line, message };
    if file.ends_with(".jsonl") {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let value: Json = serde_json::from_str(line).map_err(|e| fail(n + 1, e.to_string()))?;
            out.push(one(&value, make_id).map_err(|m| fail(n + 1, m))?);
        }
        return Ok(out);
    }
    let value: Json = serde_json::from_str(text).map_err(|e| fail(e.line(), e.to_string()))?;
    let items = match value {
        Json::Array(items) => items,
        other => vec![other],
    };
    // The line each item starts on, for messages about one item of a list.
    let starts = item_lines(text, items.len());
    items.iter().zip(starts).map(|(item, line)| one(item, make_id).map_err(|m| fail(line, m))).collect()
}

/// The line on which each of the top-level list's `n` items starts (1 for a single object).
fn item_lines(text: &str, n: usize) -> Vec<usize> {
    let mut lines = Vec::with_capacity(n);
    let (mut depth, mut quoted, mut escaped, mut line) = (0usize, false, false, 1usize);
    let top_list = text.trim_start().starts_with('[');
    for c in text.chars() {
        match c {
            '\n' => line += 1,
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '{' | '[' if !quoted => {
                if (top_list && depth == 1 && c == '{') || (!top_list && depth == 0) {
                    lines.push(line);
                }
                depth += 1;
            }
            '}' | ']' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    lines.resize(n, line);
    lines
}

fn one(value: &Json, make_id: &mut dyn FnMut() -> String) -> Result<Fixture, String> {
    let Some(object) = value.as_object() else { return Err("a fixture must be a JSON object".into()) };
    let customer = match object.get("customer") {
        None | Some(Json::Null) => None,
        Some(Json::String(c)) => Some(c.clone()),
        Some(_) => return Err("customer must be a CID (text)".into()),
    };
    let operation =
        object.get("operation").map(|o| o.as_str().ok_or("operation must be an operation ID")).transpose()?;
    if object.contains_key("records") {
        let generic = match (operation, object.get("resource")) {
            (Some(id), None) => {
                let op = catalogue().resolve(id).map_err(|e| e.to_string())?;
                GenericOp::of(op)
                    .ok_or_else(|| format!("{id} is not answered by the generic engine: give it a canned answer"))?
            }
            (None, Some(Json::String(r))) => catalogue()
                .operations()
                .iter()
                .filter_map(GenericOp::of)
                .find(|g| g.resource.as_str() == r)
                .ok_or_else(|| format!("no operation works on the resource {r:?} (see talon ops show <operation>)"))?,
            _ => return Err("records need either operation or resource (not both)".into()),
        };
        let Some(Json::Array(records)) = object.get("records") else { return Err("records must be a list".into()) };
        let records = records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let mut r = r.as_object().cloned().ok_or_else(|| format!("record {}: not a JSON object", i + 1))?;
                let id = match r.get(generic.id_field) {
                    Some(Json::String(id)) => id.clone(),
                    None => make_id(),
                    Some(_) => return Err(format!("record {}: {} must be text", i + 1, generic.id_field)),
                };
                check_id(&id).map_err(|e| format!("record {}: {e}", i + 1))?;
                r.insert(generic.id_field.to_owned(), Json::String(id.clone()));
                check_size(&r).map_err(|e| format!("record {}: {e}", i + 1))?;
                Ok((id, r))
            })
            .collect::<Result<Vec<_>, String>>()?;
        return Ok(Fixture::Records { customer, resource: generic.resource, records });
    }
    let mut answer: Canned = serde_json::from_value(value.clone()).map_err(|e| {
        format!("a fixture is records ({{\"operation\", \"records\"}}) or a canned answer ({{\"operation\", \"status\", \"body\"}}): {e}")
    })?;
    let op = catalogue().resolve(&answer.operation).map_err(|e| e.to_string())?;
    answer.operation = op.id.clone();
    // A final answer: 1xx are interim statuses, not answers.
    if !(200..=599).contains(&answer.status) {
        return Err(format!("status {} is not the status of an answer (200 to 599)", answer.status));
    }
    for (name, value) in &answer.headers {
        let valid_name = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let valid_value = value.bytes().all(|b| b == b' ' || b == b'\t' || (0x21..0x7f).contains(&b));
        if !valid_name || !valid_value {
            return Err(format!("header {name:?}: a name of letters, digits and dashes and a printable ASCII value"));
        }
        let lowered = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lowered.as_str())
            || lowered.starts_with("proxy-")
            || lowered.starts_with("x-ratelimit-")
        {
            return Err(format!(
                "header {name:?} is the server's to set (framing, connection, content type, rate limits, trace)"
            ));
        }
    }
    if serde_json::to_vec(&answer.body).map_or(usize::MAX, |b| b.len()) > MAX_CANNED_BODY_BYTES {
        return Err(format!("a canned body may be at most {MAX_CANNED_BODY_BYTES} bytes"));
    }
    Ok(Fixture::Canned { customer, answer })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("made{n}")
        }
    }

    #[test]
    fn records_name_their_resource_by_operation_or_directly() {
        let text = r#"[
  {"operation": "queryPreventionPolicies", "records": [{"id": "p1", "name": "a"}, {"name": "b"}]},
  {"resource": "alerts/alerts", "customer": "c1", "records": [{"composite_id": "c1:ind:x:1", "status": "new"}]}
]"#;
        let parsed = parse("f.json", text, &mut ids()).expect("parsed");
        let Fixture::Records { resource, records, customer } = &parsed[0] else { panic!("records") };
        assert_eq!((resource.as_str(), customer), ("policy/prevention", &None));
        assert_eq!(records.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["p1", "made1"]);
        assert_eq!(records[1].1["id"], "made1");
        let Fixture::Records { resource, records, customer } = &parsed[1] else { panic!("records") };
        assert_eq!((resource.as_str(), customer.as_deref()), ("alerts/alerts", Some("c1")));
        assert_eq!(records[0].0, "c1:ind:x:1", "alerts are named by composite_id");
    }

    #[test]
    fn canned_answers_match_on_parameters() {
        let text = "{\"operation\": \"GetSCMConnection\", \"status\": 200, \"body\": {\"resources\": [1]}}\n\n\
                    {\"operation\": \"ListSCMConnections\", \"match\": {\"provider\": \"github\"}, \"status\": 418}\n";
        let parsed = parse("f.jsonl", text, &mut ids()).expect("parsed");
        let Fixture::Canned { answer, .. } = &parsed[1] else { panic!("canned") };
        let Ok(Json::Object(record)) = serde_json::to_value(answer) else { panic!("a record") };
        assert!(record_applies(&record, |p| (p == "provider").then(|| "github".to_owned())));
        assert!(!record_applies(&record, |p| (p == "provider").then(|| "gitlab".to_owned())));
        assert!(!record_applies(&record, |_| None));
        assert_eq!(answer.status, 418);
    }

    #[test]
    fn errors_name_the_file_and_the_line() {
        let at = |file: &str, text: &str| parse(file, text, &mut ids()).expect_err("refused");
        let e = at(
            "bad.jsonl",
            "{\"operation\": \"GetSCMConnection\", \"status\": 200}\n{\"operation\": \"NoSuchOp\", \"status\": 200}\n",
        );
        assert_eq!((e.file.as_str(), e.line), ("bad.jsonl", 2));
        assert!(e.message.contains("NoSuchOp"), "{e}");
        let e = at("bad.json", "[\n  {\"resource\": \"policy/prevention\", \"records\": []},\n  {\"resource\": \"policy/prevention\",\n   \"records\": [3]}\n]");
        assert_eq!(e.line, 3, "{e}");
        assert!(e.message.contains("record 1"), "{e}");
        let e = at("syntax.json", "{\n \"operation\": \"x\",\n oops\n}");
        assert_eq!(e.line, 3, "{e}");
        for (text, what) in [
            (r#"{"resource": "no/such", "records": []}"#, "unknown resource"),
            (r#"{"operation": "queryPreventionPolicies", "resource": "policy/prevention", "records": []}"#, "both"),
            (r#"{"operation": "GetSCMConnection", "status": 700}"#, "a status out of range"),
            (r#"{"operation": "GetSCMConnection", "status": 200, "headers": {"bad name": "x"}}"#, "a bad header"),
            (r#"{"operation": "GetSCMConnection", "status": 200, "headers": {"Content-Length": "0"}}"#, "framing"),
            (
                r#"{"operation": "GetSCMConnection", "status": 200, "headers": {"Transfer-Encoding": "chunked"}}"#,
                "framing",
            ),
            (
                r#"{"operation": "GetSCMConnection", "status": 200, "headers": {"X-RateLimit-Remaining": "9"}}"#,
                "limits",
            ),
            (r#"{"operation": "GetSCMConnection", "status": 200, "headers": {"X-A": "caf\u00e9"}}"#, "non-ASCII"),
            (r#"{"operation": "GetSCMConnection", "status": 101}"#, "an interim status"),
            (r#"{"operation": "queryPreventionPolicies", "records": [{"id": ""}]}"#, "an empty ID"),
            (r#"7"#, "not an object"),
        ] {
            assert!(parse("x.json", text, &mut ids()).is_err(), "{what}");
        }
    }
}
