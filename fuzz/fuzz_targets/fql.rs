//! `fql`: talon-emulator's FQL parser (`talon_emulator::fql::parse`) and the hosts query that runs what it
//! parses (`HostQuery::parse` and `HostQuery::run`, as `GET /devices/queries/devices/v1?filter=` does),
//! over 64 fixed demo hosts (`talon_emulator::demo`, some hidden).
//!
//! An input is FQL text (UTF-8 only: the server decodes the query string strictly before FQL sees it),
//! or, when its first byte is 0, a recipe for one comparison over a list of values (see
//! `check_list_is_any_of`). libFuzzer's `-timeout` bounds one run: `fql::limits` must keep the costliest
//! filter within it. Invariants:
//! - an error's position is within the input and on a character boundary (callers may slice there);
//! - parsing is deterministic, and a parsed filter respects `fql::limits` (comparisons, values);
//! - `(filter)` matches exactly the hosts `filter` matches (or is refused for nesting alone);
//! - `HostQuery::parse` accepts the filter exactly when `fql::parse` does (or it is blank), and the page
//!   `HostQuery::run` answers is exactly the slice of the visible, matching hosts in the requested order
//!   (checked against a plain filter-and-sort), with the right total;
//! - a list means "any of", and under `!` "none of": `f:op[a,b]` matches the hosts `f:op'a',f:op'b'`
//!   matches (`+` under `!`), so that the parser's shortcut (one bound kept of an ordering list, plain
//!   values in a set) changes nothing.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use talon_auth::CustomerId;
use talon_emulator::fql::{self, limits, MAX_NESTING};
use talon_emulator::{demo, Field, Filter, Host, HostIndex, HostQuery, HostSort, QueryParams};
use talon_wire::device::FieldKind;

/// The queries' `now`: the demo data's anchor, so relative times (`now-7d`) fall among the hosts' times.
const NOW: i64 = demo::ANCHOR;
const LIMIT: usize = 7;
const OFFSET: usize = 2;

static HOSTS: LazyLock<HostIndex> = LazyLock::new(|| {
    let cid = CustomerId::parse("fedcba9876543210fedcba9876543210").expect("cid");
    let mut hosts = demo::generate(&cid, 64, NOW);
    // Hidden hosts must never be answered, whatever the filter.
    for host in hosts.iter_mut().step_by(9) {
        host.set_hidden(true, NOW);
    }
    HostIndex::new(hosts)
});

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, recipe)) => check_list_is_any_of(recipe),
        _ => {
            if let Ok(input) = std::str::from_utf8(data) {
                check_text(input);
            }
        }
    }
});

fn check_text(input: &str) {
    let parsed = fql::parse(input, NOW);
    assert_eq!(fql::parse(input, NOW), parsed, "parsing is deterministic");
    let hosts = HOSTS.hosts();
    match &parsed {
        Err(e) => {
            assert!(e.position <= input.len(), "position {} past the end", e.position);
            assert!(input.is_char_boundary(e.position), "position {} inside a character", e.position);
            assert!(!e.message.is_empty());
        }
        Ok(filter) => {
            let (comparisons, values) = spent(filter);
            assert!(comparisons <= limits::COMPARISONS, "{comparisons} comparisons");
            assert!(values <= limits::VALUES, "{values} values");
            match fql::parse(&format!("({input})"), NOW) {
                Ok(wrapped) => {
                    for host in hosts {
                        assert_eq!(
                            filter.matches(host),
                            wrapped.matches(host),
                            "(filter) on {}",
                            host.record().hostname
                        );
                    }
                }
                Err(e) => assert!(e.message.contains(&format!("deeper than {MAX_NESTING}")), "(filter): {e}"),
            }
        }
    }
    // The sort varies with the input so that every field's order gets checked.
    let names: Vec<&str> = Field::names().collect();
    let sort = format!("{}.{}", names[input.len() % names.len()], ["asc", "desc"][input.len() / names.len() % 2]);
    for sort in [None, Some(sort.as_str())] {
        let (limit, offset) = (LIMIT.to_string(), OFFSET.to_string());
        let params = QueryParams { filter: Some(input), sort, limit: Some(&limit), offset: Some(&offset) };
        let query = match HostQuery::parse(params, NOW) {
            Ok(query) => query,
            Err(e) => {
                assert!(parsed.is_err(), "the query refused a filter that parses: {e}");
                continue;
            }
        };
        assert!(parsed.is_ok() || input.trim().is_empty(), "the query took a filter that does not parse");
        let (page, total) = query.run(&HOSTS);
        let order = sort.map_or(HostSort::DEFAULT, |s| HostSort::parse(s).expect("a valid sort"));
        let mut expected: Vec<&Host> =
            hosts.iter().filter(|h| !h.hidden() && query.filter.as_ref().is_none_or(|f| f.matches(h))).collect();
        expected.sort_by(|a, b| {
            let by_field = order.field.compare(a, b);
            let by_field = if order.descending { by_field.reverse() } else { by_field };
            by_field.then_with(|| a.device_id().cmp(b.device_id()))
        });
        assert_eq!(total, expected.len() as u64, "total");
        let expected: Vec<&str> = expected.iter().skip(OFFSET).take(LIMIT).map(|h| h.device_id()).collect();
        let page: Vec<&str> = page.iter().map(|h| h.device_id()).collect();
        assert_eq!(page, expected, "the page of sort {sort:?}");
    }
}

