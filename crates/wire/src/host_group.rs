//! Bodies of the Host Group API (`/devices/.../host-groups/...`): the group record, the create, update
//! and action requests, and the field table FQL and sort take a group's fields from.

use serde::{Deserialize, Serialize};

use crate::device::{FieldKind, FieldRef};

/// A host group as the API shows it (`hostgroups.HostGroupV1`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostGroup {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `static`, `staticByID` or `dynamic`.
    #[serde(default)]
    pub group_type: String,
    /// FQL: a dynamic group's members are the hosts it matches; a static group's rule lists its members
    /// (`device_id:[''],hostname:['h1','h2']`, by device ID for `staticByID`).
    #[serde(default)]
    pub assignment_rule: String,
    #[serde(default)]
    pub created_by: String,
    /// RFC 3339.
    #[serde(default)]
    pub created_timestamp: String,
    #[serde(default)]
    pub modified_by: String,
    /// RFC 3339.
    #[serde(default)]
    pub modified_timestamp: String,
}

/// The fields of a group that FQL filters and a sort names, with their kinds, in the order
/// [`HostGroup::field`] takes.
pub const HOST_GROUP_FIELDS: &[(&str, FieldKind)] = &[
    ("id", FieldKind::Text),
    ("name", FieldKind::Text),
    ("description", FieldKind::Text),
    ("group_type", FieldKind::Text),
    ("assignment_rule", FieldKind::Text),
    ("created_by", FieldKind::Text),
    ("created_timestamp", FieldKind::Time),
    ("modified_by", FieldKind::Text),
    ("modified_timestamp", FieldKind::Time),
];

impl HostGroup {
    /// The field at `index` of [`HOST_GROUP_FIELDS`].
    pub fn field(&self, index: usize) -> Option<FieldRef<'_>> {
        let text = match index {
            0 => &self.id,
            1 => &self.name,
            2 => &self.description,
            3 => &self.group_type,
            4 => &self.assignment_rule,
            5 => &self.created_by,
            6 => &self.created_timestamp,
            7 => &self.modified_by,
            8 => &self.modified_timestamp,
            _ => return None,
        };
        Some(FieldRef::Text(text))
    }
}

/// `{"resources": [...]}` of `createHostGroups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroupsBody {
    pub resources: Vec<CreateGroup>,
}

/// One group to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    pub name: String,
    pub group_type: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assignment_rule: Option<String>,
}

/// `{"resources": [...]}` of `updateHostGroups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroupsBody {
    pub resources: Vec<UpdateGroup>,
}

/// A change to one group; a missing field keeps its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateGroup {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub assignment_rule: Option<String>,
}

/// The body of `performGroupAction` (and of the Hosts collection's `entities_perform_action`, whose group
/// IDs come in the query): the groups, and `{"name": "filter", "value": "<FQL>"}` naming the hosts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupActionBody {
    #[serde(default)]
    pub ids: Vec<String>,
    #[serde(default)]
    pub action_parameters: Vec<ActionParameter>,
}

/// A named parameter of an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionParameter {
    pub name: String,
    pub value: String,
}
