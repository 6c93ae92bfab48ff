//! Hosts (devices), their containment states, the actions on them, and query parameters.

use std::net::Ipv4Addr;

use talon_auth::CustomerId;
pub use talon_wire::device::DeviceAction;

use crate::fql::{self, Filter, FqlError};

/// Operating system family, as `platform_name` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Windows,
    Mac,
    Linux,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Windows => "Windows",
            Platform::Mac => "Mac",
            Platform::Linux => "Linux",
        }
    }

    pub fn parse(s: &str) -> Option<Platform> {
        [Platform::Windows, Platform::Mac, Platform::Linux].into_iter().find(|p| p.as_str() == s)
    }
}

/// Network containment state, as `status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Normal,
    ContainmentPending,
    Contained,
    LiftContainmentPending,
}

impl HostStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HostStatus::Normal => "normal",
            HostStatus::ContainmentPending => "containment_pending",
            HostStatus::Contained => "contained",
            HostStatus::LiftContainmentPending => "lift_containment_pending",
        }
    }

    pub fn parse(s: &str) -> Option<HostStatus> {
        [HostStatus::Normal, HostStatus::ContainmentPending, HostStatus::Contained, HostStatus::LiftContainmentPending]
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// A host of one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub device_id: String,
    pub cid: CustomerId,
    pub hostname: String,
    pub platform: Platform,
    pub os_version: String,
    pub local_ip: Ipv4Addr,
    pub external_ip: Ipv4Addr,
    pub mac_address: String,
    pub agent_version: String,
    /// Unix seconds.
    pub first_seen: i64,
    /// Unix seconds.
    pub last_seen: i64,
    pub status: HostStatus,
    pub tags: Vec<String>,
    /// Hidden hosts leave queries (`hide_host`) until unhidden.
    pub hidden: bool,
}

/// What a [`DeviceAction`] does to a host: the emulator's half of the action (its name is talon-wire's).
pub trait HostAction {
    /// Applies the action. Containment goes straight to its settled state: the emulator has no sensor that
    /// would acknowledge a pending change, and scripts that poll for `contained` must see it.
    fn apply(self, host: &mut Host);

    /// Whether the action applies to hidden hosts (only unhiding does).
    fn targets_hidden(self) -> bool;
}

impl HostAction for DeviceAction {
    fn apply(self, host: &mut Host) {
        match self {
            DeviceAction::Contain => host.status = HostStatus::Contained,
            DeviceAction::LiftContainment => host.status = HostStatus::Normal,
            DeviceAction::HideHost => host.hidden = true,
            DeviceAction::UnhideHost => host.hidden = false,
        }
    }

    fn targets_hidden(self) -> bool {
        matches!(self, DeviceAction::UnhideHost)
    }
}

/// A field hosts can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    DeviceId,
    Hostname,
    PlatformName,
    OsVersion,
    LocalIp,
    ExternalIp,
    MacAddress,
    AgentVersion,
    FirstSeen,
    LastSeen,
    Status,
}

impl SortField {
    const ALL: &'static [(&'static str, SortField)] = &[
        ("device_id", SortField::DeviceId),
        ("hostname", SortField::Hostname),
        ("platform_name", SortField::PlatformName),
        ("os_version", SortField::OsVersion),
        ("local_ip", SortField::LocalIp),
        ("external_ip", SortField::ExternalIp),
        ("mac_address", SortField::MacAddress),
        ("agent_version", SortField::AgentVersion),
        ("first_seen", SortField::FirstSeen),
        ("last_seen", SortField::LastSeen),
        ("status", SortField::Status),
    ];

    /// How many fields there are.
    pub const COUNT: usize = SortField::ALL.len();

    /// The field's place in [`SortField::ALL`] (for tables indexed by field).
    pub fn index(self) -> usize {
        self as usize
    }

    /// The field a wire name (`hostname`, `last_seen`, ...) names.
    pub fn parse(name: &str) -> Option<SortField> {
        SortField::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }

    /// Every field's wire name.
    pub fn names() -> Vec<&'static str> {
        SortField::ALL.iter().map(|(n, _)| *n).collect()
    }
}

/// A sort order: `field.asc` or `field.desc` (`field` alone is ascending; `field|asc` is also accepted, as
/// some Falcon endpoints write it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSort {
    pub field: SortField,
    pub descending: bool,
}

/// A query parameter the hosts API refuses. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid sort {0:?}: use <field>.asc or <field>.desc with field one of {fields}", fields = SortField::names().join(", "))]
    Sort(String),
    #[error("limit must be an integer from 1 to {max}")]
    Limit { max: u64 },
    #[error("offset must be a non-negative integer")]
    Offset,
    #[error("filter: {0}")]
    Filter(#[from] FqlError),
}

impl HostSort {
    /// The order of a query that names none.
    pub const DEFAULT: HostSort = HostSort { field: SortField::Hostname, descending: false };

