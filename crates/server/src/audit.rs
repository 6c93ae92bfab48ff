//! Who a request acts as, for the audit log: the admin client (or the client ID a failed authentication
//! named), with the request's source address and trace ID. The operations and their entries are
//! `talon_store::admin`'s; entries hold IDs, names, scopes and networks, never a secret.

use std::net::IpAddr;

use talon_store::admin::Actor;

use crate::context;

/// The actor `id` in the request being handled.
pub fn actor(id: &str, ip: IpAddr) -> Actor {
    Actor { id: id.to_owned(), source: ip.to_string(), trace_id: context::current().trace_id.clone() }
}
