//! `talon clients ...`: administration of API clients, locally on the store (`--database`, also while a
//! server runs on it: the server notices every change within its refresh interval) or remotely through a
//! running server's admin API (`--remote`, with FALCON_* credentials of a client holding the
//! `api-clients` scopes). Both modes take the same wire requests and print the same shapes, and the
//! rules for names, scopes, CIDs and networks are talon-auth's, so local and remote cannot disagree.

use anyhow::{bail, Context};
use clap::Subcommand;
use talon::ApiClients;
use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSpec, Clock, SystemClock};
use talon_store::admin::{self, Actor};
use talon_store::{AuditEntry, ClientQuery, Store};
use talon_wire::admin::{
    ApiClientView, AuditEntryView, ClientListing, CreateClientRequest, UpdateClientRequest, MAX_PAGE,
};

use crate::remote::ApiArgs;
use crate::terminal::printable;
use crate::DatabaseArg;

#[derive(clap::Args)]
pub struct ClientsArgs {
    #[command(flatten)]
    database: DatabaseArg,
    /// Work through a running server's admin API (FALCON_BASE_URL, FALCON_CLIENT_ID and
    /// FALCON_CLIENT_SECRET, or the flags below) instead of on the database.
    #[arg(long, global = true)]
    remote: bool,
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: ClientsCommand,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client; prints its ID and its secret (shown only this once).
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A scope such as devices:read (repeat for more).
        #[arg(long = "scope", required = true, value_parser = parse_scope)]
        scopes: Vec<String>,
        /// The customer the client belongs to (default: the server's default customer).
        #[arg(long, value_parser = parse_cid)]
        cid: Option<String>,
        /// A child customer the client may act for with member_cid (repeat for more).
        #[arg(long = "member-cid", value_parser = parse_cid)]
        member_cids: Vec<String>,
        /// A source network allowed to use the client, e.g. 10.0.0.0/8 (repeat; none means any).
        #[arg(long = "allow-ip", value_parser = parse_net)]
        allowed_ips: Vec<String>,
        /// Create the client disabled.
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        json: bool,
    },
    /// List clients (all of them, page by page, or one page with --limit), filtered and sorted by the
    /// store.
    List {
        /// Only clients whose name holds this text (ASCII case ignored).
        #[arg(long)]
        name: Option<String>,
        /// Only clients holding this scope.
        #[arg(long, value_parser = parse_scope)]
        scope: Option<String>,
        /// Only enabled (true) or disabled (false) clients.
        #[arg(long)]
        enabled: Option<bool>,
        /// Only this customer's clients.
        #[arg(long, value_parser = parse_cid)]
        cid: Option<String>,
        /// created_at or name, with .asc (the default) or .desc.
        #[arg(long)]
        sort: Option<String>,
        /// One page of this many clients (1 to 500); the token of the next is printed to stderr.
        #[arg(long)]
        limit: Option<u64>,
        /// The page after this token (printed by an earlier --limit listing).
        #[arg(long, requires = "limit")]
        after: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
        #[arg(long)]
        json: bool,
    },
    /// Change a client; a list option replaces the whole list.
    Update {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<String>,
        #[arg(long = "member-cid", value_parser = parse_cid)]
        member_cids: Vec<String>,
        /// Remove every member CID.
        #[arg(long, conflicts_with = "member_cids")]
        clear_member_cids: bool,
        #[arg(long = "allow-ip", value_parser = parse_net)]
        allowed_ips: Vec<String>,
        /// Allow every source address again.
        #[arg(long, conflicts_with = "allowed_ips")]
        clear_allowed_ips: bool,
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Disable the client: no new tokens, and its live tokens are refused.
        #[arg(long)]
        disable: bool,
        #[arg(long)]
        json: bool,
    },
    /// Replace a client's secret; prints the new one (shown only this once).
    ResetSecret {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
        #[arg(long)]
        json: bool,
    },
    /// Refuse every token a client holds now (it can get new ones).
    RevokeTokens {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
    },
    /// Delete a client; its live tokens are refused.
    Delete {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
    },
    /// Show the audit log, newest first.
    Audit {
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=500))]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Import clients from a file of JSON lines, each the admin API's create body (or a line of
    /// `export --with-digests`): every line is checked first, then batches are written, each one
    /// transaction with an audit entry per client. New secrets are written once (see --secrets-out).
    Import {
        file: std::path::PathBuf,
        /// Write the new clients' IDs and secrets, as JSON lines, to this new file (mode 0600); without
        /// it they are printed, once.
        #[arg(long)]
        secrets_out: Option<std::path::PathBuf>,
        /// Clients per transaction.
        #[arg(long, default_value_t = crate::bulk::DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        batch: u64,
    },
    /// Print every client as a JSON line that `import` takes: no secrets, ever; their digests (to move
    /// clients to another store with their secrets working) only with --with-digests.
    Export {
        #[arg(long)]
        with_digests: bool,
    },
}

