//! `talon call OPERATION_ID` against a real `talon serve`: any catalogue operation by ID with the SDK's
//! checks before sending, repeated `--param` as a list, `--body` inline or from a file, `--all-pages`,
//! and errors (unknown or wrong-case operation, bad parameter, 403 before 501) on stderr.

mod common;

use std::process::Output;

use common::*;

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "succeeded: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn call_runs_any_operation_with_checks_lists_bodies_and_pages() {
    let (_db, url) = fresh_db();
    let server = Server::start(&url, &["--demo-hosts", "30"]);
    let (id, secret) = devices_client(&url, &server.base_url, "caller").await;
    let base = server.base_url.clone();
    let call = |args: &[&str]| talon_as(&base, &id, &secret, &[&["call"], args].concat());

    let page = stdout_json(&call(&["QueryDevicesByFilter", "--param", "limit=2", "--param", "sort=hostname.asc"]));
    let ids: Vec<String> =
        page["resources"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_owned()).collect();
    assert_eq!((ids.len(), page["meta"]["pagination"]["total"].as_u64()), (2, Some(30)));

    // A repeated --param is a list.
    let details = stdout_json(&call(&[
        "GetDeviceDetailsV2",
        "--param",
        &format!("ids={}", ids[0]),
        "-p",
        &format!("ids={}", ids[1]),
    ]));
    let got: Vec<&str> = details["resources"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d["device_id"].as_str().expect("id"))
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);

    // A body inline and from a file.
    let body = serde_json::json!({ "ids": [ids[0]] }).to_string();
    let posted = stdout_json(&call(&["PostDeviceDetailsV2", "--body", &body]));
    assert_eq!(posted["resources"][0]["device_id"], ids[0].as_str());
    let file = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(file.path(), &body).expect("write");
    let from_file = stdout_json(&call(&["PostDeviceDetailsV2", "--body", &format!("@{}", file.path().display())]));
    assert_eq!(from_file["resources"], posted["resources"]);

    // Every page, walked by integer offset up to total.
    let all = stdout_json(&call(&["QueryDevicesByFilter", "--all-pages", "--param", "limit=7"]));
    assert_eq!(
        (all["resources"].as_array().map(Vec::len), all["pages"].as_u64(), all["total"].as_u64()),
        (Some(30), Some(5), Some(30))
    );

    // Refused before sending, naming what is right.
    let wrong_case = failed(&call(&["querydevicesbyfilter"]));
    assert!(wrong_case.contains("case-sensitive") && wrong_case.contains("\"QueryDevicesByFilter\""), "{wrong_case}");
    let typo = failed(&call(&["QueryDevicesByFilter", "--param", "limt=2"]));
    assert!(typo.contains("did you mean \"limit\""), "{typo}");
    let not_a_number = failed(&call(&["QueryDevicesByFilter", "--param", "limit=two"]));
    assert!(not_a_number.contains("\"limit\" takes an integer"), "{not_a_number}");
    let unknown = failed(&call(&["NoSuchOperationAtAll"]));
    assert!(unknown.contains("unknown operation \"NoSuchOperationAtAll\""), "{unknown}");
    let requests_before = server_requests(&base).await;
    assert!(requests_before >= 5, "the metrics count the calls above: {requests_before}");
    assert!(failed(&call(&["GetDeviceDetailsV2"])).contains("\"ids\" is required"));
    assert_eq!(server_requests(&base).await, requests_before, "a refused call reaches no route");

    // An operation no handler emulates: the generic engine's answer with the scope, 403 without it.
    let created = clients_json(&url, &["create", "--name", "alerts", "--scope", "alerts:read", "--json"]);
    let (alerts_id, alerts_secret) =
        (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("s"));
    let ready =
        within(std::time::Duration::from_secs(2), || async { token(&base, alerts_id, alerts_secret).await.0 == 201 })
            .await;
    assert!(ready.is_some(), "the server picked up the alerts client");
    let generic = stdout_json(&talon_as(&base, alerts_id, alerts_secret, &["call", "GetQueriesAlertsV2"]));
    // The demo hosts' alerts, by composite ID (the customer's CID, then `ind:<device>:<n>`).
    let alerts = generic["resources"].as_array().expect("a page of alert IDs");
    assert!(!alerts.is_empty(), "{generic}");
    assert!(alerts.iter().all(|a| a.as_str().is_some_and(|id| id.contains(":ind:"))), "{generic}");
    assert_eq!(generic["meta"]["pagination"]["total"], alerts.len(), "{generic}");
    let forbidden = failed(&call(&["queryHostGroups"]));
    assert!(forbidden.contains("HTTP 403"), "{forbidden}");
}

/// How many API requests (other than tokens) the server has counted, from its metrics.
async fn server_requests(base: &str) -> u64 {
    let text = reqwest::get(format!("{base}/metrics")).await.expect("metrics").text().await.expect("text");
    text.lines()
        .filter(|l| l.starts_with("talon_http_requests_total") && !l.contains("oauth2") && !l.contains("/metrics"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}
