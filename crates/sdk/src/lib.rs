//! talon: a Rust client for the CrowdStrike Falcon API (and Talon, which speaks the same contract) whose
//! OAuth2 handling is done right: the token is cached and renewed before it expires, one refresh at a
//! time however many tasks need it, a 401 gets one refresh and one retry, and a failed login says why
//! (status, message, trace ID) without ever showing a secret.
//!
//! # Quick start
//!
//! Credentials come from the variables every Falcon SDK reads (`FALCON_CLIENT_ID`, `FALCON_CLIENT_SECRET`,
//! `FALCON_BASE_URL` or `FALCON_CLOUD`, `FALCON_MEMBER_CID`), or from [`Credentials::new`]:
//!
//! ```no_run
//! # async fn run() -> Result<(), talon::Error> {
//! use talon::{Client, Credentials, HostQuery, Hosts};
//!
//! let client = Client::builder(Credentials::from_env()?).build()?;
//! let hosts = Hosts::new(client);
//! let page = hosts.query_devices_by_filter(&HostQuery::new().filter("platform_name:'Windows'").limit(5)).await?;
//! for device in hosts.get_device_details(&page.ids).await? {
//!     println!("{} {} {}", device.device_id, device.hostname, device.last_seen);
//! }
//! println!("{} Windows hosts in all", page.pagination.total);
//! # Ok(()) }
//! ```
//!
//! # Services
//!
//! One type per collection, as the Falcon docs shape them, each made from a [`Client`] (cheap to clone;
//! clones share one token):
//!
//! - [`OAuth2`]: `token()`, `revoke()`, `login()`, `logout()` and the token's state.
//! - [`Hosts`]: `query_devices_by_filter`, `query_all` / `query_pages`, `get_device_details`,
//!   `post_device_details`, `perform_action` (a [`DeviceAction`]), `contain`, `lift_containment`. Calls
//!   taking IDs split them to fit the API's per-call limits. Devices are talon-wire's [`Device`].
//! - [`CspmRegistration`]: `get_policy_settings`, `update_policy_settings` ([`PolicySettings`],
//!   [`PolicyUpdate`]).
//! - [`ApiClients`]: Talon's admin API (API clients and the audit log).
//!
//! An answer outside 2xx is an [`Error::Api`] holding the status, the envelope's messages, the trace ID
//! and, on a 403, whether the scope or the IP allow-list is likely at fault.
//!
//! # The Uber harness
//!
//! [`Harness::command`] runs any operation of the [`catalogue()`] (every operation of the Falcon API, with
//! its deprecated aliases) by its Falcon operation ID and answers status, headers and body as they came (a
//! non-2xx status is an answer, not an error); [`Harness::request`] runs any route. The catalogue is the
//! same one the typed services and Talon's server are built from.
//!
//! [`Args`] are checked against the operation before anything is sent: an unknown operation is an
//! [`Error::UnknownOperation`] naming the closest IDs; an unknown parameter, a missing one, a wrong type, a
//! value outside an enum, bounds, length or pattern is an [`Error::Call`] ([`CallError`]). Lists are sent as
//! the catalogue says (repeated, or comma-joined), path placeholders filled, bodies sent as JSON, form or
//! multipart. [`Harness::all_pages`] follows every page in the operation's [`Paging`] style.
//!
//! ```no_run
//! # async fn run(client: talon::Client) -> Result<(), talon::Error> {
//! let harness = talon::Harness::new(client);
//! let answer = harness.command("QueryDevicesByFilter", talon::Args::new().query("limit", 5)).await?;
//! assert_eq!(answer.status, 200);
//! # Ok(()) }
//! ```
//!
//! # Lifecycle guarantees
//!
//! - A token is fetched on first use and renewed [`DEFAULT_RENEW_WINDOW`] before it expires (or at half
//!   the lifetime of a short-lived one), so a long-running program never sends an expired token.
//! - However many tasks need a token at once, one token request is made; the others wait for it.
//! - A 401 drops the token, gets one new token and retries once (the API did not act on the request).
//! - A 429 waits for `X-Ratelimit-Retryafter` (every clone waits, not only the caller), up to
//!   [`RetryPolicy::max_rate_limit_wait`]. A 5xx or broken connection is retried, with jittered backoff, for
//!   GET and HEAD only: a POST, PATCH or DELETE that may have arrived is never replayed.
//! - After a failed login the client backs off (1 s, doubling up to a minute) instead of hammering the
//!   token endpoint; [`OAuth2::token_fail_reason`] says why it failed.
//! - No redirect is followed (it would carry the bearer token to another host), and no secret or token
//!   appears in a `Debug` or `Display` output or an error message.
//!
//! The `examples/` directory holds runnable versions of the Falcon docs' examples: `oauth2_token_revoke`,
//! `uber_command`, `credentials_from_env` and `long_running` (a loop that outlives several tokens).

#![warn(missing_docs)]

mod answer;
mod api_clients;
mod args;
mod client;
mod cloud;
mod credentials;
mod cspm;
mod error;
mod harness;
mod hosts;
mod oauth2;
mod pager;

pub use api_clients::{ApiClients, Page};
pub use args::{Args, CallError, CallProblem};
pub use client::{Client, ClientBuilder, RateLimit, RawAnswer, RequestBuilder, RetryPolicy, DEFAULT_RENEW_WINDOW};
pub use cloud::Cloud;
pub use credentials::Credentials;
pub use cspm::CspmRegistration;
pub use error::{ApiError, Error, FailReason, ForbiddenCause};
pub use harness::{CommandResult, Harness, Operation};
pub use hosts::{
    DeviceAction, DeviceIdPage, DeviceIdPages, HostQuery, Hosts, MAX_ACTION_IDS, MAX_GET_IDS, MAX_POST_IDS,
    MAX_QUERY_LIMIT,
};
pub use oauth2::{OAuth2, TokenStatus};
pub use pager::{Pages, Paging};
pub use talon_wire::admin::ClientListing;
pub use talon_wire::catalogue::{catalogue, Catalogue};
pub use talon_wire::device::{ActionResult, Device};
pub use talon_wire::envelope::Pagination;
pub use talon_wire::operation;
pub use talon_wire::policy::{PolicySettingValues, PolicySettings, PolicyUpdate};