/// Comparisons and values of a filter, as `fql::limits` counts them (values after the parser's merging
/// of plain values into a set and of ordering lists into one bound, so at most what was written).
fn spent(filter: &Filter) -> (usize, usize) {
    match filter {
        Filter::Any(all) | Filter::All(all) => all.iter().map(spent).fold((0, 0), |(c, v), (c2, v2)| (c + c2, v + v2)),
        Filter::Compare { operands, exact, .. } => (1, operands.len() + exact.len()),
    }
}

/// Field, operator and values from `recipe`; then `field:op[values]` must match the hosts that the
/// comparisons one value at a time match: any of them, or for `!` all of them (none of the values).
fn check_list_is_any_of(recipe: &[u8]) {
    let [field, op, rest @ ..] = recipe else { return };
    let names: Vec<&str> = Field::names().collect();
    let field = names[usize::from(*field) % names.len()];
    let op = ["", "!", ">", ">=", "<", "<="][usize::from(*op) % 6];
    let values: Vec<String> = rest.chunks_exact(2).take(8).map(|c| value(field, c[0], c[1])).collect();
    if values.is_empty() {
        return;
    }
    let list = format!("{field}:{op}[{}]", values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(","));
    let joiner = if op == "!" { "+" } else { "," };
    let singles = values.iter().map(|v| format!("{field}:{op}'{v}'")).collect::<Vec<_>>().join(joiner);
    match (fql::parse(&list, NOW), fql::parse(&singles, NOW)) {
        (Ok(list_filter), Ok(singles_filter)) => {
            for host in HOSTS.hosts() {
                assert_eq!(list_filter.matches(host), singles_filter.matches(host), "{list} and {singles} on {host:?}");
            }
        }
        (Err(_), Err(_)) => {}
        (a, b) => panic!("{list} gives {a:?} but {singles} gives {b:?}"),
    }
}

/// A value for `field` from two bytes: of the field's kind (times, addresses, text), near the demo
/// hosts' own values, so that comparisons split the hosts rather than match all or none.
fn value(field: &str, a: u8, b: u8) -> String {
    const TEXT: &[&str] = &[
        "Windows",
        "Mac",
        "Linux",
        "WIN-*",
        "*macbook*",
        "web-*-0*",
        "normal",
        "contained",
        "7.1*",
        "7.17.18804.0",
        "*",
        "",
        "Ubuntu 22.04",
        "Windows Server 2022",
        "00-50-56-*",
        "FalconGroupingTags/Servers",
        "sensorgroupingtags/pci",
        "m",
    ];
    match Field::parse(field).map(Field::kind) {
        Some(FieldKind::Time) => match a % 4 {
            0 => format!("2026-{:02}-{:02}", 1 + b % 12, 1 + b % 28),
            1 => format!("now-{}h", b),
            2 => format!("2026-10-{:02}T{:02}:00:00Z", 1 + b % 28, b % 24),
            _ => format!("now-{}d", u16::from(b) * 3),
        },
        Some(FieldKind::Ip) => match a % 4 {
            0 => format!("10.{}.{}.1", b % 32, b),
            1 => format!("203.0.113.{b}"),
            2 => format!("10.{}.*", b % 32),
            _ => "10.0.0.0".to_owned(),
        },
        _ => {
            let text = TEXT[usize::from(a) % TEXT.len()];
            // Case must not matter.
            if b.is_multiple_of(2) {
                text.to_owned()
            } else {
                text.to_uppercase()
            }
        }
    }
}
