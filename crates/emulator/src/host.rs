//! Hosts (devices), their containment states, the actions on them, and query parameters.

use std::net::Ipv4Addr;

use talon_auth::CustomerId;
pub use talon_wire::device::DeviceAction;
use talon_wire::device::{Device, FieldKind, FieldRef, DEVICE_FIELDS};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;

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

/// A field of the device record: an index into talon-wire's [`DEVICE_FIELDS`], the one table of fields
/// (FQL and sort take their names and kinds from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Field(usize);

/// The index of `name` in [`DEVICE_FIELDS`], at compile time (a misspelt name fails the build).
const fn field_index(name: &str) -> usize {
    let mut i = 0;
    while i < DEVICE_FIELDS.len() {
        let (candidate, _) = DEVICE_FIELDS[i];
        if talon_wire::scope::const_str_eq(candidate, name) {
            return i;
        }
        i += 1;
    }
    panic!("not a device field")
}

impl Field {
    pub const DEVICE_ID: Field = Field(field_index("device_id"));
    pub const HOSTNAME: Field = Field(field_index("hostname"));
    pub const LAST_SEEN: Field = Field(field_index("last_seen"));
    pub const FIRST_SEEN: Field = Field(field_index("first_seen"));
    pub const MODIFIED_TIMESTAMP: Field = Field(field_index("modified_timestamp"));
    pub const LOCAL_IP: Field = Field(field_index("local_ip"));
    pub const STATUS: Field = Field(field_index("status"));
    pub const TAGS: Field = Field(field_index("tags"));
    pub const GROUPS: Field = Field(field_index("groups"));

    /// How many fields there are.
    pub const COUNT: usize = DEVICE_FIELDS.len();

    /// The field at `index` of [`DEVICE_FIELDS`] (an index a filter parsed over that table holds).
    pub fn from_index(index: usize) -> Field {
        Field(index.min(Field::COUNT - 1))
    }

    /// The field a wire name (`hostname`, `last_seen`, ...) names.
    pub fn parse(name: &str) -> Option<Field> {
        DEVICE_FIELDS.iter().position(|(n, _)| *n == name).map(Field)
    }

    pub fn name(self) -> &'static str {
        DEVICE_FIELDS[self.0].0
    }

    pub fn kind(self) -> FieldKind {
        DEVICE_FIELDS[self.0].1
    }

    /// The field's place in [`DEVICE_FIELDS`] (for tables indexed by field).
    pub fn index(self) -> usize {
        self.0
    }

    /// Every field's wire name.
    pub fn names() -> impl Iterator<Item = &'static str> {
        DEVICE_FIELDS.iter().map(|(n, _)| *n)
    }

    /// Every field.
    pub fn all() -> impl Iterator<Item = Field> {
        (0..Field::COUNT).map(Field)
    }
}

/// A field's value as queries compare it, made once per host (not per comparison): text lowercased, lists
/// with each element lowercased, and for addresses and times also the number they compare by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text { lowered: String, number: Option<i64> },
    List(Vec<String>),
}

/// A host of one customer: its record as the API shows it, whether it is hidden, and each field's
/// [`Value`], derived from the record whenever it changes (so the two cannot disagree).
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    record: Device,
    cid: CustomerId,
    hidden: bool,
    values: Box<[Value]>,
}

impl Host {
    /// A host of `cid` with this record (its `cid` field is set to `cid`).
    pub fn new(cid: CustomerId, mut record: Device, hidden: bool) -> Host {
        record.cid = cid.to_string();
        let values = derive(&record);
        Host { record, cid, hidden, values }
    }

    pub fn device_id(&self) -> &str {
        &self.record.device_id
    }

    pub fn cid(&self) -> &CustomerId {
        &self.cid
    }

    /// The record as the hosts API shows it.
    pub fn record(&self) -> &Device {
        &self.record
    }

    /// Hidden hosts leave queries (`hide_host`) until unhidden.
    pub fn hidden(&self) -> bool {
        self.hidden
    }

    /// The containment state; a record without a known one is `normal`.
    pub fn status(&self) -> HostStatus {
        HostStatus::parse(&self.record.status).unwrap_or(HostStatus::Normal)
    }

    /// A field's value as queries compare it.
    pub fn value(&self, field: Field) -> &Value {
        &self.values[field.0]
    }

    /// The number an address or time field compares by (`None` when it is empty or not one).
    pub fn number(&self, field: Field) -> Option<i64> {
        match &self.values[field.0] {
            Value::Text { number, .. } => *number,
            Value::List(_) => None,
        }
    }

