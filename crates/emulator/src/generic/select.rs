//! FQL and sort over JSON records, whose fields nobody declared: a field is found when a filter or a sort
//! names it (a top-level key, or a dotted path into nested objects: `device.hostname`), and typed by the
//! records' values: a string that reads as an RFC 3339 instant is a time, one that reads as an IPv4
//! address an address, a number a number, an array a list, anything else text (booleans as `true` and
//! `false`). A field no record has is text and empty everywhere: `name:'x'` selects nothing and
//! `name:null` everything, as a filter over a resource nobody created answers an empty page.

use std::cell::RefCell;
use std::net::Ipv4Addr;

use serde_json::{Map, Value as Json};
use talon_wire::device::{FieldKind, FieldRef};

use crate::fql::{self, Fields, FqlError, Record};
use crate::host::{parse_time, Value};

/// A JSON record: an object.
pub type Object = Map<String, Json>;

/// The fields of a set of records, found as a filter or sort names them.
pub struct JsonFields<'r> {
    records: &'r [&'r Object],
    found: RefCell<Vec<(String, FieldKind)>>,
}

impl<'r> JsonFields<'r> {
    pub fn new(records: &'r [&'r Object]) -> JsonFields<'r> {
        JsonFields { records, found: RefCell::new(Vec::new()) }
    }

    /// The values of every found field of `record`, in the order of their indexes.
    fn row(&self, record: &Object) -> Row {
        let found = self.found.borrow();
        Row(found.iter().map(|(path, kind)| value_of(*kind, at_path(record, path))).collect())
    }

    /// The kind of the field at `path`: the one every record holding a value there agrees on, else text
    /// (so one record's odd value makes the field text, never a filter that other data would refuse).
    fn infer(&self, path: &str) -> FieldKind {
        let mut kinds = self.records.iter().filter_map(|r| at_path(r, path).filter(|v| !v.is_null())).map(kind_of);
        let Some(first) = kinds.next() else { return FieldKind::Text };
        if kinds.all(|k| k == first) {
            first
        } else {
            FieldKind::Text
        }
    }
}

impl Fields for JsonFields<'_> {
    fn field(&self, name: &str) -> Option<(usize, FieldKind)> {
        if name.is_empty() || name.split('.').any(str::is_empty) {
            return None;
        }
        let mut found = self.found.borrow_mut();
        if let Some(i) = found.iter().position(|(n, _)| n == name) {
            return Some((i, found[i].1));
        }
        let kind = self.infer(name);
        found.push((name.to_owned(), kind));
        Some((found.len() - 1, kind))
    }

    fn example(&self) -> &str {
        "name"
    }
}

/// The value at `path` of `record`: the key itself when the record has it (Falcon's field names may hold
/// dots), else the path's steps through nested objects.
pub fn at_path<'a>(record: &'a Object, path: &str) -> Option<&'a Json> {
    if let Some(v) = record.get(path) {
        return Some(v);
    }
    let mut steps = path.split('.');
    let mut here = record.get(steps.next()?)?;
    for step in steps {
        here = here.as_object()?.get(step)?;
    }
    Some(here)
}

fn kind_of(value: &Json) -> FieldKind {
    match value {
        Json::Number(n) if n.as_f64().is_some_and(f64::is_finite) => FieldKind::Number,
        Json::Array(_) => FieldKind::List,
        Json::String(s) if parse_time(s).is_some() => FieldKind::Time,
        Json::String(s) if s.parse::<Ipv4Addr>().is_ok() => FieldKind::Ip,
        _ => FieldKind::Text,
    }
}

/// A JSON value as text: strings as they are, other scalars as JSON writes them, objects as their JSON.
fn text_of(value: &Json) -> std::borrow::Cow<'_, str> {
    match value {
        Json::String(s) => s.as_str().into(),
        Json::Null => "".into(),
        other => other.to_string().into(),
    }
}

/// A JSON value as a field of `kind` compares it.
fn value_of(kind: FieldKind, value: Option<&Json>) -> Value {
    match value {
        None | Some(Json::Null) => Value::of(kind, None),
        Some(Json::Array(items)) => {
            let items: Vec<String> = items.iter().map(|i| text_of(i).into_owned()).collect();
            Value::of(kind, Some(FieldRef::List(&items)))
        }
        Some(v) => Value::of(kind, Some(FieldRef::Text(&text_of(v)))),
    }
}