    pub fn parse(s: &str) -> Result<HostSort, QueryError> {
        let (field, dir) = match s.rsplit_once(['.', '|']) {
            Some((f, d)) => (f, d),
            None => (s, "asc"),
        };
        let descending = match dir {
            "asc" => false,
            "desc" => true,
            _ => return Err(QueryError::Sort(s.to_owned())),
        };
        let field = SortField::parse(field).ok_or_else(|| QueryError::Sort(s.to_owned()))?;
        Ok(HostSort { field, descending })
    }
}

/// Filter, order and paging of `QueryDevicesByFilter`.
#[derive(Debug, Clone, PartialEq)]
pub struct HostQuery {
    pub offset: u64,
    pub limit: u64,
    pub sort: Option<HostSort>,
    pub filter: Option<Filter>,
}

/// The raw parameters of a host query, each optional, as they came on the wire.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryParams<'a> {
    pub offset: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub sort: Option<&'a str>,
    pub filter: Option<&'a str>,
}

impl HostQuery {
    /// Largest `limit` of `QueryDevicesByFilter`.
    pub const MAX_LIMIT: u64 = 5000;
    /// `limit` when none is given, as on the real API.
    pub const DEFAULT_LIMIT: u64 = 100;

    /// Builds a query from the raw parameters; `now` (Unix seconds) anchors relative times in the filter.
    pub fn parse(params: QueryParams<'_>, now: i64) -> Result<HostQuery, QueryError> {
        let offset = match params.offset {
            None | Some("") => 0,
            Some(s) => s.parse::<u64>().map_err(|_| QueryError::Offset)?,
        };
        let limit = match params.limit {
            None | Some("") => Self::DEFAULT_LIMIT,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|l| (1..=Self::MAX_LIMIT).contains(l))
                .ok_or(QueryError::Limit { max: Self::MAX_LIMIT })?,
        };
        let sort = params.sort.filter(|s| !s.is_empty()).map(HostSort::parse).transpose()?;
        let filter = params.filter.filter(|f| !f.trim().is_empty()).map(|f| fql::parse(f, now)).transpose()?;
        Ok(HostQuery { offset, limit, sort, filter })
    }

    /// True when the query is the plain listing (no filter, default order): its pages depend only on
    /// offset and limit, so a page can be kept and served again until the hosts change.
    pub fn is_plain_listing(&self) -> bool {
        self.filter.is_none() && self.sort.is_none_or(|s| s == HostSort::DEFAULT)
    }

    /// Runs the query over a customer's hosts: the visible ones that match, in order (by `hostname` when
    /// no sort is given; ties by device ID), one page of them, and how many matched in all.
    pub fn run<'h>(&self, index: &'h HostIndex) -> (Vec<&'h Host>, u64) {
        let visible = |h: &&Host| !h.hidden && self.filter.as_ref().is_none_or(|f| f.matches(h));
        let (offset, limit) = (self.offset.min(usize::MAX as u64) as usize, self.limit as usize);
        match self.sort.filter(|s| *s != HostSort::DEFAULT) {
            // The index is in the default order already: no sorting, and only the page is collected.
            None => {
                let mut total = 0;
                let mut page = Vec::with_capacity(limit.min(index.hosts.len()));
                for host in index.hosts.iter().filter(visible) {
                    if total >= offset && page.len() < limit {
                        page.push(host);
                    }
                    total += 1;
                }
                (page, total as u64)
            }
            Some(sort) => {
                let mut matched: Vec<&Host> = index.hosts.iter().filter(visible).collect();
                matched.sort_by(|a, b| {
                    let order = sort.field.compare(a, b);
                    let order = if sort.descending { order.reverse() } else { order };
                    order.then_with(|| a.device_id.cmp(&b.device_id))
                });
                let total = matched.len() as u64;
                (matched.into_iter().skip(offset).take(limit).collect(), total)
            }
        }
    }
}

/// A customer's hosts, kept in the default query order (hostname without case, then device ID) and
/// indexed by device ID, so the common query pages without sorting and details look up in O(1).
#[derive(Debug, Clone, Default)]
pub struct HostIndex {
    hosts: Vec<Host>,
    by_id: std::collections::HashMap<String, usize>,
}

impl HostIndex {
    pub fn new(mut hosts: Vec<Host>) -> HostIndex {
        hosts.sort_by_cached_key(|h| (h.hostname.to_lowercase(), h.device_id.clone()));
        let by_id = hosts.iter().enumerate().map(|(i, h)| (h.device_id.clone(), i)).collect();
        HostIndex { hosts, by_id }
    }

