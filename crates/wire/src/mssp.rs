//! Bodies of the MSSP (Flight Control) API: a parent customer's children.

use serde::{Deserialize, Serialize};

/// A child customer of the caller (`domain.ChildLink`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub child_cid: String,
    /// The parent's CID.
    pub child_of: String,
    /// The child's CID checksum (the CCID's suffix).
    pub checksum: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub name: String,
    /// `active`.
    #[serde(default)]
    pub status: String,
}

/// `{"ids": [...]}` of `getChildrenV2`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildIds {
    pub ids: Vec<String>,
}
