//! The typed `Hosts` service against a real Talon server started in-process: queries (filter, sort,
//! paging), walking every page, details beyond one call's limit, containment, and the errors a caller sees.

mod common;

use common::TestServer;
use talon::{Device, DeviceAction, Error, ForbiddenCause, HostQuery, Hosts, Pagination};
use talon_wire::Scope;

const QUERY_ROUTE: &str = "/devices/queries/devices/v1";
const DETAILS_ROUTE: &str = "/devices/entities/devices/v2";

fn ids_of(devices: &[&Device]) -> Vec<String> {
    devices.iter().map(|d| d.device_id.clone()).collect()
}

#[tokio::test]
async fn a_query_is_filtered_sorted_and_paged() {
    let server = TestServer::with_hosts(60).await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let hosts = Hosts::new(server.sdk(&id, &secret));

    // The expectation, worked out here from every host's details rather than by the server's query.
    let all_ids = hosts.query_all(&HostQuery::new()).await.expect("every ID");
    assert_eq!(all_ids.len(), 60);
    let all = hosts.get_device_details(&all_ids).await.expect("details");
    let mut windows: Vec<&Device> = all.iter().filter(|d| d.platform_name == "Windows").collect();
    windows.sort_by_key(|d| std::cmp::Reverse(d.hostname.to_lowercase()));
    assert!(windows.len() > 5 && windows.len() < 60, "the demo data mixes platforms: {}", windows.len());

    let query = HostQuery::new().filter("platform_name:'Windows'").sort("hostname.desc").limit(5);
    let first = hosts.query_devices_by_filter(&query).await.expect("first page");
    assert_eq!(first.ids, ids_of(&windows[..5]));
    assert_eq!(first.pagination, Pagination { offset: 0, limit: 5, total: windows.len() as u64 });
    let second = hosts.query_devices_by_filter(&query.clone().offset(5)).await.expect("second page");
    assert_eq!(second.ids, ids_of(&windows[5..windows.len().min(10)]));
    assert_eq!(second.pagination.offset, 5);

    let ascending = hosts
        .query_devices_by_filter(&HostQuery::new().filter("platform_name:'Windows'").sort("hostname.asc").limit(5))
        .await
        .expect("ascending");
    let mut reversed = windows.clone();
    reversed.reverse();
    assert_eq!(ascending.ids, ids_of(&reversed[..5]), "the sort is sent, not just the filter");

    let past_the_end = hosts.query_devices_by_filter(&query.clone().offset(1000)).await.expect("empty page");
    assert!(past_the_end.ids.is_empty());
    assert_eq!(past_the_end.pagination.total, windows.len() as u64);
}

#[tokio::test]
async fn query_all_walks_every_page_once() {
    let server = TestServer::with_hosts(250).await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let hosts = Hosts::new(server.sdk(&id, &secret));
    let in_one_call = hosts.query_devices_by_filter(&HostQuery::new().limit(5000)).await.expect("one call");
    assert_eq!(in_one_call.ids.len(), 250);

    let before = server.requests(QUERY_ROUTE, "GET", 200).await;
    let walked = hosts.query_all(&HostQuery::new().limit(7)).await.expect("every page");
    assert_eq!(walked, in_one_call.ids, "every ID, in order, each once");
    assert_eq!(server.requests(QUERY_ROUTE, "GET", 200).await - before, 250_u64.div_ceil(7), "pages of 7");

    let mut pages = hosts.query_pages(&HostQuery::new().limit(100));
    let mut sizes = vec![];
    while let Some(page) = pages.next_page().await.expect("a page") {
        sizes.push(page.ids.len());
    }
    assert_eq!(sizes, [100, 100, 50]);
    assert!(pages.next_page().await.expect("done").is_none());

    // A filter and a starting offset are kept on every page.
    let windows = HostQuery::new().filter("platform_name:'Windows'").sort("last_seen.desc");
    let expected = hosts.query_devices_by_filter(&windows.clone().offset(3).limit(5000)).await.expect("one call");
    let walked = hosts.query_all(&windows.offset(3).limit(9)).await.expect("every page");
    assert_eq!(walked, expected.ids);
    assert!(!walked.is_empty());
}

