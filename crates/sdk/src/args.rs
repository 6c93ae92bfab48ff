//! A command's arguments, checked against the operation's catalogue entry and encoded as the entry says:
//! the one place that turns "operation ID + arguments" into a request. Nothing is sent when a check fails
//! (FalconPy sends whatever it is given and lets the API answer 400, or worse, act on a typo's default).
//!
//! What is checked: every parameter is one of the operation's; required ones are given; each value has the
//! parameter's type (text that reads as the type counts: the CLI passes text); enums, numeric bounds,
//! lengths, patterns and item counts hold; a JSON body only where the operation takes one. What is
//! encoded: path placeholders filled (named `{id}` or FalconPy's anonymous `{}`), arrays repeated
//! (`multi`) or comma-joined (`csv`), headers, and the body as JSON, URL-encoded form or multipart (when a
//! file is among the form fields).

use serde_json::Value;
use talon_wire::catalogue::{ArrayFormat, Location, Operation, Param, ParamType};

/// The header the client sets from its token: an operation declaring it still gets it from there.
const AUTHORIZATION: &str = "Authorization";

/// A file sent in a form field of an upload operation.
#[derive(Clone)]
pub(crate) struct FilePart {
    pub(crate) field: String,
    pub(crate) file_name: String,
    pub(crate) bytes: Vec<u8>,
}

/// Arguments of a command: parameters by name (query, path, header or form field: the catalogue says
/// where each goes), a JSON body, files. `Debug` shows names only: a value may be a secret.
#[derive(Clone, Default)]
pub struct Args {
    params: Vec<(String, Value)>,
    body: Option<Value>,
    files: Vec<FilePart>,
}

impl std::fmt::Debug for Args {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Args")
            .field("params", &self.params.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>())
            .field("body", &self.body.as_ref().map(|_| "[not shown]"))
            .field("files", &self.files.iter().map(|p| p.field.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl Args {
    /// No parameters, no body.
    pub fn new() -> Args {
        Args::default()
    }

    /// Sets parameter `name` (wherever the operation takes it). A name given again adds a value: the
    /// parameter becomes a list (`ids=a&ids=b`, or `ids=a,b` where the API reads comma-joined lists).
    /// A JSON array gives several values at once; a lone text for a list parameter is split at commas,
    /// as FalconPy does.
    pub fn param(mut self, name: &str, value: impl Into<Value>) -> Args {
        self.params.push((name.to_owned(), value.into()));
        self
    }

    /// [`Args::param`] with a value as text (the type is checked, so `"5"` is a valid integer).
    pub fn query(self, name: &str, value: impl ToString) -> Args {
        self.param(name, Value::String(value.to_string()))
    }

    /// Sets the JSON body (sent with `Content-Type: application/json`).
    pub fn body(mut self, body: serde_json::Value) -> Args {
        self.body = Some(body);
        self
    }

    /// Adds a file to upload in form field `field` (the request goes as `multipart/form-data`).
    pub fn file(mut self, field: &str, file_name: &str, bytes: impl Into<Vec<u8>>) -> Args {
        self.files.push(FilePart { field: field.to_owned(), file_name: file_name.to_owned(), bytes: bytes.into() });
        self
    }

    /// Replaces every value of `name` with `value` (the pager moves its cursor so).
    pub(crate) fn set(mut self, name: &str, value: Value) -> Args {
        self.params.retain(|(n, _)| n != name);
        self.param(name, value)
    }

    /// The text of parameter `name` when it was given once as text or a number.
    pub(crate) fn text(&self, name: &str) -> Option<String> {
        self.params.iter().find(|(n, _)| n == name).and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    }

    /// The parameters as query pairs, lists repeated, for a route without a catalogue entry.
    pub(crate) fn unchecked_query(&self) -> Vec<(String, String)> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        self.params
            .iter()
            .flat_map(|(name, value)| match value {
                Value::Array(items) => items.iter().map(|i| (name.clone(), text(i))).collect::<Vec<_>>(),
                other => vec![(name.clone(), text(other))],
            })
            .collect()
    }

    /// The JSON body, if one was given.
    pub(crate) fn json_body(&self) -> Option<&Value> {
        self.body.as_ref()
    }

    /// The values given per name, in the order names first appear; a repeated name gathers its values.
    fn grouped(&self) -> Vec<(&str, Vec<&Value>)> {
        let mut groups: Vec<(&str, Vec<&Value>)> = Vec::new();
        for (name, value) in &self.params {
            match groups.iter_mut().find(|(n, _)| *n == name.as_str()) {
                Some((_, values)) => values.push(value),
                None => groups.push((name.as_str(), vec![value])),
            }
        }
        groups
    }
}

/// What a checked command sends.
#[derive(Clone)]
pub(crate) struct Prepared {
    pub(crate) path: String,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Payload,
}

/// A request body.
#[derive(Clone)]
pub(crate) enum Payload {
    None,
    Json(Vec<u8>),
    Form(Vec<(String, String)>),
    Multipart { fields: Vec<(String, String)>, files: Vec<FilePart> },
}

/// What is wrong with a call, found before anything was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallProblem {
    /// The operation ID is not in the catalogue.
    UnknownOperation,
    /// The operation has no parameter by that name.
    UnknownParameter,
    /// A required parameter (or the required body) is missing.
    Missing,
    /// The value is not of the parameter's type.
    WrongType,
    /// The value is not one of the parameter's allowed values.
    NotAllowed,
    /// A number outside the bounds, a text too short or long, a list with too few or many items.
    OutOfBounds,
    /// The text does not match the parameter's pattern.
    NoMatch,
    /// A list repeats an item where items must differ.
    Repeated,
    /// A body, file or header the operation does not take this way.
    NotTaken,
}

/// A call refused before sending: which operation, which parameter, what is wrong, in one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct CallError {
    /// The operation ID as given.
    pub operation: String,
    /// The parameter at fault, if one is.
    pub parameter: Option<String>,
    /// What kind of fault.
    pub problem: CallProblem,
    /// What is wrong, and what would be right.
    pub message: String,
}

