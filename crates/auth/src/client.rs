//! API clients: who may get a token, with which scopes, for which customers, from which addresses.

use std::net::IpAddr;

use ipnet::IpNet;
use talon_wire::ScopeSet;

use crate::ids::{ClientId, CustomerId};
use crate::secret::{ClientSecret, SecretDigest};

/// An API client as stored. The secret is only its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: ClientId,
    pub name: String,
    pub description: String,
    pub scopes: ScopeSet,
    /// The customer the client belongs to.
    pub cid: CustomerId,
    /// Child customers the client may lock a token to with `member_cid` (MSSP).
    pub member_cids: Vec<CustomerId>,
    /// Source networks allowed to use the client; empty means any address.
    pub allowed_ips: Vec<IpNet>,
    pub enabled: bool,
    pub secret_digest: SecretDigest,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    /// Tokens issued (by `iat`, in whole seconds) before this time are refused: set when the secret is reset
    /// or the client disabled, so that neither a leaked secret's tokens nor a re-enable brings them back.
    pub tokens_not_before: i64,
}

impl ApiClient {
    /// Builds a new client from its spec; the caller generated the ID and the secret.
    pub fn new(id: ClientId, spec: ClientSpec, secret_digest: SecretDigest, now: i64) -> ApiClient {
        ApiClient {
            id,
            name: spec.name,
            description: spec.description,
            scopes: spec.scopes,
            cid: spec.cid,
            member_cids: dedup(spec.member_cids),
            allowed_ips: dedup(spec.allowed_ips),
            enabled: spec.enabled,
            secret_digest,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            tokens_not_before: 0,
        }
    }

    /// A new client with a fresh ID and a fresh secret: the secret in clear is returned once, for showing
    /// to its owner; the client keeps only its digest.
    pub fn generate(spec: ClientSpec, now: i64) -> (ApiClient, ClientSecret) {
        let secret = ClientSecret::generate();
        (ApiClient::new(ClientId::generate(), spec, secret.digest(), now), secret)
    }

    /// Replaces the secret; tokens issued before now stop working.
    pub fn reset_secret(&mut self, digest: SecretDigest, now: i64) {
        self.secret_digest = digest;
        self.refuse_tokens_before(now);
    }

    /// Every token issued so far stops working, however close to `now`: a token is refused when its `iat`
    /// is at or before `tokens_not_before`, and tokens issued after this are dated past it (see
    /// [`ApiClient::token_issued_at`]). A second refusal within the same second moves the mark one further,
    /// past the tokens issued between the two. The mark only moves forward, so a clock that is behind cannot
    /// revive tokens an earlier reset, disable or revocation ended.
    pub fn refuse_tokens_before(&mut self, now: i64) {
        self.tokens_not_before =
            if self.tokens_not_before >= now { self.tokens_not_before.saturating_add(1) } else { now };
        self.updated_at = now;
    }

    /// The `iat` of a token issued to this client at `now`: `now`, or just past the last refusal when that
    /// was in this very second (JWT times are whole seconds), so the new token outlives the mark the old
    /// ones fall under.
    pub fn token_issued_at(&self, now: i64) -> i64 {
        now.max(self.tokens_not_before.saturating_add(1))
    }

    /// True when `ip` is in the allow-list, or the list is empty. IPv4-mapped IPv6 addresses count as IPv4,
    /// since a dual-stack listener reports IPv4 peers that way.
    pub fn ip_allowed(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|net| net.contains(&ip))
    }

    pub fn may_act_for(&self, member: &CustomerId) -> bool {
        self.member_cids.contains(member)
    }

    /// Applies `changes`; fields left `None` keep their value.
    pub fn apply(&mut self, changes: ClientChanges, now: i64) {
        if let Some(name) = changes.name {
            self.name = name;
        }
        if let Some(description) = changes.description {
            self.description = description;
        }
        if let Some(scopes) = changes.scopes {
            self.scopes = scopes;
        }
        if let Some(member_cids) = changes.member_cids {
            self.member_cids = dedup(member_cids);
        }
        if let Some(allowed_ips) = changes.allowed_ips {
            self.allowed_ips = dedup(allowed_ips);
        }
        if let Some(enabled) = changes.enabled {
            if self.enabled && !enabled {
                self.refuse_tokens_before(now);
            }
            self.enabled = enabled;
        }
        self.updated_at = now;
    }
}

fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// What an administrator says when creating a client.
#[derive(Debug, Clone)]
pub struct ClientSpec {
    pub name: String,
    pub description: String,
    pub scopes: ScopeSet,
    pub cid: CustomerId,
    pub member_cids: Vec<CustomerId>,
    pub allowed_ips: Vec<IpNet>,
    pub enabled: bool,
}

impl ClientSpec {
    /// An enabled client of `cid` with `scopes`, no description, member CIDs or allow-list.
    pub fn new(name: impl Into<String>, scopes: ScopeSet, cid: CustomerId) -> ClientSpec {
        ClientSpec {
            name: name.into(),
            description: String::new(),
            scopes,
            cid,
            member_cids: vec![],
            allowed_ips: vec![],
            enabled: true,
        }
    }
}

/// A partial update of a client: `None` leaves the field as it is; a `Some` list replaces the list.
#[derive(Debug, Clone, Default)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub scopes: Option<ScopeSet>,
    pub member_cids: Option<Vec<CustomerId>>,
    pub allowed_ips: Option<Vec<IpNet>>,
    pub enabled: Option<bool>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn client_with(allowed: &[&str]) -> ApiClient {
        let spec = ClientSpec {
            allowed_ips: allowed.iter().map(|s| s.parse().expect("cidr")).collect(),
            ..ClientSpec::new("test", ScopeSet::all(), CustomerId::generate())
        };
        ApiClient::generate(spec, 1000).0
    }

    #[test]
    fn empty_allow_list_allows_everyone() {
        assert!(client_with(&[]).ip_allowed("203.0.113.9".parse().expect("ip")));
    }

    #[test]
    fn allow_list_matches_v4_v6_and_mapped_addresses() {
        let c = client_with(&["10.0.0.0/8", "2001:db8::/32"]);
        assert!(c.ip_allowed("10.1.2.3".parse().expect("ip")));
        assert!(c.ip_allowed("::ffff:10.1.2.3".parse().expect("ip")));
        assert!(c.ip_allowed("2001:db8::1".parse().expect("ip")));
        assert!(!c.ip_allowed("11.0.0.1".parse().expect("ip")));
        assert!(!c.ip_allowed("::1".parse().expect("ip")));
    }

    #[test]
    fn apply_changes_only_what_is_given() {
        let mut c = client_with(&[]);
        let before = c.clone();
        c.apply(ClientChanges { enabled: Some(false), ..Default::default() }, 2000);
        assert!(!c.enabled);
        assert_eq!(c.tokens_not_before, 2000, "disabling ends the live tokens for good");
        assert_eq!(c.name, before.name);
        assert_eq!(c.scopes, before.scopes);
        assert_eq!(c.updated_at, 2000);
        assert_eq!(c.token_issued_at(2000), 2001, "a token of that very second is dated past the mark");
        c.refuse_tokens_before(2000);
        assert_eq!(c.tokens_not_before, 2001, "a second refusal in the same second ends the tokens between");
        c.refuse_tokens_before(1990);
        assert_eq!(c.tokens_not_before, 2002, "a clock behind still moves the mark forward, never back");
    }
}
