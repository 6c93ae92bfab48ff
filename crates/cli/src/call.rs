//! `talon call OPERATION_ID [--param name=value]... [--body JSON|@FILE] [--file FIELD=PATH] [--all-pages]`:
//! any operation of the catalogue through the SDK's harness, so the same checks run before anything is
//! sent (unknown operation or parameter, missing, wrong type, enum, bounds, pattern). A repeated `--param`
//! makes a list. The answer's JSON goes to stdout; a non-2xx answer is an error naming the status, the
//! Falcon message and the trace ID.

use anyhow::Context;
use serde_json::{json, Value};
use talon::{Args, Harness};

use crate::remote::ApiArgs;

#[derive(clap::Args)]
pub struct CallArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The operation ID or a deprecated alias (case matters), e.g. QueryDevicesByFilter; see `talon ops list`.
    operation: String,
    /// A parameter as name=value, wherever the operation takes it (query, path, header, form field);
    /// repeat a name for a list.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// The JSON body, or @FILE to read it from a file (@- reads stdin).
    #[arg(long, value_name = "JSON|@FILE")]
    body: Option<String>,
    /// A file to upload as FIELD=PATH (sent as multipart/form-data).
    #[arg(long = "file", value_name = "FIELD=PATH")]
    files: Vec<String>,
    /// Follow every page (integer offset, after token or scroll token, up to `total`) and print
    /// {"resources": [...], "pages": N, "total": T}.
    #[arg(long)]
    all_pages: bool,
}

pub async fn run(call: CallArgs) -> anyhow::Result<()> {
    let args = arguments(&call)?;
    let harness = Harness::new(call.api.client()?);
    let printed = if call.all_pages {
        let pages = harness.all_pages(&call.operation, args).await?;
        json!({ "resources": pages.resources, "pages": pages.pages, "total": pages.total })
    } else {
        harness.command(&call.operation, args).await?.ok()?
    };
    println!("{}", serde_json::to_string_pretty(&printed)?);
    Ok(())
}

/// The harness arguments the flags give.
fn arguments(call: &CallArgs) -> anyhow::Result<Args> {
    let mut args = Args::new();
    for pair in &call.params {
        let (name, value) = pair.split_once('=').with_context(|| format!("--param {pair:?} is not name=value"))?;
        args = args.param(name, Value::String(value.to_owned()));
    }
    if let Some(body) = &call.body {
        let text = match body.strip_prefix('@') {
            Some("-") => std::io::read_to_string(std::io::stdin()).context("reading the body from stdin")?,
            Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading the body from {path}"))?,
            None => body.clone(),
        };
        let json: Value = serde_json::from_str(&text).context("--body is not JSON")?;
        args = args.body(json);
    }
    for pair in &call.files {
        let (field, path) = pair.split_once('=').with_context(|| format!("--file {pair:?} is not FIELD=PATH"))?;
        let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
        let name = std::path::Path::new(path).file_name().map_or_else(|| path.into(), |n| n.to_string_lossy());
        args = args.file(field, &name, bytes);
    }
    Ok(args)
}