/// Checks `args` against `op` and encodes them.
pub(crate) fn prepare(op: &Operation, args: &Args) -> Result<Prepared, CallError> {
    let fail = |parameter: Option<&str>, problem, message: String| CallError {
        operation: op.id.clone(),
        parameter: parameter.map(str::to_owned),
        problem,
        message,
    };
    let mut texts: Vec<(&Param, Vec<String>)> = Vec::new();
    for (name, values) in args.grouped() {
        let Some(param) = op.param(name).filter(|p| p.location != Location::Body) else {
            return Err(fail(Some(name), CallProblem::UnknownParameter, unknown_parameter(op, name)));
        };
        if param.location == Location::Header && param.name.eq_ignore_ascii_case(AUTHORIZATION) {
            let message = "the client sends Authorization with its own token; it is not an argument".to_owned();
            return Err(fail(Some(name), CallProblem::NotTaken, message));
        }
        if param.kind == Some(ParamType::File) {
            let message = format!("{name:?} takes a file: give it with Args::file (the CLI's --file)");
            return Err(fail(Some(name), CallProblem::NotTaken, message));
        }
        let checked = check(param, &values).map_err(|(problem, message)| fail(Some(name), problem, message))?;
        texts.push((param, checked));
    }
    for file in &args.files {
        match op.param(&file.field) {
            Some(p) if p.kind == Some(ParamType::File) => {}
            _ => {
                let files: Vec<&str> =
                    op.params.iter().filter(|p| p.kind == Some(ParamType::File)).map(|p| p.name.as_str()).collect();
                let message = match files.as_slice() {
                    [] => "this operation uploads no file".to_owned(),
                    names => format!("{:?} is not a file field; this operation takes {}", file.field, names.join(", ")),
                };
                return Err(fail(Some(&file.field), CallProblem::NotTaken, message));
            }
        }
    }
    for param in &op.params {
        let given = match param.location {
            Location::Body => args.body.is_some(),
            _ if param.kind == Some(ParamType::File) => args.files.iter().any(|f| f.field == param.name),
            Location::Header if param.name.eq_ignore_ascii_case(AUTHORIZATION) => true,
            _ => texts.iter().any(|(p, _)| p.name == param.name),
        };
        if param.required && !given {
            let what =
                if param.location == Location::Body { "a JSON body".to_owned() } else { format!("{:?}", param.name) };
            let message = format!("{what} is required ({})", describe(param));
            return Err(fail(Some(&param.name), CallProblem::Missing, message));
        }
    }
    if args.body.is_some() && !op.params.iter().any(|p| p.location == Location::Body) {
        let message = if op.takes_form() {
            "this operation takes form fields, not a JSON body: give them as parameters".to_owned()
        } else {
            "this operation takes no body".to_owned()
        };
        return Err(fail(None, CallProblem::NotTaken, message));
    }

    let path = op
        .render_path(|name| {
            texts.iter().find(|(p, _)| p.name == name && p.location == Location::Path).map(|(_, t)| t.join(","))
        })
        .map_err(|name| fail(Some(name), CallProblem::Missing, format!("path parameter {name:?} is required")))?;
    let mut query = Vec::new();
    let mut headers = Vec::new();
    let mut fields = Vec::new();
    for (param, values) in texts {
        let pairs: Vec<(String, String)> = match (param.is_array(), param.array_format) {
            (true, Some(ArrayFormat::Csv)) => vec![(param.name.clone(), values.join(","))],
            (true, _) if param.location == Location::Header => vec![(param.name.clone(), values.join(","))],
            _ => values.into_iter().map(|v| (param.name.clone(), v)).collect(),
        };
        match param.location {
            Location::Query => query.extend(pairs),
            Location::Header => headers.extend(pairs),
            Location::FormData => fields.extend(pairs),
            Location::Path | Location::Body => {}
        }
    }
    for (name, value) in &headers {
        let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && reqwest::header::HeaderValue::from_str(value).is_ok();
        if !valid {
            let message = format!("header {name:?} takes visible ASCII text only");
            return Err(fail(Some(name), CallProblem::WrongType, message));
        }
    }
    let body = if let Some(body) = &args.body {
        Payload::Json(serde_json::to_vec(body).map_err(|e| fail(None, CallProblem::WrongType, e.to_string()))?)
    } else if !args.files.is_empty() {
        Payload::Multipart { fields, files: args.files.clone() }
    } else if !fields.is_empty() {
        Payload::Form(fields)
    } else {
        Payload::None
    };
    Ok(Prepared { path, query, headers, body })
}

