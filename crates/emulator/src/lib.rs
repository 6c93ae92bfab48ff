//! talon-emulator: the domain of Talon's emulated Falcon API.
//!
//! Hosts as Falcon's hosts API knows them, the actions that change them, query parameters, and a
//! deterministic generator of realistic demo hosts. No HTTP, no SQL.

pub mod demo;
pub mod fql;
pub mod host;

pub use fql::{Filter, FqlError};
pub use host::{
    DeviceAction, Host, HostIndex, HostQuery, HostSort, HostStatus, Platform, QueryError, QueryParams, SortField,
};