    /// Changes the record; `now` (Unix seconds) becomes its `modified_timestamp`.
    /// The device ID and the customer are not the edit's to change.
    pub fn edit(&mut self, now: i64, change: impl FnOnce(&mut Device)) {
        let id = self.record.device_id.clone();
        change(&mut self.record);
        self.record.device_id = id;
        self.record.cid = self.cid.to_string();
        self.record.modified_timestamp = rfc3339(now);
        self.values = derive(&self.record);
    }

    /// Sets the IDs of the groups the host is in. Membership is worked out from the groups (it is not a
    /// change of the host), so `modified_timestamp` stays.
    pub fn set_groups(&mut self, groups: Vec<String>) {
        if self.record.groups != groups {
            self.record.groups = groups;
            self.values = derive(&self.record);
        }
    }

    pub fn set_hidden(&mut self, hidden: bool, now: i64) {
        self.hidden = hidden;
        self.edit(now, |_| {});
    }
}

/// Unix seconds as the API writes instants: `2026-11-01T12:00:00Z`.
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z")).ok())
        .unwrap_or_default()
}

/// An RFC 3339 instant as Unix seconds.
pub fn parse_time(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339).ok().map(OffsetDateTime::unix_timestamp)
}

fn derive(record: &Device) -> Box<[Value]> {
    DEVICE_FIELDS.iter().enumerate().map(|(i, (_, kind))| Value::of(*kind, record.field(i))).collect()
}

impl Value {
    /// A field's value as queries compare it, from the record's text or list.
    pub fn of(kind: FieldKind, field: Option<FieldRef<'_>>) -> Value {
        match field {
            Some(FieldRef::Text(text)) => Value::Text {
                lowered: text.to_lowercase(),
                number: match kind {
                    FieldKind::Ip => text.parse::<Ipv4Addr>().ok().map(|ip| i64::from(u32::from(ip))),
                    FieldKind::Time => parse_time(text),
                    FieldKind::Number => text.parse::<f64>().ok().filter(|n| n.is_finite()).map(order_key),
                    FieldKind::Text | FieldKind::List => None,
                },
            },
            Some(FieldRef::List(list)) => Value::List(list.iter().map(|t| t.to_lowercase()).collect()),
            None => Value::List(vec![]),
        }
    }

    /// Orders two values of a field of `kind`: addresses numerically, times chronologically, text without
    /// case, lists by their first element; an empty value first.
    /// A total order whatever the two values are (a generic record may hold text in one record and a list
    /// in another): each value is ordered by its number (none first) or its text (a list's first element;
    /// an empty list is the empty text).
    pub fn compare(kind: FieldKind, a: &Value, b: &Value) -> std::cmp::Ordering {
        match kind {
            FieldKind::Ip | FieldKind::Time | FieldKind::Number => a.number().cmp(&b.number()),
            FieldKind::Text | FieldKind::List => a.sort_text().cmp(b.sort_text()),
        }
    }

    fn number(&self) -> Option<i64> {
        match self {
            Value::Text { number, .. } => *number,
            Value::List(_) => None,
        }
    }

    fn sort_text(&self) -> &str {
        match self {
            Value::Text { lowered, .. } => lowered,
            Value::List(items) => items.first().map_or("", String::as_str),
        }
    }
}

/// A number as an `i64` that orders as the number does (`-1.5 < -1 < 0 < 0.25 < 2`), so numbers compare
/// by the same integer key as times and addresses. The bits of a non-negative float already order as it
/// does; a negative one's are flipped so that larger magnitudes come first. `-0.0` and `0.0` are one key.
pub fn order_key(number: f64) -> i64 {
    let number = if number == 0.0 { 0.0 } else { number };
    let bits = number.to_bits() as i64;
    if bits < 0 {
        bits ^ i64::MAX
    } else {
        bits
    }
}

/// What a [`DeviceAction`] does to a host: the emulator's half of the action (its name is talon-wire's).
pub trait HostAction {
    /// Applies the action at `now`. Containment goes straight to its settled state: the emulator has no
    /// sensor that would acknowledge a pending change, and scripts that poll for `contained` must see it.
    fn apply(self, host: &mut Host, now: i64);

    /// Whether the action applies to hidden hosts (only unhiding does).
    fn targets_hidden(self) -> bool;
}