/// One record's values of the found fields.
struct Row(Vec<Value>);

impl Record for Row {
    fn value(&self, field: usize) -> &Value {
        &self.0[field]
    }
}

/// Why a selection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("filter: {0}")]
    Filter(#[from] FqlError),
    #[error("sort: {0:?} is not a field name followed by .asc or .desc (or |asc, |desc)")]
    Sort(String),
}

/// Most fields one sort may name.
pub const MAX_SORT_FIELDS: usize = 8;

/// The indexes of the `records` that `filter` selects, in `sort`'s order (stable: records equal by the
/// sort, or with no sort, keep the order they are given in). `now` anchors FQL's relative times.
pub fn select(
    records: &[&Object],
    filter: Option<&str>,
    sort: Option<&str>,
    now: i64,
) -> Result<Vec<usize>, SelectError> {
    let fields = JsonFields::new(records);
    let filter = filter.filter(|f| !f.trim().is_empty()).map(|f| fql::parse_over(f, now, &fields)).transpose()?;
    let sort = parse_sort(sort.unwrap_or_default(), &fields)?;
    let rows: Vec<Row> = records.iter().map(|r| fields.row(r)).collect();
    let mut chosen: Vec<usize> =
        (0..records.len()).filter(|&i| filter.as_ref().is_none_or(|f| f.matches(&rows[i]))).collect();
    if !sort.is_empty() {
        chosen.sort_by(|&a, &b| {
            sort.iter()
                .map(|&(field, kind, descending)| {
                    let order = Value::compare(kind, &rows[a].0[field], &rows[b].0[field]);
                    if descending {
                        order.reverse()
                    } else {
                        order
                    }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    Ok(chosen)
}

/// `field.asc`, `field.desc`, `field|asc`, `field|desc` or `field` (ascending), comma separated.
fn parse_sort(sort: &str, fields: &JsonFields<'_>) -> Result<Vec<(usize, FieldKind, bool)>, SelectError> {
    let keys: Vec<&str> = sort.split(',').map(str::trim).filter(|k| !k.is_empty()).collect();
    if keys.len() > MAX_SORT_FIELDS {
        return Err(SelectError::Sort(format!("at most {MAX_SORT_FIELDS} fields")));
    }
    keys.into_iter()
        .map(|key| {
            let (name, descending) = [(".asc", false), (".desc", true), ("|asc", false), ("|desc", true)]
                .iter()
                .find_map(|(suffix, d)| key.strip_suffix(suffix).map(|n| (n, *d)))
                .unwrap_or((key, false));
            let shaped =
                name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            let found = shaped.then(|| fields.field(name)).flatten();
            let cut: String = key.chars().take(40).collect();
            found.map(|(i, kind)| (i, kind, descending)).ok_or(SelectError::Sort(cut))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z

    fn records() -> Vec<Object> {
        [
            json!({"id": "a", "name": "Default Windows", "severity": 70, "enabled": true,
                   "created_timestamp": "2026-10-30T10:00:00Z", "tags": ["prod", "eu"],
                   "device": {"hostname": "WIN-01", "local_ip": "10.0.0.5"}, "score": 7.5}),
            json!({"id": "b", "name": "Servers", "severity": 30, "enabled": false,
                   "created_timestamp": "2026-09-01T00:00:00Z", "tags": [],
                   "device": {"hostname": "srv-db", "local_ip": "10.0.0.40"}, "score": -1.25}),
            json!({"id": "c", "name": "macOS laptops", "severity": 100, "enabled": true,
                   "created_timestamp": "2026-10-31T23:59:59Z", "tags": ["prod"],
                   "device": {"hostname": "mac-7", "local_ip": "192.168.1.9"}, "score": 10}),
        ]
        .into_iter()
        .map(|v| v.as_object().expect("object").clone())
        .collect()
    }

    fn ids(filter: &str, sort: &str) -> Vec<String> {
        let owned = records();
        let refs: Vec<&Object> = owned.iter().collect();
        select(&refs, Some(filter), Some(sort), NOW)
            .unwrap_or_else(|e| panic!("{filter} / {sort}: {e}"))
            .into_iter()
            .map(|i| owned[i]["id"].as_str().expect("id").to_owned())
            .collect()
    }

    #[test]
    fn fields_are_typed_by_their_values() {
        // Numbers compare as numbers (30 < 100, though "30" > "100" as text), also floats and negatives.
        assert_eq!(ids("severity:>=50", ""), ["a", "c"]);
        assert_eq!(ids("severity:<'100'", ""), ["a", "b"]);
        assert_eq!(ids("score:>0", "score.asc"), ["a", "c"]);
        assert_eq!(ids("score:<0", ""), ["b"]);
        // Booleans as text; times as instants (with dates and now-Nd); addresses as addresses.
        assert_eq!(ids("enabled:true", ""), ["a", "c"]);
        assert_eq!(ids("created_timestamp:>'now-7d'", ""), ["a", "c"]);
        assert_eq!(ids("created_timestamp:'2026-10-31'", ""), ["c"]);
        assert_eq!(ids("device.local_ip:<'10.0.0.10'", ""), ["a"]);
        // Text without case, with wildcards and ~; lists any-of; nested paths.
        assert_eq!(ids("name:'servers'", ""), ["b"]);
        assert_eq!(ids("name:~'windows'", ""), ["a"]);
        assert_eq!(ids("device.hostname:'*-0*'", ""), ["a"]);
        assert_eq!(ids("tags:'prod'", ""), ["a", "c"]);
        assert_eq!(ids("tags:null", ""), ["b"]);
        assert_eq!(ids("enabled:true+severity:>80", ""), ["c"]);
    }

    #[test]
    fn a_field_whose_records_disagree_on_its_type_is_text() {
        let owned: Vec<Object> =
            [json!({"name": "10.0.0.1"}), json!({"name": "web"}), json!({"n": 5}), json!({"n": "five"})]
                .into_iter()
                .map(|v| v.as_object().cloned().expect("object"))
                .collect();
        let refs: Vec<&Object> = owned.iter().collect();
        assert_eq!(select(&refs, Some("name:'web'"), None, NOW), Ok(vec![1]), "not refused as an address");
        assert_eq!(select(&refs, Some("n:'five'"), None, NOW), Ok(vec![3]));
    }

    #[test]
    fn a_field_no_record_has_is_empty_everywhere() {
        assert!(ids("nothing:'x'", "").is_empty());
        assert_eq!(ids("nothing:null", ""), ["a", "b", "c"]);
        let none: Vec<&Object> = vec![];
        assert_eq!(select(&none, Some("status:'new'+severity:>3"), Some("created_timestamp.desc"), NOW), Ok(vec![]));
    }

    #[test]
    fn sorts_by_type_in_either_direction_and_stably() {
        assert_eq!(ids("", "severity.desc"), ["c", "a", "b"]);
        assert_eq!(ids("", "severity|asc"), ["b", "a", "c"]);
        assert_eq!(ids("", "created_timestamp.asc"), ["b", "a", "c"]);
        assert_eq!(ids("", "device.hostname"), ["c", "b", "a"]);
        // Equal on the first key: the second decides; equal on all: given order.
        assert_eq!(ids("", "enabled.desc,severity.asc"), ["a", "c", "b"]);
        assert_eq!(ids("", "nothing.asc"), ["a", "b", "c"]);
    }

    #[test]
    fn bad_filters_and_sorts_are_refused() {
        let owned = records();
        let refs: Vec<&Object> = owned.iter().collect();
        assert!(matches!(select(&refs, Some("severity:>'high'"), None, NOW), Err(SelectError::Filter(_))));
        assert!(matches!(select(&refs, Some("name:'x"), None, NOW), Err(SelectError::Filter(_))));
        assert!(matches!(select(&refs, None, Some("name;drop.asc"), NOW), Err(SelectError::Sort(_))));
        assert!(matches!(select(&refs, None, Some(&"a,".repeat(9)), NOW), Err(SelectError::Sort(_))));
    }
}
