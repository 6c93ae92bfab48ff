//! `Hosts`: the hosts API as FalconPy's `Hosts` class shapes it (`query_devices_by_filter`,
//! `get_device_details`, `post_device_details`, `perform_action`), typed: queries take a [`HostQuery`],
//! devices come back as talon-wire's [`Device`], actions are a [`DeviceAction`]. Calls that take IDs split
//! them into as many requests as the API's per-request limits need, so callers pass any number.

use std::collections::HashSet;

pub use talon_wire::device::DeviceAction;
use talon_wire::device::{param, ActionResult, Device, IdsBody};
use talon_wire::envelope::Pagination;
use talon_wire::operation::{
    GET_DEVICE_DETAILS_V2, PERFORM_ACTION_V2, POST_DEVICE_DETAILS_V2, QUERY_DEVICES_BY_FILTER,
};

use crate::answer::resources;
use crate::harness::request_for;
use crate::{Client, Error};

/// Largest `limit` of one `QueryDevicesByFilter` call.
pub const MAX_QUERY_LIMIT: u64 = 5000;
/// Most IDs one `GetDeviceDetailsV2` call takes (they travel in the query string).
pub const MAX_GET_IDS: usize = 100;
/// Most IDs one `PostDeviceDetailsV2` call takes.
pub const MAX_POST_IDS: usize = 5000;
/// Most IDs one `PerformActionV2` call takes.
pub const MAX_ACTION_IDS: usize = 100;

/// The parameters of `QueryDevicesByFilter`; each left out takes the API's default (no filter, the API's
/// order, offset 0, limit 100).
///
/// ```
/// let query = talon::HostQuery::new().filter("platform_name:'Windows'").sort("hostname.asc").limit(50);
/// assert_eq!(query.limit, Some(50));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostQuery {
    /// An FQL filter, e.g. `platform_name:'Windows'+last_seen:>'now-2d'`.
    pub filter: Option<String>,
    /// `field.asc` or `field.desc`, e.g. `hostname.asc`.
    pub sort: Option<String>,
    /// Index of the first ID to answer.
    pub offset: Option<u64>,
    /// Most IDs to answer (1 to [`MAX_QUERY_LIMIT`]).
    pub limit: Option<u64>,
}

impl HostQuery {
    /// A query of every host, in the API's order.
    pub fn new() -> HostQuery {
        HostQuery::default()
    }

    /// Sets the FQL filter.
    pub fn filter(mut self, fql: impl Into<String>) -> HostQuery {
        self.filter = Some(fql.into());
        self
    }

    /// Sets the order (`field.asc` / `field.desc`).
    pub fn sort(mut self, sort: impl Into<String>) -> HostQuery {
        self.sort = Some(sort.into());
        self
    }

    /// Sets the index of the first ID.
    pub fn offset(mut self, offset: u64) -> HostQuery {
        self.offset = Some(offset);
        self
    }

    /// Sets the page size.
    pub fn limit(mut self, limit: u64) -> HostQuery {
        self.limit = Some(limit);
        self
    }
}

/// One page of device IDs and where it sits among all matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdPage {
    /// The IDs of this page, in the query's order.
    pub ids: Vec<String>,
    /// `offset` and `limit` as the API applied them, and `total`: how many hosts match in all.
    pub pagination: Pagination,
}

/// The hosts service collection over a [`Client`] (scopes `devices:read`, and `devices:write` for actions).
///
/// ```no_run
/// # async fn run(client: talon::Client) -> Result<(), talon::Error> {
/// use talon::{HostQuery, Hosts};
/// let hosts = Hosts::new(client);
/// let page = hosts.query_devices_by_filter(&HostQuery::new().filter("hostname:'web*'").limit(10)).await?;
/// for device in hosts.get_device_details(&page.ids).await? {
///     println!("{} {} {}", device.device_id, device.hostname, device.status);
/// }
/// hosts.contain(&page.ids[..1]).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Hosts {
    client: Client,
}

impl Hosts {
    /// The hosts API over `client`; clones of the client share its token.
    pub fn new(client: Client) -> Hosts {
        Hosts { client }
    }

    /// `QueryDevicesByFilter`: one page of the IDs of the hosts that match, with the pagination.
    /// A filter or sort the API refuses is an `Error::Api` with status 400 and the API's message.
    pub async fn query_devices_by_filter(&self, query: &HostQuery) -> Result<DeviceIdPage, Error> {
        let mut request = request_for(&self.client, QUERY_DEVICES_BY_FILTER);
        if let Some(filter) = &query.filter {
            request = request.query(param::FILTER, filter);
        }
        if let Some(sort) = &query.sort {
            request = request.query(param::SORT, sort);
        }
        if let Some(offset) = query.offset {
            request = request.query(param::OFFSET, offset);
        }
        if let Some(limit) = query.limit {
            request = request.query(param::LIMIT, limit);
        }
        let (ids, pagination) = resources::<String>(request.send().await?)?;
        // An answer without pagination (the API always sends one) reads as the last page, so that paging
        // stops rather than guesses.
        let offset = query.offset.unwrap_or(0);
        let pagination =
            pagination.unwrap_or(Pagination { offset, limit: ids.len() as u64, total: offset + ids.len() as u64 });
        Ok(DeviceIdPage { ids, pagination })
    }

