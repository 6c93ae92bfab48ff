//! Falcon's aggregations over JSON records: the request is a list of specs (`name`, `type`, `field`,
//! `size`, `filter`, `ranges`, `date_ranges`, `interval`, `sub_aggregates`), each answered as
//! `{"name", "buckets": [{"label", "count", ...}], "sum_other_doc_count"}`. Types: `terms` (the most
//! frequent values, list fields by element), `range` (numbers, `[from, to)`), `date_range` (times; `from`
//! and `to` as RFC 3339, dates or `now-7d`), `date_histogram` (`interval` minute, hour, day or week) and
//! `cardinality` (distinct values, as `value`). Sub-aggregations run in each bucket, up to
//! [`MAX_DEPTH`] deep.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::select::{at_path, select, Object, SelectError};
use crate::fql::time_span;
use crate::host::parse_time;

/// Most specs of one request (over all levels), buckets of one `terms`, and levels of sub-aggregations.
pub const MAX_SPECS: usize = 32;
pub const MAX_SIZE: usize = 1_000;
pub const MAX_DEPTH: usize = 3;
/// Most buckets a histogram may make.
pub const MAX_HISTOGRAM_BUCKETS: usize = 1_000;

/// One aggregation asked for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(default)]
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub field: String,
    pub size: Option<usize>,
    pub filter: Option<String>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub date_ranges: Vec<DateRange>,
    pub interval: Option<String>,
    #[serde(default)]
    pub sub_aggregates: Vec<Spec>,
    // Taken and not used (they shape Falcon's search engine, not the answer's meaning here).
    #[serde(default)]
    pub sort: Option<String>,
    #[serde(default)]
    pub q: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub min_doc_count: Option<u64>,
    #[serde(default)]
    pub missing: Option<String>,
    #[serde(default)]
    pub include: Option<String>,
    #[serde(default)]
    pub exclude: Option<String>,
    #[serde(default)]
    pub from: Option<u64>,
    #[serde(default)]
    pub max_doc_count: Option<u64>,
}

/// A numeric range `[from, to)`; either end may be open. Falcon spells these `From` and `To`.
#[derive(Debug, Clone, Deserialize)]
pub struct Range {
    #[serde(alias = "From")]
    pub from: Option<f64>,
    #[serde(alias = "To")]
    pub to: Option<f64>,
}

