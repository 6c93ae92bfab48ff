//! `talon db copy`: move a store to another database (SQLite to PostgreSQL when one node is not enough).

use anyhow::Context;
use clap::Subcommand;
use talon_auth::{Clock, SystemClock};
use talon_store::redact_url;

#[derive(clap::Args)]
pub struct DbArgs {
    #[command(subcommand)]
    command: DbCommand,
}

#[derive(Subcommand)]
enum DbCommand {
    /// Copy clients, signing keys, revocations, customers and hosts from one database into another.
    /// Idempotent: what the target has already is kept, so it can be re-run. Stop the servers on the
    /// source first, so nothing changes during the copy.
    Copy {
        /// Source database URL, e.g. sqlite://talon.db.
        #[arg(long)]
        from: String,
        /// Target database URL, e.g. postgres://talon@db/talon (created and initialised if new).
        #[arg(long)]
        to: String,
    },
}

pub async fn run(args: DbArgs) -> anyhow::Result<()> {
    match args.command {
        DbCommand::Copy { from, to } => {
            let now = SystemClock.now();
            let open = |url: String| async move {
                talon_store::open(&url, now).await.with_context(|| format!("cannot open {}", redact_url(&url)))
            };
            let (source, target) = (open(from.clone()).await?, open(to.clone()).await?);
            let report = talon_store::copy(&*source, &*target, now).await.context("copy failed")?;
            println!(
                "copied from {} to {}: {} customers, {} clients, {} signing keys, {} revocations, {} hosts, \
                 {} policy settings, {} host groups, {} generic records, {} audit log entries (items the target \
                 had already are kept)",
                redact_url(&from),
                redact_url(&to),
                report.customers,
                report.clients,
                report.keys,
                report.revocations,
                report.hosts,
                report.policy_settings,
                report.host_groups,
                report.entities,
                report.audit_entries
            );
            Ok(())
        }
    }
}
