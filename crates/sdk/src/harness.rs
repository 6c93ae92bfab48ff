//! The "Uber" harness: any operation by its Falcon operation ID, or any route, answering status, headers
//! and JSON body as they came (no error for a non-2xx status: the caller looks at `status`).

use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::ExposeSecret;
use talon_wire::token::field;

use crate::client::{Client, RawAnswer};
use crate::error::Error;

/// One operation of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation {
    pub id: &'static str,
    pub method: &'static str,
    pub path: &'static str,
}

const fn op(id: &'static str, method: &'static str, path: &'static str) -> Operation {
    Operation { id, method, path }
}

/// The operations the harness knows by ID: the OAuth2 collection and the emulated hosts and CSPM APIs.
pub const OPERATIONS: &[Operation] = &[
    op("oauth2AccessToken", "POST", "/oauth2/token"),
    op("oauth2RevokeToken", "POST", "/oauth2/revoke"),
    op("QueryDevicesByFilter", "GET", "/devices/queries/devices/v1"),
    op("GetDeviceDetailsV2", "GET", "/devices/entities/devices/v2"),
    op("PostDeviceDetailsV2", "POST", "/devices/entities/devices/v2"),
    op("PerformActionV2", "POST", "/devices/entities/devices-actions/v2"),
    op("GetCSPMPolicySettings", "GET", "/settings/entities/policy/v1"),
    op("UpdateCSPMPolicySettings", "PATCH", "/settings/entities/policy/v1"),
];

/// Arguments of a command: query parameters (repeat a name for lists, e.g. `ids`) and a JSON body.
#[derive(Debug, Clone, Default)]
pub struct Args {
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
}

impl Args {
    pub fn new() -> Args {
        Args::default()
    }

    pub fn query(mut self, name: &str, value: impl ToString) -> Args {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    pub fn body(mut self, body: serde_json::Value) -> Args {
        self.body = Some(body);
        self
    }
}

/// What a command answered. `Debug` leaves the body out: it may hold an access token.
#[derive(Clone)]
pub struct CommandResult {
    pub status: u16,
    pub headers: HeaderMap,
    /// The JSON body (`null` when the body was empty or not JSON; `text` keeps it as it came).
    pub body: serde_json::Value,
    pub text: String,
}

impl std::fmt::Debug for CommandResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandResult")
            .field("status", &self.status)
            .field("body", &"[not shown]")
            .finish_non_exhaustive()
    }
}

impl From<RawAnswer> for CommandResult {
    fn from(a: RawAnswer) -> CommandResult {
        CommandResult {
            status: a.status,
            body: serde_json::from_str(&a.text).unwrap_or_default(),
            headers: a.headers,
            text: a.text,
        }
    }
}

/// Runs operations by ID over a [`Client`] (whose token it uses and manages).
#[derive(Clone, Debug)]
pub struct Harness {
    client: Client,
}

impl Harness {
    pub fn new(client: Client) -> Harness {
        Harness { client }
    }

    /// Runs `operation_id` with `args`. `oauth2AccessToken` requests a token with the client's credentials
    /// and answers it (as FalconPy's Uber class does; the harness's other calls keep using the client's own
    /// cached token); `oauth2RevokeToken` revokes the token given as `args.query("token", ...)`.
    pub async fn command(&self, operation_id: &str, args: Args) -> Result<CommandResult, Error> {
        let op = OPERATIONS
            .iter()
            .find(|o| o.id == operation_id)
            .ok_or_else(|| Error::Config(format!("unknown operation {operation_id:?}; use request() for any route")))?;
        match op.id {
            "oauth2AccessToken" => {
                let c = self.client.credentials();
                let mut form = vec![
                    (field::CLIENT_ID, c.client_id.clone()),
                    (field::CLIENT_SECRET, c.client_secret.expose_secret().to_owned()),
                ];
                if let Some(member) = &c.member_cid {
                    form.push((field::MEMBER_CID, member.clone()));
                }
                self.form_post(op.path, &form, false).await
            }
            "oauth2RevokeToken" => {
                let token = args.query.iter().find(|(n, _)| n == "token").map(|(_, v)| v.clone()).unwrap_or_default();
                self.form_post(op.path, &[(field::TOKEN, token)], true).await
            }
            _ => self.request(op.method, op.path, args).await,
        }
    }

    /// Any route, authenticated like every other call.
    pub async fn request(&self, method: &str, path: &str, args: Args) -> Result<CommandResult, Error> {
        let method: Method = method.parse().map_err(|_| Error::Config(format!("{method:?} is not an HTTP method")))?;
        let mut request = self.client.request(method, path);
        for (name, value) in &args.query {
            request = request.query(name, value);
        }
        if let Some(body) = &args.body {
            request = request.json(body)?;
        }
        Ok(request.send_raw().await?.into())
    }

    async fn form_post(&self, path: &str, form: &[(&str, String)], basic: bool) -> Result<CommandResult, Error> {
        let mut request = self.client.http().post(self.client.url(path)).form(form);
        if basic {
            let c = self.client.credentials();
            request = request.basic_auth(&c.client_id, Some(c.client_secret.expose_secret()));
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        Ok(RawAnswer { status, headers, text }.into())
    }
}
