//! Hosts (devices), their containment states, the actions on them, and query parameters.

use std::net::Ipv4Addr;

use talon_auth::CustomerId;

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

/// An action of `PerformActionV2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceAction {
    Contain,
    LiftContainment,
    HideHost,
    UnhideHost,
}

impl DeviceAction {
    pub const NAMES: &'static [&'static str] = &["contain", "lift_containment", "hide_host", "unhide_host"];

    pub fn parse(name: &str) -> Option<DeviceAction> {
        match name {
            "contain" => Some(DeviceAction::Contain),
            "lift_containment" => Some(DeviceAction::LiftContainment),
            "hide_host" => Some(DeviceAction::HideHost),
            "unhide_host" => Some(DeviceAction::UnhideHost),
            _ => None,
        }
    }

    /// Applies the action. Containment goes straight to its settled state: the emulator has no sensor that
    /// would acknowledge a pending change, and scripts that poll for `contained` must see it.
    pub fn apply(self, host: &mut Host) {
        match self {
            DeviceAction::Contain => host.status = HostStatus::Contained,
            DeviceAction::LiftContainment => host.status = HostStatus::Normal,
            DeviceAction::HideHost => host.hidden = true,
            DeviceAction::UnhideHost => host.hidden = false,
        }
    }

    /// Whether the action applies to hidden hosts (only unhiding does).
    pub fn targets_hidden(self) -> bool {
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

    pub fn name(self) -> &'static str {
        SortField::ALL.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("hostname")
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
    #[error("invalid sort {0:?}: use <field>.asc or <field>.desc with field one of {fields}", fields = SortField::ALL.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "))]
    Sort(String),
    #[error("limit must be an integer from 1 to {max}")]
    Limit { max: u64 },
    #[error("offset must be a non-negative integer")]
    Offset,
}

impl HostSort {
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
        let field = SortField::ALL
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, f)| *f)
            .ok_or_else(|| QueryError::Sort(s.to_owned()))?;
        Ok(HostSort { field, descending })
    }
}

/// Paging and order of `QueryDevicesByFilter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostQuery {
    pub offset: u64,
    pub limit: u64,
    pub sort: Option<HostSort>,
}

impl HostQuery {
    /// Largest `limit` of `QueryDevicesByFilter`.
    pub const MAX_LIMIT: u64 = 5000;
    /// `limit` when none is given, as on the real API.
    pub const DEFAULT_LIMIT: u64 = 100;

    /// Builds a query from the raw parameters, each optional.
    pub fn parse(offset: Option<&str>, limit: Option<&str>, sort: Option<&str>) -> Result<HostQuery, QueryError> {
        let offset = match offset {
            None | Some("") => 0,
            Some(s) => s.parse::<u64>().map_err(|_| QueryError::Offset)?,
        };
        let limit = match limit {
            None | Some("") => Self::DEFAULT_LIMIT,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|l| (1..=Self::MAX_LIMIT).contains(l))
                .ok_or(QueryError::Limit { max: Self::MAX_LIMIT })?,
        };
        let sort = sort.filter(|s| !s.is_empty()).map(HostSort::parse).transpose()?;
        Ok(HostQuery { offset, limit, sort })
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

    #[test]
    fn parses_paging_with_bounds() {
        let q = HostQuery::parse(None, None, None).expect("defaults");
        assert_eq!((q.offset, q.limit, q.sort), (0, 100, None));
        assert!(HostQuery::parse(None, Some("5000"), None).is_ok());
        assert_eq!(HostQuery::parse(None, Some("5001"), None), Err(QueryError::Limit { max: 5000 }));
        assert_eq!(HostQuery::parse(None, Some("0"), None), Err(QueryError::Limit { max: 5000 }));
        assert_eq!(HostQuery::parse(Some("-1"), None, None), Err(QueryError::Offset));
        assert_eq!(HostQuery::parse(Some("x"), None, None), Err(QueryError::Offset));
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