/// A range of times; either end may be open.
#[derive(Debug, Clone, Deserialize)]
pub struct DateRange {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// One aggregation's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Aggregation {
    pub name: String,
    pub buckets: Vec<Bucket>,
    pub sum_other_doc_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bucket {
    pub label: Json,
    pub count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<Json>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sub_aggregates: Vec<Aggregation>,
}

impl Bucket {
    fn new(label: Json, count: u64) -> Bucket {
        Bucket { label, count, value: None, from: None, to: None, sub_aggregates: vec![] }
    }
}

/// Why an aggregation request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AggregateError {
    #[error("{0}")]
    Spec(String),
    #[error(transparent)]
    Select(#[from] SelectError),
}

fn spec_error<T>(message: impl Into<String>) -> Result<T, AggregateError> {
    Err(AggregateError::Spec(message.into()))
}

/// Checks the specs' count and depth before any work.
pub fn check(specs: &[Spec]) -> Result<(), AggregateError> {
    fn count(specs: &[Spec], depth: usize) -> Result<usize, AggregateError> {
        if depth > MAX_DEPTH && !specs.is_empty() {
            return spec_error(format!("sub_aggregates may nest at most {MAX_DEPTH} levels"));
        }
        specs.iter().try_fold(0, |n, s| Ok(n + 1 + count(&s.sub_aggregates, depth + 1)?))
    }
    let n = count(specs, 1)?;
    if specs.is_empty() || n > MAX_SPECS {
        return spec_error(format!("the body must hold 1 to {MAX_SPECS} aggregations"));
    }
    Ok(())
}

/// Most ranges of one `range` or `date_range`.
pub const MAX_RANGES: usize = 100;
/// Most work one request may ask: values read and bucket memberships made, over every spec and level.
/// Each is a step of a few nanoseconds; the bound keeps the costliest request well under a second.
pub const MAX_WORK: u64 = 5_000_000;

/// The work a request has spent of [`MAX_WORK`].
struct Work(std::cell::Cell<u64>);

impl Work {
    fn spend(&self, steps: usize) -> Result<(), AggregateError> {
        let spent = self.0.get().saturating_add(steps as u64);
        self.0.set(spent);
        if spent > MAX_WORK {
            return spec_error(format!(
                "the aggregations ask more than {MAX_WORK} steps of work: narrow the filter, the sizes or the sub-aggregations"
            ));
        }
        Ok(())
    }
}

/// Runs every spec over `records` (those the operation's filter selected). `now` anchors relative times.
pub fn run(specs: &[Spec], records: &[&Object], now: i64) -> Result<Vec<Aggregation>, AggregateError> {
    check(specs)?;
    let work = Work(std::cell::Cell::new(0));
    specs.iter().map(|s| run_one(s, records, now, &work)).collect()
}

fn run_one(spec: &Spec, records: &[&Object], now: i64, work: &Work) -> Result<Aggregation, AggregateError> {
    if spec.ranges.len() > MAX_RANGES || spec.date_ranges.len() > MAX_RANGES {
        return spec_error(format!("aggregation {:?}: at most {MAX_RANGES} ranges", spec.name));
    }
    work.spend(records.len())?;
    let chosen: Vec<&Object> = match spec.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        Some(filter) => select(records, Some(filter), None, now)?.into_iter().map(|i| records[i]).collect(),
        None => records.to_vec(),
    };
    if spec.field.is_empty() && spec.kind != "count" {
        return spec_error(format!("aggregation {:?}: field is required", spec.name));
    }
    // Each record's values of the field, read once.
    let mut values: Vec<Vec<&Json>> = Vec::with_capacity(chosen.len());
    for r in &chosen {
        let v: Vec<&Json> = match at_path(r, &spec.field) {
            None | Some(Json::Null) => vec![],
            Some(Json::Array(items)) => items.iter().filter(|i| !i.is_null()).collect(),
            Some(v) => vec![v],
        };
        work.spend(1 + v.len())?;
        values.push(v);
    }
    // The records whose values meet `hit`: one pass over the values.
    let members = |hit: &dyn Fn(&Json) -> bool| -> Result<Vec<&Object>, AggregateError> {
        work.spend(chosen.len())?;
        Ok(chosen.iter().zip(&values).filter(|(_, v)| v.iter().any(|x| hit(x))).map(|(r, _)| *r).collect())
    };
    let mut sum_other_doc_count = 0;
    let buckets = match spec.kind.as_str() {
        "terms" => {
            let size = spec.size.unwrap_or(10).clamp(1, MAX_SIZE);
            // Each value's count and the records holding it, in one pass.
            let mut terms: HashMap<String, (Json, u64, Vec<usize>)> = HashMap::new();
            for (i, vs) in values.iter().enumerate() {
                for v in vs {
                    let entry = terms.entry(label_key(v)).or_insert_with(|| ((*v).clone(), 0, vec![]));
                    entry.1 += 1;
                    if entry.2.last() != Some(&i) {
                        entry.2.push(i);
                    }
                }
            }
            let mut terms: Vec<(String, Json, u64, Vec<usize>)> =
                terms.into_iter().map(|(k, (v, n, m))| (k, v, n, m)).collect();
            terms.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.0.cmp(&b.0)));
            sum_other_doc_count = terms.iter().skip(size).map(|t| t.2).sum();
            terms.truncate(size);
            terms
                .into_iter()
                .map(|(_, label, count, holders)| {
                    work.spend(holders.len())?;
                    let members: Vec<&Object> = holders.into_iter().map(|i| chosen[i]).collect();
                    with_subs(Bucket::new(label, count), spec, &members, now, work)
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        "range" => {
            if spec.ranges.is_empty() {
                return spec_error(format!("aggregation {:?}: a range needs ranges", spec.name));
            }
            spec.ranges
                .iter()
                .map(|range| {
                    let hit = |v: &Json| {
                        v.as_f64().is_some_and(|n| range.from.is_none_or(|f| n >= f) && range.to.is_none_or(|t| n < t))
                    };
                    let members = members(&hit)?;
                    let label = format!("{}-{}", end_text(range.from), end_text(range.to));
                    let mut b = Bucket::new(Json::String(label), members.len() as u64);
                    b.from = range.from.map(Json::from);
                    b.to = range.to.map(Json::from);
                    with_subs(b, spec, &members, now, work)
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        "date_range" => {
            if spec.date_ranges.is_empty() {
                return spec_error(format!("aggregation {:?}: a date_range needs date_ranges", spec.name));
            }
            spec.date_ranges
                .iter()
                .map(|range| {
                    let bound = |end: &Option<String>| -> Result<Option<i64>, AggregateError> {
                        let Some(text) = end.as_deref().filter(|t| !t.is_empty()) else { return Ok(None) };
                        match time_span(text, now) {
                            Some((start, _)) => Ok(Some(start)),
                            None => spec_error(format!("aggregation {:?}: {text:?} is not a time", spec.name)),
                        }
                    };
                    let (from, to) = (bound(&range.from)?, bound(&range.to)?);
                    let hit = |v: &Json| {
                        v.as_str()
                            .and_then(parse_time)
                            .is_some_and(|t| from.is_none_or(|f| t >= f) && to.is_none_or(|e| t < e))
                    };
                    let members = members(&hit)?;
                    let label =
                        format!("{}-{}", range.from.as_deref().unwrap_or("*"), range.to.as_deref().unwrap_or("*"));
                    let mut b = Bucket::new(Json::String(label), members.len() as u64);
                    b.from = range.from.clone().map(Json::String);
                    b.to = range.to.clone().map(Json::String);
                    with_subs(b, spec, &members, now, work)
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        "date_histogram" => {
            let step = match spec.interval.as_deref().unwrap_or("day") {
                "minute" | "1m" => 60,
                "hour" | "1h" => 3_600,
                "day" | "1d" => 86_400,
                "week" | "1w" => 604_800,
                other => {
                    return spec_error(format!(
                        "aggregation {:?}: interval {other:?} is not minute, hour, day or week",
                        spec.name
                    ))
                }
            };
            // Each record in the bucket of its first time, in one pass.
            let mut by_start: std::collections::BTreeMap<i64, Vec<&Object>> = std::collections::BTreeMap::new();
            for (r, vs) in chosen.iter().zip(&values) {
                if let Some(t) = vs.first().and_then(|v| v.as_str()).and_then(parse_time) {
                    by_start.entry(t.div_euclid(step) * step).or_default().push(*r);
                }
            }
            if by_start.len() > MAX_HISTOGRAM_BUCKETS {
                return spec_error(format!(
                    "aggregation {:?}: more than {MAX_HISTOGRAM_BUCKETS} buckets; take a longer interval",
                    spec.name
                ));
            }
            by_start
                .into_iter()
                .map(|(start, members)| {
                    let label = time::OffsetDateTime::from_unix_timestamp(start)
                        .ok()
                        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
                        .unwrap_or_default();
                    with_subs(Bucket::new(Json::String(label), members.len() as u64), spec, &members, now, work)
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        "cardinality" => {
            let mut distinct: Vec<String> = values.iter().flatten().map(|v| label_key(v)).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let mut b = Bucket::new(Json::String(spec.field.clone()), chosen.len() as u64);
            b.value = Some(distinct.len() as f64);
            vec![b]
        }
        "count" => vec![Bucket::new(Json::String(spec.name.clone()), chosen.len() as u64)],
        other => {
            return spec_error(format!(
                "aggregation {:?}: type {other:?} is not one of terms, range, date_range, date_histogram, cardinality, count",
                spec.name
            ))
        }
    };
    Ok(Aggregation { name: spec.name.clone(), buckets, sum_other_doc_count })
}

fn with_subs(
    mut bucket: Bucket,
    spec: &Spec,
    members: &[&Object],
    now: i64,
    work: &Work,
) -> Result<Bucket, AggregateError> {
    bucket.sub_aggregates =
        spec.sub_aggregates.iter().map(|s| run_one(s, members, now, work)).collect::<Result<_, _>>()?;
    Ok(bucket)
}

/// The key a value is counted under: strings as they are, other values as their JSON.
fn label_key(value: &Json) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_owned)
}

fn end_text(end: Option<f64>) -> String {
    end.map_or_else(|| "*".to_owned(), |n| n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_793_491_200; // 2026-11-01T00:00:00Z

    fn records() -> Vec<Object> {
        (0..10)
            .map(|i| {
                json!({
                    "id": format!("r{i}"),
                    "severity": i * 10,
                    "status": if i % 3 == 0 { "new" } else if i % 3 == 1 { "in_progress" } else { "closed" },
                    "tags": if i < 4 { json!(["a", "b"]) } else { json!(["b"]) },
                    "created_timestamp": format!("2026-10-{:02}T{:02}:00:00Z", 25 + i / 3, i),
                })
                .as_object()
                .cloned()
                .expect("object")
            })
            .collect()
    }

    fn run_json(specs: Json) -> Result<Vec<Aggregation>, AggregateError> {
        let owned = records();
        let refs: Vec<&Object> = owned.iter().collect();
        let specs: Vec<Spec> = serde_json::from_value(specs).expect("specs");
        run(&specs, &refs, NOW)
    }

    fn counts(a: &Aggregation) -> Vec<(String, u64)> {
        a.buckets.iter().map(|b| (label_key(&b.label), b.count)).collect()
    }

    #[test]
    fn terms_count_values_most_first_and_lists_by_element() {
        let out = run_json(json!([{"name": "s", "type": "terms", "field": "status"},
                                   {"name": "t", "type": "terms", "field": "tags", "size": 1}]))
        .expect("run");
        assert_eq!(counts(&out[0]), [("new".into(), 4), ("closed".into(), 3), ("in_progress".into(), 3)]);
        assert_eq!(counts(&out[1]), [("b".into(), 10)]);
        assert_eq!(out[1].sum_other_doc_count, 4, "the four 'a' tags left out of size 1");
        let filtered = run_json(json!([{"name": "s", "type": "terms", "field": "status", "filter": "severity:>=50"}]))
            .expect("run");
        // severity >= 50: i = 5..=9, statuses closed, new, in_progress, closed, new.
        assert_eq!(counts(&filtered[0]), [("closed".into(), 2), ("new".into(), 2), ("in_progress".into(), 1)]);
    }

    #[test]
    fn ranges_date_ranges_and_histograms() {
        let out = run_json(json!([
            {"name": "r", "type": "range", "field": "severity", "ranges": [{"From": 0, "To": 50}, {"from": 50}]},
            {"name": "d", "type": "date_range", "field": "created_timestamp",
             "date_ranges": [{"from": "now-7d", "to": "2026-10-27"}, {"from": "2026-10-27"}]},
            {"name": "h", "type": "date_histogram", "field": "created_timestamp", "interval": "day"},
            {"name": "c", "type": "cardinality", "field": "status"},
        ]))
        .expect("run");
        assert_eq!(out[0].buckets.iter().map(|b| b.count).collect::<Vec<_>>(), [5, 5]);
        // Days 25 and 26 hold i = 0..6; the 27th and 28th the rest.
        assert_eq!(out[1].buckets.iter().map(|b| b.count).collect::<Vec<_>>(), [6, 4]);
        assert_eq!(counts(&out[2]).iter().map(|c| c.1).collect::<Vec<_>>(), [3, 3, 3, 1]);
        assert_eq!(counts(&out[2])[0].0, "2026-10-25T00:00:00Z");
        assert_eq!(out[3].buckets[0].value, Some(3.0));
    }

    #[test]
    fn sub_aggregations_run_in_each_bucket() {
        let out = run_json(json!([{"name": "s", "type": "terms", "field": "status",
            "sub_aggregates": [{"name": "t", "type": "terms", "field": "tags"}]}]))
        .expect("run");
        let new = &out[0].buckets[0];
        assert_eq!(label_key(&new.label), "new");
        // new: i = 0, 3, 6, 9; tags a for 0 and 3.
        assert_eq!(counts(&new.sub_aggregates[0]), [("b".into(), 4), ("a".into(), 2)]);
    }

    #[test]
    fn bad_specs_are_refused() {
        for bad in [
            json!([]),
            json!([{"name": "x", "type": "median", "field": "severity"}]),
            json!([{"name": "x", "type": "terms"}]),
            json!([{"name": "x", "type": "range", "field": "severity"}]),
            json!([{"name": "x", "type": "date_range", "field": "t", "date_ranges": [{"from": "yesterday"}]}]),
            json!([{"name": "x", "type": "date_histogram", "field": "t", "interval": "fortnight"}]),
            json!([{"name": "x", "type": "terms", "field": "status", "filter": "status:'open"}]),
            json!([{"name": "a", "type": "terms", "field": "s", "sub_aggregates": [{"name": "b", "type": "terms", "field": "s",
                "sub_aggregates": [{"name": "c", "type": "terms", "field": "s",
                "sub_aggregates": [{"name": "d", "type": "terms", "field": "s"}]}]}]}]),
        ] {
            assert!(run_json(bad.clone()).is_err(), "{bad}");
        }
        let many: Vec<Json> = (0..MAX_SPECS + 1).map(|i| json!({"name": format!("a{i}"), "type": "count"})).collect();
        assert!(run_json(Json::Array(many)).is_err());
        let ranges: Vec<Json> = (0..MAX_RANGES + 1).map(|i| json!({"from": i})).collect();
        assert!(run_json(json!([{"name": "r", "type": "range", "field": "severity", "ranges": ranges}])).is_err());
    }

    #[test]
    fn the_work_of_one_request_is_bounded() {
        // 2,000 records, each with 100 distinct tags: terms of size 1,000 with two levels of the same
        // terms below would be 10^11 memberships; refused once the work passes its bound.
        let owned: Vec<Object> = (0..2_000)
            .map(|i| json!({"tags": (0..100).map(|t| format!("t{}", (i + t) % 1_500)).collect::<Vec<_>>()}))
            .map(|v| v.as_object().cloned().expect("object"))
            .collect();
        let refs: Vec<&Object> = owned.iter().collect();
        let level =
            |sub: Json| json!({"name": "t", "type": "terms", "field": "tags", "size": 1000, "sub_aggregates": sub});
        let specs: Vec<Spec> = serde_json::from_value(json!([level(json!([level(
            json!([{"name": "c", "type": "terms", "field": "tags", "size": 1000}])
        )]))]))
        .expect("specs");
        let started = std::time::Instant::now();
        let refused = run(&specs, &refs, NOW).map(|a| a.len());
        assert!(matches!(&refused, Err(AggregateError::Spec(m)) if m.contains("work")), "{refused:?}");
        // Not a timing assertion: the bound is in steps; this only reports.
        println!("refused after {:?}", started.elapsed());
        let one_level: Vec<Spec> =
            serde_json::from_value(json!([{"name": "t", "type": "terms", "field": "tags", "size": 1000}]))
                .expect("specs");
        assert_eq!(run(&one_level, &refs, NOW).expect("one level")[0].buckets.len(), 1000);
    }
}
