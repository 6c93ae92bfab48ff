//! The rules for what an administrator may say about a client (admin API, console and CLI alike): names,
//! descriptions, scopes, CIDs and networks are checked here, once, and turned into a [`ClientSpec`] or
//! [`ClientChanges`]; [`ApiClient::view`] is the one way a client is shown.

use ipnet::IpNet;
use talon_wire::admin::{ApiClientView, CreateClientRequest, UpdateClientRequest};
use talon_wire::ScopeSet;

use crate::authorize::Principal;
use crate::client::{ApiClient, ClientChanges, ClientSpec};
use crate::ids::CustomerId;
use crate::secret::ClientSecret;

/// Longest client name, in characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Most member CIDs or allow-list entries a client may hold.
pub const MAX_LIST_ITEMS: usize = 256;

/// Why a client as an administrator described it is refused. The message names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidClient(pub String);

fn invalid(message: impl Into<String>) -> InvalidClient {
    InvalidClient(message.into())
}

/// Unicode's format characters (general category Cf): invisible, yet they change how a name reads (a
/// zero-width space makes `admin\u{200b}` look like `admin`; a bidi override turns text around). Ranges,
/// inclusive, as Unicode 15 lists them.
pub const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// Whether `c` is a format character (see [`FORMAT_CHARS`]).
pub fn is_format_char(c: char) -> bool {
    FORMAT_CHARS.iter().any(|&(low, high)| (low..=high).contains(&c))
}

/// A name: not blank, at most [`MAX_NAME_CHARS`] as sent (so the OpenAPI document's `maxLength` is the
/// rule), no control or format characters. Surrounding spaces are dropped.
pub fn check_name(name: &str) -> Result<String, InvalidClient> {
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!("name must be at most {MAX_NAME_CHARS} characters")));
    }
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid("name must not be empty"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name must not contain control characters"));
    }
    if name.chars().any(is_format_char) {
        return Err(invalid("name must not contain invisible format characters (zero-width, bidi controls)"));
    }
    Ok(name.to_owned())
}

/// A description: at most [`MAX_DESCRIPTION_CHARS`]; line breaks and tabs are allowed, other control
/// characters are not.
pub fn check_description(description: &str) -> Result<String, InvalidClient> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(invalid(format!("description must be at most {MAX_DESCRIPTION_CHARS} characters")));
    }
    if description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(invalid("description must not contain control characters"));
    }
    Ok(description.to_owned())
}

/// A non-empty list of catalogue scopes.
pub fn check_scopes<S: AsRef<str>>(scopes: &[S]) -> Result<ScopeSet, InvalidClient> {
    let set = ScopeSet::parse_all(scopes).map_err(|e| invalid(format!("scopes: {e}")))?;
    if set.is_empty() {
        return Err(invalid("scopes: at least one scope is required"));
    }
    Ok(set)
}

/// A CID, in the wire form or the console's (`UPPERCASE-CS`).
pub fn parse_cid(raw: &str) -> Result<CustomerId, InvalidClient> {
    CustomerId::parse_lenient(raw).map_err(|e| invalid(e.to_string()))
}

/// A network in CIDR form; a bare address means just that address.
pub fn parse_network(raw: &str) -> Result<IpNet, InvalidClient> {
    let s = raw.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| invalid(format!("{s:?} is not an IP network (CIDR such as 10.0.0.0/8) or address")))
}

fn parse_list<T>(
    what: &str,
    raw: &[String],
    parse: impl Fn(&str) -> Result<T, InvalidClient>,
) -> Result<Vec<T>, InvalidClient> {
    if raw.len() > MAX_LIST_ITEMS {
        return Err(invalid(format!("{what}: at most {MAX_LIST_ITEMS} entries")));
    }
    raw.iter().map(|s| parse(s).map_err(|e| invalid(format!("{what}: {e}")))).collect()
}

