//! `talon hosts list|contain|lift` against a real `talon serve`, with credentials from the environment.
//! What the CLI prints is checked against what the API answers to plain HTTP requests.

mod common;

use std::process::Output;

use common::*;

fn talon(base: &str, id: &str, secret: &str, args: &[&str]) -> Output {
    talon_as(base, id, secret, args)
}

fn succeeded(out: &Output) -> String {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

/// The device IDs a plain `QueryDevicesByFilter` request answers.
async fn query_ids(base: &str, token: &str, query: &[(&str, &str)]) -> Vec<String> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/devices/queries/devices/v1"))
        .bearer_auth(token)
        .query(query)
        .send()
        .await
        .expect("query")
        .json()
        .await
        .expect("JSON");
    body["resources"].as_array().expect("ids").iter().map(|v| v.as_str().expect("id").to_owned()).collect()
}

/// A host's `status` as a plain `GetDeviceDetailsV2` request answers it.
async fn status_of(base: &str, token: &str, id: &str) -> String {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/devices/entities/devices/v2"))
        .bearer_auth(token)
        .query(&[("ids", id)])
        .send()
        .await
        .expect("details")
        .json()
        .await
        .expect("JSON");
    body["resources"][0]["status"].as_str().expect("a status").to_owned()
}

/// A server with demo hosts and a client holding the devices scopes; answers (server, id, secret, token).
async fn setup() -> (talon_testkit::TestDb, Server, String, String, String) {
    let (db, url) = fresh_db();
    let server = Server::start(&url, &["--demo-hosts", "30"]);
    let (id, secret) = devices_client(&url, &server.base_url, "hosts").await;
    let (_, body) = token(&server.base_url, &id, &secret).await;
    let jwt = body["access_token"].as_str().expect("token").to_owned();
    (db, server, id, secret, jwt)
}

#[tokio::test]
async fn hosts_list_filters_sorts_and_pages_as_a_table_and_as_json() {
    let (_db, server, id, secret, jwt) = setup().await;
    let base = server.base_url.as_str();
    let filter = "platform_name:'Windows'";
    let expected = query_ids(base, &jwt, &[("filter", filter), ("sort", "hostname.desc"), ("limit", "3")]).await;
    assert_eq!(expected.len(), 3);

    let out = talon(
        base,
        &id,
        &secret,
        &["hosts", "list", "--filter", filter, "--sort", "hostname.desc", "--limit", "3", "--json"],
    );
    let devices: serde_json::Value = serde_json::from_str(&succeeded(&out)).expect("a JSON list");
    let devices = devices.as_array().expect("a list");
    let ids: Vec<&str> = devices.iter().map(|d| d["device_id"].as_str().expect("device_id")).collect();
    assert_eq!(ids, expected, "the filter, sort and limit reach the API");
    assert!(devices.iter().all(|d| d["platform_name"] == "Windows" && d["hostname"].is_string()));

    let table = succeeded(&talon(
        base,
        &id,
        &secret,
        &["hosts", "list", "--filter", filter, "--sort", "hostname.desc", "--limit", "3"],
    ));
    let lines: Vec<&str> = table.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(header, ["DEVICE_ID", "HOSTNAME", "PLATFORM", "STATUS", "LAST_SEEN"]);
    let rows: Vec<Vec<&str>> = lines[1..4].iter().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows.iter().map(|r| r[0]).collect::<Vec<_>>(), expected);
    for (row, device) in rows.iter().zip(devices) {
        assert_eq!(row[1], device["hostname"]);
        assert_eq!((row[2], row[3]), ("Windows", "normal"));
        assert_eq!(row[4], device["last_seen"]);
    }
    let total = query_ids(base, &jwt, &[("filter", filter), ("limit", "5000")]).await.len();
    assert_eq!(lines[4], format!("3 of {total} hosts (offset 0)"));
    assert_eq!(lines.len(), 5);

    let expected = query_ids(base, &jwt, &[("sort", "last_seen.asc"), ("offset", "2"), ("limit", "4")]).await;
    let out = talon(
        base,
        &id,
        &secret,
        &["hosts", "list", "--sort", "last_seen.asc", "--offset", "2", "--limit", "4", "--json"],
    );
    let devices: serde_json::Value = serde_json::from_str(&succeeded(&out)).expect("a JSON list");
    let ids: Vec<&str> =
        devices.as_array().expect("a list").iter().map(|d| d["device_id"].as_str().expect("id")).collect();
    assert_eq!(ids, expected, "the offset reaches the API");

    let out = talon(base, &id, &secret, &["hosts", "list", "--filter", "hostname='x'"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 400") && err.contains("invalid filter") && err.contains("trace ID"), "{err}");
}

#[tokio::test]
async fn hosts_contain_and_lift_change_the_hosts_and_say_so() {
    let (_db, server, id, secret, jwt) = setup().await;
    let base = server.base_url.as_str();
    let ids = query_ids(base, &jwt, &[("limit", "3")]).await;

    let out = succeeded(&talon(base, &id, &secret, &["hosts", "contain", &ids[0], &ids[1]]));
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [format!("contain: accepted for {}", ids[0]), format!("contain: accepted for {}", ids[1])]
    );
    assert_eq!(status_of(base, &jwt, &ids[0]).await, "contained");
    assert_eq!(status_of(base, &jwt, &ids[1]).await, "contained");
    assert_eq!(status_of(base, &jwt, &ids[2]).await, "normal");

    let out = succeeded(&talon(base, &id, &secret, &["hosts", "lift", &ids[0]]));
    assert_eq!(out.trim(), format!("lift_containment: accepted for {}", ids[0]));
    assert_eq!(status_of(base, &jwt, &ids[0]).await, "normal");
    assert_eq!(status_of(base, &jwt, &ids[1]).await, "contained");

    let out = talon(base, &id, &secret, &["hosts", "contain", "0123456789abcdef0123456789abcdef"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 404") && err.contains("no such device") && err.contains("trace ID"), "{err}");

    assert!(!talon(base, &id, &secret, &["hosts", "contain"]).status.success(), "an ID is required");
}

#[tokio::test]
async fn a_wrong_secret_fails_without_showing_it() {
    let (_db, server, id, _secret, _jwt) = setup().await;
    for args in [&["hosts", "list"][..], &["hosts", "contain", "0123456789abcdef0123456789abcdef"]] {
        let out = talon(&server.base_url, &id, "WrongSecretValue123", args);
        assert!(!out.status.success(), "{args:?}");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(stderr.contains("403") && stderr.contains("Not Authorized") && stderr.contains("trace ID"), "{stderr}");
        assert!(!stdout.contains("WrongSecretValue123") && !stderr.contains("WrongSecretValue123"));
    }
}
