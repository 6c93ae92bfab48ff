//! talon: a Rust client for the CrowdStrike Falcon API (and Talon, which speaks the same contract) whose
//! OAuth2 handling is done right: the token is cached and renewed before it expires, one refresh at a
//! time however many tasks need it, a 401 gets one refresh and one retry, and a failed login says why
//! (status, message, trace ID) without ever showing a secret.
//!
//! ```no_run
//! # async fn run() -> Result<(), talon::Error> {
//! let client = talon::Client::builder(talon::Credentials::from_env()?).build()?;
//! let hosts = client.request(reqwest::Method::GET, "/devices/queries/devices/v1").send().await?;
//! # Ok(()) }
//! ```

mod api_clients;
mod client;
mod cloud;
mod credentials;
mod error;
mod harness;
mod oauth2;

pub use api_clients::{ApiClients, Page};
pub use client::{Client, ClientBuilder, RateLimit, RawAnswer, RequestBuilder, RetryPolicy, DEFAULT_RENEW_WINDOW};
pub use cloud::Cloud;
pub use credentials::Credentials;
pub use error::{ApiError, Error, FailReason, ForbiddenCause};
pub use harness::{Args, CommandResult, Harness, Operation, OPERATIONS};
pub use oauth2::{OAuth2, TokenStatus};
