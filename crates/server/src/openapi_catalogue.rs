//! The OpenAPI entries of the Falcon catalogue's operations that `openapi::OPERATIONS` does not describe by
//! hand: each as the catalogue describes it (parameters with their types, array styles, enums, bounds and
//! patterns; a JSON or form body), with the bearer scope the guard checks and the answers it can give.
//! Those not emulated are tagged `x-talon-answer: 501` (401, 403, 429, 501), emulated ones `emulated`; all
//! carry `x-talon-schema: catalogue` (the catalogue's facts, which say less than a handler checks), so
//! tools can leave them out (the schemathesis run does).

use serde_json::{json, Map, Value};
use talon_wire::catalogue::{catalogue, ArrayFormat, Location, Operation, Param, ParamType};

use crate::routes::falcon::{answer, Answer};

/// `(path, lowercase method, entry)` for every catalogue operation that `documented` (method and route)
/// leaves out, one per route (a route with several operation IDs lists the others under
/// `x-talon-operation-ids`).
pub fn from_catalogue(documented: impl Fn(&str, &str) -> bool) -> Vec<(String, &'static str, Value)> {
    let c = catalogue();
    c.operations()
        .iter()
        .filter(|o| !documented(o.method.lowercase(), &openapi_path(o)))
        .filter(|o| c.on_route(o.method, &o.path).next().is_some_and(|first| first.id == o.id))
        .map(|o| (openapi_path(o), o.method.lowercase(), entry(o)))
        .collect()
}