/// A list option of `update`: given values (or the clear flag) replace the list; neither leaves it.
fn replace_list<T>(given: Vec<T>, clear: bool) -> Option<Vec<T>> {
    (clear || !given.is_empty()).then_some(given)
}

// The parsers check early (clap names the flag) and keep the wire form; the same rules run again where
// the request is applied (talon-auth), locally or on the server.
fn parse_scope(s: &str) -> Result<String, String> {
    talon_auth::admin::check_scopes(&[s]).map(|_| s.to_owned()).map_err(|e| e.to_string())
}

fn parse_cid(s: &str) -> Result<String, String> {
    talon_auth::admin::parse_cid(s).map(|c| c.to_string()).map_err(|e| e.to_string())
}

fn parse_client_id(s: &str) -> Result<ClientId, String> {
    ClientId::parse(s).map_err(|e| e.to_string())
}

fn parse_net(s: &str) -> Result<String, String> {
    talon_auth::admin::parse_network(s).map(|n| n.to_string()).map_err(|e| e.to_string())
}

/// What a command asks for, in the admin API's terms.
enum Request {
    Create(CreateClientRequest),
    List(ClientListing),
    Show(ClientId),
    Update(ClientId, UpdateClientRequest),
    ResetSecret(ClientId),
    RevokeTokens(ClientId),
    Delete(ClientId),
    Audit { offset: u64, limit: u64 },
}

/// What a command answers.
enum Answer {
    Client(ApiClientView),
    /// Clients, and the seek token of the next page when one page was asked for and more follow.
    Clients(Vec<ApiClientView>, Option<String>),
    Deleted(ClientId),
    Revoked(ClientId),
    Audit(Vec<AuditEntryView>, u64),
}

pub async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    let bulk = matches!(args.command, ClientsCommand::Import { .. } | ClientsCommand::Export { .. });
    if bulk && args.remote {
        bail!("import and export work on the store (--database), not through --remote");
    }
    let (request, json) = match args.command {
        ClientsCommand::Import { file, secrets_out, batch } => {
            let store = args.database.open().await?;
            let n = crate::bulk::import(&*store, &local_actor(), &file, secrets_out.as_deref(), batch as usize).await?;
            eprintln!("imported {n} clients");
            return Ok(());
        }
        ClientsCommand::Export { with_digests } => {
            let store = args.database.open().await?;
            let n = crate::bulk::export(&*store, with_digests, &mut std::io::stdout().lock()).await?;
            eprintln!("exported {n} clients");
            return Ok(());
        }
        ClientsCommand::Create { name, description, scopes, cid, member_cids, allowed_ips, disabled, json } => {
            let create =
                CreateClientRequest { name, description, scopes, cid, member_cids, allowed_ips, enabled: !disabled };
            (Request::Create(create), json)
        }
        ClientsCommand::List { name, scope, enabled, cid, sort, limit, after, json } => {
            (Request::List(ClientListing { name, scope, enabled, cid, sort, offset: None, limit, after }), json)
        }
        ClientsCommand::Show { id, json } => (Request::Show(id), json),
        ClientsCommand::Update {
            id,
            name,
            description,
            scopes,
            member_cids,
            clear_member_cids,
            allowed_ips,
            clear_allowed_ips,
            enable,
            disable,
            json,
        } => {
            let update = UpdateClientRequest {
                name,
                description,
                scopes: (!scopes.is_empty()).then_some(scopes),
                member_cids: replace_list(member_cids, clear_member_cids),
                allowed_ips: replace_list(allowed_ips, clear_allowed_ips),
                enabled: (enable || disable).then_some(enable),
            };
            (Request::Update(id, update), json)
        }
        ClientsCommand::ResetSecret { id, json } => (Request::ResetSecret(id), json),
        ClientsCommand::RevokeTokens { id } => (Request::RevokeTokens(id), false),
        ClientsCommand::Delete { id } => (Request::Delete(id), false),
        ClientsCommand::Audit { offset, limit, json } => (Request::Audit { offset, limit }, json),
    };
    let answer = if args.remote {
        remote(ApiClients::new(args.api.talon_client()?), request).await?
    } else {
        local(&*args.database.open().await?, request).await?
    };
    print(answer, json);
    Ok(())
}

/// Through a server's admin API.
async fn remote(api: ApiClients, request: Request) -> anyhow::Result<Answer> {
    Ok(match request {
        Request::Create(create) => Answer::Client(api.create(&create).await?),
        Request::List(listing) if listing.limit.is_some() => {
            let page = api.search(&listing).await?;
            Answer::Clients(page.items, page.next)
        }
        Request::List(listing) => Answer::Clients(api.search_all(&listing).await?, None),
        Request::Show(id) => Answer::Client(api.get(id.as_str()).await?),
        Request::Update(id, update) => Answer::Client(api.update(id.as_str(), &update).await?),
        Request::ResetSecret(id) => Answer::Client(api.reset_secret(id.as_str()).await?),
        Request::RevokeTokens(id) => {
            api.revoke_tokens(id.as_str()).await?;
            Answer::Revoked(id)
        }
        Request::Delete(id) => {
            api.delete(id.as_str()).await?;
            Answer::Deleted(id)
        }
        Request::Audit { offset, limit } => {
            let page = api.audit(offset, limit).await?;
            Answer::Audit(page.items, page.total)
        }
    })
}