impl ClientSpec {
    /// The spec a create request describes; `default_cid` when it names no customer.
    pub fn from_request(req: &CreateClientRequest, default_cid: CustomerId) -> Result<ClientSpec, InvalidClient> {
        Ok(ClientSpec {
            name: check_name(&req.name)?,
            description: check_description(&req.description)?,
            scopes: check_scopes(&req.scopes)?,
            cid: match &req.cid {
                Some(cid) => parse_cid(cid).map_err(|e| invalid(format!("cid: {e}")))?,
                None => default_cid,
            },
            member_cids: parse_list("member_cids", &req.member_cids, parse_cid)?,
            allowed_ips: parse_list("allowed_ips", &req.allowed_ips, parse_network)?,
            enabled: req.enabled,
        })
    }
}

impl ClientChanges {
    /// The changes an update request describes.
    pub fn from_request(req: &UpdateClientRequest) -> Result<ClientChanges, InvalidClient> {
        Ok(ClientChanges {
            name: req.name.as_deref().map(check_name).transpose()?,
            description: req.description.as_deref().map(check_description).transpose()?,
            scopes: req.scopes.as_deref().map(check_scopes).transpose()?,
            member_cids: req.member_cids.as_deref().map(|l| parse_list("member_cids", l, parse_cid)).transpose()?,
            allowed_ips: req.allowed_ips.as_deref().map(|l| parse_list("allowed_ips", l, parse_network)).transpose()?,
            enabled: req.enabled,
        })
    }

    /// Whether these changes hold anything at all.
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.description.is_none()
            && self.scopes.is_none()
            && self.member_cids.is_none()
            && self.allowed_ips.is_none()
            && self.enabled.is_none()
    }

    /// The fields these changes set, in words, for the audit log (values of names and lists, no secret).
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(name) = &self.name {
            parts.push(format!("name={name:?}"));
        }
        if self.description.is_some() {
            parts.push("description".to_owned());
        }
        if let Some(scopes) = self.scopes {
            parts.push(format!("scopes=[{}]", scopes.to_strings().join(" ")));
        }
        if let Some(m) = &self.member_cids {
            parts.push(format!("member_cids=[{}]", m.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(" ")));
        }
        if let Some(n) = &self.allowed_ips {
            parts.push(format!("allowed_ips=[{}]", n.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")));
        }
        if let Some(enabled) = self.enabled {
            parts.push(format!("enabled={enabled}"));
        }
        parts.join(", ")
    }
}

impl ApiClient {
    /// The client as the admin API and the CLI's `--json` show it (without a secret).
    pub fn view(&self) -> ApiClientView {
        ApiClientView {
            client_id: self.id.to_string(),
            name: self.name.clone(),
            description: self.description.clone(),
            scopes: self.scopes.to_strings(),
            cid: self.cid.to_string(),
            member_cids: self.member_cids.iter().map(|c| c.to_string()).collect(),
            allowed_ips: self.allowed_ips.iter().map(|n| n.to_string()).collect(),
            enabled: self.enabled,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_used_at: self.last_used_at,
            client_secret: None,
        }
    }

    /// The client with its secret in clear: the answer of create and reset-secret, the one time it is shown.
    pub fn view_with_secret(&self, secret: &ClientSecret) -> ApiClientView {
        ApiClientView { client_secret: Some(secret.expose().to_owned()), ..self.view() }
    }
}

/// Which clients an administrator reaches. The operator (an admin of the installation's default customer,
/// with a token not locked to a member) reaches every customer; any other admin reaches only the customer
/// its token acts for, and may hand out only the member CIDs its own client holds. So a child customer's
/// admin cannot see, change or mint clients of another customer, nor give itself a member CID it lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminReach {
    /// Every customer.
    Everything,
    /// One customer, and the member CIDs the caller's own client may delegate.
    Customer { cid: CustomerId, member_cids: Vec<CustomerId> },
}

impl AdminReach {
    /// The reach of `principal`, whose client is `caller`, on an installation whose default customer is
    /// `default_cid`.
    pub fn of(principal: &Principal, caller: &ApiClient, default_cid: &CustomerId) -> AdminReach {
        if &principal.customer == default_cid {
            AdminReach::Everything
        } else {
            AdminReach::Customer { cid: principal.customer.clone(), member_cids: caller.member_cids.clone() }
        }
    }

    /// Whether `client` is within reach (outside it, a client is answered as unknown).
    pub fn sees(&self, client: &ApiClient) -> bool {
        match self {
            AdminReach::Everything => true,
            AdminReach::Customer { cid, .. } => &client.cid == cid,
        }
    }

