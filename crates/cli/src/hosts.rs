//! `talon hosts list|contain|lift`: the hosts API through the SDK's `Hosts` service only, with the
//! credentials of `talon token` (flags or FALCON_* variables). An API error ends the command non-zero
//! with its status, Falcon message and trace ID (the SDK's `Error` says them), never the secret.

use std::collections::HashMap;

use clap::Subcommand;
use talon::{Device, DeviceAction, HostQuery, Hosts, MAX_QUERY_LIMIT};

use crate::remote::ApiArgs;
use crate::terminal::printable;

#[derive(clap::Args)]
pub struct HostsArgs {
    #[command(subcommand)]
    command: HostsCommand,
}

#[derive(Subcommand)]
enum HostsCommand {
    /// List hosts: a filtered, sorted page, as a table or as JSON.
    List {
        #[command(flatten)]
        api: ApiArgs,
        /// An FQL filter, e.g. "platform_name:'Windows'+hostname:'web*'".
        #[arg(long)]
        filter: Option<String>,
        /// field.asc or field.desc, e.g. hostname.asc, last_seen.desc.
        #[arg(long)]
        sort: Option<String>,
        /// Most hosts to show (the API's default is 100).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_QUERY_LIMIT))]
        limit: Option<u64>,
        /// Skip this many matching hosts.
        #[arg(long)]
        offset: Option<u64>,
        /// Print the device objects as a JSON list.
        #[arg(long)]
        json: bool,
    },
    /// Network-contain hosts (requires devices:write).
    Contain {
        #[command(flatten)]
        api: ApiArgs,
        /// Device IDs.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
    /// Lift the containment of hosts (requires devices:write).
    Lift {
        #[command(flatten)]
        api: ApiArgs,
        /// Device IDs.
        #[arg(required = true, value_name = "ID")]
        ids: Vec<String>,
    },
}

pub async fn run(args: HostsArgs) -> anyhow::Result<()> {
    match args.command {
        HostsCommand::List { api, filter, sort, limit, offset, json } => {
            let hosts = Hosts::new(api.client()?);
            let query = HostQuery { filter, sort, offset, limit };
            let page = hosts.query_devices_by_filter(&query).await?;
            let devices = in_order(&page.ids, hosts.get_device_details(&page.ids).await?);
            if json {
                println!("{}", serde_json::to_string(&devices)?);
            } else {
                print_table(&devices);
                let p = page.pagination;
                println!("{} of {} hosts (offset {})", devices.len(), p.total, p.offset);
            }
            Ok(())
        }
        HostsCommand::Contain { api, ids } => act(api, DeviceAction::Contain, ids).await,
        HostsCommand::Lift { api, ids } => act(api, DeviceAction::LiftContainment, ids).await,
    }
}

async fn act(api: ApiArgs, action: DeviceAction, ids: Vec<String>) -> anyhow::Result<()> {
    let results = Hosts::new(api.client()?).perform_action(action, &ids).await?;
    // The API answers at once; on the real API the hosts then pass through a pending state.
    for result in &results {
        println!("{action}: accepted for {}", printable(&result.id));
    }
    Ok(())
}

/// The devices in the order of the query's IDs (the details call need not keep it), leaving out IDs the
/// details did not answer (a host deleted between the two calls).
fn in_order(ids: &[String], devices: Vec<Device>) -> Vec<Device> {
    let mut by_id: HashMap<String, Device> = devices.into_iter().map(|d| (d.device_id.clone(), d)).collect();
    ids.iter().filter_map(|id| by_id.remove(id)).collect()
}

fn print_table(devices: &[Device]) {
    let rows: Vec<[String; 5]> = devices
        .iter()
        .map(|d| [&d.device_id, &d.hostname, &d.platform_name, &d.status, &d.last_seen].map(|v| printable(v)))
        .collect();
    let header = ["DEVICE_ID", "HOSTNAME", "PLATFORM", "STATUS", "LAST_SEEN"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let padded: Vec<String> = cells.iter().zip(widths).map(|(c, w)| format!("{c:<w$}")).collect();
        padded.join("  ").trim_end().to_owned()
    };
    println!("{}", line(header));
    for row in &rows {
        println!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]].map(String::as_str)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_follows_the_ids() {
        let device = |id: &str| Device { device_id: id.to_owned(), ..Device::default() };
        let ordered = in_order(&["b".into(), "a".into(), "c".into()], vec![device("a"), device("b")]);
        assert_eq!(ordered.iter().map(|d| d.device_id.as_str()).collect::<Vec<_>>(), ["b", "a"]);
    }
}
