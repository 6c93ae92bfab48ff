//! The "Uber" harness: any operation by its Falcon operation ID, or any route, answering status, headers
//! and JSON body as they came (no error for a non-2xx status: the caller looks at `status`).
//!
//! ```no_run
//! # async fn run(client: talon::Client) -> Result<(), talon::Error> {
//! use talon::{Args, Harness};
//! let harness = Harness::new(client);
//! let answer = harness.command("QueryDevicesByFilter", Args::new().query("limit", 5)).await?;
//! println!("{} {}", answer.status, answer.body["resources"]);
//! # Ok(()) }
//! ```

use reqwest::header::HeaderMap;
use reqwest::Method;
use secrecy::ExposeSecret;
use talon_wire::operation;
use talon_wire::token::field;

use crate::client::{Client, RawAnswer, RequestBuilder};
use crate::error::Error;

pub use talon_wire::operation::Operation;

/// An authenticated request for `op`: its method and path on `client`. The typed services start every
/// call here, so no route string is written twice.
pub(crate) fn request_for(client: &Client, op: operation::OperationId) -> RequestBuilder {
    client.request(http_method(op.method()), op.path())
}

fn http_method(method: operation::Method) -> Method {
    match method {
        operation::Method::Get => Method::GET,
        operation::Method::Post => Method::POST,
        operation::Method::Patch => Method::PATCH,
        operation::Method::Delete => Method::DELETE,
        operation::Method::Put => Method::PUT,
        operation::Method::Head => Method::HEAD,
    }
}

/// Arguments of a command: query parameters (repeat a name for lists, e.g. `ids`) and a JSON body.
#[derive(Debug, Clone, Default)]
pub struct Args {
    query: Vec<(String, String)>,
    body: Option<serde_json::Value>,
}

impl Args {
    /// No parameters, no body.
    pub fn new() -> Args {
        Args::default()
    }

    /// Adds a query parameter; a name given again adds another value (`?ids=a&ids=b`).
    pub fn query(mut self, name: &str, value: impl ToString) -> Args {
        self.query.push((name.to_owned(), value.to_string()));
        self
    }

    /// Sets the JSON body (sent with `Content-Type: application/json`).
    pub fn body(mut self, body: serde_json::Value) -> Args {
        self.body = Some(body);
        self
    }
}

/// What a command answered. `Debug` leaves the body out: it may hold an access token.
#[derive(Clone)]
pub struct CommandResult {
    /// The HTTP status, whatever it is.
    pub status: u16,
    /// The answer's headers (`X-Cs-Traceid`, `X-Ratelimit-*`, ...).
    pub headers: HeaderMap,
    /// The JSON body (`null` when the body was empty or not JSON; `text` keeps it as it came).
    pub body: serde_json::Value,
    /// The body as it came.
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
    /// A harness over `client`; clones of the client share its token.
    pub fn new(client: Client) -> Harness {
        Harness { client }
    }

    /// Runs `operation_id` with `args`. `oauth2AccessToken` requests a token with the client's credentials
    /// and answers it (as FalconPy's Uber class does; the harness's other calls keep using the client's own
    /// cached token); `oauth2RevokeToken` revokes the token given as `args.query("token", ...)`.
    pub async fn command(&self, operation_id: &str, args: Args) -> Result<CommandResult, Error> {
        let op = operation::find(operation_id)
            .ok_or_else(|| Error::Config(format!("unknown operation {operation_id:?}; use request() for any route")))?;
        if op.id == operation::OAUTH2_ACCESS_TOKEN.as_str() {
            let c = self.client.credentials();
            let mut form = vec![
                (field::CLIENT_ID, c.client_id.clone()),
                (field::CLIENT_SECRET, c.client_secret.expose_secret().to_owned()),
            ];
            if let Some(member) = &c.member_cid {
                form.push((field::MEMBER_CID, member.clone()));
            }
            self.form_post(&op.path, &form, false).await
        } else if op.id == operation::OAUTH2_REVOKE_TOKEN.as_str() {
            let token = args.query.iter().find(|(n, _)| n == field::TOKEN).map(|(_, v)| v.clone()).unwrap_or_default();
            self.form_post(&op.path, &[(field::TOKEN, token)], true).await
        } else {
            send(self.client.request(http_method(op.method), &op.path), args).await
        }
    }

    /// Any route, authenticated like every other call.
    pub async fn request(&self, method: &str, path: &str, args: Args) -> Result<CommandResult, Error> {
        let method: Method = method.parse().map_err(|_| Error::Config(format!("{method:?} is not an HTTP method")))?;
        send(self.client.request(method, path), args).await
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

/// Sends `request` with `args`, answering whatever status came back.
async fn send(mut request: RequestBuilder, args: Args) -> Result<CommandResult, Error> {
    for (name, value) in &args.query {
        request = request.query(name, value);
    }
    if let Some(body) = &args.body {
        request = request.json(body)?;
    }
    Ok(request.send_raw().await?.into())
}