    /// Whether the audit log (every customer's entries) is within reach.
    pub fn sees_audit_log(&self) -> bool {
        matches!(self, AdminReach::Everything)
    }

    /// The customer a new client belongs to when the request names none.
    pub fn home(&self, default_cid: CustomerId) -> CustomerId {
        match self {
            AdminReach::Everything => default_cid,
            AdminReach::Customer { cid, .. } => cid.clone(),
        }
    }

    /// Checks the customer and member CIDs an admin wants to give a client.
    pub fn may_assign(&self, cid: Option<&CustomerId>, member_cids: &[CustomerId]) -> Result<(), String> {
        let AdminReach::Customer { cid: own, member_cids: delegable } = self else { return Ok(()) };
        if cid.is_some_and(|c| c != own) {
            return Err(format!("cid: an admin of customer {own} can create clients of that customer only"));
        }
        match member_cids.iter().find(|m| !delegable.contains(m)) {
            Some(m) => Err(format!("member_cids: {m} is not a member CID the caller's own client holds")),
            None => Ok(()),
        }
    }
}

/// The scopes of `wanted` that `held` lacks, space-separated, or `None` when it lacks none.
pub fn scopes_beyond(held: ScopeSet, wanted: ScopeSet) -> Option<String> {
    let missing: Vec<String> = wanted.iter().filter(|s| !held.contains(*s)).map(|s| s.to_string()).collect();
    (!missing.is_empty()).then(|| missing.join(" "))
}

