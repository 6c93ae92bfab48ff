//! talon-wire: the Falcon OAuth2 wire contract as Rust types.
//!
//! This crate is the only place that knows JSON field names, header names and form field names, and
//! (in [`catalogue`]) every Falcon operation's route, scope and parameters.
//! It does no I/O; the server renders these types and the SDK parses them.

pub mod admin;
pub mod basic;
pub mod catalogue;
pub mod claims;
pub mod device;
pub mod discovery;
pub mod envelope;
pub mod form;
pub mod headers;
pub mod host_group;
pub mod ids;
pub mod mssp;
pub mod operation;
pub mod policy;
pub mod scope;
mod scope_resources;
pub mod token;

pub use envelope::{Envelope, ErrorItem, Meta, Pagination};
pub use scope::{Access, Scope, ScopeError, ScopeSet};
