//! The harness's checks and its pager against a scripted server: a refused call sends nothing at all
//! (not even a token request), and `all_pages` walks each of the three paging styles to `total` and stops
//! on a server that does not move its cursor.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use talon::{Args, CallProblem, Client, Cloud, Credentials, Error, Harness, Paging};

/// 7 items, served in pages of 3 however the route pages; the "stuck" route always gives the same cursor.
const ITEMS: usize = 7;
const PAGE: usize = 3;

#[derive(Clone, Default)]
struct Fake {
    requests: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<String>>>,
}

fn page(from: usize, pagination: Value) -> Response {
    let items: Vec<String> = (from..(from + PAGE).min(ITEMS)).map(|i| format!("item-{i}")).collect();
    axum::Json(json!({"meta": {"pagination": pagination, "trace_id": "t"}, "resources": items, "errors": []}))
        .into_response()
}

async fn handle(State(fake): State<Fake>, uri: Uri, Query(q): Query<Vec<(String, String)>>) -> Response {
    let param = |name: &str| q.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if uri.path() == "/oauth2/token" {
        fake.requests.fetch_add(1, Ordering::SeqCst);
        return (
            axum::http::StatusCode::CREATED,
            axum::Json(json!({"access_token": "t", "token_type": "bearer", "expires_in": 1799})),
        )
            .into_response();
    }
    fake.requests.fetch_add(1, Ordering::SeqCst);
    fake.seen.lock().expect("lock").push(uri.to_string());
    match uri.path() {
        // QueryDevicesByFilter: integer offset.
        "/devices/queries/devices/v1" => {
            let offset: usize = param("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
            page(offset, json!({"offset": offset, "limit": PAGE, "total": ITEMS}))
        }
        // QueryDevicesByFilterScroll: a text offset token ("tok-N" means start at N).
        "/devices/queries/devices-scroll/v1" => {
            let from = param("offset").and_then(|t| t.strip_prefix("tok-")?.parse().ok()).unwrap_or(0);
            let next = format!("tok-{}", from + PAGE);
            page(from, json!({"offset": next, "limit": PAGE, "total": ITEMS}))
        }
        // An `after` route; the filter "stuck" makes it hand out the same token for ever.
        "/discover/queries/iot-hosts/v2" => {
            if param("filter").as_deref() == Some("stuck") {
                return page(0, json!({"after": "same", "limit": PAGE, "total": 1000}));
            }
            let from = param("after").and_then(|t| t.strip_prefix("after-")?.parse().ok()).unwrap_or(0);
            page(from, json!({"after": format!("after-{}", from + PAGE), "limit": PAGE, "total": ITEMS}))
        }
        _ => (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"errors": [{"code": 404, "message": "no"}]})))
            .into_response(),
    }
}

async fn start() -> (Harness, Fake) {
    let fake = Fake::default();
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let base = common::serve_fake(app).await;
    let client = Client::builder(Credentials::new("id", "secret", Cloud::Custom(base))).build().expect("client");
    (Harness::new(client), fake)
}

fn all_items() -> Vec<Value> {
    (0..ITEMS).map(|i| json!(format!("item-{i}"))).collect()
}

#[tokio::test]
async fn refused_calls_send_nothing() {
    let (harness, fake) = start().await;
    let refusals = [
        ("querydevicesbyfilter", Args::new(), None),
        ("QueryDevicesByFilter", Args::new().query("limt", 5), Some(CallProblem::UnknownParameter)),
        ("QueryDevicesByFilter", Args::new().query("limit", "lots"), Some(CallProblem::WrongType)),
        ("GetDeviceDetailsV2", Args::new(), Some(CallProblem::Missing)),
        ("QueryDevicesByFilter", Args::new().body(json!({"ids": []})), Some(CallProblem::NotTaken)),
    ];
    for (id, args, problem) in refusals {
        let refused = harness.command(id, args).await.expect_err("refused");
        match (refused, problem) {
            (Error::UnknownOperation(unknown), None) => {
                assert_eq!(unknown.case_only.as_deref(), Some("QueryDevicesByFilter"));
                assert!(unknown.to_string().contains("case-sensitive"), "{unknown}");
            }
            (Error::Call(call), Some(problem)) => assert_eq!(call.problem, problem, "{call}"),
            (other, _) => panic!("{id}: {other}"),
        }
    }
    assert_eq!(fake.requests.load(Ordering::SeqCst), 0, "a refused call sends nothing, not even for a token");
    let answer = harness.command("QueryDevicesByFilter", Args::new().query("limit", 3)).await.expect("sent");
    assert_eq!(answer.status, 200);
    assert_eq!(fake.seen.lock().expect("lock").as_slice(), ["/devices/queries/devices/v1?limit=3"]);
}

#[tokio::test]
async fn the_pager_walks_each_paging_style_to_total() {
    let (harness, fake) = start().await;
    let styles = [
        ("QueryDevicesByFilter", Paging::Offset),
        ("QueryDevicesByFilterScroll", Paging::Scroll),
        ("query_iot_hostsV2", Paging::After),
    ];
    for (id, style) in styles {
        let op = talon::catalogue().get(id).expect("in the catalogue");
        assert_eq!(Paging::of(op), Some(style), "{id}");
        let pages = harness.all_pages(id, Args::new().query("limit", PAGE)).await.expect("pages");
        assert_eq!(pages.resources, all_items(), "{id}");
        assert_eq!((pages.pages, pages.total), (3, Some(ITEMS as u64)), "{id}: three pages of 3, 3, 1");
    }
    let seen = fake.seen.lock().expect("lock").clone();
    assert!(seen.contains(&"/devices/queries/devices/v1?limit=3&offset=6".to_owned()), "{seen:?}");
    assert!(seen.contains(&"/devices/queries/devices-scroll/v1?limit=3&offset=tok-3".to_owned()), "{seen:?}");
    assert!(seen.contains(&"/discover/queries/iot-hosts/v2?limit=3&after=after-6".to_owned()), "{seen:?}");

    // A cursor that never moves ends paging after the page that repeated it.
    let stuck = harness.all_pages("query_iot_hostsV2", Args::new().param("filter", "stuck")).await.expect("stuck");
    assert_eq!(stuck.pages, 2, "the second page gave the same token again");

    // An operation that does not page is called once; a failing page is an error, not a short list.
    let once = harness.all_pages("GetDeviceDetailsV2", Args::new().query("ids", "x")).await;
    assert!(matches!(once, Err(Error::Api(ref e)) if e.status == 404), "{once:?}");
}