/// Checks that an admin holding `held` may change `target`: no admin acts on a client that holds scopes
/// it lacks (resetting that client's secret would hand it those scopes).
pub fn may_change(held: ScopeSet, target: &ApiClient) -> Result<(), String> {
    match scopes_beyond(held, target.scopes) {
        None => Ok(()),
        Some(missing) => Err(format!("access denied, the client holds scopes the caller does not: {missing}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use talon_wire::Scope;

    fn request() -> CreateClientRequest {
        CreateClientRequest {
            name: " ci-bot ".into(),
            scopes: vec!["devices:read".into(), "devices:write".into()],
            member_cids: vec!["0123456789ABCDEF0123456789ABCDEF-4A".into()],
            allowed_ips: vec!["10.0.0.0/8".into(), "192.0.2.1".into()],
            enabled: true,
            ..Default::default()
        }
    }

    #[test]
    fn a_good_request_becomes_a_spec() {
        let cid = CustomerId::generate();
        let spec = ClientSpec::from_request(&request(), cid.clone()).expect("valid");
        assert_eq!(spec.name, "ci-bot");
        assert_eq!(spec.cid, cid);
        assert_eq!(spec.scopes.to_strings(), ["devices:read", "devices:write"]);
        assert_eq!(spec.member_cids[0].as_str(), "0123456789abcdef0123456789abcdef");
        assert_eq!(spec.allowed_ips[1].to_string(), "192.0.2.1/32");
    }

    #[test]
    fn a_name_is_measured_as_sent() {
        // Found by schemathesis: a name of 129 characters of which a leading newline and spaces are
        // trimmed was taken, though the document says maxLength 128.
        let padded = format!("\n   {}", "*".repeat(MAX_NAME_CHARS - 2));
        assert_eq!(
            check_name(&padded).map_err(|e| e.0),
            Err(format!("name must be at most {MAX_NAME_CHARS} characters"))
        );
        assert_eq!(
            check_name(&format!("  {}  ", "a".repeat(MAX_NAME_CHARS - 4))).map(|n| n.len()),
            Ok(MAX_NAME_CHARS - 4)
        );
    }

    #[test]
    fn bad_requests_name_the_field() {
        let cid = CustomerId::generate;
        let cases: Vec<(CreateClientRequest, &str)> = vec![
            (CreateClientRequest { name: "  ".into(), ..request() }, "name must not be empty"),
            (CreateClientRequest { name: "a\u{7}".into(), ..request() }, "control"),
            (CreateClientRequest { name: "admin\u{200b}".into(), ..request() }, "invisible format characters"),
            (CreateClientRequest { name: "\u{202e}nimda".into(), ..request() }, "invisible format characters"),
            (CreateClientRequest { name: "tag\u{e0041}".into(), ..request() }, "invisible format characters"),
            (CreateClientRequest { name: "x".repeat(129), ..request() }, "at most 128"),
            (CreateClientRequest { scopes: vec![], ..request() }, "at least one scope"),
            (CreateClientRequest { scopes: vec!["hosts:read".into()], ..request() }, "scopes:"),
            (CreateClientRequest { cid: Some("nope".into()), ..request() }, "cid:"),
            (CreateClientRequest { member_cids: vec!["nope".into()], ..request() }, "member_cids:"),
            (CreateClientRequest { allowed_ips: vec!["10.0.0.0/99".into()], ..request() }, "allowed_ips:"),
            (CreateClientRequest { description: "d".repeat(1025), ..request() }, "description"),
        ];
        for (req, expected) in cases {
            let err = ClientSpec::from_request(&req, cid()).expect_err("invalid");
            assert!(err.0.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn update_requests_change_only_what_they_name() {
        let empty = ClientChanges::from_request(&UpdateClientRequest::default()).expect("valid");
        assert!(empty.is_empty());
        let req = UpdateClientRequest {
            enabled: Some(false),
            scopes: Some(vec!["devices:read".into()]),
            ..Default::default()
        };
        let changes = ClientChanges::from_request(&req).expect("valid");
        assert_eq!(changes.describe(), "scopes=[devices:read], enabled=false");
        let bad = UpdateClientRequest { scopes: Some(vec![]), ..Default::default() };
        assert!(ClientChanges::from_request(&bad).is_err());
    }

    fn admin(cid: &str, members: &[&str], scopes: ScopeSet) -> ApiClient {
        let mut spec = ClientSpec::new("admin", scopes, CustomerId::parse(cid).expect("cid"));
        spec.member_cids = members.iter().map(|m| CustomerId::parse(m).expect("member")).collect();
        ApiClient::generate(spec, 0).0
    }

    #[test]
    fn the_operator_reaches_everything_and_a_customer_admin_only_its_customer() {
        let (home, child, other) = ("a".repeat(32), "b".repeat(32), "c".repeat(32));
        let cid = |s: &str| CustomerId::parse(s).expect("cid");
        let operator = admin(&home, &[], ScopeSet::all());
        let as_principal = |c: &ApiClient, customer: &str| Principal {
            client_id: c.id.clone(),
            customer: cid(customer),
            scopes: c.scopes,
        };
        assert_eq!(AdminReach::of(&as_principal(&operator, &home), &operator, &cid(&home)), AdminReach::Everything);
        // The operator's client with a token locked to a member acts for that member only.
        let locked = AdminReach::of(&as_principal(&operator, &child), &operator, &cid(&home));
        assert!(!locked.sees(&operator) && !locked.sees_audit_log());

        let parent = admin(&child, &[&other], ScopeSet::all());
        let reach = AdminReach::of(&as_principal(&parent, &child), &parent, &cid(&home));
        assert!(reach.sees(&parent));
        assert!(!reach.sees(&operator), "another customer's client is out of reach");
        assert_eq!(reach.home(cid(&home)), cid(&child), "new clients belong to the admin's customer");
        assert!(reach.may_assign(None, &[cid(&other)]).is_ok(), "a member CID it holds may be delegated");
        assert!(reach.may_assign(Some(&cid(&home)), &[]).is_err(), "no clients of another customer");
        assert!(reach.may_assign(None, &[cid(&home)]).is_err(), "no member CID it does not hold");
        assert!(AdminReach::Everything.may_assign(Some(&cid(&other)), &[cid(&child)]).is_ok());
    }

    #[test]
    fn no_admin_changes_a_client_holding_scopes_it_lacks() {
        let cid = "a".repeat(32);
        let target = admin(&cid, &[], [Scope::DEVICES_READ, Scope::DEVICES_WRITE].into_iter().collect());
        assert!(may_change(ScopeSet::all(), &target).is_ok());
        let err = may_change([Scope::DEVICES_READ].into_iter().collect(), &target).expect_err("lacks write");
        assert!(err.contains("devices:write"), "{err}");
    }
}
