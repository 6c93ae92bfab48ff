//! Host groups: static groups (members named by hostname), static groups by ID (members named by device
//! ID) and dynamic groups (members are the hosts their FQL rule matches, so membership follows host
//! changes). The rules for creating, changing and filling them, and who is a member; no storage.

use rand::RngCore;
use talon_auth::CustomerId;
use talon_wire::host_group::{CreateGroup, HostGroup, UpdateGroup, HOST_GROUP_FIELDS};

use crate::fql::{self, Filter, Record};
use crate::host::{rfc3339, Host, Value};

/// Longest group name and description.
pub const MAX_NAME_CHARS: usize = 255;
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
/// Most members a static group may list.
pub const MAX_MEMBERS: usize = 10_000;

/// How a group's members are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupType {
    /// Hosts added by hostname.
    Static,
    /// Hosts added by device ID.
    StaticById,
    /// The hosts the group's FQL rule matches.
    Dynamic,
}

impl GroupType {
    pub const NAMES: [&'static str; 3] = ["static", "staticByID", "dynamic"];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupType::Static => "static",
            GroupType::StaticById => "staticByID",
            GroupType::Dynamic => "dynamic",
        }
    }

    pub fn parse(s: &str) -> Option<GroupType> {
        [GroupType::Static, GroupType::StaticById, GroupType::Dynamic].into_iter().find(|t| t.as_str() == s)
    }
}

/// Why a group change was refused; the message is fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("name must be 1 to {MAX_NAME_CHARS} characters, without control characters")]
    Name,
    #[error("description must be at most {MAX_DESCRIPTION_CHARS} characters")]
    Description,
    #[error("group_type must be one of static, staticByID, dynamic")]
    Type,
    #[error("assignment_rule is for dynamic groups; add hosts to a static group with performGroupAction")]
    RuleOnStatic,
    #[error("assignment_rule: {0}")]
    Rule(String),
    #[error("a dynamic group's members follow its assignment_rule; hosts cannot be added or removed")]
    ActionOnDynamic,
    #[error("a static group may hold at most {MAX_MEMBERS} hosts")]
    TooManyMembers,
}

/// A host group of one customer: its record, its members when static, its parsed rule when dynamic, and
/// its fields' values for filters and sorts.
#[derive(Debug, Clone)]
pub struct Group {
    record: HostGroup,
    cid: CustomerId,
    kind: GroupType,
    /// Lowercased hostnames (static) or device IDs (by ID), in the order they were added.
    members: Vec<String>,
    rule: Option<Filter>,
    values: Box<[Value]>,
}

impl Record for Group {
    fn value(&self, field: usize) -> &Value {
        &self.values[field.min(self.values.len() - 1)]
    }
}

impl Group {
    /// A new group from a create request, by `actor` at `now`.
    pub fn create(cid: CustomerId, spec: &CreateGroup, actor: &str, now: i64) -> Result<Group, GroupError> {
        let kind = GroupType::parse(&spec.group_type).ok_or(GroupError::Type)?;
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        let record = HostGroup {
            id: hex::encode(id),
            name: check_name(&spec.name)?,
            description: check_description(spec.description.as_deref().unwrap_or_default())?,
            group_type: kind.as_str().to_owned(),
            assignment_rule: String::new(),
            created_by: actor.to_owned(),
            created_timestamp: rfc3339(now),
            modified_by: actor.to_owned(),
            modified_timestamp: rfc3339(now),
        };
        let rule = match (kind, spec.assignment_rule.as_deref()) {
            (GroupType::Dynamic, rule) => rule.unwrap_or_default(),
            (_, None | Some("")) => "",
            (_, Some(_)) => return Err(GroupError::RuleOnStatic),
        };
        let mut group = Group::restore(cid, record, vec![], now)?;
        group.set_rule(rule, now)?;
        Ok(group)
    }

    /// A group as the store holds it: its record and members; `now` anchors a dynamic rule's relative times.
    pub fn restore(cid: CustomerId, record: HostGroup, members: Vec<String>, now: i64) -> Result<Group, GroupError> {
        let kind = GroupType::parse(&record.group_type).ok_or(GroupError::Type)?;
        let rule = match kind {
            GroupType::Dynamic => parse_rule(&record.assignment_rule, now)?,
            _ => None,
        };
        let mut group = Group { record, cid, kind, members, rule, values: Box::new([]) };
        group.refresh();
        Ok(group)
    }

