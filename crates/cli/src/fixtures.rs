//! `talon fixtures load PATH...` and `talon serve --fixtures PATH`: a user's own records and canned answers
//! behind any operation (the file format: `talon_emulator::generic::fixture`). Every file is read and
//! checked before anything is written, and the whole load is one transaction: a file that does not parse
//! is named with its line, and nothing of the load is kept.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use talon_emulator::generic::fixture::{self, Fixture};
use talon_store::fixtures::LoadReport;
use talon_store::Store;

use crate::DatabaseArg;

/// Largest fixture file (a resource holds at most 16 MiB anyway).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

#[derive(clap::Args)]
pub struct FixturesArgs {
    #[command(flatten)]
    database: DatabaseArg,
    #[command(subcommand)]
    command: FixturesCommand,
}

#[derive(clap::Subcommand)]
enum FixturesCommand {
    /// Load fixture files (`.json`, `.jsonl`), or every such file of a directory, into the store; running
    /// servers answer from them at once.
    Load {
        /// Files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

pub async fn run(args: FixturesArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    match args.command {
        FixturesCommand::Load { paths } => {
            let report = load(&*store, &paths).await?;
            println!("loaded {} records and {} canned answers", report.records, report.canned_answers);
            Ok(())
        }
    }
}

/// Reads, checks and loads the fixture files of `paths` (a directory: its `.json` and `.jsonl` files,
/// by name), all or nothing.
pub async fn load(store: &dyn Store, paths: &[PathBuf]) -> anyhow::Result<LoadReport> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_fixture(p))
                .collect();
            inside.sort();
            files.extend(inside);
        } else if is_fixture(path) {
            files.push(path.clone());
        } else {
            bail!("{}: a fixture file ends in .json or .jsonl", path.display());
        }
    }
    let mut fixtures: Vec<Fixture> = Vec::new();
    let mut make_id = || uuid::Uuid::new_v4().simple().to_string();
    for file in &files {
        let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
        if size > MAX_FILE_BYTES {
            bail!("{}: a fixture file may be at most {MAX_FILE_BYTES} bytes", file.display());
        }
        let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|e| anyhow::anyhow!("{}: not UTF-8 (at byte {})", file.display(), e.utf8_error().valid_up_to()))?;
        fixtures.extend(fixture::parse(&file.display().to_string(), &text, &mut make_id)?);
    }
    let home = store.default_customer().await?;
    Ok(talon_store::fixtures::load(store, fixtures, &home).await?)
}

fn is_fixture(path: &Path) -> bool {
    path.is_file() && matches!(path.extension().and_then(|e| e.to_str()), Some("json" | "jsonl"))
}
