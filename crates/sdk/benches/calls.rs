//! The SDK's half of `bench/sdk_vs_falconpy.sh`: N sequential authenticated calls of
//! QueryDevicesByFilter, then N calls spread over W concurrent workers (clones of one client, sharing
//! its token; the sequential calls on a current-thread runtime, see `main`), against the server that
//! `FALCON_BASE_URL` names. Prints one line per mode,
//! `sdk <mode> <calls> <seconds> <calls/s>`, for the script to compare with FalconPy's.
//!
//! Not a Criterion benchmark: the figure that matters is the ratio to FalconPy measured in the same run,
//! so this is a plain program (`harness = false`) that the script runs with `cargo bench`.

use std::time::Instant;

use reqwest::Method;
use talon::{Client, Credentials, Error};

const ROUTE: &str = "/devices/queries/devices/v1";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

async fn call(client: &Client) -> Result<(), Error> {
    client.request(Method::GET, ROUTE).send().await.map(drop)
}

fn report(mode: &str, calls: usize, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    println!("sdk {mode} {calls} {secs:.3} {:.1}", calls as f64 / secs);
}

/// A client with its token already fetched (outside the timed part, as FalconPy's is by its warm-up call).
async fn ready_client() -> Result<Client, Error> {
    let client = Client::builder(Credentials::from_env()?).build()?;
    call(&client).await?;
    Ok(client)
}

async fn sequential(calls: usize) -> Result<(), Error> {
    let client = ready_client().await?;
    let started = Instant::now();
    for _ in 0..calls {
        call(&client).await?;
    }
    report("sequential", calls, started);
    Ok(())
}

async fn concurrent(calls: usize, workers: usize) -> Result<(), Error> {
    let client = ready_client().await?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        // Calls split as evenly as they go: the first `calls % workers` workers make one more.
        let share = calls / workers + usize::from(worker < calls % workers);
        let client = client.clone();
        tasks.spawn(async move {
            for _ in 0..share {
                call(&client).await?;
            }
            Ok::<(), Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| Error::Config(format!("a worker failed: {e}")))??;
    }
    report("concurrent", calls, started);
    Ok(())
}

/// Each mode on the runtime a program of that shape would use: a script that makes one call after
/// another is one task, so a current-thread runtime (on a multi-thread one, each call would wake the
/// connection's task on another thread and back); concurrent workers get the multi-thread runtime.
/// Each mode has its own client, since a client's connections belong to the runtime that opened them.
fn main() -> Result<(), Error> {
    // `cargo bench` without the script's environment (or with --bench filters) has nothing to drive.
    if std::env::var_os("FALCON_BASE_URL").is_none() {
        eprintln!("calls: FALCON_BASE_URL is not set; run bench/sdk_vs_falconpy.sh");
        return Ok(());
    }
    let calls = setting("CALLS", 5000);
    let workers = setting("WORKERS", 64);
    let runtime = |builder: &mut tokio::runtime::Builder| {
        builder.enable_all().build().map_err(|e| Error::Config(format!("tokio runtime: {e}")))
    };
    runtime(&mut tokio::runtime::Builder::new_current_thread())?.block_on(sequential(calls))?;
    runtime(&mut tokio::runtime::Builder::new_multi_thread())?.block_on(concurrent(calls, workers))
}
