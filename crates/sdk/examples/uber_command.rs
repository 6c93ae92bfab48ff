//! The Uber class, as in the Falcon docs: any operation by its operation ID, answering status, headers and
//! body. Here `QueryDevicesByFilter`, then `GetDeviceDetailsV2` for what it found.
//!
//! ```sh
//! FALCON_CLIENT_ID=... FALCON_CLIENT_SECRET=... FALCON_BASE_URL=http://127.0.0.1:8080 \
//!     cargo run -p talon --example uber_command -- "platform_name:'Windows'"
//! ```

use talon::{Args, Client, Credentials, Harness};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let filter = std::env::args().nth(1);
    let harness = Harness::new(Client::builder(Credentials::from_env()?).build()?);

    let mut args = Args::new().query("limit", 5).query("sort", "hostname.asc");
    if let Some(filter) = &filter {
        args = args.query("filter", filter);
    }
    let answer = harness.command("QueryDevicesByFilter", args).await?;
    // The harness does not turn a non-2xx status into an error: the caller looks at it.
    if answer.status != 200 {
        eprintln!("QueryDevicesByFilter: HTTP {}: {}", answer.status, answer.body["errors"]);
        std::process::exit(1);
    }
    let ids: Vec<String> = answer.body["resources"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|id| id.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    println!("{} of {} hosts", ids.len(), answer.body["meta"]["pagination"]["total"]);
    if ids.is_empty() {
        return Ok(());
    }

    let details = ids.iter().fold(Args::new(), |args, id| args.query("ids", id));
    let answer = harness.command("GetDeviceDetailsV2", details).await?;
    for device in answer.body["resources"].as_array().into_iter().flatten() {
        println!("{}  {}  {}", device["device_id"], device["hostname"], device["status"]);
    }
    Ok(())
}
