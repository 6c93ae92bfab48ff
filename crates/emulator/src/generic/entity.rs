//! Records of the generic engine: what a create, update or action body asks for, and the records it
//! makes. Falcon's bodies come in a few forms, all taken: `{"resources": [{...}, ...]}` (most policy and
//! group APIs), a bare array of objects, or one object; an update names its records by `id` in each
//! object, by `ids` beside the changes, or by the query's IDs. A record is a JSON object with the ID the
//! server made and its timestamps (`created_timestamp`, `modified_timestamp`, RFC 3339) and actors
//! (`created_by`, `modified_by`: the API client's ID); changes merge as RFC 7386 says (a `null` removes a
//! field, objects merge key by key).

use serde_json::{Map, Value as Json};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::select::Object;

/// Most records one create or update may carry.
pub const MAX_RECORDS: usize = 1_000;
/// Longest record, as JSON text: bounds what one customer's resource holds.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// Longest ID taken.
pub const MAX_ID_CHARS: usize = 256;
/// The keys under which a create or update body lists its records: `resources` (most APIs), `indicators`
/// (IOCs, whose other top-level fields, such as `comment`, apply to each record) and `policies` (the v2
/// device control policies).
pub const RECORD_LISTS: &[&str] = &["resources", "indicators", "policies"];
/// The keys by which a body names the records it reads, updates or acts on.
pub const ID_KEYS: &[&str] = &["ids", "composite_ids"];

/// Why a body was refused: the message says what the body should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, BodyError> {
    Err(BodyError(message.into()))
}

/// Who changes a record, and when (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct Stamp<'a> {
    pub now: i64,
    pub actor: &'a str,
}

impl Stamp<'_> {
    fn time(&self) -> String {
        OffsetDateTime::from_unix_timestamp(self.now)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
    }
}