#[tokio::test]
async fn details_of_more_ids_than_one_call_takes_and_of_unknown_ids() {
    let server = TestServer::with_hosts(250).await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let hosts = Hosts::new(server.sdk(&id, &secret));
    let mut ids = hosts.query_all(&HostQuery::new()).await.expect("IDs");
    assert_eq!(ids.len(), 250);
    let unknown = "0123456789abcdef0123456789abcdef".to_owned();
    ids.insert(120, unknown.clone());

    let before = server.requests(DETAILS_ROUTE, "GET", 200).await;
    let devices = hosts.get_device_details(&ids).await.expect("details in chunks");
    assert_eq!(server.requests(DETAILS_ROUTE, "GET", 200).await - before, 3, "251 IDs in calls of at most 100");
    let known: Vec<&String> = ids.iter().filter(|id| **id != unknown).collect();
    assert_eq!(devices.iter().map(|d| &d.device_id).collect::<Vec<_>>(), known, "in order, unknown left out");
    assert!(devices.iter().all(|d| !d.hostname.is_empty() && d.status == "normal" && d.last_seen.ends_with('Z')));

    let posted = hosts.post_device_details(&ids).await.expect("details by POST");
    assert_eq!(posted, devices);
    assert_eq!(server.requests(DETAILS_ROUTE, "POST", 200).await, 1, "one POST takes up to 5000 IDs");

    assert!(hosts.get_device_details(&[unknown.as_str()]).await.expect("only unknown").is_empty());
    let before = server.requests(DETAILS_ROUTE, "GET", 200).await;
    assert!(hosts.get_device_details::<&str>(&[]).await.expect("no IDs").is_empty());
    assert_eq!(server.requests(DETAILS_ROUTE, "GET", 200).await, before, "no IDs, no call");
}

#[tokio::test]
async fn contain_shows_in_the_details_and_lift_ends_it() {
    let server = TestServer::with_hosts(5).await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ, Scope::DEVICES_WRITE]).await;
    let hosts = Hosts::new(server.sdk(&id, &secret));
    let ids = hosts.query_all(&HostQuery::new()).await.expect("IDs");
    let (targets, others) = ids.split_at(2);
    let status = |devices: Vec<Device>| devices.into_iter().map(|d| d.status).collect::<Vec<_>>();

    let results = hosts.contain(targets).await.expect("contain");
    assert_eq!(results.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), targets);
    assert_eq!(status(hosts.get_device_details(targets).await.expect("details")), ["contained", "contained"]);
    assert!(status(hosts.get_device_details(others).await.expect("details")).iter().all(|s| s == "normal"));
    let contained = hosts.query_all(&HostQuery::new().filter("status:'contained'")).await.expect("query");
    assert_eq!(contained.len(), 2);

    hosts.lift_containment(&targets[..1]).await.expect("lift");
    assert_eq!(status(hosts.get_device_details(targets).await.expect("details")), ["normal", "contained"]);

    // One call is all or nothing: an unknown ID is a 404 and the known host beside it is not touched.
    let err = hosts
        .perform_action(DeviceAction::Contain, &[others[0].as_str(), "0123456789abcdef0123456789abcdef"])
        .await
        .expect_err("unknown device");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!(api.status, 404);
    assert_eq!(status(hosts.get_device_details(&others[..1]).await.expect("details")), ["normal"]);

    hosts.perform_action(DeviceAction::HideHost, &others[..1]).await.expect("hide");
    let hidden = hosts.get_device_details(&others[..1]).await.expect("details");
    assert_eq!(hidden.len(), 1, "hidden hosts leave the queries, not the details");
    assert_eq!(hosts.query_all(&HostQuery::new()).await.expect("IDs").len(), 4);

    let (reader, reader_secret) = server.client(&[Scope::DEVICES_READ]).await;
    let err = Hosts::new(server.sdk(&reader, &reader_secret)).contain(targets).await.expect_err("no devices:write");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!((api.status, api.forbidden), (403, Some(ForbiddenCause::MissingScope)));
}

#[tokio::test]
async fn bad_fql_or_sort_is_a_400_with_the_servers_message() {
    let server = TestServer::start().await;
    let (id, secret) = server.client(&[Scope::DEVICES_READ]).await;
    let hosts = Hosts::new(server.sdk(&id, &secret));

    let err = hosts.query_devices_by_filter(&HostQuery::new().filter("hostname='web'")).await.expect_err("bad FQL");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!(api.status, 400);
    let message = &api.errors.first().expect("a message").message;
    assert!(message.starts_with("filter: invalid filter at position"), "{message}");
    assert!(api.trace_id.is_some());
    assert!(api.to_string().contains(message.as_str()), "Display carries the server's message: {api}");

    let err = hosts.query_all(&HostQuery::new().sort("password.asc")).await.expect_err("bad sort");
    let Error::Api(api) = err else { panic!("an API error: {err:?}") };
    assert_eq!(api.status, 400);
    assert!(api.errors[0].message.starts_with("invalid sort"), "{}", api.errors[0].message);
}
