//! `talon ops list|show`: the Falcon operation catalogue, offline: every operation's ID, method, route,
//! scope (known from public data, or inferred) and how this server answers it (emulated, generic, or 501;
//! with `--fixtures-in`, `fixture` for an operation a store's canned answer answers).

use anyhow::bail;
use clap::Subcommand;
use serde_json::{json, Value};
use talon_server::routes::falcon::answer;
use talon_wire::catalogue::{catalogue, Operation, Param};

#[derive(clap::Args)]
pub struct OpsArgs {
    #[command(subcommand)]
    command: OpsCommand,
}

#[derive(Subcommand)]
enum OpsCommand {
    /// One line per operation: ID, method, route, scope (`?` marks an inferred one), and this server's answer.
    List {
        /// Only this collection (as FalconPy names it, e.g. hosts, host_group).
        #[arg(long)]
        collection: Option<String>,
        /// Only operations whose ID, alias or route contains this text (any case).
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        json: bool,
        /// Also read this store's fixtures: an operation one of its canned answers answers (for any
        /// customer) is shown as `fixture`.
        #[arg(long, value_name = "DATABASE_URL")]
        fixtures_in: Option<String>,
    },
    /// An operation's parameters, scope (known or inferred), aliases and this server's answer.
    Show {
        /// The operation ID or a deprecated alias (case matters).
        id: String,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(args: OpsArgs) -> anyhow::Result<()> {
    match args.command {
        OpsCommand::List { collection, search, json, fixtures_in } => {
            let canned = match fixtures_in {
                Some(url) => {
                    let store = crate::DatabaseArg { url }.open().await?;
                    talon_store::fixtures::canned_operations(&*store).await?
                }
                None => Default::default(),
            };
            list(collection.as_deref(), search.as_deref(), json, &canned)
        }
        OpsCommand::Show { id, json } => show(&id, json),
    }
}

fn list(
    collection: Option<&str>,
    search: Option<&str>,
    as_json: bool,
    canned: &std::collections::BTreeSet<String>,
) -> anyhow::Result<()> {
    let answer_of = |o: &Operation| if canned.contains(&o.id) { "fixture" } else { answer(o).as_str() };
    let catalogue = catalogue();
    if let Some(c) = collection {
        if !catalogue.collections().contains(&c) {
            bail!("no collection {c:?} in the catalogue (see `talon ops list --json` for each operation's collection)");
        }
    }
    let needle = search.map(str::to_lowercase);
    let matches = |o: &Operation| {
        needle.as_deref().is_none_or(|n| {
            o.id.to_lowercase().contains(n)
                || o.path.to_lowercase().contains(n)
                || o.aliases.iter().any(|a| a.to_lowercase().contains(n))
        })
    };
    let selected: Vec<&Operation> = catalogue
        .operations()
        .iter()
        .filter(|o| collection.is_none_or(|c| o.collection == c))
        .filter(|o| matches(o))
        .collect();
    if as_json {
        let entries = selected.iter().map(|o| {
            let mut entry = summary(o);
            entry["answer"] = json!(answer_of(o));
            entry
        });
        println!("{}", Value::from(entries.collect::<Vec<_>>()));
        return Ok(());
    }
    for o in selected {
        println!("{}\t{}\t{}\t{}\t{}", o.id, o.method, o.path, scope_text(o), answer_of(o));
    }
    Ok(())
}

fn show(id: &str, as_json: bool) -> anyhow::Result<()> {
    let o = catalogue().resolve(id)?;
    if as_json {
        let mut entry = summary(o);
        entry["params"] = o.params.iter().map(param_json).collect();
        println!("{entry}");
        return Ok(());
    }
    if o.id != id {
        println!("{id} is a deprecated alias of {}", o.id);
    }
    println!("operation:  {}", o.id);
    println!("route:      {} {}", o.method, o.path);
    println!("collection: {}", o.collection);
    match o.scope {
        Some(scope) => println!("scope:      {scope} ({})", if o.scope_known { "known" } else { "inferred" }),
        None => println!("scope:      none (client credentials)"),
    }
    match (answer(o), talon_server::routes::falcon::generic_of(o)) {
        (talon_server::routes::falcon::Answer::Generic, Some(g)) => {
            println!("this server: generic ({} of the resource {})", g.shape.as_str(), g.resource)
        }
        (how, _) => println!("this server: {}", how.as_str()),
    }
    if !o.aliases.is_empty() {
        println!("aliases:    {}", o.aliases.join(", "));
    }
    if o.params.is_empty() {
        println!("parameters: none");
    } else {
        println!("parameters:");
        for p in &o.params {
            println!("  {}", param_line(p));
        }
    }
    Ok(())
}

/// `scope` or `scope?` (inferred), or `-` for the client-credential operations.
fn scope_text(o: &Operation) -> String {
    match o.scope {
        Some(scope) if o.scope_known => scope.to_string(),
        Some(scope) => format!("{scope}?"),
        None => "-".to_owned(),
    }
}

fn summary(o: &Operation) -> Value {
    json!({
        "id": o.id, "method": o.method.as_str(), "path": o.path, "collection": o.collection,
        "scope": o.scope.map(|s| s.to_string()), "scope_known": o.scope_known,
        "answer": answer(o).as_str(), "aliases": o.aliases,
    })
}

fn param_json(p: &Param) -> Value {
    let mut v = json!({ "name": p.name, "in": p.location.as_str(), "required": p.required });
    if let Some(kind) = p.kind {
        v["type"] = json!(kind.as_str());
    }
    if let Some(items) = p.items {
        v["items"] = json!(items.as_str());
    }
    if let Some(format) = p.array_format {
        v["collectionFormat"] = json!(format!("{format:?}").to_lowercase());
    }
    for (key, value) in [("minimum", p.minimum), ("maximum", p.maximum)] {
        if let Some(n) = value {
            v[key] = json!(n);
        }
    }
    for (key, value) in
        [("minLength", p.min_length), ("maxLength", p.max_length), ("minItems", p.min_items), ("maxItems", p.max_items)]
    {
        if let Some(n) = value {
            v[key] = json!(n);
        }
    }
    if let Some(pattern) = &p.pattern {
        v["pattern"] = json!(pattern);
    }
    if !p.allowed.is_empty() {
        v["enum"] = json!(p.allowed);
    }
    if let Some(default) = &p.default {
        v["default"] = default.clone();
    }
    v
}

/// One parameter as a line: `name (query, integer, required) 1..5000 default 100`.
fn param_line(p: &Param) -> String {
    let kind = match (p.kind, p.items) {
        (Some(kind), Some(items)) => format!("{} of {}", kind.as_str(), items.as_str()),
        (Some(kind), None) => kind.as_str().to_owned(),
        (None, _) => "json".to_owned(),
    };
    let mut line = format!("{} ({}, {kind}", p.name, p.location.as_str());
    if let Some(format) = p.array_format {
        line.push_str(&format!(", {}", format!("{format:?}").to_lowercase()));
    }
    if p.required {
        line.push_str(", required");
    }
    line.push(')');
    if p.minimum.is_some() || p.maximum.is_some() {
        let bound = |b: Option<f64>| b.map(|n| n.to_string()).unwrap_or_default();
        line.push_str(&format!(" {}..{}", bound(p.minimum), bound(p.maximum)));
    }
    if let Some(max) = p.max_length {
        line.push_str(&format!(" length {}..{max}", p.min_length.unwrap_or(0)));
    }
    if let Some(max) = p.max_items {
        line.push_str(&format!(" items {}..{max}", p.min_items.unwrap_or(0)));
    }
    if let Some(pattern) = &p.pattern {
        line.push_str(&format!(" pattern {pattern}"));
    }
    if !p.allowed.is_empty() {
        let values: Vec<String> =
            p.allowed.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
        let shown = if values.len() > 12 {
            format!("{}, ... ({} values)", values[..12].join(", "), values.len())
        } else {
            values.join(", ")
        };
        line.push_str(&format!(" one of: {shown}"));
    }
    if let Some(default) = &p.default {
        line.push_str(&format!(" default {default}"));
    }
    line
}