/// The objects a create body holds, 1 to [`MAX_RECORDS`].
pub fn to_create(body: &Json) -> Result<Vec<Object>, BodyError> {
    let (objects, shared) = match body {
        Json::Object(o) => match RECORD_LISTS.iter().find_map(|k| o.get(*k).map(|v| (*k, v))) {
            Some((_, Json::Array(items))) => {
                let shared: Object = o
                    .iter()
                    .filter(|(k, _)| !RECORD_LISTS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                (items.as_slice(), shared)
            }
            Some((key, _)) => return refuse(format!("{key} must be a list of objects")),
            None => (std::slice::from_ref(body), Object::new()),
        },
        Json::Array(items) => (items.as_slice(), Object::new()),
        _ => return refuse("the body must be a JSON object, a list of objects, or {\"resources\": [...]}"),
    };
    if objects.is_empty() || objects.len() > MAX_RECORDS {
        return refuse(format!("a create takes 1 to {MAX_RECORDS} records"));
    }
    objects
        .iter()
        .map(|o| {
            let mut record =
                o.as_object().cloned().ok_or_else(|| BodyError("each record must be a JSON object".into()))?;
            for (k, v) in &shared {
                record.entry(k.clone()).or_insert_with(|| v.clone());
            }
            Ok(record)
        })
        .collect()
}

/// The IDs of a body that only names records (`{"ids": [...]}` or `{"composite_ids": [...]}`, as
/// Falcon's POST-to-read operations take), or `None` when it says more.
pub fn ids_only(body: &Json) -> Option<Vec<String>> {
    let object = body.as_object()?;
    let [(key, Json::Array(ids))] = object.iter().collect::<Vec<_>>()[..] else { return None };
    if !ID_KEYS.contains(&key.as_str()) {
        return None;
    }
    ids.iter().map(|id| id.as_str().map(str::to_owned)).collect()
}

/// A new record: `fields` with the server's `id` and the stamp's timestamps and actors (those a body
/// gives are kept, but never its `id`).
pub fn new_record(mut fields: Object, id: String, stamp: Stamp<'_>) -> Object {
    let time = stamp.time();
    fields.insert("id".into(), Json::String(id));
    for (key, value) in [
        ("created_timestamp", &time),
        ("modified_timestamp", &time),
        ("created_by", &stamp.actor.to_owned()),
        ("modified_by", &stamp.actor.to_owned()),
    ] {
        fields.entry(key).or_insert_with(|| Json::String(value.clone()));
    }
    fields
}

/// The changes an update body asks for, by record ID, in the body's order. `query_ids` are the IDs the
/// query string named (the whole body then applies to each).
pub fn to_update(body: &Json, query_ids: &[String]) -> Result<Vec<(String, Object)>, BodyError> {
    let Some(object) = body.as_object() else {
        let Json::Array(items) = body else { return refuse("the body must be a JSON object") };
        return items.iter().map(with_own_id).collect::<Result<Vec<_>, _>>().and_then(bounded);
    };
    if !query_ids.is_empty() {
        return bounded(query_ids.iter().map(|id| (id.clone(), object.clone())).collect());
    }
    if let Some((key, resources)) = RECORD_LISTS.iter().find_map(|k| object.get(*k).map(|v| (*k, v))) {
        let Json::Array(items) = resources else { return refuse(format!("{key} must be a list of objects")) };
        return items.iter().map(with_own_id).collect::<Result<Vec<_>, _>>().and_then(bounded);
    }
    if let Some((key, ids)) = ID_KEYS.iter().find_map(|k| object.get(*k).map(|v| (*k, v))) {
        let ids: Option<Vec<&str>> = ids.as_array().map(|a| a.iter().filter_map(Json::as_str).collect());
        let Some(ids) = ids.filter(|i| !i.is_empty()) else { return refuse(format!("{key} must be a list of IDs")) };
        let mut change = object.clone();
        change.remove(key);
        return bounded(ids.into_iter().map(|id| (id.to_owned(), change.clone())).collect());
    }
    with_own_id(body).map(|c| vec![c])
}

/// Whether an update body names the records it changes (an `id`, `ids`, or a list of records with IDs).
pub fn names_records(body: &Json) -> bool {
    let has_id = |o: &Json| o.get("id").and_then(Json::as_str).is_some_and(|id| !id.is_empty());
    match body {
        Json::Array(items) => items.iter().any(has_id),
        Json::Object(o) => {
            has_id(body)
                || ID_KEYS.iter().any(|k| o.contains_key(*k))
                || RECORD_LISTS.iter().any(|k| o.get(*k).and_then(Json::as_array).is_some_and(|a| a.iter().any(has_id)))
        }
        _ => false,
    }
}

fn with_own_id(item: &Json) -> Result<(String, Object), BodyError> {
    let Some(object) = item.as_object() else { return refuse("each change must be a JSON object") };
    match object.get("id") {
        Some(Json::String(id)) if !id.is_empty() => Ok((id.clone(), object.clone())),
        _ => refuse("each change must name its record: {\"id\": \"<id>\", ...}"),
    }
}

fn bounded(changes: Vec<(String, Object)>) -> Result<Vec<(String, Object)>, BodyError> {
    if changes.is_empty() || changes.len() > MAX_RECORDS {
        return refuse(format!("an update takes 1 to {MAX_RECORDS} records"));
    }
    Ok(changes)
}

/// Applies `change` to `record` (RFC 7386 merge; the `id`, and the resource's ID field when it has another
/// such as the alerts' `composite_id`, never change) and stamps the modification.
/// `action_parameters` (`[{"name", "value"}]`, as the alerts' PATCH takes) are actions, not a field: see
/// `crate::alerts::apply_actions`; one it does not know refuses the change.
pub fn update(record: &mut Object, change: &Object, id_field: &str, stamp: Stamp<'_>) -> Result<(), BodyError> {
    for (key, value) in change {
        match key.as_str() {
            "id" => {}
            _ if key == id_field => {}
            "action_parameters" => {
                crate::alerts::apply_actions(record, value, stamp.now, stamp.actor).map_err(BodyError)?
            }
            _ => merge(record, key, value),
        }
    }
    record.insert("modified_timestamp".into(), Json::String(stamp.time()));
    record.insert("modified_by".into(), Json::String(stamp.actor.to_owned()));
    Ok(())
}

fn merge(target: &mut Map<String, Json>, key: &str, patch: &Json) {
    match patch {
        Json::Null => {
            target.remove(key);
        }
        Json::Object(fields) => {
            let slot = target.entry(key).or_insert_with(|| Json::Object(Map::new()));
            if !slot.is_object() {
                *slot = Json::Object(Map::new());
            }
            if let Json::Object(inner) = slot {
                for (k, v) in fields {
                    merge(inner, k, v);
                }
            }
        }
        other => {
            target.insert(key.to_owned(), other.clone());
        }
    }
}

/// What an action does to a record: `enable` and `disable` set `enabled` (prevention, firewall, sensor
/// update policies and the like); every action is dated in `modified_timestamp`.
pub fn act(record: &mut Object, action: &str, stamp: Stamp<'_>) {
    let mut change = Map::new();
    match action {
        "enable" => {
            change.insert("enabled".into(), Json::Bool(true));
        }
        "disable" => {
            change.insert("enabled".into(), Json::Bool(false));
        }
        _ => {}
    }
    // Only `enabled` changes: nothing here can be refused.
    let _ = update(record, &change, "id", stamp);
}

/// An ID as the engine takes it: 1 to [`MAX_ID_CHARS`] characters, none a control character.
pub fn check_id(id: &str) -> Result<(), BodyError> {
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS || id.chars().any(char::is_control) {
        return refuse(format!("an ID must be 1 to {MAX_ID_CHARS} characters, none a control character"));
    }
    Ok(())
}

/// A record's size check: its JSON text at most [`MAX_RECORD_BYTES`].
pub fn check_size(record: &Object) -> Result<(), BodyError> {
    let size = serde_json::to_vec(record).map_or(usize::MAX, |v| v.len());
    if size > MAX_RECORD_BYTES {
        return refuse(format!("a record may be at most {MAX_RECORD_BYTES} bytes of JSON ({size} given)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const STAMP: Stamp<'static> = Stamp { now: 1_793_491_200, actor: "client-1" };

    #[test]
    fn creates_take_every_body_form_and_the_server_makes_the_id() {
        assert_eq!(to_create(&json!({"name": "a"})).expect("object").len(), 1);
        assert_eq!(to_create(&json!([{"name": "a"}, {"name": "b"}])).expect("array").len(), 2);
        assert_eq!(to_create(&json!({"resources": [{"name": "a"}]})).expect("resources").len(), 1);
        let iocs = to_create(
            &json!({"comment": "batch", "indicators": [{"value": "1.2.3.4"}, {"value": "x", "comment": "own"}]}),
        );
        let iocs = iocs.expect("indicators");
        assert_eq!((iocs[0]["comment"].as_str(), iocs[1]["comment"].as_str()), (Some("batch"), Some("own")));
        for bad in [json!("text"), json!([]), json!({"resources": 3}), json!([1]), json!({"resources": []})] {
            assert!(to_create(&bad).is_err(), "{bad}");
        }
        let r = new_record(json!({"id": "mine", "name": "a"}).as_object().cloned().expect("o"), "srv".into(), STAMP);
        assert_eq!(r["id"], "srv");
        assert_eq!(r["created_timestamp"], "2026-11-01T00:00:00Z");
        assert_eq!(r["created_by"], "client-1");
    }

    #[test]
    fn updates_name_records_every_way_falcon_does() {
        let by_resources = to_update(&json!({"resources": [{"id": "a", "name": "x"}, {"id": "b"}]}), &[]).expect("r");
        assert_eq!(by_resources.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let by_policies = to_update(&json!({"policies": [{"id": "p", "description": "x"}]}), &[]).expect("policies");
        assert_eq!(by_policies[0].0, "p");
        let by_ids = to_update(&json!({"ids": ["a", "b"], "status": "closed"}), &[]).expect("ids");
        assert_eq!(by_ids.len(), 2);
        assert!(!by_ids[0].1.contains_key("ids") && by_ids[0].1["status"] == "closed");
        let by_query = to_update(&json!({"status": "closed"}), &["q".into()]).expect("query");
        assert_eq!(by_query[0].0, "q");
        assert_eq!(to_update(&json!({"id": "a", "n": 1}), &[]).expect("id")[0].0, "a");
        for bad in [json!({"name": "no id"}), json!({"ids": []}), json!({"resources": [{"id": 3}]}), json!(7)] {
            assert!(to_update(&bad, &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn changes_merge_and_never_touch_the_id() {
        let mut r = new_record(
            json!({"a": 1, "nested": {"x": 1, "y": 2}, "gone": true}).as_object().cloned().expect("o"),
            "id1".into(),
            STAMP,
        );
        let later = Stamp { now: STAMP.now + 60, actor: "client-2" };
        let change = json!({"id": "other", "a": 2, "nested": {"y": null, "z": 3}, "gone": null});
        update(&mut r, change.as_object().expect("o"), "id", later).expect("merged");
        let refused = update(
            &mut r.clone(),
            json!({"action_parameters": [{"name": "explode"}]}).as_object().expect("o"),
            "id",
            later,
        );
        assert!(refused.is_err(), "an unknown action refuses the change");
        assert_eq!(r["id"], "id1");
        let mut alert = json!({"composite_id": "c:ind:x:1", "status": "new"}).as_object().cloned().expect("o");
        let rename = json!({"composite_id": "other", "status": "closed"});
        update(&mut alert, rename.as_object().expect("o"), "composite_id", later).expect("merged");
        assert_eq!((alert["composite_id"].as_str(), alert["status"].as_str()), (Some("c:ind:x:1"), Some("closed")));
        assert_eq!(r["a"], 2);
        assert_eq!(r["nested"], json!({"x": 1, "z": 3}));
        assert!(!r.contains_key("gone"));
        assert_eq!(r["modified_timestamp"], "2026-11-01T00:01:00Z");
        assert_eq!(r["created_timestamp"], "2026-11-01T00:00:00Z");
        assert_eq!(r["modified_by"], "client-2");
        act(&mut r, "disable", later);
        assert_eq!(r["enabled"], false);
    }

    #[test]
    fn id_only_bodies_are_reads() {
        assert_eq!(ids_only(&json!({"ids": ["a"]})), Some(vec!["a".to_owned()]));
        assert_eq!(ids_only(&json!({"composite_ids": ["x:y"]})), Some(vec!["x:y".to_owned()]));
        assert_eq!(ids_only(&json!({"ids": ["a"], "name": "b"})), None);
        assert_eq!(ids_only(&json!({"ids": [1]})), None);
        assert!(check_id("ok:1").is_ok() && check_id("").is_err() && check_id("a\nb").is_err());
    }
}
