//! talon-emulator: the domain of Talon's emulated Falcon API.
//!
//! Hosts as Falcon's hosts API knows them, the actions that change them, query parameters (with FQL),
//! a deterministic generator of realistic demo hosts, and CSPM policy settings. No HTTP, no SQL.

pub mod alerts;
pub mod demo;
pub mod fql;
pub mod generic;
pub mod groups;
pub mod history;
pub mod host;
pub mod policy;

pub use fql::{Filter, FqlError};
pub use host::{
    DeviceAction, Field, Host, HostAction, HostIndex, HostQuery, HostSort, HostStatus, Platform, QueryError,
    QueryParams, Value,
};