    pub fn get(&self, device_id: &str) -> Option<&Host> {
        self.by_id.get(device_id).map(|i| &self.hosts[*i])
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
}

impl SortField {
    /// Orders two hosts by this field: addresses numerically, times chronologically, text without case.
    pub fn compare(self, a: &Host, b: &Host) -> std::cmp::Ordering {
        let text = |f: fn(&Host) -> &str| f(a).to_lowercase().cmp(&f(b).to_lowercase());
        match self {
            SortField::DeviceId => a.device_id.cmp(&b.device_id),
            SortField::Hostname => text(|h| &h.hostname),
            SortField::PlatformName => a.platform.as_str().cmp(b.platform.as_str()),
            SortField::OsVersion => text(|h| &h.os_version),
            SortField::LocalIp => a.local_ip.cmp(&b.local_ip),
            SortField::ExternalIp => a.external_ip.cmp(&b.external_ip),
            SortField::MacAddress => a.mac_address.cmp(&b.mac_address),
            SortField::AgentVersion => a.agent_version.cmp(&b.agent_version),
            SortField::FirstSeen => a.first_seen.cmp(&b.first_seen),
            SortField::LastSeen => a.last_seen.cmp(&b.last_seen),
            SortField::Status => a.status.as_str().cmp(b.status.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sorts() {
        let s = HostSort::parse("hostname.asc").expect("sort");
        assert_eq!((s.field, s.descending), (SortField::Hostname, false));
        let s = HostSort::parse("last_seen.desc").expect("sort");
        assert_eq!((s.field, s.descending), (SortField::LastSeen, true));
        let s = HostSort::parse("status|desc").expect("sort");
        assert_eq!((s.field, s.descending), (SortField::Status, true));
        assert_eq!(HostSort::parse("local_ip").expect("sort").field, SortField::LocalIp);
        assert!(HostSort::parse("password.asc").is_err());
        assert!(HostSort::parse("hostname.up").is_err());
    }

    fn query(offset: Option<&str>, limit: Option<&str>, sort: Option<&str>) -> Result<HostQuery, QueryError> {
        HostQuery::parse(QueryParams { offset, limit, sort, filter: None }, 0)
    }

    #[test]
    fn parses_paging_with_bounds() {
        let q = query(None, None, None).expect("defaults");
        assert_eq!((q.offset, q.limit, q.sort), (0, 100, None));
        assert!(query(None, Some("5000"), None).is_ok());
        assert_eq!(query(None, Some("5001"), None), Err(QueryError::Limit { max: 5000 }));
        assert_eq!(query(None, Some("0"), None), Err(QueryError::Limit { max: 5000 }));
        assert_eq!(query(Some("-1"), None, None), Err(QueryError::Offset));
        assert_eq!(query(Some("x"), None, None), Err(QueryError::Offset));
        let bad = HostQuery::parse(QueryParams { filter: Some("hostname='x'"), ..Default::default() }, 0);
        assert!(matches!(bad, Err(QueryError::Filter(_))));
    }

    #[test]
    fn runs_filter_sort_and_paging_with_typed_order() {
        let mut hosts = crate::demo::generate(&CustomerId::generate(), 40);
        hosts[0].hidden = true;
        let index = HostIndex::new(hosts.clone());
        let all = HostQuery::parse(QueryParams { limit: Some("5000"), ..Default::default() }, 0).expect("q");
        let (page, total) = all.run(&index);
        assert_eq!(total, 39, "hidden hosts leave queries");
        let by_name =
            HostQuery::parse(QueryParams { sort: Some("hostname.asc"), limit: Some("5000"), ..Default::default() }, 0)
                .expect("q");
        assert_eq!(by_name.run(&index).0, page, "the default order is hostname.asc");
        assert!(page.windows(2).all(|w| w[0].hostname.to_lowercase() <= w[1].hostname.to_lowercase()));
        assert_eq!(index.get(&hosts[5].device_id).map(|h| &h.hostname), Some(&hosts[5].hostname));
        let by_ip =
            HostQuery::parse(QueryParams { sort: Some("local_ip.desc"), limit: Some("5000"), ..Default::default() }, 0)
                .expect("q");
        let (page, _) = by_ip.run(&index);
        assert!(page.windows(2).all(|w| w[0].local_ip >= w[1].local_ip), "numeric order, not text");
        let paged = HostQuery::parse(QueryParams { offset: Some("35"), limit: Some("10"), ..Default::default() }, 0)
            .expect("q");
        let (page, total) = paged.run(&index);
        assert_eq!((page.len(), total), (4, 39));
        let windows =
            HostQuery::parse(QueryParams { filter: Some("platform_name:'Windows'"), ..Default::default() }, 0)
                .expect("q");
        let (page, total) = windows.run(&index);
        assert!(page.iter().all(|h| h.platform == Platform::Windows));
        assert_eq!(total as usize, hosts.iter().filter(|h| !h.hidden && h.platform == Platform::Windows).count());
    }

    #[test]
    fn actions_change_state() {
        let mut host = crate::demo::generate(&CustomerId::generate(), 1).remove(0);
        DeviceAction::Contain.apply(&mut host);
        assert_eq!(host.status, HostStatus::Contained);
        DeviceAction::LiftContainment.apply(&mut host);
        assert_eq!(host.status, HostStatus::Normal);
        DeviceAction::HideHost.apply(&mut host);
        assert!(host.hidden);
        DeviceAction::UnhideHost.apply(&mut host);
        assert!(!host.hidden);
        assert_eq!(DeviceAction::parse("shutdown"), None);
    }
}