    /// The pages of `query`, one call each, from its offset on; the page size is its limit, or
    /// [`MAX_QUERY_LIMIT`] (the fewest calls) when it has none.
    pub fn query_pages(&self, query: &HostQuery) -> DeviceIdPages {
        DeviceIdPages {
            hosts: self.clone(),
            query: HostQuery { limit: Some(query.limit.unwrap_or(MAX_QUERY_LIMIT)), ..query.clone() },
            next_offset: query.offset.unwrap_or(0),
            end: None,
            done: false,
        }
    }

    /// Every ID that `query` matches, page by page (see [`Hosts::query_pages`]), each once.
    ///
    /// The walk is bounded by the `total` of the first page. Paging is by offset, as the API offers it, so
    /// hosts that appear or vanish while it runs can shift pages: an ID may then be missed (never repeated:
    /// duplicates are dropped).
    pub async fn query_all(&self, query: &HostQuery) -> Result<Vec<String>, Error> {
        let mut pages = self.query_pages(query);
        let mut seen = HashSet::new();
        let mut all = Vec::new();
        while let Some(page) = pages.next_page().await? {
            let before = all.len();
            all.extend(page.ids.into_iter().filter(|id| seen.insert(id.clone())));
            // A page of IDs seen already means the server is not paging (it ignores `offset`): stop rather
            // than ask for the same page until its `total` says enough.
            if all.len() == before {
                break;
            }
        }
        Ok(all)
    }

    /// `GetDeviceDetailsV2`: the details of the named hosts, in the order named, [`MAX_GET_IDS`] per call.
    /// IDs the API does not know (or hidden hosts) are left out of the answer, as the API leaves them out;
    /// no IDs, no call.
    pub async fn get_device_details<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Device>, Error> {
        let mut devices = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_GET_IDS) {
            let mut request = request_for(&self.client, GET_DEVICE_DETAILS_V2);
            for id in chunk {
                request = request.query(param::IDS, id.as_ref());
            }
            devices.extend(resources::<Device>(request.send().await?)?.0);
        }
        Ok(devices)
    }

    /// `PostDeviceDetailsV2`: as [`Hosts::get_device_details`], with the IDs in a JSON body, [`MAX_POST_IDS`]
    /// per call (fewer calls for many IDs).
    pub async fn post_device_details<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Device>, Error> {
        let mut devices = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_POST_IDS) {
            let body = ids_body(chunk);
            let request = request_for(&self.client, POST_DEVICE_DETAILS_V2).json(&body)?;
            devices.extend(resources::<Device>(request.send().await?)?.0);
        }
        Ok(devices)
    }

    /// `PerformActionV2`: applies `action` to the named hosts, [`MAX_ACTION_IDS`] per call, and answers
    /// the API's result for each. Each call is all or nothing (an unknown ID is an `Error::Api` 404 and
    /// that call changes no host), but when a later call fails the hosts of the earlier ones were acted on:
    /// read their state back with [`Hosts::get_device_details`]. Not retried once it may have arrived.
    pub async fn perform_action<S: AsRef<str>>(
        &self,
        action: DeviceAction,
        ids: &[S],
    ) -> Result<Vec<ActionResult>, Error> {
        let mut results = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(MAX_ACTION_IDS) {
            let body = ids_body(chunk);
            let request =
                request_for(&self.client, PERFORM_ACTION_V2).query(param::ACTION_NAME, action.as_str()).json(&body)?;
            results.extend(resources::<ActionResult>(request.send().await?)?.0);
        }
        Ok(results)
    }

    /// Contains the named hosts ([`DeviceAction::Contain`]). The real API answers at once and moves the
    /// hosts through `containment_pending` to `contained`; Talon settles them at once.
    pub async fn contain<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<ActionResult>, Error> {
        self.perform_action(DeviceAction::Contain, ids).await
    }

    /// Lifts the containment of the named hosts ([`DeviceAction::LiftContainment`]).
    pub async fn lift_containment<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<ActionResult>, Error> {
        self.perform_action(DeviceAction::LiftContainment, ids).await
    }
}

/// The pages of a host query, fetched one call at a time with [`DeviceIdPages::next_page`] (so a large
/// tenant's IDs need not be held at once). Made by [`Hosts::query_pages`].
#[derive(Debug)]
pub struct DeviceIdPages {
    hosts: Hosts,
    query: HostQuery,
    next_offset: u64,
    /// The first page's `total`: the walk ends there, so a server whose total keeps growing cannot keep it
    /// going forever.
    end: Option<u64>,
    done: bool,
}

impl DeviceIdPages {
    /// The next page, or `None` after the last. After an error the same page may be asked for again.
    pub async fn next_page(&mut self) -> Result<Option<DeviceIdPage>, Error> {
        if self.done {
            return Ok(None);
        }
        let query = HostQuery { offset: Some(self.next_offset), ..self.query.clone() };
        let page = self.hosts.query_devices_by_filter(&query).await?;
        let end = *self.end.get_or_insert(page.pagination.total);
        self.next_offset = self.next_offset.saturating_add(page.ids.len() as u64);
        // An empty page ends the walk too: no progress is possible past it.
        self.done = page.ids.is_empty() || self.next_offset >= end;
        Ok((!page.ids.is_empty()).then_some(page))
    }
}

fn ids_body<S: AsRef<str>>(ids: &[S]) -> IdsBody {
    IdsBody { ids: ids.iter().map(|id| id.as_ref().to_owned()).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_wire_names() {
        for action in DeviceAction::ALL {
            assert_eq!(action.as_str().parse::<DeviceAction>().ok(), Some(action));
        }
        assert_eq!(DeviceAction::LiftContainment.to_string(), "lift_containment");
        assert!("shutdown".parse::<DeviceAction>().is_err());
    }
}
