//! `talon`: run the Talon server, administer its API clients, and call the API (tokens, hosts, any route).

mod bulk;
mod call;
mod clients;
mod db;
mod fixtures;
mod hosts;
mod keys;
mod ops;
mod remote;
mod serve;
mod terminal;

use clap::{Parser, Subcommand};

/// mimalloc: the server allocates per request (bodies, headers, JSON); glibc's malloc and free showed as
/// ~8% of the hot paths' profiles.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Talon: a Falcon-compatible OAuth2 authorization server.
#[derive(Parser)]
#[command(name = "talon", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Create, inspect, change and delete API clients (works while a server runs on the same database).
    Clients(clients::ClientsArgs),
    /// Database maintenance: copy a store to another database.
    Db(db::DbArgs),
    /// List and rotate the token signing keys.
    Keys(keys::KeysArgs),
    /// Load fixtures: records and canned answers behind any Falcon operation.
    Fixtures(fixtures::FixturesArgs),
    /// The Falcon operation catalogue: list operations, show one's parameters and scope (offline).
    Ops(ops::OpsArgs),
    /// List hosts, contain them and lift their containment (through the API, like `token`).
    Hosts(hosts::HostsArgs),
    /// Get an access token from the API and print it.
    Token {
        #[command(flatten)]
        api: remote::ApiArgs,
    },
    /// Revoke an access token of this API client (read from stdin when not given).
    Revoke {
        #[command(flatten)]
        api: remote::ApiArgs,
        token: Option<String>,
    },
    /// Run any operation of the Falcon API by its ID (arguments checked against the catalogue first) and
    /// print the JSON answer.
    Call(call::CallArgs),
    /// Call any API route with automatic authentication and print the JSON answer.
    Request {
        #[command(flatten)]
        api: remote::ApiArgs,
        /// GET, POST, PATCH, DELETE, ...
        method: String,
        /// The route, e.g. /devices/queries/devices/v1
        path: String,
        /// A query parameter as name=value (repeat for more).
        #[arg(long = "query")]
        query: Vec<String>,
        /// A JSON body.
        #[arg(long)]
        data: Option<String>,
    },
}

/// Where the store lives; shared by every command that opens it.
#[derive(clap::Args, Clone)]
pub struct DatabaseArg {
    /// Database URL: sqlite://PATH (the file is created and initialised if missing).
    /// Global: may come before or after the subcommand (`talon clients --database URL create ...` and
    /// `talon clients create --database URL ...` both work).
    #[arg(long = "database", env = "TALON_DATABASE_URL", default_value = "sqlite://talon.db", global = true)]
    pub url: String,
}

impl DatabaseArg {
    pub async fn open(&self) -> anyhow::Result<std::sync::Arc<dyn talon_store::Store>> {
        use anyhow::Context;
        use talon_auth::Clock;
        talon_store::open(&self.url, talon_auth::SystemClock.now())
            .await
            .with_context(|| format!("cannot open the store at {}", talon_store::redact_url(&self.url)))
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Clients(args) => clients::run(args).await,
        Command::Db(args) => db::run(args).await,
        Command::Keys(args) => keys::run(args).await,
        Command::Fixtures(args) => fixtures::run(args).await,
        Command::Hosts(args) => hosts::run(args).await,
        Command::Ops(args) => ops::run(args).await,
        Command::Call(args) => call::run(args).await,
        Command::Token { api } => remote::token(api).await,
        Command::Revoke { api, token } => remote::revoke(api, token).await,
        Command::Request { api, method, path, query, data } => remote::request(api, method, path, query, data).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
