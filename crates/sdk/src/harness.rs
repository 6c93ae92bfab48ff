//! The "Uber" harness: any operation of the catalogue by its Falcon operation ID (or a deprecated alias),
//! its arguments checked and encoded as the catalogue says before anything is sent (see [`Args`]), or any
//! route; the answer is status, headers and JSON body as they came (no error for a non-2xx status: the
//! caller looks at `status`).
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
use talon_wire::catalogue::catalogue;
use talon_wire::operation;
use talon_wire::token::field;

use crate::args::{prepare, Args};
use crate::client::{Client, RawAnswer, RequestBuilder};
use crate::error::{ApiError, Error};

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

impl CommandResult {
    /// The body of a 2xx answer; any other status is the [`Error::Api`] it amounts to (status, the
    /// envelope's messages, the trace ID).
    pub fn ok(self) -> Result<serde_json::Value, Error> {
        match self.error() {
            Some(e) => Err(e),
            None => Ok(self.body),
        }
    }

    /// The [`Error::Api`] a non-2xx answer amounts to; `None` for a 2xx.
    pub fn error(&self) -> Option<Error> {
        let failed = !(200..300).contains(&self.status);
        failed.then(|| Error::Api(Box::new(ApiError::read(self.status, &self.headers, self.text.clone()))))
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

    /// Runs `operation_id` (an ID or deprecated alias; case matters) with `args`, after checking them
    /// against the catalogue: an unknown operation is an [`Error::UnknownOperation`] naming the closest
    /// IDs, a call that does not fit is an [`Error::Call`]; neither sends anything.
    ///
    /// `oauth2AccessToken` requests a token with the client's credentials and answers it (as FalconPy's
    /// Uber class does; the harness's other calls keep using the client's own cached token);
    /// `oauth2RevokeToken` revokes the token given as `args.query("token", ...)` with Basic credentials.
    pub async fn command(&self, operation_id: &str, args: Args) -> Result<CommandResult, Error> {
        let op = catalogue().resolve(operation_id).map_err(Error::UnknownOperation)?;
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
            let token = args.text(field::TOKEN).unwrap_or_default();
            self.form_post(&op.path, &[(field::TOKEN, token)], true).await
        } else {
            let prepared = prepare(op, &args).map_err(Error::Call)?;
            let request = self.client.request(http_method(op.method), &op.path).prepared(prepared);
            Ok(request.send_raw().await?.into())
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

/// Sends `request` with `args` unchecked (no operation to check them against): parameters in the query,
/// lists repeated, answering whatever status came back.
async fn send(mut request: RequestBuilder, args: Args) -> Result<CommandResult, Error> {
    for (name, value) in args.unchecked_query() {
        request = request.query(&name, value);
    }
    if let Some(body) = args.json_body() {
        request = request.json(body)?;
    }
    Ok(request.send_raw().await?.into())
}
