//! Differential test: Talon's `Harness::command` and FalconPy's `APIHarnessV2.command` (pinned, from PyPI,
//! unmodified), given the same arguments, send the same request: method, path, query (order aside), body
//! (JSON, form or multipart) and declared headers, for every catalogue operation FalconPy can call, and for
//! each deprecated alias.
//!
//! The cases come from the catalogue: every parameter the operation declares, given a value that fits it
//! (its first enum value, a number within its bounds, text of an allowed length, two items for a list),
//! path placeholders, a JSON body where one is taken, form fields and a file where the operation uploads.
//! Both clients talk to a server here that records what arrives.
//!
//! Three differences are FalconPy's and are normalised, not hidden: it sends every list repeated
//! (`ids=a&ids=b`) where the API documents `csv` (Talon joins: `ids=a,b`), so a csv parameter's values are
//! compared split at commas; with no body given it sends `{}` as JSON, compared as no body; and it writes
//! a boolean form field as Python does (`True`; Talon sends the swagger's `true`), compared in lowercase.
//! Operations
//! FalconPy cannot call are counted and named: its Uber class fills path placeholders only for the
//! operations it maps, and sends three container-registry operations to another host.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use talon::{catalogue, Args, Client, Cloud, Credentials, Harness};
use talon_wire::catalogue::{ArrayFormat, Location, Operation, Param, ParamType};

/// FalconPy sends these to the container registry's host, not the API's.
const OTHER_HOST: &[&str] = &["GetImageAssessmentReport", "DeleteImageDetails", "ImageMatchesPolicy"];

