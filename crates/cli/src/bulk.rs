//! `talon clients import FILE` and `talon clients export`: API clients in bulk, as JSON lines, on the store.
//!
//! An import line is the admin API's create body (`{"name", "scopes", "cid", ...}`), optionally with the
//! `client_id` and `secret_digest` an export with `--with-digests` wrote (to move clients between stores
//! with their secrets working). The whole file is checked before anything is written: a bad line (or one
//! longer than 64 KiB, or naming a client ID the store or the file has already) is named by its number and
//! nothing is imported. Then clients are written in batches of `--batch`, each batch one
//! transaction with an audit entry per client. New secrets are written once, to `--secrets-out` (a new
//! file of mode 0600) or, without it, to stdout; an import whose secrets cannot be written is refused
//! before anything is imported.

use std::io::{BufRead, Read, Write};
use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use talon_auth::{ApiClient, ClientId, ClientSecret, ClientSpec, Clock, SecretDigest, SystemClock};
use talon_store::admin::{self, Actor};
use talon_store::{ClientQuery, Store};
use talon_wire::admin::CreateClientRequest;

/// Clients per transaction when `--batch` is not given.
pub const DEFAULT_BATCH: u64 = 1_000;
/// Longest line taken (a create body is a few hundred bytes; a line past this is refused, never read
/// whole into memory).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The lines of `reader`, each at most [`MAX_LINE_BYTES`] (a longer one is an error, read no further),
/// numbered from 1, blank ones left out.
fn bounded_lines(mut reader: impl BufRead) -> impl Iterator<Item = (usize, std::io::Result<String>)> {
    let mut number = 0;
    std::iter::from_fn(move || loop {
        number += 1;
        let mut line = Vec::new();
        let read = (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut line);
        match read {
            Ok(0) => return None,
            Err(e) => return Some((number, Err(e))),
            Ok(_) if line.len() > MAX_LINE_BYTES && !line.ends_with(b"\n") => {
                let too_long = std::io::Error::other(format!("longer than {MAX_LINE_BYTES} bytes"));
                return Some((number, Err(too_long)));
            }
            Ok(_) => {}
        }
        let text = match String::from_utf8(line) {
            Ok(text) => text,
            Err(_) => return Some((number, Err(std::io::Error::other("not UTF-8 text")))),
        };
        if !text.trim().is_empty() {
            return Some((number, Ok(text)));
        }
    })
}

/// One checked line: the client to write, and its new secret when the line brought no digest.
struct Imported {
    client: ApiClient,
    secret: Option<ClientSecret>,
}

/// Reads one import line.
fn read_line(text: &str, home: &talon_auth::CustomerId, now: i64) -> anyhow::Result<Imported> {
    let mut object = match serde_json::from_str::<Value>(text)? {
        Value::Object(o) => o,
        _ => bail!("a line must be a JSON object (the admin API's create body)"),
    };
    let id = object.remove("client_id");
    let digest = object.remove("secret_digest");
    let request: CreateClientRequest = serde_json::from_value(Value::Object(object))?;
    let spec = ClientSpec::from_request(&request, home.clone())?;
    match (id, digest) {
        (None, None) => {
            let (client, secret) = ApiClient::generate(spec, now);
            Ok(Imported { client, secret: Some(secret) })
        }
        (Some(Value::String(id)), Some(Value::String(digest))) => {
            let id = ClientId::parse(&id).map_err(|e| anyhow::anyhow!("client_id: {e}"))?;
            let bytes = hex::decode(&digest).ok().filter(|b| b.len() == 32);
            let digest = bytes
                .and_then(|b| SecretDigest::from_bytes(&b))
                .context("secret_digest: 64 hex digits (a SHA-256), as an export --with-digests writes it")?;
            Ok(Imported { client: ApiClient::new(id, spec, digest, now), secret: None })
        }
        _ => bail!("client_id and secret_digest come together (an export --with-digests), or not at all"),
    }
}