/// Straight on the store; each change is audited as made by the local CLI (`cli:<user>`).
/// The local CLI as the audit log names it.
fn local_actor() -> Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    Actor { id: format!("cli:{user}"), source: "local".into(), trace_id: "-".into() }
}

async fn local(store: &dyn Store, request: Request) -> anyhow::Result<Answer> {
    let now = SystemClock.now();
    let actor = local_actor();
    Ok(match request {
        Request::Create(create) => {
            let spec = ClientSpec::from_request(&create, store.default_customer().await?)?;
            let (client, secret) = admin::create(store, &actor, spec, now).await?;
            Answer::Client(client.view_with_secret(&secret))
        }
        Request::List(listing) => {
            let mut query = ClientQuery::from_listing(&listing, MAX_PAGE, MAX_PAGE).map_err(anyhow::Error::msg)?;
            let mut clients = Vec::new();
            // Page by page, each a seek from the last: one page when a limit was given, else all.
            loop {
                let page = store.client_page(&query).await?;
                clients.extend(page.clients.iter().map(ApiClient::view));
                match page.next {
                    Some(next) if listing.limit.is_none() => query.after = Some(next),
                    next => break Answer::Clients(clients, next.map(|n| n.token())),
                }
            }
        }
        Request::Show(id) => {
            Answer::Client(store.client(&id).await?.with_context(|| format!("no API client {id}"))?.view())
        }
        Request::Update(id, update) => {
            let changes = ClientChanges::from_request(&update)?;
            if changes.is_empty() {
                bail!("nothing to change: name an option to update");
            }
            Answer::Client(admin::update(store, &actor, &id, changes, now).await?.view())
        }
        Request::ResetSecret(id) => {
            let (client, secret) = admin::reset_secret(store, &actor, &id, now).await?;
            Answer::Client(client.view_with_secret(&secret))
        }
        Request::RevokeTokens(id) => {
            admin::revoke_tokens(store, &actor, &id, now).await?;
            Answer::Revoked(id)
        }
        Request::Delete(id) => {
            admin::delete(store, &actor, &id, now).await?;
            Answer::Deleted(id)
        }
        Request::Audit { offset, limit } => {
            let (entries, total) = store.audit_entries(offset, limit).await?;
            Answer::Audit(entries.into_iter().map(AuditEntry::view).collect(), total)
        }
    })
}

fn print(answer: Answer, json: bool) {
    match answer {
        Answer::Client(c) if json => println!("{}", json_of(&c)),
        Answer::Client(c) => print_client(&c),
        Answer::Clients(list, next) => {
            if json {
                println!("{}", json_of(&list));
            } else {
                println!("{:<32}  {:<8}  {:>6}  NAME", "CLIENT_ID", "ENABLED", "SCOPES");
                for c in &list {
                    println!("{:<32}  {:<8}  {:>6}  {}", c.client_id, c.enabled, c.scopes.len(), printable(&c.name));
                }
            }
            if let Some(token) = next {
                eprintln!("more follow: the next page is --after {token}");
            }
        }
        Answer::Deleted(id) => println!("deleted client {id}"),
        Answer::Revoked(id) => println!("every token of client {id} issued until now is refused"),
        Answer::Audit(entries, _) if json => println!("{}", json_of(&entries)),
        Answer::Audit(entries, total) => {
            println!("{} of {total} entries, newest first", entries.len());
            for e in &entries {
                let target = printable(e.target.as_deref().unwrap_or("-"));
                let (action, actor, ip, details) =
                    (printable(&e.action), printable(&e.actor), printable(&e.source_ip), printable(&e.details));
                println!("{}  {action:<22} {actor:<38} {target:<32} {ip}  {details}", e.at);
            }
        }
    }
}

/// The wire shapes as JSON (they serialize infallibly: plain strings, numbers and lists).
fn json_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn print_client(c: &ApiClientView) {
    let list = |items: &[String]| if items.is_empty() { "(none)".to_owned() } else { items.join(", ") };
    println!("client_id:    {}", c.client_id);
    println!("name:         {}", printable(&c.name));
    println!("description:  {}", printable(&c.description));
    println!("scopes:       {}", list(&c.scopes));
    println!("cid:          {}", c.cid);
    println!("member_cids:  {}", list(&c.member_cids));
    println!("allowed_ips:  {}", list(&c.allowed_ips));
    println!("enabled:      {}", c.enabled);
    println!("created_at:   {}", c.created_at);
    println!("updated_at:   {}", c.updated_at);
    println!("last_used_at: {}", c.last_used_at.map_or("never".to_owned(), |t| t.to_string()));
    if let Some(secret) = &c.client_secret {
        println!("client_secret: {secret}");
        println!("\nThe secret is shown only now; keep it safe.");
    }
}
