//! `talon clients ...`: local administration of API clients, straight on the store. A running server on
//! the same database notices every change within its refresh interval.

use anyhow::{bail, Context};
use clap::Subcommand;
use ipnet::IpNet;
use serde_json::json;
use talon_auth::{ApiClient, ClientChanges, ClientId, ClientSecret, ClientSpec, Clock, CustomerId, SystemClock};
use talon_store::Store;
use talon_wire::{Scope, ScopeSet};

use crate::DatabaseArg;

#[derive(clap::Args)]
pub struct ClientsArgs {
    #[command(flatten)]
    database: DatabaseArg,
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
        scopes: Vec<Scope>,
        /// The customer the client belongs to (default: the server's default customer).
        #[arg(long, value_parser = parse_cid)]
        cid: Option<CustomerId>,
        /// A child customer the client may act for with member_cid (repeat for more).
        #[arg(long = "member-cid", value_parser = parse_cid)]
        member_cids: Vec<CustomerId>,
        /// A source network allowed to use the client, e.g. 10.0.0.0/8 (repeat; none means any).
        #[arg(long = "allow-ip", value_parser = parse_net)]
        allowed_ips: Vec<IpNet>,
        /// Create the client disabled.
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
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
        scopes: Vec<Scope>,
        #[arg(long = "member-cid", value_parser = parse_cid)]
        member_cids: Vec<CustomerId>,
        /// Remove every member CID.
        #[arg(long, conflicts_with = "member_cids")]
        clear_member_cids: bool,
        #[arg(long = "allow-ip", value_parser = parse_net)]
        allowed_ips: Vec<IpNet>,
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
    /// Delete a client; its live tokens are refused.
    Delete {
        #[arg(value_parser = parse_client_id)]
        id: ClientId,
    },
}

/// A list option of `update`: given values (or the clear flag) replace the list; neither leaves it.
fn replace_list<T>(given: Vec<T>, clear: bool) -> Option<Vec<T>> {
    (clear || !given.is_empty()).then_some(given)
}

fn parse_scope(s: &str) -> Result<Scope, String> {
    Scope::parse(s).map_err(|e| e.to_string())
}

fn parse_cid(s: &str) -> Result<CustomerId, String> {
    CustomerId::parse_lenient(s).map_err(|e| e.to_string())
}

fn parse_client_id(s: &str) -> Result<ClientId, String> {
    ClientId::parse(s).map_err(|e| e.to_string())
}

fn parse_net(s: &str) -> Result<IpNet, String> {
    // A bare address means just that address.
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{s:?} is not an IP network (CIDR such as 10.0.0.0/8) or address"))
}

pub async fn run(args: ClientsArgs) -> anyhow::Result<()> {
    let store = args.database.open().await?;
    let now = SystemClock.now();
    match args.command {
        ClientsCommand::Create { name, description, scopes, cid, member_cids, allowed_ips, disabled, json } => {
            let cid = match cid {
                Some(cid) => cid,
                None => store.default_customer().await?,
            };
            let spec = ClientSpec {
                name,
                description,
                scopes: scopes.into_iter().collect(),
                cid,
                member_cids,
                allowed_ips,
                enabled: !disabled,
            };
            let (client, secret) = ApiClient::generate(spec, now);
            store.create_client(&client).await?;
            print_with_secret(&client, &secret, json);
        }
        ClientsCommand::List { json } => {
            let clients = store.clients().await?;
            if json {
                println!("{}", serde_json::Value::from(clients.iter().map(client_json).collect::<Vec<_>>()));
            } else {
                println!("{:<32}  {:<8}  {:>6}  NAME", "CLIENT_ID", "ENABLED", "SCOPES");
                for c in &clients {
                    println!("{:<32}  {:<8}  {:>6}  {}", c.id, c.enabled, c.scopes.iter().count(), c.name);
                }
            }
        }
        ClientsCommand::Show { id, json } => print_client(&existing(&*store, &id).await?, json),
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
            let mut client = existing(&*store, &id).await?;
            let changes = ClientChanges {
                name,
                description,
                scopes: (!scopes.is_empty()).then(|| scopes.into_iter().collect::<ScopeSet>()),
                member_cids: replace_list(member_cids, clear_member_cids),
                allowed_ips: replace_list(allowed_ips, clear_allowed_ips),
                enabled: (enable || disable).then_some(enable),
            };
            client.apply(changes, now);
            if !store.update_client(&client).await? {
                bail!("client {id} no longer exists");
            }
            print_client(&client, json);
        }
        ClientsCommand::ResetSecret { id, json } => {
            let mut client = existing(&*store, &id).await?;
            let secret = ClientSecret::generate();
            client.reset_secret(secret.digest(), now);
            if !store.set_secret(&client).await? {
                bail!("client {id} no longer exists");
            }
            print_with_secret(&client, &secret, json);
        }
        ClientsCommand::Delete { id } => {
            if !store.delete_client(&id).await? {
                bail!("no client {id}");
            }
            println!("deleted client {id}");
        }
    }
    Ok(())
}

async fn existing(store: &dyn Store, id: &ClientId) -> anyhow::Result<ApiClient> {
    store.client(id).await?.with_context(|| format!("no client {id}"))
}

fn client_json(c: &ApiClient) -> serde_json::Value {
    json!({
        "client_id": c.id.as_str(),
        "name": c.name,
        "description": c.description,
        "scopes": c.scopes.to_strings(),
        "cid": c.cid.as_str(),
        "member_cids": c.member_cids.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "allowed_ips": c.allowed_ips.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        "enabled": c.enabled,
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "last_used_at": c.last_used_at,
    })
}

fn print_client(c: &ApiClient, json: bool) {
    if json {
        println!("{}", client_json(c));
        return;
    }
    let list = |items: Vec<String>| if items.is_empty() { "(none)".to_owned() } else { items.join(", ") };
    println!("client_id:    {}", c.id);
    println!("name:         {}", c.name);
    println!("description:  {}", c.description);
    println!("scopes:       {}", list(c.scopes.to_strings()));
    println!("cid:          {}", c.cid);
    println!("member_cids:  {}", list(c.member_cids.iter().map(|m| m.to_string()).collect()));
    println!("allowed_ips:  {}", list(c.allowed_ips.iter().map(|n| n.to_string()).collect()));
    println!("enabled:      {}", c.enabled);
    println!("created_at:   {}", c.created_at);
    println!("updated_at:   {}", c.updated_at);
    println!("last_used_at: {}", c.last_used_at.map_or("never".to_owned(), |t| t.to_string()));
}

/// Prints a client with its secret in clear: the only time the secret is shown.
fn print_with_secret(c: &ApiClient, secret: &ClientSecret, json: bool) {
    if json {
        let mut value = client_json(c);
        value["client_secret"] = secret.expose().into();
        println!("{value}");
    } else {
        print_client(c, false);
        println!("client_secret: {}", secret.expose());
        println!("\nThe secret is shown only now; keep it safe.");
    }
}