/// "no parameter X; did you mean Y? It takes: ..." for a name `op` does not have.
fn unknown_parameter(op: &Operation, name: &str) -> String {
    let names: Vec<&str> = op.params.iter().filter(|p| p.location != Location::Body).map(|p| p.name.as_str()).collect();
    if op.param(name).is_some_and(|p| p.location == Location::Body) {
        return "the JSON body is given with Args::body (the CLI's --body), not as a parameter".to_owned();
    }
    let mut message = format!("no parameter {name:?}");
    if let Some(same) = names.iter().find(|n| n.eq_ignore_ascii_case(name)) {
        message.push_str(&format!(" (parameter names are case-sensitive: {same:?})"));
    } else if let Some(close) =
        names.iter().map(|n| (strsim::levenshtein(n, name), *n)).filter(|(d, n)| *d <= 2.max(n.len() / 3)).min()
    {
        message.push_str(&format!("; did you mean {:?}?", close.1));
    }
    match names.as_slice() {
        [] => message.push_str("; this operation takes none"),
        names => message.push_str(&format!("; it takes {}", names.join(", "))),
    }
    message
}

/// A parameter's type and where it goes, for messages: "integer in query".
fn describe(param: &Param) -> String {
    match (param.kind, param.items) {
        (None, _) => "JSON".to_owned(),
        (Some(ParamType::Array), Some(items)) => format!("list of {} in {}", items.as_str(), param.location.as_str()),
        (Some(kind), _) => format!("{} in {}", kind.as_str(), param.location.as_str()),
    }
}

