//! `talon clients import` and `export` through the real binary: thousands of clients in batches, each
//! audited, their secrets written once to a private file and working against a server; a bad line named
//! by its number with nothing imported; export without secrets, and with digests to move a store.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;

fn list_len(db: &str) -> usize {
    clients_json(db, &["list", "--json"]).as_array().expect("list").len()
}

#[tokio::test]
async fn import_writes_batches_audits_each_client_and_its_secrets_work() {
    let (_db, url) = fresh_db();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("clients.jsonl");
    let lines: Vec<String> = (0..2_500)
        .map(|i| format!(r#"{{"name": "bulk-{i}", "scopes": ["devices:read"], "allowed_ips": ["127.0.0.0/8"]}}"#))
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n\n").expect("write");
    let secrets = dir.path().join("secrets.jsonl");
    let out = clients(
        &url,
        &["import", file.to_str().expect("path"), "--secrets-out", secrets.to_str().expect("path"), "--batch", "1000"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 2500 clients"));
    assert_eq!(list_len(&url), 2_500);
    let mode = std::fs::metadata(&secrets).expect("secrets").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the secrets file is the owner's alone");
    let secrets: Vec<serde_json::Value> = std::fs::read_to_string(&secrets)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(secrets.len(), 2_500);
    assert!(String::from_utf8_lossy(&out.stdout).is_empty(), "no secret on stdout when a file is given");
    let audit = clients_json(&url, &["audit", "--limit", "500", "--json"]);
    let audit = audit.as_array().expect("audit");
    assert!(audit.iter().all(|e| e["action"] == "client.import"), "an entry per client");

    // An imported client's secret works.
    let server = Server::start(&url, &[]);
    let last = &secrets[2_499];
    let (status, _) =
        token(&server.base_url, last["client_id"].as_str().expect("id"), last["client_secret"].as_str().expect("s"))
            .await;
    assert_eq!(status, 201);

    // The export reads them a page at a time (1,000 a page): every client once, oldest first.
    let export = clients(&url, &["export"]);
    assert!(export.status.success(), "{}", String::from_utf8_lossy(&export.stderr));
    let names: Vec<String> = String::from_utf8_lossy(&export.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("json line")["name"].as_str().expect("name").to_owned()
        })
        .collect();
    let mut expected: Vec<String> = clients_json(&url, &["list", "--json"])
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names.len(), 2_500, "three pages, every client once");
    assert_eq!(names, expected, "in creation order, as the listing has them");
    expected.sort();
    expected.dedup();
    assert_eq!(expected.len(), 2_500);
}

#[test]
fn a_bad_line_is_named_and_nothing_is_imported() {
    let (_db, url) = fresh_db();
    let dir = tempfile::tempdir().expect("dir");
    for (text, expected) in [
        (
            "{\"name\": \"a\", \"scopes\": [\"devices:read\"]}\n{\"name\": \"b\", \"scopes\": [\"no-such:read\"]}\n",
            ":2",
        ),
        ("{\"name\": \"a\", \"scopes\": [\"devices:read\"]}\n[1, 2]\n", ":2"),
        ("{\"name\": \"a\", \"scopes\": [\"devices:read\"], \"typo\": 1}\n", ":1"),
        (
            "{\"name\": \"a\", \"scopes\": [\"devices:read\"], \"client_id\": \"0123456789abcdef0123456789abcdef\"}\n",
            ":1",
        ),
        ("{\"name\": \"a\", \"scopes\": [\"devices:read\"]}\nnot json\n", ":2"),
        ("\n{\"name\": \"a\", \"scopes\": [\"devices:read\"]}\n{\"name\": \"b\", \"description\": \"x\", \"pad\": \"LONG\"}\n", ":3"),
    ] {
        let text = text.replace("LONG", &"y".repeat(70 * 1024));
        let file = dir.path().join("bad.jsonl");
        std::fs::write(&file, &text).expect("write");
        let out = clients(&url, &["import", file.to_str().expect("path")]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && stderr.contains(&format!("bad.jsonl{expected}")), "{text:?}: {stderr}");
        assert!(out.stdout.is_empty(), "no secret is printed for a refused import");
    }
    assert_eq!(list_len(&url), 0, "nothing was imported");
    // The secrets file must be new: an import that could not write its secrets imports nothing.
    let file = dir.path().join("good.jsonl");
    std::fs::write(&file, "{\"name\": \"a\", \"scopes\": [\"devices:read\"]}\n").expect("write");
    let existing = dir.path().join("secrets.jsonl");
    std::fs::write(&existing, "keep me").expect("write");
    let out =
        clients(&url, &["import", file.to_str().expect("path"), "--secrets-out", existing.to_str().expect("path")]);
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep me");
    assert_eq!(list_len(&url), 0);
}

#[tokio::test]
async fn export_shows_no_secret_and_with_digests_moves_clients_between_stores() {
    let (_a, from) = fresh_db();
    let created = clients_json(&from, &["create", "--name", "mover", "--scope", "devices:read", "--json"]);
    let (id, secret) = (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("s"));

    let plain = clients(&from, &["export"]);
    assert!(plain.status.success());
    let plain = String::from_utf8_lossy(&plain.stdout).into_owned();
    assert!(!plain.contains(secret) && !plain.contains("secret_digest") && !plain.contains(id), "{plain}");
    assert!(plain.contains("\"name\":\"mover\""));

    let with = clients(&from, &["export", "--with-digests"]);
    let with = String::from_utf8_lossy(&with.stdout).into_owned();
    assert!(!with.contains(secret) && with.contains("secret_digest") && with.contains(id), "{with}");
    let (_b, to) = fresh_db();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("moved.jsonl");
    std::fs::write(&file, &with).expect("write");
    let out = clients(&to, &["import", file.to_str().expect("path")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty(), "moved clients keep their secrets: none is made or printed");
    // Importing the same again is refused before anything is written (the IDs exist), even after a new
    // client in the file's first batch.
    let new_first = "{\"name\": \"new\", \"scopes\": [\"devices:read\"]}\n".to_owned() + &with;
    std::fs::write(&file, new_first).expect("write");
    let again = clients(&to, &["import", file.to_str().expect("path"), "--batch", "1"]);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists in the store already"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(again.stdout.is_empty(), "no secret printed");
    assert_eq!(list_len(&to), 1, "not even the new client of the first line");
    let server = Server::start(&to, &[]);
    assert_eq!(token(&server.base_url, id, secret).await.0, 201, "the moved client's secret works");
}