/// The route with every placeholder named (FalconPy's anonymous `{}` takes its path parameter's name).
pub fn openapi_path(op: &Operation) -> String {
    let mut names = op.placeholders().into_iter();
    op.path
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                format!("{{{}}}", names.next().unwrap_or("param"))
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn entry(op: &Operation) -> Value {
    let ids: Vec<&str> = catalogue().on_route(op.method, &op.path).map(|o| o.id.as_str()).collect();
    let scope = op.scope.map(|s| s.to_string()).unwrap_or_default();
    let mut e = json!({
        "operationId": op.id,
        "tags": [op.collection],
        "x-talon-scope-known": op.scope_known,
        "x-talon-schema": "catalogue",
        "security": [{ "oauth2": [scope] }],
        "responses": {
            "401": { "description": "access denied, invalid bearer token" },
            "403": { "description": "access denied, authorization failed (scope or IP allow-list)" },
            "429": { "description": "Rate limited; X-Ratelimit-Retryafter holds the epoch second to retry at" },
        }
    });
    match answer(op) {
        Answer::NotImplemented => {
            e["summary"] = json!(format!("{} ({}): not emulated by this server", op.id, op.collection));
            e["x-talon-answer"] = json!("501");
            e["responses"]["501"] =
                json!({ "description": "This Falcon operation is not emulated by this server (Falcon envelope)" });
        }
        answer @ (Answer::Emulated | Answer::Generic) => {
            let how = answer.as_str();
            e["summary"] = json!(format!("{} ({}): {how}", op.id, op.collection));
            e["x-talon-answer"] = json!(how);
            e["responses"]["2XX"] = json!({ "description": "The answer, in the Falcon envelope" });
            e["responses"]["400"] = json!({ "description": "A parameter or the body is not valid" });
            e["responses"]["404"] = json!({ "description": "A named entity does not exist" });
        }
    }
    if ids.len() > 1 {
        e["x-talon-operation-ids"] = json!(ids);
    }
    if !op.aliases.is_empty() {
        e["x-talon-aliases"] = json!(op.aliases);
    }
    let parameters: Vec<Value> = op
        .params
        .iter()
        // OpenAPI ignores a header parameter named Authorization: the security scheme says it.
        .filter(|p| matches!(p.location, Location::Query | Location::Path | Location::Header))
        .filter(|p| !p.name.eq_ignore_ascii_case("authorization"))
        .map(parameter)
        .collect();
    if !parameters.is_empty() {
        e["parameters"] = json!(parameters);
    }
    if let Some(body) = request_body(op) {
        e["requestBody"] = body;
    }
    e
}

fn parameter(p: &Param) -> Value {
    let mut v = json!({
        "name": p.name,
        "in": p.location.as_str(),
        "required": p.required || p.location == Location::Path,
        "schema": schema(p),
    });
    if p.is_array() {
        v["style"] = json!("form");
        v["explode"] = json!(p.array_format != Some(ArrayFormat::Csv));
    }
    v
}

/// The JSON schema of a parameter's value, from the catalogue's facts.
fn schema(p: &Param) -> Value {
    let mut s = Map::new();
    let kind = |k: ParamType| match k {
        ParamType::File => json!({ "type": "string", "format": "binary" }),
        other => json!({ "type": other.as_str() }),
    };
    match p.kind {
        Some(ParamType::Array) => {
            s.insert("type".into(), json!("array"));
            s.insert("items".into(), kind(p.items.unwrap_or(ParamType::String)));
        }
        Some(k) => {
            if let Value::Object(m) = kind(k) {
                s.extend(m);
            }
        }
        None => {}
    }
    let numbers = [("minimum", p.minimum), ("maximum", p.maximum)];
    for (key, value) in numbers {
        if let Some(n) = value {
            s.insert(key.into(), json!(n));
        }
    }
    let counts = [
        ("minLength", p.min_length),
        ("maxLength", p.max_length),
        ("minItems", p.min_items),
        ("maxItems", p.max_items),
    ];
    for (key, value) in counts {
        if let Some(n) = value {
            s.insert(key.into(), json!(n));
        }
    }
    if let Some(pattern) = &p.pattern {
        s.insert("pattern".into(), json!(pattern));
    }
    let value_kind =
        if p.is_array() { p.items.unwrap_or(ParamType::String) } else { p.kind.unwrap_or(ParamType::String) };
    let allowed: Vec<Value> = p.allowed.iter().filter_map(|v| typed(v, value_kind)).collect();
    if !allowed.is_empty() {
        if p.is_array() {
            if let Some(Value::Object(items)) = s.get_mut("items") {
                items.insert("enum".into(), json!(allowed));
            }
        } else {
            s.insert("enum".into(), json!(allowed));
        }
    }
    if let Some(default) = p.default.as_ref().filter(|_| !p.is_array()).and_then(|d| typed(d, value_kind)) {
        s.insert("default".into(), default);
    }
    if let Some(format) = &p.format {
        s.entry("format").or_insert_with(|| json!(format));
    }
    Value::Object(s)
}

/// `value` as the JSON type `kind` says (FalconPy's data writes some integer defaults as text, `"0"`), or
/// `None` when it is not one: a schema's own default must validate against it.
fn typed(value: &Value, kind: ParamType) -> Option<Value> {
    match (kind, value) {
        (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(value.clone()),
        (ParamType::Integer, Value::String(s)) => s.parse::<i64>().ok().map(Value::from),
        (ParamType::Number, Value::Number(_)) => Some(value.clone()),
        (ParamType::Number, Value::String(s)) => s.parse::<f64>().ok().map(Value::from),
        (ParamType::Boolean, Value::Bool(_)) => Some(value.clone()),
        (ParamType::Boolean, Value::String(s)) => s.parse::<bool>().ok().map(Value::from),
        (ParamType::String | ParamType::File, Value::String(_)) => Some(value.clone()),
        (ParamType::String, Value::Number(_) | Value::Bool(_)) => Some(Value::from(value.to_string())),
        _ => None,
    }
}

/// A JSON body (`in: body`), or a form of the `formData` parameters (multipart when one is a file).
fn request_body(op: &Operation) -> Option<Value> {
    if let Some(body) = op.params.iter().find(|p| p.location == Location::Body) {
        return Some(json!({
            "required": body.required,
            "content": { "application/json": { "schema": {} } }
        }));
    }
    let fields: Vec<&Param> = op.params.iter().filter(|p| p.location == Location::FormData).collect();
    if fields.is_empty() {
        return None;
    }
    let media = if op.takes_file() { "multipart/form-data" } else { "application/x-www-form-urlencoded" };
    let properties: Map<String, Value> = fields.iter().map(|p| (p.name.clone(), schema(p))).collect();
    let required: Vec<&str> = fields.iter().filter(|p| p.required).map(|p| p.name.as_str()).collect();
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    Some(json!({ "required": !required.is_empty(), "content": { media: { "schema": schema } } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_left_to_the_catalogue_has_one_entry_with_named_placeholders() {
        let entries = from_catalogue(|_, _| false);
        assert!(entries.len() >= 1500, "{} entries", entries.len());
        let mut seen = std::collections::HashSet::new();
        for (path, method, e) in &entries {
            assert!(!path.contains("{}"), "{path}");
            assert!(seen.insert((path.clone(), *method)), "{method} {path} twice");
            let answer = e["x-talon-answer"].as_str().unwrap_or_default();
            assert!(["501", "emulated", "generic"].contains(&answer), "{method} {path}: {answer}");
            // Each placeholder is declared as a path parameter.
            for segment in path.split('/').filter(|s| s.starts_with('{')) {
                let name = &segment[1..segment.len() - 1];
                let declared = e["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == name));
                assert!(declared, "{method} {path}: {name} is not declared");
            }
        }
    }

    #[test]
    fn defaults_and_enums_take_the_parameter_type() {
        assert_eq!(typed(&json!("0"), ParamType::Integer), Some(json!(0)));
        assert_eq!(typed(&json!("x"), ParamType::Integer), None);
        assert_eq!(typed(&json!("true"), ParamType::Boolean), Some(json!(true)));
        assert_eq!(typed(&json!(5), ParamType::String), Some(json!("5")));
    }

    #[test]
    fn arrays_carry_their_style_and_bodies_their_media_type() {
        let c = catalogue();
        let groups = entry(c.get("getHostGroups").expect("getHostGroups"));
        let ids = &groups["parameters"][0];
        assert_eq!(
            (ids["name"].as_str(), ids["style"].as_str(), ids["explode"].as_bool()),
            (Some("ids"), Some("form"), Some(true))
        );
        assert_eq!(groups["security"][0]["oauth2"][0], "host-group:read");
        let create = entry(c.get("createHostGroups").expect("createHostGroups"));
        assert!(create["requestBody"]["content"]["application/json"].is_object(), "{create}");
        let upload =
            c.operations().iter().find(|o| o.takes_file() && answer(o) == Answer::NotImplemented).expect("an upload");
        assert!(entry(upload)["requestBody"]["content"]["multipart/form-data"]["schema"]["properties"].is_object());
    }
}
