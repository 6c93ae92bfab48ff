//! Fixtures through the real binary: `talon fixtures load` and `talon serve --fixtures` put a user's own
//! records behind the generic engine's operations and canned answers behind the others; a file that does
//! not parse is refused naming its file and line, and nothing of that load is kept.

mod common;

use std::process::Command;

use common::*;

fn load(db: &str, paths: &[&std::path::Path]) -> std::process::Output {
    let mut command = Command::new(BIN);
    command.args(["fixtures", "load", "--database", db]).env_remove("TALON_DATABASE_URL");
    command.args(paths).output().expect("run talon fixtures load")
}

async fn get(base: &str, token: &str, path: &str) -> (u16, serde_json::Value, reqwest::header::HeaderMap) {
    let reply = reqwest::Client::new().get(format!("{base}{path}")).bearer_auth(token).send().await.expect("send");
    let (status, headers) = (reply.status().as_u16(), reply.headers().clone());
    (status, reply.json().await.unwrap_or(serde_json::Value::Null), headers)
}

#[tokio::test]
async fn fixtures_put_records_and_canned_answers_behind_operations() {
    let (_db, url) = fresh_db();
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("10-policies.json"),
        r#"[
  {"operation": "queryPreventionPolicies",
   "records": [{"id": "p-workstations", "name": "Workstations", "precedence": 2},
               {"id": "p-servers", "name": "Servers", "precedence": 1}]}
]"#,
    )
    .expect("write");
    std::fs::write(
        dir.path().join("20-canned.jsonl"),
        concat!(
            r#"{"operation": "GetExecutorNodes", "match": {"limit": "1"}, "status": 200, "headers": {"X-From-Fixture": "yes"}, "body": {"resources": [{"id": "node-1"}], "errors": []}}"#,
            "\n",
            r#"{"operation": "GetExecutorNodes", "status": 429, "body": {"errors": [{"code": 429, "message": "slow down"}]}}"#,
            "\n"
        ),
    )
    .expect("write");
    let out = load(&url, &[dir.path()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("loaded 2 records and 2 canned answers"));
    // Loading again replaces, never doubles.
    assert!(load(&url, &[dir.path()]).status.success());
    // `talon ops list --fixtures-in` says which operations a canned answer answers.
    let listed = Command::new(BIN)
        .args(["ops", "list", "--search", "executor_nodes", "--fixtures-in", &url])
        .output()
        .expect("ops");
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let line = listed.lines().find(|l| l.starts_with("GetExecutorNodes\t")).expect("GetExecutorNodes listed");
    assert!(line.ends_with("\tfixture"), "{line}");
    let plain = Command::new(BIN).args(["ops", "list", "--search", "executor_nodes"]).output().expect("ops");
    assert!(String::from_utf8_lossy(&plain.stdout)
        .lines()
        .any(|l| l.starts_with("GetExecutorNodes\t") && l.ends_with("\t501")));

    let server = Server::start(&url, &[]);
    let scopes = ["--scope", "prevention-policies:read", "--scope", "aspm:read"];
    let (id, secret) = client_with(&url, &server.base_url, "fixtures", &scopes).await;
    let (_, t) = token(&server.base_url, &id, &secret).await;
    let token = t["access_token"].as_str().expect("token").to_owned();
    let base = &server.base_url;

    let (status, body, _) = get(base, &token, "/policy/queries/prevention/v1?sort=precedence.asc").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resources"], serde_json::json!(["p-servers", "p-workstations"]));
    let (_, body, _) = get(base, &token, "/policy/entities/prevention/v1?ids=p-servers").await;
    assert_eq!(body["resources"][0]["name"], "Servers");

    // The canned answers of an operation of no conventional shape: the first that matches.
    let (status, body, headers) = get(base, &token, "/aspm-api-gateway/api/v1/executor_nodes?limit=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resources"][0]["id"], "node-1");
    assert_eq!(headers.get("x-from-fixture").map(|v| v.to_str().unwrap_or_default()), Some("yes"));
    let (status, body, _) = get(base, &token, "/aspm-api-gateway/api/v1/executor_nodes").await;
    assert_eq!((status, body["errors"][0]["message"].as_str()), (429, Some("slow down")));
    // Without a matching answer, the operation answers 501 as before.
    let (status, _, _) = get(base, &token, "/aspm-api-gateway/api/v1/artifacts").await;
    assert_eq!(status, 501);

    // At runtime: a load while the server runs is answered within its refresh (250 ms).
    std::fs::write(
        dir.path().join("30-more.json"),
        r#"{"resource": "policy/prevention", "records": [{"id": "p-macs", "name": "Macs"}]}"#,
    )
    .expect("write");
    assert!(load(&url, &[&dir.path().join("30-more.json")]).status.success());
    let seen = within(std::time::Duration::from_secs(2), || async {
        get(base, &token, "/policy/queries/prevention/v1").await.1["meta"]["pagination"]["total"] == 3
    })
    .await;
    assert!(seen.is_some(), "the server serves the records loaded while it runs");
}

