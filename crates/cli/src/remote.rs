//! The client side of the CLI, through the SDK only: `talon token`, `talon revoke`, `talon request`.
//! Credentials come from flags or the environment (FALCON_CLIENT_ID, FALCON_CLIENT_SECRET, ...), as every
//! Falcon SDK reads them. Errors name the status, the Falcon message and the trace ID, never the secret.

use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use talon::{Client, Cloud, Credentials, OAuth2};

/// Where and as whom to call the API.
#[derive(clap::Args)]
pub struct ApiArgs {
    #[arg(long, env = "FALCON_CLIENT_ID", global = true)]
    client_id: Option<String>,
    /// The API client's secret (prefer the environment variable: flags show in process lists).
    #[arg(long, env = "FALCON_CLIENT_SECRET", hide_env_values = true, global = true)]
    client_secret: Option<String>,
    /// Lock the token to this child customer (MSSP).
    #[arg(long, env = "FALCON_MEMBER_CID")]
    member_cid: Option<String>,
    /// The API's base URL, e.g. http://127.0.0.1:8080 for a local Talon (wins over --cloud).
    #[arg(long, env = "FALCON_BASE_URL", global = true)]
    base_url: Option<String>,
    /// A Falcon cloud: us-1, us-2, us-3, eu-1, us-gov-1, us-gov-2, or auto. A commercial cloud follows the
    /// API to the client's own region (308 or X-Cs-Region); a gov cloud must be named; --base-url never moves.
    #[arg(long, env = "FALCON_CLOUD", default_value = "us-1", global = true)]
    cloud: String,
}

impl ApiArgs {
    /// A client of Talon itself (its admin API exists nowhere else): a base URL is required, so that a
    /// forgotten FALCON_BASE_URL cannot send admin credentials to a Falcon cloud.
    pub(crate) fn talon_client(&self) -> anyhow::Result<Client> {
        if self.base_url.is_none() {
            bail!("--remote needs the Talon server's address: set FALCON_BASE_URL (or --base-url)");
        }
        self.client()
    }

    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) else {
            bail!("set FALCON_CLIENT_ID and FALCON_CLIENT_SECRET (or --client-id and --client-secret)");
        };
        let cloud = match &self.base_url {
            Some(url) => Cloud::Custom(url.trim_end_matches('/').to_owned()),
            None => self.cloud.parse::<Cloud>()?,
        };
        let mut credentials = Credentials::new(id, secret, cloud);
        if let Some(member) = &self.member_cid {
            credentials = credentials.with_member_cid(member);
        }
        Ok(Client::builder(credentials).user_agent_suffix("talon-cli").build()?)
    }
}

/// `talon token`: prints a new access token.
pub async fn token(api: ApiArgs) -> anyhow::Result<()> {
    let token = OAuth2::new(api.client()?).token().await?;
    println!("{}", token.expose_secret());
    Ok(())
}

/// `talon revoke [TOKEN]`: revokes a token of this API client (read from stdin when not given).
pub async fn revoke(api: ApiArgs, token: Option<String>) -> anyhow::Result<()> {
    let token = match token {
        Some(token) => token,
        None => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).context("reading the token from stdin")?;
            line.trim().to_owned()
        }
    };
    if token.is_empty() {
        bail!("no token given (as an argument or on stdin)");
    }
    OAuth2::new(api.client()?).revoke(&token.into()).await?;
    eprintln!("revoked");
    Ok(())
}

/// `talon request METHOD PATH [--query k=v]... [--data JSON]`: prints the JSON answer.
pub async fn request(
    api: ApiArgs,
    method: String,
    path: String,
    query: Vec<String>,
    data: Option<String>,
) -> anyhow::Result<()> {
    let method: reqwest::Method =
        method.to_uppercase().parse().with_context(|| format!("{method:?} is not an HTTP method"))?;
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    let mut request = api.client()?.request(method, &path);
    for pair in &query {
        let (name, value) = pair.split_once('=').with_context(|| format!("--query {pair:?} is not name=value"))?;
        request = request.query(name, value);
    }
    if let Some(data) = data {
        let body: serde_json::Value = serde_json::from_str(&data).context("--data is not JSON")?;
        request = request.json(&body)?;
    }
    let answer = request.send().await?;
    println!("{}", serde_json::to_string_pretty(&answer)?);
    Ok(())
}