    pub fn id(&self) -> &str {
        &self.record.id
    }

    pub fn cid(&self) -> &CustomerId {
        &self.cid
    }

    pub fn record(&self) -> &HostGroup {
        &self.record
    }

    pub fn kind(&self) -> GroupType {
        self.kind
    }

    /// The members a static group lists (lowercased hostnames, or device IDs); none for a dynamic one.
    pub fn members(&self) -> &[String] {
        &self.members
    }

    /// The lowercased name, which is unique per customer.
    pub fn name_key(&self) -> String {
        self.record.name.to_lowercase()
    }

    /// Whether `host` is in the group (hidden hosts are in none).
    pub fn contains(&self, host: &Host) -> bool {
        if host.hidden() {
            return false;
        }
        match self.kind {
            GroupType::Dynamic => self.rule.as_ref().is_some_and(|rule| rule.matches(host)),
            GroupType::Static => self.members.contains(&host.record().hostname.to_lowercase()),
            GroupType::StaticById => self.members.iter().any(|m| m == host.device_id()),
        }
    }

    /// Applies an update request (its `id` is the caller's to match).
    pub fn update(&mut self, change: &UpdateGroup, actor: &str, now: i64) -> Result<(), GroupError> {
        if let Some(name) = &change.name {
            self.record.name = check_name(name)?;
        }
        if let Some(description) = &change.description {
            self.record.description = check_description(description)?;
        }
        if let Some(rule) = &change.assignment_rule {
            if self.kind != GroupType::Dynamic {
                return Err(GroupError::RuleOnStatic);
            }
            self.set_rule(rule, now)?;
        }
        self.touched(actor, now);
        Ok(())
    }

    /// Adds (`add`) or removes the hosts to or from a static group.
    pub fn change_members(&mut self, hosts: &[&Host], add: bool, actor: &str, now: i64) -> Result<(), GroupError> {
        let key = |h: &Host| match self.kind {
            GroupType::StaticById => h.device_id().to_owned(),
            _ => h.record().hostname.to_lowercase(),
        };
        if self.kind == GroupType::Dynamic {
            return Err(GroupError::ActionOnDynamic);
        }
        let keys: Vec<String> = hosts.iter().map(|h| key(h)).collect();
        if add {
            for k in keys {
                if !self.members.contains(&k) {
                    self.members.push(k);
                }
            }
            if self.members.len() > MAX_MEMBERS {
                return Err(GroupError::TooManyMembers);
            }
        } else {
            self.members.retain(|m| !keys.contains(m));
        }
        self.touched(actor, now);
        Ok(())
    }

    /// Removes every member of a static group (a dynamic group's rule is cleared).
    pub fn clear(&mut self, actor: &str, now: i64) -> Result<(), GroupError> {
        self.members.clear();
        if self.kind == GroupType::Dynamic {
            self.set_rule("", now)?;
        }
        self.touched(actor, now);
        Ok(())
    }

    fn set_rule(&mut self, rule: &str, now: i64) -> Result<(), GroupError> {
        self.rule = parse_rule(rule, now)?;
        self.record.assignment_rule = rule.to_owned();
        self.refresh();
        Ok(())
    }

    fn touched(&mut self, actor: &str, now: i64) {
        self.record.modified_by = actor.to_owned();
        self.record.modified_timestamp = rfc3339(now);
        self.refresh();
    }

    /// Rewrites a static group's rule from its members, as the real API shows it, and the values.
    fn refresh(&mut self) {
        let list = |items: &[String]| {
            let quoted: Vec<String> =
                items.iter().map(|m| format!("'{}'", m.replace('\\', "\\\\").replace('\'', "\\'"))).collect();
            if quoted.is_empty() {
                "''".to_owned()
            } else {
                quoted.join(",")
            }
        };
        match self.kind {
            GroupType::Static => {
                self.record.assignment_rule = format!("device_id:[''],hostname:[{}]", list(&self.members))
            }
            GroupType::StaticById => {
                self.record.assignment_rule = format!("device_id:[{}],hostname:['']", list(&self.members))
            }
            GroupType::Dynamic => {}
        }
        self.values =
            HOST_GROUP_FIELDS.iter().enumerate().map(|(i, (_, kind))| Value::of(*kind, self.record.field(i))).collect();
    }
}