/// The values of `param` as the texts that go on the wire, after every check the catalogue allows.
fn check(param: &Param, values: &[&Value]) -> Result<Vec<String>, (CallProblem, String)> {
    let name = &param.name;
    if !param.is_array() {
        let [value] = values else {
            return Err((
                CallProblem::WrongType,
                format!("{name:?} takes one value ({}), not a list", describe(param)),
            ));
        };
        let text = scalar(param, param.kind.unwrap_or(ParamType::String), value)?;
        return Ok(vec![text]);
    }
    let mut items: Vec<&Value> = Vec::new();
    let mut split: Vec<Value> = Vec::new();
    for value in values {
        match value {
            Value::Array(list) => items.extend(list.iter()),
            // One text for a list: comma-separated values, as FalconPy reads it.
            Value::String(s) if values.len() == 1 => split.extend(s.split(',').map(|p| Value::String(p.to_owned()))),
            other => items.push(other),
        }
    }
    items.extend(split.iter());
    let kind = param.items.unwrap_or(ParamType::String);
    let texts = items.iter().map(|v| scalar(param, kind, v)).collect::<Result<Vec<_>, _>>()?;
    let count = texts.len() as u64;
    if let Some(min) = param.min_items.filter(|m| count < *m) {
        return Err((CallProblem::OutOfBounds, format!("{name:?} takes at least {min} values, {count} given")));
    }
    if let Some(max) = param.max_items.filter(|m| count > *m) {
        return Err((CallProblem::OutOfBounds, format!("{name:?} takes at most {max} values, {count} given")));
    }
    if param.unique_items {
        if let Some(twice) = texts.iter().enumerate().find(|(i, t)| texts[..*i].contains(t)).map(|(_, t)| t) {
            return Err((
                CallProblem::Repeated,
                format!("{name:?} lists {} twice; its values must differ", shown(param, twice)),
            ));
        }
    }
    Ok(texts)
}