#[tokio::test]
async fn a_fixture_that_does_not_parse_is_named_and_nothing_of_its_load_is_kept() {
    let (_db, url) = fresh_db();
    let dir = tempfile::tempdir().expect("dir");
    let good = dir.path().join("a-good.json");
    std::fs::write(&good, r#"{"resource": "policy/prevention", "records": [{"id": "kept-out", "name": "x"}]}"#)
        .expect("write");
    let bad = dir.path().join("b-bad.jsonl");
    std::fs::write(&bad, "{\"operation\": \"GetExecutorNodes\", \"status\": 200}\n{\"operation\": \"GetExecutorNodes\", \"status\": 200,,}\n")
        .expect("write");
    let out = load(&url, &[dir.path()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("b-bad.jsonl:2:"), "names the file and line: {stderr}");
    for (name, text, expected) in [
        ("c.json", "{\"resource\": \"no/such\", \"records\": []}", "no operation works on the resource"),
        ("d.json", "{\"operation\": \"NoSuchOperation\", \"status\": 200}", "NoSuchOperation"),
        ("e.txt", "{}", "ends in .json or .jsonl"),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text).expect("write");
        let out = load(&url, &[&file]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{name}: {stderr}");
    }
    let not_utf8 = dir.path().join("f.json");
    std::fs::write(&not_utf8, b"{\"name\": \"\xff\"}").expect("write");
    assert!(String::from_utf8_lossy(&load(&url, &[&not_utf8]).stderr).contains("not UTF-8"));
    let unknown_customer = dir.path().join("g.json");
    std::fs::write(&unknown_customer, r#"{"resource": "policy/prevention", "customer": "0123456789abcdef0123456789abcdef", "records": [{"name": "x"}]}"#)
        .expect("write");
    assert!(String::from_utf8_lossy(&load(&url, &[&good, &unknown_customer]).stderr).contains("is unknown"));

    // The server refuses to start on a bad fixture, naming it; the good file of the failed loads was
    // never written.
    let serve = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &url, "--fixtures"])
        .arg(&bad)
        .output()
        .expect("run talon serve");
    assert!(!serve.status.success());
    assert!(
        String::from_utf8_lossy(&serve.stderr).contains("b-bad.jsonl:2:"),
        "{}",
        String::from_utf8_lossy(&serve.stderr)
    );
    let server = Server::start(&url, &[]);
    let (id, secret) = client_with(&url, &server.base_url, "reader", &["--scope", "prevention-policies:read"]).await;
    let (_, t) = token(&server.base_url, &id, &secret).await;
    let (_, body, _) =
        get(&server.base_url, t["access_token"].as_str().expect("token"), "/policy/queries/prevention/v1").await;
    assert_eq!(body["meta"]["pagination"]["total"], 0, "nothing of the failed loads was kept: {body}");
}