/// What arrived: one request.
#[derive(Debug, Clone)]
struct Seen {
    case: Option<usize>,
    method: String,
    path: String,
    query: Vec<(String, String)>,
    content_type: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Recorder {
    case: Arc<Mutex<Option<usize>>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn record(
    axum::extract::State(recorder): axum::extract::State<Recorder>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    if let Some(n) = path.strip_prefix("/__case/") {
        *recorder.case.lock().expect("lock") = n.parse().ok();
        return "ok".into_response();
    }
    if path == "/oauth2/token" {
        let token = json!({"access_token": "differential-token", "token_type": "bearer", "expires_in": 1799});
        return (axum::http::StatusCode::CREATED, axum::Json(token)).into_response();
    }
    let query = uri.query().map(|q| url_pairs(q.as_bytes())).unwrap_or_default();
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let case = *recorder.case.lock().expect("lock");
    recorder.seen.lock().expect("lock").push(Seen {
        case,
        method: method.to_string(),
        path,
        query,
        content_type,
        headers,
        body,
    });
    axum::Json(json!({"meta": {"query_time": 0.001, "powered_by": "recorder", "trace_id": "t"}, "resources": [], "errors": []}))
        .into_response()
}

fn url_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(bytes);
    reqwest::Url::parse(&format!("http://x/?{text}"))
        .expect("a query")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn start_recorder() -> (String, Recorder) {
    let recorder = Recorder::default();
    let app = Router::new().fallback(record).with_state(recorder.clone());
    let base = common::serve_fake(app).await;
    (base, recorder)
}

/// One call, as both clients are given it.
struct Case {
    operation: String,
    op: &'static Operation,
    query: BTreeMap<String, Value>,
    path: BTreeMap<String, Value>,
    form: BTreeMap<String, Value>,
    headers: BTreeMap<String, Value>,
    files: Vec<(String, String, String)>,
    body: Option<Value>,
}

/// A value of type `kind` that fits `param`, or `None` when its pattern asks for something this test
/// cannot make up.
fn scalar(param: &Param, kind: ParamType, salt: &str) -> Option<Value> {
    if let Some(first) = param.allowed.first() {
        return Some(first.clone());
    }
    let known = |pattern: &str| match pattern {
        "^[0-9a-z-]{36}$" => Some("0123456789abcdef0123456789abcdef-abc"),
        "^\\d+$" | "\\d{12}" | "^\\d{12}$" => Some("123456789012"),
        "^(aws|azure|gcp)$" => Some("aws"),
        "^(dry-run|full|cluster-refresh)$" => Some("full"),
        "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-4[0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-[0-9A-Fa-f]{12}$" => {
            Some("12345678-abcd-4abc-8abc-123456789abc")
        }
        ".*" => Some("anything"),
        _ => None,
    };
    Some(match kind {
        ParamType::Integer | ParamType::Number => {
            let low = param.minimum.unwrap_or(1.0).max(1.0);
            let value = param.maximum.map_or(low + 1.0, |high| (low + 1.0).min(high));
            json!(value as i64)
        }
        ParamType::Boolean => json!(true),
        _ => {
            if let Some(pattern) = &param.pattern {
                return known(pattern).map(|v| json!(v));
            }
            let mut text = format!("v-{salt}");
            let min = param.min_length.unwrap_or(0) as usize;
            while text.len() < min {
                text.push('x');
            }
            if let Some(max) = param.max_length {
                text.truncate(max.max(1) as usize);
            }
            json!(text)
        }
    })
}

/// The value given for `param`: a scalar, or two items for a list (one where only one is allowed).
fn value(param: &Param, salt: &str) -> Option<Value> {
    if !param.is_array() {
        return scalar(param, param.kind.unwrap_or(ParamType::String), salt);
    }
    let kind = param.items.unwrap_or(ParamType::String);
    let first = scalar(param, kind, &format!("{salt}-a"))?;
    let second = scalar(param, kind, &format!("{salt}-b"))?;
    let two = param.max_items.is_none_or(|m| m >= 2) && (param.allowed.is_empty() || param.allowed.len() >= 2);
    let second = if param.allowed.len() >= 2 { param.allowed[1].clone() } else { second };
    Some(if two && first != second { json!([first, second]) } else { json!([first]) })
}

/// The case for `op` called as `operation` (its ID or an alias); `None` when a required value cannot be made.
fn case(op: &'static Operation, operation: &str, n: usize) -> Option<Case> {
    let mut case = Case {
        operation: operation.to_owned(),
        op,
        query: BTreeMap::new(),
        path: BTreeMap::new(),
        form: BTreeMap::new(),
        headers: BTreeMap::new(),
        files: vec![],
        body: None,
    };
    for param in &op.params {
        let salt = format!("{n}-{}", param.name.to_ascii_lowercase());
        match param.location {
            Location::Body => case.body = Some(json!({"case": n, "probe": ["x", 1, true], "nested": {"k": salt}})),
            Location::Header if param.name.eq_ignore_ascii_case("authorization") => {}
            _ if param.kind == Some(ParamType::File) => {
                case.files.push((param.name.clone(), format!("case-{n}.txt"), format!("content of case {n}")))
            }
            location => {
                let Some(v) = value(param, &salt) else {
                    if param.required {
                        return None;
                    }
                    continue;
                };
                let target = match location {
                    Location::Query => &mut case.query,
                    Location::Path => &mut case.path,
                    Location::FormData => &mut case.form,
                    _ => &mut case.headers,
                };
                target.insert(param.name.clone(), v);
            }
        }
    }
    Some(case)
}

/// The case as the Python script reads it. FalconPy takes a path value as a keyword named like the
/// placeholder in lowercase snake case (`ID` as `id`, `distinct-field` as `distinct_field`).
fn for_python(case: &Case) -> Value {
    let path_kwargs: serde_json::Map<String, Value> =
        case.path.iter().map(|(k, v)| (k.to_ascii_lowercase().replace('-', "_"), v.clone())).collect();
    let files: Vec<Value> =
        case.files.iter().map(|(f, n, c)| json!({"field": f, "file_name": n, "content": c})).collect();
    json!({
        "operation": case.operation,
        "query": case.query,
        "path_kwargs": path_kwargs,
        "form": case.form,
        "headers": case.headers,
        "files": files,
        "body": case.body,
    })
}

fn args(case: &Case) -> Args {
    let mut args = Args::new();
    for (name, value) in case.query.iter().chain(&case.path).chain(&case.form).chain(&case.headers) {
        args = args.param(name, value.clone());
    }
    for (field, name, content) in &case.files {
        args = args.file(field, name, content.as_bytes().to_vec());
    }
    if let Some(body) = &case.body {
        args = args.body(body.clone());
    }
    args
}

/// A request reduced to what must agree, with FalconPy's two differences normalised (see the header).
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    method: String,
    path: String,
    query: BTreeSet<(String, String, usize)>,
    body: String,
    headers: BTreeMap<String, String>,
}

fn shape(seen: &Seen, op: &Operation) -> Shape {
    let csv: BTreeSet<&str> = op
        .params
        .iter()
        .filter(|p| p.is_array() && p.array_format == Some(ArrayFormat::Csv))
        .map(|p| p.name.as_str())
        .collect();
    let mut counted: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (name, value) in &seen.query {
        let values: Vec<&str> = if csv.contains(name.as_str()) { value.split(',').collect() } else { vec![value] };
        for v in values {
            *counted.entry((name.clone(), v.to_owned())).or_default() += 1;
        }
    }
    let query = counted.into_iter().map(|((k, v), n)| (k, v, n)).collect();
    let base_type = seen.content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let body = match base_type.as_str() {
        _ if seen.body.is_empty() => "none".to_owned(),
        "application/json" => match serde_json::from_slice::<Value>(&seen.body) {
            Ok(Value::Object(map)) if map.is_empty() => "none".to_owned(),
            Ok(v) => format!("json {v}"),
            Err(_) => format!("bad json {}", String::from_utf8_lossy(&seen.body)),
        },
        "application/x-www-form-urlencoded" => {
            let mut pairs: Vec<(String, String)> =
                url_pairs(&seen.body).into_iter().map(|(k, v)| (k.clone(), boolean_lowercase(op, &k, v))).collect();
            pairs.sort();
            format!("form {pairs:?}")
        }
        "multipart/form-data" => {
            let parts: Vec<_> = multipart_parts(&seen.content_type, &seen.body)
                .into_iter()
                .map(|(k, file, v)| (k.clone(), file, boolean_lowercase(op, &k, v)))
                .collect();
            format!("multipart {parts:?}")
        }
        other => format!("{other} {}", String::from_utf8_lossy(&seen.body)),
    };
    let headers = op
        .params
        .iter()
        .filter(|p| p.location == Location::Header && !p.name.eq_ignore_ascii_case("authorization"))
        .filter_map(|p| {
            let v = seen.headers.get(p.name.as_str())?.to_str().ok()?;
            Some((p.name.to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    Shape { method: seen.method.clone(), path: seen.path.clone(), query, body, headers }
}

/// A boolean form field's value in lowercase (FalconPy's `True` is the API's `true`); others as they are.
fn boolean_lowercase(op: &Operation, field: &str, value: String) -> String {
    let boolean =
        op.param(field).is_some_and(|p| p.location == Location::FormData && p.kind == Some(ParamType::Boolean));
    if boolean {
        value.to_ascii_lowercase()
    } else {
        value
    }
}

/// A multipart body's parts as (name, file name, content), sorted: boundaries and part headers other
/// than the names differ between HTTP libraries and say nothing about the call.
fn multipart_parts(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, String)> {
    let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"')) else {
        return vec![];
    };
    let text = String::from_utf8_lossy(body);
    let mut parts: Vec<(String, Option<String>, String)> = text
        .split(&format!("--{boundary}"))
        .filter_map(|part| {
            let (head, content) = part.split_once("\r\n\r\n")?;
            let disposition = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))?;
            let field = |key: &str| {
                disposition
                    .split(';')
                    .map(str::trim)
                    .find_map(|kv| kv.strip_prefix(key))
                    .map(|v| v.trim_matches('"').to_owned())
            };
            Some((field("name=")?, field("filename="), content.strip_suffix("\r\n").unwrap_or(content).to_owned()))
        })
        .collect();
    parts.sort();
    parts
}

fn python() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let setup = Command::new("bash").arg(root.join("scripts/python-env.sh")).output().expect("run python-env.sh");
    assert!(
        setup.status.success(),
        "scripts/python-env.sh failed (this test needs the pinned FalconPy):\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    String::from_utf8(setup.stdout).expect("utf-8").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn talon_harness_sends_what_falconpy_uber_sends_for_every_operation_it_can_call() {
    let python = python();
    let mut cases = Vec::new();
    let mut unmade = Vec::new();
    for (n, op) in catalogue().operations().iter().enumerate() {
        if op.scope.is_none() || OTHER_HOST.contains(&op.id.as_str()) {
            continue; // the OAuth2 operations take client credentials, not arguments; see OTHER_HOST
        }
        for (k, name) in std::iter::once(&op.id).chain(&op.aliases).enumerate() {
            match case(op, name, n * 10 + k) {
                Some(c) => cases.push(c),
                None => unmade.push(name.clone()),
            }
        }
    }

    // FalconPy first, against one recorder.
    let (falconpy_base, falconpy_seen) = start_recorder().await;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let python_cases: Vec<Value> = cases.iter().map(for_python).collect();
    std::fs::write(file.path(), serde_json::to_vec(&python_cases).expect("json")).expect("write cases");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/falconpy_uber_record.py");
    let out = tokio::task::spawn_blocking({
        let (python, base, path) = (python.clone(), falconpy_base.clone(), file.path().to_owned());
        move || {
            Command::new(python)
                .arg(script)
                .arg(path)
                .env("TALON_BASE_URL", base)
                .env("TALON_CLIENT_ID", "differential")
                .env("TALON_CLIENT_SECRET", "differential-secret")
                .output()
                .expect("run FalconPy")
        }
    })
    .await
    .expect("join");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "FalconPy script failed:\n{printed}\n{}", String::from_utf8_lossy(&out.stderr));
    let falconpy: Vec<Seen> = falconpy_seen.seen.lock().expect("lock").clone();

    // Then Talon, against another.
    let (talon_base, talon_seen) = start_recorder().await;
    let client = Client::builder(Credentials::new("differential", "differential-secret", Cloud::Custom(talon_base)))
        .build()
        .expect("client");
    let harness = Harness::new(client);
    let mut mismatches = Vec::new();
    let mut falconpy_cannot = BTreeSet::new();
    let mut compared = BTreeSet::new();
    let mut collections = BTreeSet::new();
    for (n, case) in cases.iter().enumerate() {
        let theirs: Vec<&Seen> = falconpy.iter().filter(|s| s.case == Some(n)).collect();
        let answer = harness.command(&case.operation, args(case)).await;
        let ours: Vec<Seen> = std::mem::take(&mut *talon_seen.seen.lock().expect("lock"));
        if let Err(e) = answer {
            mismatches.push(format!("{}: Talon refused the call: {e}", case.operation));
            continue;
        }
        let [theirs] = theirs.as_slice() else {
            falconpy_cannot.insert(format!("{} (sent {} requests)", case.operation, theirs.len()));
            continue;
        };
        if theirs.path.contains('{') || theirs.path.contains("%7B") {
            falconpy_cannot.insert(format!("{} (placeholder left in {})", case.operation, theirs.path));
            continue;
        }
        let [ours] = ours.as_slice() else {
            mismatches.push(format!("{}: Talon sent {} requests", case.operation, ours.len()));
            continue;
        };
        let (a, b) = (shape(theirs, case.op), shape(ours, case.op));
        if a == b {
            compared.insert(case.operation.clone());
            collections.insert(case.op.collection.clone());
        } else {
            mismatches.push(format!("{}:\n  FalconPy {a:?}\n  Talon    {b:?}", case.operation));
        }
    }

    let all: BTreeSet<String> = catalogue().collections().into_iter().map(str::to_owned).collect();
    let missing: Vec<&String> = all.iter().filter(|c| !collections.contains(*c) && c.as_str() != "oauth2").collect();
    println!(
        "{} calls compared equal ({} collections of {}); FalconPy cannot call {}: {:?}; no value made for {:?}",
        compared.len(),
        collections.len(),
        all.len(),
        falconpy_cannot.len(),
        falconpy_cannot,
        unmade
    );
    assert!(mismatches.is_empty(), "{} differ:\n{}", mismatches.len(), mismatches.join("\n"));
    assert!(compared.len() >= 300, "only {} operations compared", compared.len());
    assert!(missing.is_empty(), "collections with no operation compared: {missing:?}");
    let with_path = compared.iter().filter(|id| catalogue().get(id).is_some_and(|o| o.path.contains('{'))).count();
    let with_file = compared.iter().filter(|id| catalogue().get(id).is_some_and(|o| o.takes_file())).count();
    assert!(with_path >= 10 && with_file >= 10, "paths with parameters {with_path}, uploads {with_file}");
}
