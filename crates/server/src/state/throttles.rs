//! The node's rate limits: token requests per address, failed authentications (per client ID and
//! address, per address, per client ID), API requests per customer, bad and dead bearer tokens per
//! address. Per node, or shared through Redis with the per-node counters as the fallback (see
//! [`crate::limits`]).

use std::net::IpAddr;
use std::sync::Arc;

use talon_auth::{address_key, Clock, CustomerId, RateStatus};
use talon_store::admin::action;
use talon_store::AuditEntry;
use talon_wire::ids::shown_id;

use crate::audit;
use crate::config::Limits;
use crate::context;
use crate::error::ApiError;
use crate::limits::{Limiter, Shared};

/// How many times the per-client failure budget one address has across client IDs. Behind a proxy or NAT
/// many clients share an address: one party's wrong guesses must not lock the others' correct credentials
/// out, yet an address trying many client IDs is still stopped.
const ADDRESS_FAILURE_FACTOR: u32 = 10;

/// How many times the junk-token budget an address has for tokens this server signed that have since
/// expired or been revoked: such a token comes from a client that held credentials, and its 401 is what
/// makes an SDK renew; junk tokens from others on the same address (a proxy, a NAT) must not turn it into
/// a 429, on which SDKs wait instead.
const DEAD_TOKEN_FACTOR: u32 = 10;

pub struct Throttles {
    clock: Arc<dyn Clock>,
    oauth2_per_ip: Limiter<IpAddr>,
    /// Failures of one client ID from one address: the budget a guesser spends.
    failures_per_pair: Limiter<(IpAddr, String)>,
    /// Failures from one address across client IDs: a looser cap ([`ADDRESS_FAILURE_FACTOR`] times).
    failures_per_ip: Limiter<IpAddr>,
    /// Failures of one client ID from any address.
    failures_per_client: Limiter<String>,
    api_per_customer: Limiter<CustomerId>,
    bad_token_per_ip: Limiter<IpAddr>,
    dead_token_per_ip: Limiter<IpAddr>,
}

/// Records the status for the response headers and refuses the request with 429 when over the limit.
fn enforce(status: RateStatus) -> Result<(), ApiError> {
    context::current().set_rate(status);
    if status.allowed {
        Ok(())
    } else {
        Err(ApiError::rate_limited())
    }
}

/// The failure-throttle key of a client ID: the ID itself when it has the shape of one, else one shared
/// bucket, so arbitrary request text cannot create keys.
fn failure_key(client_id: &str) -> String {
    shown_id(client_id).to_owned()
}

impl Throttles {
    pub(super) fn new(l: Limits, shared: Option<&Arc<Shared>>, clock: Arc<dyn Clock>) -> Throttles {
        Throttles {
            clock,
            oauth2_per_ip: Limiter::new("oauth2_ip", l.oauth2_per_ip, shared),
            failures_per_pair: Limiter::new("auth_fail_pair", l.auth_failures, shared),
            failures_per_ip: Limiter::new(
                "auth_fail_ip",
                l.auth_failures.saturating_mul(ADDRESS_FAILURE_FACTOR),
                shared,
            ),
            failures_per_client: Limiter::new("auth_fail_client", l.auth_failures, shared),
            api_per_customer: Limiter::new("api_customer", l.api_per_customer, shared),
            bad_token_per_ip: Limiter::new("bad_token_ip", l.bad_token_per_ip, shared),
            dead_token_per_ip: Limiter::new(
                "dead_token_ip",
                l.bad_token_per_ip.saturating_mul(DEAD_TOKEN_FACTOR),
                shared,
            ),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now()
    }

    pub async fn limit_oauth2(&self, ip: IpAddr) -> Result<(), ApiError> {
        enforce(self.oauth2_per_ip.hit(&address_key(ip), self.now()).await)
    }

    /// Refuses a credential check when this client ID has failed too often lately from this address, when
    /// this address has failed too often across client IDs (a looser cap), or when this client ID has
    /// failed too often anywhere and this address has failed with it at least once. So guessing is
    /// throttled per address and per client, yet an integration is locked out neither by someone else's
    /// failures with its (public) client ID elsewhere nor by other clients' failures from its own address.
    pub async fn check_auth_failures(&self, ip: IpAddr, client_id: &str) -> Result<(), ApiError> {
        let now = self.now();
        let by_ip = self.failures_per_ip.peek(&address_key(ip), now).await;
        if !by_ip.allowed {
            return enforce(by_ip);
        }
        // An address without failures in its window has none with any client ID either (a pair's window
        // may outlast its address's by under a minute: one more guess then, counted at once): the common
        // case, answered without building the keys below.
        if by_ip.remaining == by_ip.limit {
            return Ok(());
        }
        let by_pair = self.failures_per_pair.peek(&(address_key(ip), failure_key(client_id)), now).await;
        if !by_pair.allowed {
            return enforce(by_pair);
        }
        let by_client = self.failures_per_client.peek(&failure_key(client_id), now).await;
        if !by_client.allowed && by_pair.remaining < by_pair.limit {
            return enforce(by_client);
        }
        Ok(())
    }

    /// Counts a failed authentication; the audit entries of the bursts it starts (the failure that uses
    /// up a budget: audited once, not per failure, naming the client ID the failures named; the address's
    /// cap names the last one, as they named many).
    pub async fn record_auth_failure(&self, ip: IpAddr, client_id: &str) -> Vec<AuditEntry> {
        let now = self.now();
        let (address, client) = (address_key(ip), failure_key(client_id));
        let pair = (address, client.clone());
        // Shared, the three go out together on the one connection: one round trip's wait, not three.
        let (by_pair, by_ip, _) = tokio::join!(
            self.failures_per_pair.hit(&pair, now),
            self.failures_per_ip.hit(&address, now),
            self.failures_per_client.hit(&client, now),
        );
        let burst = |status: &RateStatus, what: &str| {
            let details = format!(
                "{} failed authentications within a minute{what}; refused until {}",
                status.limit, status.resets_at
            );
            audit::actor(&client, ip).entry(now, action::AUTH_FAILURE_BURST, None, details)
        };
        let mut bursts = Vec::new();
        if by_pair.allowed && by_pair.remaining == 0 {
            bursts.push(burst(&by_pair, ""));
        }
        if by_ip.allowed && by_ip.remaining == 0 {
            bursts.push(burst(&by_ip, " from this address across client IDs"));
        }
        bursts
    }

    pub async fn limit_customer(&self, customer: &CustomerId) -> Result<(), ApiError> {
        enforce(self.api_per_customer.hit(customer, self.now()).await)
    }

    pub async fn limit_bad_token(&self, ip: IpAddr) -> Result<(), ApiError> {
        enforce(self.bad_token_per_ip.hit(&address_key(ip), self.now()).await)
    }

    /// As [`Throttles::limit_bad_token`], for a token this server signed that is expired, revoked or no
    /// longer valid: its own budget (see [`DEAD_TOKEN_FACTOR`]).
    pub async fn limit_dead_token(&self, ip: IpAddr) -> Result<(), ApiError> {
        enforce(self.dead_token_per_ip.hit(&address_key(ip), self.now()).await)
    }

    pub async fn peek_bad_token_budget(&self, ip: IpAddr) -> RateStatus {
        self.bad_token_per_ip.peek(&address_key(ip), self.now()).await
    }
}
