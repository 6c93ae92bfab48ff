//! `talon serve`: open the store, create the first admin client if there is none, serve until a signal.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use talon_auth::{ApiClient, ClientSpec, Clock, SystemClock};
use talon_server::connections::ConnectionLimits;
use talon_server::{AppState, AuthErrorMode, Config, Limits, SharedLimits};
use talon_wire::ScopeSet;

use crate::DatabaseArg;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TALON_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    database: DatabaseArg,
    /// Region name sent as X-Cs-Region. Keep it a name no SDK knows (FalconPy replaces a custom base URL
    /// when it sees a real region such as us-1).
    #[arg(long, env = "TALON_REGION", default_value = "local")]
    region: String,
    /// Seed this many demo hosts into each customer that has none (including customers added later).
    #[arg(long, env = "TALON_DEMO_HOSTS", default_value_t = 0)]
    demo_hosts: usize,
    /// Load fixture files, or the fixture files of a directory, before serving (as `talon fixtures load`;
    /// repeat for more). A fixture that does not parse stops the server, naming the file and line.
    #[arg(long = "fixtures", env = "TALON_FIXTURES", value_delimiter = ',')]
    fixtures: Vec<std::path::PathBuf>,
    /// The URL clients reach this server by, e.g. https://auth.example.com behind a load balancer: the
    /// tokens' issuer, and where discovery points (default: the listen address; never the request's Host).
    /// Give every node the same one.
    /// (Checked in `run`, not by clap, whose error would repeat the value, user info included.)
    #[arg(long, env = "TALON_PUBLIC_URL")]
    public_url: Option<String>,
    /// A network of the proxies or load balancers in front of this server (repeat, or comma-separate in
    /// the variable): from a peer in one, the client's address is the rightmost X-Forwarded-For hop outside
    /// them, for rate limits, allow-lists, audit and logs. Without it X-Forwarded-For is ignored, and
    /// behind a proxy every client shares the proxy's address.
    #[arg(long = "trusted-proxy", env = "TALON_TRUSTED_PROXIES", value_delimiter = ',', value_name = "CIDR")]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// Open connections in all; more are closed as soon as they are accepted.
    #[arg(long, env = "TALON_MAX_CONNECTIONS", default_value_t = ConnectionLimits::default().max_connections)]
    max_connections: usize,
    /// Open connections from one client address (an IPv6 client's /64); trusted proxies are exempt.
    #[arg(long, env = "TALON_MAX_CONNECTIONS_PER_IP", default_value_t = ConnectionLimits::default().max_per_address)]
    max_connections_per_ip: usize,
    /// Seconds a connection has to send a request's headers (and finish its TLS handshake).
    #[arg(long, env = "TALON_HEADER_TIMEOUT", default_value_t = ConnectionLimits::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds a request has to send its whole body.
    #[arg(long, env = "TALON_BODY_TIMEOUT", default_value_t = ConnectionLimits::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Seconds a connection may move no byte (an idle keep-alive connection) before it is closed.
    #[arg(long, env = "TALON_IDLE_TIMEOUT", default_value_t = ConnectionLimits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    /// Serve /metrics on this address (e.g. 127.0.0.1:9464, reached only by the monitoring system) instead
    /// of on --listen, where it then answers 404. Without it anyone who reaches the API reads the metrics.
    #[arg(long, env = "TALON_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key.
    #[arg(long, env = "TALON_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "TALON_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How an unknown client ID is answered: `falcon` (400, as the real API) or `uniform` (403, like a wrong
    /// secret, so client IDs cannot be probed).
    #[arg(long, value_enum, default_value_t = AuthErrors::Falcon)]
    auth_errors: AuthErrors,
    /// Requests per minute per source IP on /oauth2/*.
    #[arg(long, default_value_t = Limits::default().oauth2_per_ip)]
    oauth2_rate: u32,
    /// Failed client authentications per minute of one client ID from one address (an address across
    /// client IDs: ten times as many).
    #[arg(long, default_value_t = Limits::default().auth_failures)]
    auth_failure_rate: u32,
    /// Requests per minute per customer with a valid token.
    #[arg(long, default_value_t = Limits::default().api_per_customer)]
    api_rate: u32,
    /// Requests per minute per source IP with a missing or forged token (expired or revoked tokens of
    /// this server: ten times as many).
    #[arg(long, default_value_t = Limits::default().bad_token_per_ip)]
    bad_token_rate: u32,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Keep the rate-limit counters in this Redis (redis://[:PASSWORD@]HOST[:PORT][/DB]; no TLS), so
    /// that every node on it shares one budget per client, address and customer instead of each node
    /// having its own. Nodes need synchronised clocks. When Redis does not answer, each node limits on its
    /// own (with a warning and talon_rate_limit_fallbacks_total) until it does. Without it: per node.
    /// (The value is never shown: it may hold a password. Checked in `run`, not by clap.)
    #[arg(long, env = "TALON_RATE_LIMIT_URL", hide_env_values = true, value_name = "URL")]
    rate_limit_url: Option<String>,
    /// Prefix of the keys written to --rate-limit-url's Redis (deployments sharing a Redis keep apart by it).
    #[arg(long, env = "TALON_RATE_LIMIT_PREFIX", default_value = talon_server::config::DEFAULT_KEY_PREFIX)]
    rate_limit_prefix: String,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AuthErrors {
    Falcon,
    Uniform,
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    // A panic's message could quote request data: log where it happened, not what it said.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map(|l| l.to_string()).unwrap_or_default();
        tracing::error!(%location, "panic");
    }));
    let public =
        args.public_url.as_deref().map(public_url).transpose().map_err(|e| anyhow::anyhow!("--public-url: {e}"))?;
    let shared_limits = args
        .rate_limit_url
        .as_deref()
        .map(|url| SharedLimits::new(url, &args.rate_limit_prefix))
        .transpose()
        .map_err(|e| anyhow::anyhow!("--rate-limit-url: {e}"))?;
    let store = args.database.open().await?;
    if !args.fixtures.is_empty() {
        let report = crate::fixtures::load(&*store, &args.fixtures).await?;
        tracing::info!(records = report.records, canned_answers = report.canned_answers, "fixtures loaded");
    }
    let clock = Arc::new(SystemClock);
    let mut config = Config {
        region: args.region.clone(),
        limits: Limits {
            oauth2_per_ip: args.oauth2_rate,
            auth_failures: args.auth_failure_rate,
            api_per_customer: args.api_rate,
            bad_token_per_ip: args.bad_token_rate,
            max_body_bytes: args.max_body_bytes,
        },
        auth_errors: match args.auth_errors {
            AuthErrors::Falcon => AuthErrorMode::Falcon,
            AuthErrors::Uniform => AuthErrorMode::Uniform,
        },
        demo_hosts: args.demo_hosts,
        trusted_proxies: args.trusted_proxies.clone(),
        connections: ConnectionLimits {
            max_connections: args.max_connections.max(1),
            max_per_address: args.max_connections_per_ip.max(1),
            header_timeout: Duration::from_secs(args.header_timeout.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout.max(1)),
            idle_timeout: Duration::from_secs(args.idle_timeout.max(1)),
        },
        shared_limits,
        ..Config::default()
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(talon_server::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener =
        std::net::TcpListener::bind(&args.listen).with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let metrics_listener = match &args.metrics_listen {
        Some(at) => {
            let l = std::net::TcpListener::bind(at).with_context(|| format!("cannot listen on {at} for metrics"))?;
            l.set_nonblocking(true)?;
            config.metrics_apart = true;
            Some(l)
        }
        None => None,
    };
    let base_url = format!("{}://{address}", if tls.is_some() { "https" } else { "http" });
    match public {
        Some(url) => {
            config.issuer = url.clone();
            config.public_url = Some(url);
        }
        None => config.public_url = Some(base_url.clone()),
    }
    create_first_admin(&*store, clock.now(), &base_url).await?;
    let state = AppState::new(store, config, clock).await.context("cannot load state from the store")?;
    let database = talon_store::redact_url(&args.database.url);
    tracing::info!(address = %base_url, region = %args.region, database = %database, "listening");
    // The metrics listener lives as long as the API's: it is dropped with this task's end below.
    let _metrics = match metrics_listener {
        Some(listener) => {
            let metrics_url = format!("http://{}/metrics", listener.local_addr()?);
            let listener = tokio::net::TcpListener::from_std(listener)?;
            tracing::info!(metrics = %metrics_url, "serving metrics apart");
            let served = tokio::spawn(talon_server::serve_metrics(listener, state.clone(), std::future::pending()));
            Some(AbortOnDrop(served))
        }
        None => None,
    };
    match tls {
        Some(tls) => talon_server::serve_tls(listener, tls, state, shutdown_signal()).await,
        None => {
            listener.set_nonblocking(true)?;
            talon_server::serve(tokio::net::TcpListener::from_std(listener)?, state, shutdown_signal()).await
        }
    }
    .context("server failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// On an empty store, creates an admin client holding every scope and prints its credentials once, on
/// stdout and never in the logs.
async fn create_first_admin(store: &dyn talon_store::Store, now: i64, base_url: &str) -> anyhow::Result<()> {
    let spec = ClientSpec {
        description: "Created on first start; holds every scope.".to_owned(),
        ..ClientSpec::new("admin", ScopeSet::all(), store.default_customer().await?)
    };
    let (admin, secret) = ApiClient::generate(spec, now);
    if store.create_first_client(&admin).await? {
        println!(
            "Created the first API client (every scope). The secret is shown only now; keep it safe.\n\
             \n  client_id:     {id}\n  client_secret: {secret}\n\nTry it:\n\n  \
             curl -s -X POST {base_url}/oauth2/token -d client_id={id} -d client_secret={secret}\n\n\
             Or sign in with them to the web console: {base_url}/console\n",
            id = admin.id,
            secret = secret.expose(),
        );
    }
    Ok(())
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

/// `--public-url`: an http(s) URL with a host and no user info, query or fragment; kept without a trailing
/// `/` (endpoints are appended to it).
fn public_url(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("use http:// or https:// and a host, e.g. https://auth.example.com".into());
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err("no user info, query or fragment: the URL endpoints are appended to".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}