/// Filter, order and paging of the group queries (`queryHostGroups`, `queryCombinedHostGroups`).
#[derive(Debug, Clone)]
pub struct GroupQuery {
    pub filter: Option<Filter>,
    /// A field of [`HOST_GROUP_FIELDS`] and whether descending; by name when none.
    pub sort: Option<(usize, bool)>,
    pub offset: u64,
    pub limit: u64,
}

/// A query parameter the group queries refuse; the message is fit for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupQueryError {
    #[error("invalid sort {0:?}: use one of name, group_type, created_by, created_timestamp, modified_by, modified_timestamp with .asc or .desc")]
    Sort(String),
    #[error("limit must be an integer from 1 to {0}")]
    Limit(u64),
    #[error("offset must be a non-negative integer")]
    Offset,
    #[error("filter: {0}")]
    Filter(#[from] fql::FqlError),
}

impl GroupQuery {
    /// Largest `limit`, as on the real API.
    pub const MAX_LIMIT: u64 = 5000;
    const SORTABLE: [&'static str; 6] =
        ["name", "group_type", "created_by", "created_timestamp", "modified_by", "modified_timestamp"];

    pub fn parse(
        filter: Option<&str>,
        sort: Option<&str>,
        offset: Option<&str>,
        limit: Option<&str>,
        now: i64,
    ) -> Result<GroupQuery, GroupQueryError> {
        let filter =
            filter.filter(|f| !f.trim().is_empty()).map(|f| fql::parse_over(f, now, HOST_GROUP_FIELDS)).transpose()?;
        let sort = match sort.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let (field, dir) = s.rsplit_once(['.', '|']).unwrap_or((s, "asc"));
                let descending = match dir {
                    "asc" => false,
                    "desc" => true,
                    _ => return Err(GroupQueryError::Sort(s.to_owned())),
                };
                if !Self::SORTABLE.contains(&field) {
                    return Err(GroupQueryError::Sort(s.to_owned()));
                }
                let index = HOST_GROUP_FIELDS
                    .iter()
                    .position(|(n, _)| *n == field)
                    .ok_or_else(|| GroupQueryError::Sort(s.to_owned()))?;
                Some((index, descending))
            }
        };
        let offset = match offset.filter(|o| !o.is_empty()) {
            None => 0,
            Some(o) => o.parse().map_err(|_| GroupQueryError::Offset)?,
        };
        let limit = match limit.filter(|l| !l.is_empty()) {
            None => 100,
            Some(l) => l
                .parse()
                .ok()
                .filter(|l| (1..=Self::MAX_LIMIT).contains(l))
                .ok_or(GroupQueryError::Limit(Self::MAX_LIMIT))?,
        };
        Ok(GroupQuery { filter, sort, offset, limit })
    }

    /// The page of groups that match, in order (by name when no sort is given; ties by ID), and how many
    /// matched in all.
    pub fn run<'g>(&self, groups: &'g [Group]) -> (Vec<&'g Group>, u64) {
        let mut matched: Vec<&Group> =
            groups.iter().filter(|g| self.filter.as_ref().is_none_or(|f| f.matches(g))).collect();
        let (field, descending) = self.sort.unwrap_or((1, false));
        let kind = HOST_GROUP_FIELDS[field].1;
        matched.sort_by(|a, b| {
            let order = Value::compare(kind, a.value(field), b.value(field));
            let order = if descending { order.reverse() } else { order };
            order.then_with(|| a.id().cmp(b.id()))
        });
        let total = matched.len() as u64;
        let offset = self.offset.min(usize::MAX as u64) as usize;
        (matched.into_iter().skip(offset).take(self.limit as usize).collect(), total)
    }
}

/// A dynamic group's rule as a filter over hosts (`None`: empty, matching no host).
fn parse_rule(rule: &str, now: i64) -> Result<Option<Filter>, GroupError> {
    if rule.trim().is_empty() {
        return Ok(None);
    }
    fql::parse(rule, now).map(Some).map_err(|e| GroupError::Rule(e.to_string()))
}

fn check_name(name: &str) -> Result<String, GroupError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(GroupError::Name);
    }
    Ok(name.to_owned())
}