/// Checks every line of `file`, then imports the clients in batches; answers how many were imported.
pub async fn import(
    store: &dyn Store,
    actor: &Actor,
    file: &Path,
    secrets_out: Option<&Path>,
    batch: usize,
) -> anyhow::Result<usize> {
    let now = SystemClock.now();
    let home = store.default_customer().await?;
    let lines = || -> anyhow::Result<_> {
        let reader = std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
        );
        Ok(bounded_lines(reader))
    };
    let at = |n: usize| format!("{}:{n}", file.display());
    // First pass: every line checked, only the IDs of exported clients (those with their own ID and
    // digest) kept: one twice in the file, or one the store has already, is refused here, before any
    // batch is written. A new client's ID is random, fresh in the second pass.
    let mut exported: Vec<(usize, ClientId)> = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();
    let mut count = 0;
    for (n, line) in lines()? {
        let line = line.with_context(|| at(n))?;
        let imported = read_line(&line, &home, now).with_context(|| at(n))?;
        if imported.secret.is_none() {
            let id = imported.client.id;
            if !seen_ids.insert(id.clone()) {
                bail!("{}: client_id {id} is in the file twice", at(n));
            }
            exported.push((n, id));
        }
        count += 1;
    }
    drop(seen_ids);
    let ids: Vec<ClientId> = exported.iter().map(|(_, id)| id.clone()).collect();
    let taken: std::collections::HashSet<ClientId> = store.taken_client_ids(&ids).await?.into_iter().collect();
    if let Some((n, id)) = exported.iter().find(|(_, id)| taken.contains(id)) {
        bail!("{}: client_id {id} exists in the store already", at(*n));
    }
    drop((exported, ids, taken));
    let mut out: Box<dyn Write> = match secrets_out {
        Some(path) => Box::new(new_private_file(path)?),
        None => Box::new(std::io::stdout()),
    };
    // Second pass: written in batches, each one transaction; each secret written once its batch is in.
    // (A batch refused here, say by a client another process created meanwhile, leaves the batches
    // before it written: the message says how many.)
    let mut pending: Vec<Imported> = Vec::with_capacity(batch.min(count));
    let mut written = 0;
    let mut lines = lines()?.peekable();
    while let Some((n, line)) = lines.next() {
        pending.push(read_line(&line.with_context(|| at(n))?, &home, now).with_context(|| at(n))?);
        if pending.len() == batch || lines.peek().is_none() {
            let chunk = std::mem::take(&mut pending);
            let clients: Vec<ApiClient> = chunk.iter().map(|i| i.client.clone()).collect();
            admin::import(store, actor, clients, now)
                .await
                .with_context(|| format!("after {written} clients imported, a batch was refused"))?;
            for i in &chunk {
                if let Some(secret) = &i.secret {
                    let line = json!({"client_id": i.client.id.as_str(), "name": i.client.name, "client_secret": secret.expose()});
                    writeln!(out, "{line}")?;
                }
            }
            written += chunk.len();
        }
    }
    out.flush()?;
    if written > 0 {
        store.after_bulk_load().await?;
    }
    Ok(written)
}

/// A new file readable by its owner only; an existing file is never overwritten.
fn new_private_file(path: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist)", path.display()))
}

/// Clients read per page by an export.
const EXPORT_PAGE: u64 = 1000;

/// Every client as an import line, oldest first: no secrets; their digests with `with_digests`. Read a
/// page at a time by seek (memory stays that of a page with a million clients); a client created or
/// deleted while an export runs may be in it or not.
pub async fn export(store: &dyn Store, with_digests: bool, out: &mut dyn Write) -> anyhow::Result<usize> {
    let mut query = ClientQuery::every_client(EXPORT_PAGE);
    let mut count = 0;
    loop {
        let page = store.client_page(&query).await?;
        for client in &page.clients {
            writeln!(out, "{}", export_line(client, with_digests))?;
        }
        count += page.clients.len();
        match page.next {
            Some(next) => query.after = Some(next),
            None => break,
        }
    }
    out.flush()?;
    Ok(count)
}

/// One client as an export line.
fn export_line(client: &ApiClient, with_digests: bool) -> Value {
    let mut line = json!({
        "client_id": client.id.as_str(),
        "name": client.name,
        "description": client.description,
        "scopes": client.scopes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "cid": client.cid.as_str(),
        "member_cids": client.member_cids.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "allowed_ips": client.allowed_ips.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "enabled": client.enabled,
    });
    if with_digests {
        line["secret_digest"] = json!(hex::encode(client.secret_digest.as_bytes()));
    } else if let Value::Object(o) = &mut line {
        o.remove("client_id");
    }
    line
}
