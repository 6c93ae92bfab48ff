//! A loop that outlives its token: one call every INTERVAL seconds for DURATION seconds, longer than a
//! token's 30 minutes, with no token handling in the loop. The client renews the token before it expires
//! (and once more on a 401), so no call fails for an expired token.
//!
//! ```sh
//! # the defaults: a call a minute for 35 minutes
//! FALCON_CLIENT_ID=... FALCON_CLIENT_SECRET=... cargo run -p talon --example long_running
//! # shorter: every 2 seconds for 10 seconds (arguments win over TALON_EXAMPLE_INTERVAL / TALON_EXAMPLE_DURATION)
//! cargo run -p talon --example long_running -- 2 10
//! ```

use std::time::{Duration, Instant};

use talon::{Client, Credentials, HostQuery, Hosts, OAuth2};

/// Seconds from the `position`-th argument, else the variable `env`, else `default`.
fn seconds(position: usize, env: &str, default: u64) -> Result<Duration, String> {
    let text = std::env::args().nth(position).or_else(|| std::env::var(env).ok());
    match text {
        None => Ok(Duration::from_secs(default)),
        Some(t) => t.parse().map(Duration::from_secs).map_err(|_| format!("{env}: {t:?} is not a number of seconds")),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interval = seconds(1, "TALON_EXAMPLE_INTERVAL", 60)?.max(Duration::from_millis(100));
    let duration = seconds(2, "TALON_EXAMPLE_DURATION", 35 * 60)?;
    let client = Client::builder(Credentials::from_env()?).build()?;
    let hosts = Hosts::new(client.clone());
    let oauth2 = OAuth2::new(client);

    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    let mut calls = 0u64;
    while started.elapsed() <= duration {
        ticker.tick().await;
        let page = hosts.query_devices_by_filter(&HostQuery::new().limit(1)).await?;
        calls += 1;
        println!(
            "{:>6}s  call {calls}: {} hosts (token fresh: {})",
            started.elapsed().as_secs(),
            page.pagination.total,
            oauth2.authenticated()
        );
    }
    println!("{calls} calls in {}s, none refused for an expired token", started.elapsed().as_secs());
    Ok(())
}