fn check_description(description: &str) -> Result<String, GroupError> {
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(GroupError::Description);
    }
    Ok(description.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo;

    const NOW: i64 = demo::ANCHOR;

    fn spec(name: &str, kind: &str, rule: Option<&str>) -> CreateGroup {
        CreateGroup {
            name: name.into(),
            group_type: kind.into(),
            description: None,
            assignment_rule: rule.map(str::to_owned),
        }
    }

    #[test]
    fn static_groups_list_members_by_hostname_or_id_and_show_them_in_the_rule() {
        let cid = CustomerId::generate();
        let hosts = demo::generate(&cid, 10, NOW);
        let mut by_name = Group::create(cid.clone(), &spec("Web", "static", None), "admin", NOW).expect("group");
        assert_eq!(by_name.record().assignment_rule, "device_id:[''],hostname:['']");
        by_name.change_members(&[&hosts[0], &hosts[1]], true, "admin", NOW + 1).expect("add");
        let first = hosts[0].record().hostname.to_lowercase();
        assert!(by_name.record().assignment_rule.starts_with(&format!("device_id:[''],hostname:['{first}'")));
        assert!(by_name.contains(&hosts[0]) && by_name.contains(&hosts[1]) && !by_name.contains(&hosts[2]));
        by_name.change_members(&[&hosts[0]], false, "admin", NOW + 2).expect("remove");
        assert!(!by_name.contains(&hosts[0]) && by_name.contains(&hosts[1]));
        assert_eq!(by_name.record().modified_timestamp, rfc3339(NOW + 2));

        let mut by_id = Group::create(cid, &spec("Ids", "staticByID", None), "admin", NOW).expect("group");
        by_id.change_members(&[&hosts[3]], true, "admin", NOW).expect("add");
        assert_eq!(by_id.record().assignment_rule, format!("device_id:['{}'],hostname:['']", hosts[3].device_id()));
        assert!(by_id.contains(&hosts[3]));
        let restored = Group::restore(by_id.cid().clone(), by_id.record().clone(), by_id.members().to_vec(), NOW);
        assert!(restored.expect("restore").contains(&hosts[3]), "a stored group reads back with its members");
    }

    #[test]
    fn dynamic_groups_follow_their_rule() {
        // A fixed customer: its demo hosts are fixed too, Macs among them (a random one's 30 hosts hold
        // no Mac about once in a thousand runs).
        let cid = CustomerId::parse("0123456789abcdef0123456789abcdef").expect("cid");
        let mut hosts = demo::generate(&cid, 30, NOW);
        let mut group =
            Group::create(cid, &spec("Windows", "dynamic", Some("platform_name:'Windows'")), "a", NOW).expect("group");
        let members = hosts.iter().filter(|h| group.contains(h)).count();
        assert_eq!(members, hosts.iter().filter(|h| h.record().platform_name == "Windows").count());
        let mac = hosts.iter_mut().find(|h| h.record().platform_name == "Mac").expect("a mac");
        assert!(!group.contains(mac));
        mac.edit(NOW, |d| d.platform_name = "Windows".into());
        assert!(group.contains(mac), "membership follows the host");
        assert_eq!(group.change_members(&[&hosts[0]], true, "a", NOW), Err(GroupError::ActionOnDynamic));
        let change = UpdateGroup {
            id: String::new(),
            name: None,
            description: None,
            assignment_rule: Some("hostname:'x".into()),
        };
        assert!(matches!(group.update(&change, "a", NOW), Err(GroupError::Rule(_))));
    }

    #[test]
    fn bad_groups_are_refused_with_their_reason() {
        let cid = CustomerId::generate();
        let refused = |s: CreateGroup| Group::create(cid.clone(), &s, "a", NOW).expect_err("refused");
        assert_eq!(refused(spec("", "static", None)), GroupError::Name);
        assert_eq!(refused(spec("a\u{7}", "static", None)), GroupError::Name);
        assert_eq!(refused(spec(&"n".repeat(256), "static", None)), GroupError::Name);
        assert_eq!(refused(spec("x", "smart", None)), GroupError::Type);
        assert_eq!(refused(spec("x", "static", Some("hostname:'a'"))), GroupError::RuleOnStatic);
        assert!(matches!(refused(spec("x", "dynamic", Some("nosuch:'a'"))), GroupError::Rule(_)));
        let mut long = spec("x", "static", None);
        long.description = Some("d".repeat(MAX_DESCRIPTION_CHARS + 1));
        assert_eq!(refused(long), GroupError::Description);
    }
}
