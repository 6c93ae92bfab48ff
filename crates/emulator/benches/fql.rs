//! What the costliest FQL filters a client can send cost: each built at `fql::limits` (64 comparisons, 2,000
//! values, 16 wildcard values of 8 `*`s or `~` searches, 256-character values), none matching any host so that nothing
//! short-circuits, parsed once and evaluated over 2,000 demo hosts, as one filtered QueryDevicesByFilter
//! does. Prints the median of 25 evaluations of each and its ratio to the target of 10 ms.
//!
//! `cargo bench -p talon-emulator --bench fql`

use std::time::{Duration, Instant};

use talon_auth::CustomerId;
use talon_emulator::fql::{self, limits};
use talon_emulator::{demo, Host};

const HOSTS: usize = 2_000;
const TARGET: Duration = Duration::from_millis(10);
const RUNS: usize = 25;

/// `n` values in quotes, each `len` characters long and matching no host.
fn values(n: usize, len: usize, salt: &str) -> Vec<String> {
    (0..n).map(|i| format!("'{:-<len$}'", format!("zz{salt}{i}"))).collect()
}

/// A value of `limits::STARS` stars whose pieces a hostname holds, but whose last piece it does not: each
/// match scans the whole name before it fails.
fn wildcard(i: usize) -> String {
    let mut pattern: String = "*-".repeat(limits::STARS - 1);
    pattern.push_str(&format!("*zz{i}"));
    format!("'{pattern}'")
}

fn filters() -> Vec<(&'static str, String)> {
    let fields = ["hostname", "os_version", "agent_version", "mac_address", "device_id", "status", "platform_name"];
    let exact_terms = limits::COMPARISONS - limits::WILDCARDS;
    let per_term = (limits::VALUES - limits::WILDCARDS) / exact_terms;
    let mut mixed: Vec<String> = (0..limits::WILDCARDS).map(|i| format!("hostname:{}", wildcard(i))).collect();
    for t in 0..exact_terms {
        let list = values(per_term, 40, &t.to_string()).join(",");
        mixed.push(format!("{}:[{list}]", fields[t % fields.len()]));
    }
    let ordered: Vec<String> = (0..limits::COMPARISONS)
        .map(|t| {
            format!(
                "{}:>[{}]",
                fields[t % fields.len()],
                values(limits::VALUES / limits::COMPARISONS, 8, "~").join(",")
            )
        })
        .collect();
    let tags: Vec<String> = (0..limits::COMPARISONS)
        .map(|t| {
            format!(
                "tags:[{}]",
                values(limits::VALUES / limits::COMPARISONS, limits::VALUE_CHARS, &t.to_string()).join(",")
            )
        })
        .collect();
    let long_values: Vec<String> = (0..limits::COMPARISONS)
        .map(|t| format!("hostname:{}", values(1, limits::VALUE_CHARS, &t.to_string())[0]))
        .collect();
    // `~` searches count as wildcard values: 16 of them, over the longest text fields, the rest exact lists.
    let mut searches: Vec<String> = (0..limits::WILDCARDS)
        .map(|i| {
            format!(
                "{}:~'{}'",
                ["hostname", "kernel_version", "system_product_name", "os_version"][i % 4],
                "z".repeat(limits::VALUE_CHARS - 8) + &i.to_string()
            )
        })
        .collect();
    for t in 0..exact_terms {
        let list = values(per_term, 40, &format!("s{t}")).join(",");
        searches.push(format!("{}:[{list}]", ["machine_domain", "site_name", "ou", "serial_number"][t % 4]));
    }
    vec![
        ("64 terms: 16 wildcards of 8 stars, 1,984 exact values", mixed.join(",")),
        ("64 terms: 16 ~ searches of 256 chars, 1,984 exact values", searches.join(",")),
        ("64 ordering terms (>) of 31 values", ordered.join(",")),
        ("64 tag lists of 31 values of 256 characters", tags.join(",")),
        ("64 terms of 256-character values", long_values.join(",")),
    ]
}

fn main() {
    let hosts: Vec<Host> =
        demo::generate(&CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid"), HOSTS, demo::ANCHOR);
    println!("FQL: the costliest filters within fql::limits over {HOSTS} hosts, median of {RUNS} evaluations");
    println!("{:<58} {:>10} {:>12} {:>10}", "filter", "bytes", "evaluation", "/ 10 ms");
    let mut worst = Duration::ZERO;
    for (name, filter) in filters() {
        let parsed = fql::parse(&filter, demo::ANCHOR).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut times: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                let matched = hosts.iter().filter(|h| parsed.matches(h)).count();
                let took = started.elapsed();
                assert_eq!(matched, 0, "{name}: the filter is meant to match nothing");
                took
            })
            .collect();
        times.sort();
        let median = times[RUNS / 2];
        worst = worst.max(median);
        println!(
            "{name:<58} {:>10} {:>9.3} ms {:>10.3}",
            filter.len(),
            median.as_secs_f64() * 1e3,
            median.as_secs_f64() / TARGET.as_secs_f64()
        );
    }
    println!(
        "costliest / target = {:.3} (target <= 1: at most 10 ms of CPU on {HOSTS} hosts)",
        worst.as_secs_f64() / TARGET.as_secs_f64()
    );
}