/// One value of `param`, of type `kind`, as text; checked against the enum, bounds and pattern.
fn scalar(param: &Param, kind: ParamType, value: &Value) -> Result<String, (CallProblem, String)> {
    let name = &param.name;
    let wrong = || (CallProblem::WrongType, format!("{name:?} takes {}; {} is not one", article(kind), kind_of(value)));
    let text = match (kind, value) {
        (ParamType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => n.to_string(),
        (ParamType::Integer, Value::String(s)) => s.trim().parse::<i64>().map_err(|_| wrong())?.to_string(),
        (ParamType::Number, Value::Number(n)) => n.to_string(),
        (ParamType::Number, Value::String(s)) => {
            s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(wrong)?;
            s.trim().to_owned()
        }
        (ParamType::Boolean, Value::Bool(b)) => b.to_string(),
        (ParamType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => "true".to_owned(),
        (ParamType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => "false".to_owned(),
        (ParamType::String, Value::String(s)) => s.clone(),
        (ParamType::String, Value::Number(n)) => n.to_string(),
        (ParamType::String, Value::Bool(b)) => b.to_string(),
        _ => return Err(wrong()),
    };
    if !param.allowed.is_empty() && !param.allowed.iter().any(|a| allowed_text(a) == text) {
        let allowed: Vec<String> = param.allowed.iter().map(allowed_text).collect();
        let message = format!("{name:?} cannot be {}; it takes one of {}", shown(param, &text), allowed.join(", "));
        return Err((CallProblem::NotAllowed, message));
    }
    if matches!(kind, ParamType::Integer | ParamType::Number) {
        let number: f64 = text.parse().unwrap_or(f64::NAN);
        if let Some(min) = param.minimum.filter(|m| number < *m) {
            return Err((CallProblem::OutOfBounds, format!("{name:?} is at least {min}; {text} is below")));
        }
        if let Some(max) = param.maximum.filter(|m| number > *m) {
            return Err((CallProblem::OutOfBounds, format!("{name:?} is at most {max}; {text} is above")));
        }
    }
    if kind == ParamType::String {
        let length = text.chars().count() as u64;
        if let Some(min) = param.min_length.filter(|m| length < *m) {
            return Err((CallProblem::OutOfBounds, format!("{name:?} is at least {min} characters; {length} given")));
        }
        if let Some(max) = param.max_length.filter(|m| length > *m) {
            return Err((CallProblem::OutOfBounds, format!("{name:?} is at most {max} characters; {length} given")));
        }
        // A pattern the regex engine cannot read checks nothing rather than refusing every value.
        if let Some(pattern) = param.pattern.as_deref() {
            if regex::Regex::new(pattern).is_ok_and(|re| !re.is_match(&text)) {
                let message = format!("{name:?} must match {pattern}; {} does not", shown(param, &text));
                return Err((CallProblem::NoMatch, message));
            }
        }
    }
    Ok(text)
}

/// An allowed value as the wire writes it.
fn allowed_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A value as a message may show it: quoted and cut short, and not at all where the name says secret.
fn shown(param: &Param, text: &str) -> String {
    let name = param.name.to_ascii_lowercase();
    if ["secret", "password", "token", "key", "authorization"].iter().any(|w| name.contains(w)) {
        return "the value given".to_owned();
    }
    let cut: String = text.chars().take(60).collect();
    if cut.len() < text.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

fn article(kind: ParamType) -> &'static str {
    match kind {
        ParamType::Integer => "an integer",
        ParamType::Array => "a list",
        ParamType::String => "text",
        ParamType::Number => "a number",
        ParamType::Boolean => "true or false",
        ParamType::File => "a file",
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "this number",
        Value::String(_) => "this text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use talon_wire::catalogue::catalogue;

    fn op(id: &str) -> &'static Operation {
        catalogue().get(id).expect("in the catalogue")
    }

    /// `args` with each required parameter `op` lacks given a valid value (its first allowed one, else 1).
    fn with_required(op: &Operation, mut args: Args) -> Args {
        let given: Vec<String> = args.params.iter().map(|(n, _)| n.clone()).collect();
        for p in op.params.iter().filter(|p| p.required && !given.contains(&p.name)) {
            args = match p.location {
                Location::Body => args.body(json!({})),
                _ if p.name == AUTHORIZATION => args,
                _ => args.param(&p.name, p.allowed.first().cloned().unwrap_or_else(|| json!("1"))),
            };
        }
        args
    }

    fn refused(id: &str, args: Args) -> CallError {
        match prepare(op(id), &args) {
            Ok(_) => panic!("{id} accepted {args:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn query_values_are_typed_and_encoded_as_the_catalogue_says() {
        let p = prepare(
            op("QueryDevicesByFilter"),
            &Args::new().query("limit", 5).param("filter", "platform_name:'Windows'"),
        )
        .expect("valid");
        assert_eq!(p.path, "/devices/queries/devices/v1");
        assert_eq!(p.query, vec![("limit".into(), "5".into()), ("filter".into(), "platform_name:'Windows'".into())]);
        let multi = prepare(op("GetDeviceDetailsV2"), &Args::new().query("ids", "a").query("ids", "b")).expect("valid");
        assert_eq!(multi.query, vec![("ids".into(), "a".into()), ("ids".into(), "b".into())]);
        let split = prepare(op("GetDeviceDetailsV2"), &Args::new().param("ids", "a,b")).expect("valid");
        assert_eq!(split.query, multi.query, "one text for a list is split at commas");
    }

    #[test]
    fn csv_arrays_are_joined_and_path_placeholders_filled() {
        let csv = catalogue()
            .operations()
            .iter()
            .find(|o| {
                o.params
                    .iter()
                    .any(|p| p.location == Location::Query && p.array_format == Some(ArrayFormat::Csv) && !p.required)
            })
            .expect("an operation with a csv list");
        let param = csv.params.iter().find(|p| p.array_format == Some(ArrayFormat::Csv)).expect("csv");
        let args = with_required(csv, Args::new().param(&param.name, json!(["x1", "x2"])));
        let p = prepare(csv, &args).expect("valid");
        assert!(p.query.contains(&(param.name.clone(), "x1,x2".into())), "{:?}", p.query);

        let path_op = catalogue()
            .operations()
            .iter()
            .find(|o| {
                let texts =
                    o.params.iter().filter(|p| p.location == Location::Path).all(|p| p.kind == Some(ParamType::String));
                o.path.contains("{}") && texts
            })
            .expect("an anonymous placeholder");
        let mut args = Args::new();
        for param in path_op.params.iter().filter(|p| p.location == Location::Path) {
            args = args.param(&param.name, "a b/c");
        }
        let p = prepare(path_op, &with_required(path_op, args)).expect("valid");
        assert!(p.path.contains("a%20b%2Fc") && !p.path.contains('{'), "{}", p.path);
    }

    #[test]
    fn wrong_calls_are_refused_with_what_is_wrong() {
        let e = refused("QueryDevicesByFilter", Args::new().query("limt", 5));
        assert_eq!((e.problem, e.parameter.as_deref()), (CallProblem::UnknownParameter, Some("limt")));
        assert!(e.message.contains("did you mean \"limit\"") && e.message.contains("filter"), "{e}");
        let e = refused("QueryDevicesByFilter", Args::new().query("Limit", 5));
        assert!(e.message.contains("case-sensitive"), "{e}");
        let e = refused("QueryDevicesByFilter", Args::new().query("limit", "five"));
        assert_eq!(e.problem, CallProblem::WrongType, "{e}");
        assert!(refused("QueryDevicesByFilter", Args::new().param("limit", 1.5)).problem == CallProblem::WrongType);
        let e = refused("QueryDevicesByFilter", Args::new().query("limit", 5).query("limit", 6));
        assert_eq!(e.problem, CallProblem::WrongType, "two values for a single parameter: {e}");
        let e = refused("GetDeviceDetailsV2", Args::new());
        assert_eq!((e.problem, e.parameter.as_deref()), (CallProblem::Missing, Some("ids")));
        let (enumerated, param) = catalogue()
            .operations()
            .iter()
            .find_map(|o| o.params.iter().find(|p| !p.allowed.is_empty() && !p.is_array()).map(|p| (o, p)))
            .expect("an operation with an enum");
        let e = prepare(enumerated, &with_required(enumerated, Args::new().param(&param.name, "explode")))
            .err()
            .expect("refused");
        assert_eq!(e.problem, CallProblem::NotAllowed);
        assert!(e.message.contains(&allowed_text(&param.allowed[0])) && e.message.contains("\"explode\""), "{e}");
        let first = with_required(enumerated, Args::new().param(&param.name, param.allowed[0].clone()));
        assert!(prepare(enumerated, &first).is_ok(), "an allowed value passes");
        let e = refused("PerformActionV2", Args::new().query("action_name", "contain"));
        assert_eq!(e.problem, CallProblem::Missing, "the body is required: {e}");
        let e = refused("QueryDevicesByFilter", Args::new().body(json!({})));
        assert_eq!(e.problem, CallProblem::NotTaken);
        let e = refused("QueryDevicesByFilter", Args::new().file("file", "x.bin", vec![1]));
        assert_eq!(e.problem, CallProblem::NotTaken);
    }

    #[test]
    fn bounds_patterns_and_lengths_are_checked() {
        let bounded = catalogue()
            .operations()
            .iter()
            .flat_map(|o| o.params.iter().map(move |p| (o, p)))
            .find(|(_, p)| p.maximum.is_some() && p.kind == Some(ParamType::Integer) && !p.required)
            .expect("a bounded integer");
        let (o, p) = bounded;
        let max = p.maximum.expect("max") as i64;
        let args = with_required(o, Args::new().param(&p.name, max + 1));
        assert_eq!(prepare(o, &args).err().map(|e| e.problem), Some(CallProblem::OutOfBounds));
        assert!(prepare(o, &with_required(o, Args::new().param(&p.name, max))).is_ok(), "the bound itself passes");

        let patterned = catalogue()
            .operations()
            .iter()
            .flat_map(|o| o.params.iter().map(move |p| (o, p)))
            .find(|(_, p)| p.pattern.as_deref() == Some("^\\d+$") && !p.is_array())
            .expect("a digits-only parameter");
        let (o, p) = patterned;
        let e = prepare(o, &with_required(o, Args::new().param(&p.name, "12a"))).err().expect("refused");
        assert_eq!(e.problem, CallProblem::NoMatch, "{e}");
        assert!(prepare(o, &with_required(o, Args::new().param(&p.name, "12"))).is_ok(), "digits pass");
    }

    #[test]
    fn secrets_in_values_stay_out_of_messages_and_debug() {
        let args = Args::new().param("client_secret", "hunter2-hunter2").body(json!({"secret": "hunter2"}));
        assert!(!format!("{args:?}").contains("hunter2"));
        let param =
            Param { name: "api_key".into(), ..op("QueryDevicesByFilter").param("filter").expect("filter").clone() };
        assert_eq!(shown(&param, "hunter2"), "the value given");
    }
}