impl HostAction for DeviceAction {
    fn apply(self, host: &mut Host, now: i64) {
        match self {
            DeviceAction::Contain => host.edit(now, |d| d.status = HostStatus::Contained.as_str().to_owned()),
            DeviceAction::LiftContainment => host.edit(now, |d| d.status = HostStatus::Normal.as_str().to_owned()),
            DeviceAction::HideHost => host.set_hidden(true, now),
            DeviceAction::UnhideHost => host.set_hidden(false, now),
        }
    }

    fn targets_hidden(self) -> bool {
        matches!(self, DeviceAction::UnhideHost)
    }
}

/// A sort order: `field.asc` or `field.desc` (`field` alone is ascending; `field|asc` is also accepted, as
/// some Falcon endpoints write it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostSort {
    pub field: Field,
    pub descending: bool,
}

/// A query parameter the hosts API refuses. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid sort {0:?}: use <field>.asc or <field>.desc with a field of the device record, such as hostname or last_seen")]
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
    pub const DEFAULT: HostSort = HostSort { field: Field::HOSTNAME, descending: false };

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
        let field = Field::parse(field).ok_or_else(|| QueryError::Sort(s.to_owned()))?;
        Ok(HostSort { field, descending })
    }
}

/// Filter, order and paging of the host queries.
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
    /// Largest `limit` of `QueryDevicesByFilter` (and of the hidden hosts' query).
    pub const MAX_LIMIT: u64 = 5000;
    /// Largest `limit` of the scroll and combined queries.
    pub const MAX_SCROLL_LIMIT: u64 = 10_000;
    /// `limit` when none is given, as on the real API.
    pub const DEFAULT_LIMIT: u64 = 100;

    /// Builds a query from the raw parameters, with `limit` up to [`HostQuery::MAX_LIMIT`]; `now` (Unix
    /// seconds) anchors relative times in the filter.
    pub fn parse(params: QueryParams<'_>, now: i64) -> Result<HostQuery, QueryError> {
        HostQuery::parse_with(params, now, Self::MAX_LIMIT)
    }

    /// As [`HostQuery::parse`], with `limit` up to `max_limit`.
    pub fn parse_with(params: QueryParams<'_>, now: i64, max_limit: u64) -> Result<HostQuery, QueryError> {
        let offset = match params.offset {
            None | Some("") => 0,
            Some(s) => s.parse::<u64>().map_err(|_| QueryError::Offset)?,
        };
        let limit = match params.limit {
            None | Some("") => Self::DEFAULT_LIMIT,
            Some(s) => s
                .parse::<u64>()
                .ok()
                .filter(|l| (1..=max_limit).contains(l))
                .ok_or(QueryError::Limit { max: max_limit })?,
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

    /// Runs the query over a customer's visible hosts: those that match, in order (by `hostname` when no
    /// sort is given; ties by device ID), one page of them, and how many matched in all.
    pub fn run<'h>(&self, index: &'h HostIndex) -> (Vec<&'h Host>, u64) {
        self.run_over(index, false)
    }

    /// As [`HostQuery::run`], over the hidden hosts (`QueryHiddenDevices`) when `hidden`.
    pub fn run_over<'h>(&self, index: &'h HostIndex, hidden: bool) -> (Vec<&'h Host>, u64) {
        self.run_where(index, |h| h.hidden == hidden)
    }

    /// As [`HostQuery::run`], over the hosts `keep` keeps (a group's members, say).
    pub fn run_where<'h>(&self, index: &'h HostIndex, keep: impl Fn(&Host) -> bool) -> (Vec<&'h Host>, u64) {
        let selected = |h: &&Host| keep(h) && self.filter.as_ref().is_none_or(|f| f.matches(h));
        let (offset, limit) = (self.offset.min(usize::MAX as u64) as usize, self.limit as usize);
        match self.sort.filter(|s| *s != HostSort::DEFAULT) {
            // The index is in the default order already: no sorting, and only the page is collected.
            None => {
                let mut total = 0;
                let mut page = Vec::with_capacity(limit.min(index.hosts.len()));
                for host in index.hosts.iter().filter(selected) {
                    if total >= offset && page.len() < limit {
                        page.push(host);
                    }
                    total += 1;
                }
                (page, total as u64)
            }
            Some(sort) => {
                let mut matched: Vec<&Host> = index.hosts.iter().filter(selected).collect();
                matched.sort_by(|a, b| {
                    let order = sort.field.compare(a, b);
                    let order = if sort.descending { order.reverse() } else { order };
                    order.then_with(|| a.device_id().cmp(b.device_id()))
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
        hosts.sort_by(|a, b| Field::HOSTNAME.compare(a, b).then_with(|| a.device_id().cmp(b.device_id())));
        let by_id = hosts.iter().enumerate().map(|(i, h)| (h.device_id().to_owned(), i)).collect();
        HostIndex { hosts, by_id }
    }

    pub fn get(&self, device_id: &str) -> Option<&Host> {
        self.by_id.get(device_id).map(|i| &self.hosts[*i])
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
}

impl Field {
    /// Orders two hosts by this field: addresses numerically, times chronologically, text without case,
    /// lists by their first element; an empty value first.
    pub fn compare(self, a: &Host, b: &Host) -> std::cmp::Ordering {
        Value::compare(self.kind(), a.value(self), b.value(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = crate::demo::ANCHOR;

    #[test]
    fn parses_sorts_on_every_field() {
        let s = HostSort::parse("hostname.asc").expect("sort");
        assert_eq!((s.field, s.descending), (Field::HOSTNAME, false));
        let s = HostSort::parse("last_seen.desc").expect("sort");
        assert_eq!((s.field, s.descending), (Field::LAST_SEEN, true));
        let s = HostSort::parse("status|desc").expect("sort");
        assert_eq!((s.field, s.descending), (Field::STATUS, true));
        assert_eq!(HostSort::parse("local_ip").expect("sort").field, Field::LOCAL_IP);
        for name in Field::names() {
            assert_eq!(HostSort::parse(&format!("{name}.desc")).expect(name).field.name(), name);
        }
        assert!(HostSort::parse("password.asc").is_err());
        assert!(HostSort::parse("hostname.up").is_err());
    }

    fn query(offset: Option<&str>, limit: Option<&str>, sort: Option<&str>) -> Result<HostQuery, QueryError> {
        HostQuery::parse(QueryParams { offset, limit, sort, filter: None }, 0)
    }

    fn sorted(index: &HostIndex, sort: &str) -> Vec<Host> {
        let q = HostQuery::parse(QueryParams { sort: Some(sort), limit: Some("5000"), ..Default::default() }, NOW);
        q.expect("query").run(index).0.into_iter().cloned().collect()
    }

    #[test]
    fn parses_paging_with_bounds() {
        let q = query(None, None, None).expect("defaults");
        assert_eq!((q.offset, q.limit, q.sort), (0, 100, None));
        assert!(query(None, Some("5000"), None).is_ok());
        assert_eq!(query(None, Some("5001"), None), Err(QueryError::Limit { max: 5000 }));
        let scroll = QueryParams { limit: Some("10000"), ..Default::default() };
        assert!(HostQuery::parse_with(scroll, 0, HostQuery::MAX_SCROLL_LIMIT).is_ok());
        assert_eq!(query(None, Some("0"), None), Err(QueryError::Limit { max: 5000 }));
        assert_eq!(query(Some("-1"), None, None), Err(QueryError::Offset));
        assert_eq!(query(Some("x"), None, None), Err(QueryError::Offset));
        let bad = HostQuery::parse(QueryParams { filter: Some("hostname='x'"), ..Default::default() }, 0);
        assert!(matches!(bad, Err(QueryError::Filter(_))));
    }

    #[test]
    fn runs_filter_sort_and_paging_with_typed_order() {
        let mut hosts = crate::demo::generate(&CustomerId::generate(), 40, NOW);
        hosts[0].set_hidden(true, NOW);
        let index = HostIndex::new(hosts.clone());
        let all = HostQuery::parse(QueryParams { limit: Some("5000"), ..Default::default() }, 0).expect("q");
        let (page, total) = all.run(&index);
        assert_eq!(total, 39, "hidden hosts leave queries");
        let (hidden, hidden_total) = all.run_over(&index, true);
        assert_eq!((hidden_total, hidden[0].device_id()), (1, hosts[0].device_id()), "and the hidden query has them");
        let page: Vec<Host> = page.into_iter().cloned().collect();
        assert_eq!(sorted(&index, "hostname.asc"), page, "the default order is hostname.asc");
        let name = |h: &Host| h.record().hostname.to_lowercase();
        assert!(page.windows(2).all(|w| name(&w[0]) <= name(&w[1])));
        let by_ip = sorted(&index, "local_ip.desc");
        assert!(by_ip.windows(2).all(|w| w[0].number(Field::LOCAL_IP) >= w[1].number(Field::LOCAL_IP)), "numeric");
        let by_seen = sorted(&index, "last_seen.asc");
        assert!(by_seen.windows(2).all(|w| w[0].number(Field::LAST_SEEN) <= w[1].number(Field::LAST_SEEN)));
        let paged = HostQuery::parse(QueryParams { offset: Some("35"), limit: Some("10"), ..Default::default() }, 0)
            .expect("q");
        let (page, total) = paged.run(&index);
        assert_eq!((page.len(), total), (4, 39));
        let windows =
            HostQuery::parse(QueryParams { filter: Some("platform_name:'Windows'"), ..Default::default() }, 0)
                .expect("q");
        let (page, total) = windows.run(&index);
        assert!(page.iter().all(|h| h.record().platform_name == "Windows"));
        let expected = hosts.iter().filter(|h| !h.hidden() && h.record().platform_name == "Windows").count();
        assert_eq!(total as usize, expected);
    }

    #[test]
    fn actions_change_state_and_the_modified_time() {
        let mut host = crate::demo::generate(&CustomerId::generate(), 1, NOW).remove(0);
        DeviceAction::Contain.apply(&mut host, NOW + 5);
        assert_eq!(host.status(), HostStatus::Contained);
        assert_eq!(host.number(Field::MODIFIED_TIMESTAMP), Some(NOW + 5));
        assert_eq!(host.record().modified_timestamp, rfc3339(NOW + 5));
        DeviceAction::LiftContainment.apply(&mut host, NOW + 6);
        assert_eq!(host.status(), HostStatus::Normal);
        DeviceAction::HideHost.apply(&mut host, NOW + 7);
        assert!(host.hidden());
        DeviceAction::UnhideHost.apply(&mut host, NOW + 8);
        assert!(!host.hidden());
        assert_eq!(DeviceAction::parse("shutdown"), None);
    }

    #[test]
    fn an_edit_keeps_the_id_and_customer_and_values_follow_the_record() {
        let mut host = crate::demo::generate(&CustomerId::generate(), 1, NOW).remove(0);
        let (id, cid) = (host.device_id().to_owned(), host.cid().clone());
        host.edit(NOW, |d| {
            d.device_id = "other".into();
            d.cid = "other".into();
            d.hostname = "Renamed-01".into();
            d.local_ip = "10.1.2.3".into();
        });
        assert_eq!((host.device_id(), host.record().cid.as_str()), (id.as_str(), cid.as_str()));
        assert_eq!(host.value(Field::HOSTNAME), &Value::Text { lowered: "renamed-01".into(), number: None });
        assert_eq!(host.number(Field::LOCAL_IP), Some(0x0A01_0203));
    }

    #[test]
    fn field_constants_name_their_fields() {
        for (field, name) in [(Field::DEVICE_ID, "device_id"), (Field::TAGS, "tags"), (Field::GROUPS, "groups")] {
            assert_eq!(field.name(), name);
            assert_eq!(Field::parse(name), Some(field));
        }
        assert_eq!(Field::TAGS.kind(), FieldKind::List);
        assert_eq!(Field::LAST_SEEN.kind(), FieldKind::Time);
    }

    #[test]
    fn numbers_order_by_their_key_negatives_included() {
        let ordered = [f64::MIN, -1e9, -1.5, -1.25, -1.0, -1e-9, 0.0, 1e-9, 0.25, 1.0, 2.0, 1e12, f64::MAX];
        for w in ordered.windows(2) {
            assert!(order_key(w[0]) < order_key(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(order_key(-0.0), order_key(0.0));
    }

    #[test]
    fn values_of_different_shapes_still_order_totally() {
        use std::cmp::Ordering::*;
        let text = |t: &str| Value::Text { lowered: t.into(), number: None };
        let list = |items: &[&str]| Value::List(items.iter().map(|i| i.to_string()).collect());
        assert_eq!(Value::compare(FieldKind::Text, &text("b"), &list(&["a"])), Greater);
        assert_eq!(Value::compare(FieldKind::Text, &list(&[]), &text("a")), Less, "empty first");
        assert_eq!(
            Value::compare(FieldKind::Number, &list(&["x"]), &Value::of(FieldKind::Number, Some(FieldRef::Text("3")))),
            Less
        );
        assert_eq!(Value::of(FieldKind::Number, Some(FieldRef::Text("NaN"))), text("nan"), "no number for NaN");
    }
}
