//! `talon clients --remote ...` against a real `talon serve`, through the admin API with the printed
//! admin credentials in the environment; and the audit log of local changes.

mod common;

use std::process::{Command, Output};

use common::*;

fn remote(base: &str, id: &str, secret: &str, args: &[&str]) -> Output {
    talon_as(base, id, secret, &[&["clients", "--remote"], args].concat())
}

fn remote_json(base: &str, id: &str, secret: &str, args: &[&str]) -> serde_json::Value {
    let out = remote(base, id, secret, args);
    assert!(out.status.success(), "talon clients --remote {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test]
async fn every_clients_command_works_through_the_admin_api() {
    let (_db, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "2"]);
    let (admin, secret) =
        (server.printed("client_id:").expect("id"), server.printed("client_secret:").expect("secret"));
    let base = server.base_url.clone();
    let run = |args: &[&str]| remote_json(&base, &admin, &secret, args);

    let created =
        run(&["create", "--name", "remote-bot", "--scope", "devices:read", "--allow-ip", "127.0.0.1", "--json"]);
    let id = created["client_id"].as_str().expect("id").to_owned();
    let new_secret = created["client_secret"].as_str().expect("secret").to_owned();
    assert_eq!(created["allowed_ips"], serde_json::json!(["127.0.0.1/32"]));
    // Effective at once on the server (no refresh interval to wait for).
    assert_eq!(token(&base, &id, &new_secret).await.0, 201);

    let listed = run(&["list", "--json"]);
    assert_eq!(listed.as_array().expect("list").len(), 2);
    // Filters and pages go to the server as query parameters.
    let bots = run(&["list", "--name", "REMOTE", "--json"]);
    assert_eq!(bots.as_array().expect("list").len(), 1);
    assert_eq!(bots[0]["client_id"], id.as_str());
    let page = remote(&base, &admin, &secret, &["list", "--sort", "name", "--limit", "1", "--json"]);
    assert!(page.status.success());
    let stderr = String::from_utf8_lossy(&page.stderr).into_owned();
    let after = stderr.split("--after ").nth(1).expect("a next-page token").trim().to_owned();
    let rest = run(&["list", "--sort", "name", "--limit", "1", "--after", &after, "--json"]);
    let first: serde_json::Value = serde_json::from_slice(&page.stdout).expect("JSON");
    assert_ne!(first[0]["client_id"], rest[0]["client_id"], "the next page");
    assert_eq!(run(&["show", &id, "--json"])["name"], "remote-bot");
    let updated = run(&["update", &id, "--disable", "--json"]);
    assert_eq!(updated["enabled"], false);
    assert_eq!(token(&base, &id, &new_secret).await.0, 403, "disabled at once");
    run(&["update", &id, "--enable", "--json"]);
    let reset = run(&["reset-secret", &id, "--json"]);
    let third = reset["client_secret"].as_str().expect("secret");
    assert_eq!(token(&base, &id, &new_secret).await.0, 403, "the old secret is refused at once");
    assert_eq!(token(&base, &id, third).await.0, 201);

    let out = remote(&base, &admin, &secret, &["revoke-tokens", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = remote(&base, &admin, &secret, &["delete", &id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(token(&base, &id, third).await.0, 400, "unknown at once");

    let audit = run(&["audit", "--json"]);
    let actions: Vec<&str> = audit.as_array().expect("list").iter().map(|e| e["action"].as_str().expect("a")).collect();
    assert_eq!(
        actions,
        [
            "client.delete",
            "client.revoke-tokens",
            "client.reset-secret",
            "client.update",
            "client.update",
            "client.create"
        ]
    );
    assert!(audit.as_array().expect("list").iter().all(|e| e["actor"] == admin.as_str()));

    // Errors carry the server's status and message; the secret is never printed.
    let out = remote(&base, &admin, &secret, &["show", &id]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("404") && err.contains("no API client"), "{err}");
    let out = remote(&base, &admin, "wrong-secret", &["list"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains(&secret));
    let out =
        Command::new(BIN).args(["clients", "--remote", "list"]).env_remove("FALCON_CLIENT_ID").output().expect("run");
    assert!(!out.status.success(), "no credentials, no remote call");
}

#[test]
fn local_changes_are_audited_too() {
    let (_db, db) = fresh_db();
    let created = clients_json(&db, &["create", "--name", "local", "--scope", "devices:read", "--json"]);
    let id = created["client_id"].as_str().expect("id");
    clients_json(&db, &["update", id, "--name", "renamed", "--json"]);
    let out = clients(&db, &["revoke-tokens", id]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let audit = clients_json(&db, &["audit", "--json"]);
    let entries = audit.as_array().expect("list");
    let actions: Vec<&str> = entries.iter().map(|e| e["action"].as_str().expect("a")).collect();
    assert_eq!(actions, ["client.revoke-tokens", "client.update", "client.create"]);
    assert!(entries.iter().all(|e| e["source_ip"] == "local" && e["target"] == id));
    assert!(entries[0]["actor"].as_str().expect("actor").starts_with("cli:"));
    let text = String::from_utf8(clients(&db, &["audit"]).stdout).expect("utf-8");
    assert!(text.starts_with("3 of 3 entries"), "{text}");
    let out = clients(&db, &["update", id]);
    assert!(!out.status.success(), "an update that names nothing is refused");
    let out = clients(&db, &["create", "--name", " ", "--scope", "devices:read"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("name must not be empty"));
}

#[test]
fn remote_without_a_base_url_refuses_before_sending_the_credentials_anywhere() {
    let out = Command::new(BIN)
        .args(["clients", "--remote", "list"])
        .env("FALCON_CLIENT_ID", "0123456789abcdef0123456789abcdef")
        .env("FALCON_CLIENT_SECRET", "s3cretS3cretS3cretS3cretS3cretS3cretS3cr")
        .env_remove("FALCON_BASE_URL")
        .env_remove("FALCON_CLOUD")
        .output()
        .expect("run talon");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FALCON_BASE_URL"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
}
