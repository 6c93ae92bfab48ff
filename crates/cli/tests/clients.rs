//! `talon clients ...` end to end on a fresh database file.

mod common;

use common::*;

#[test]
fn clients_lifecycle_with_json_output() {
    let (_dir, db) = fresh_db();
    let member = "00112233445566778899aabbccddeeff";
    let created = clients_json(
        &db,
        &[
            "create",
            "--name",
            "ci-bot",
            "--scope",
            "devices:read",
            "--scope",
            "devices:write",
            "--member-cid",
            member,
            "--allow-ip",
            "10.0.0.0/8",
            "--allow-ip",
            "192.0.2.1",
            "--json",
        ],
    );
    let id = created["client_id"].as_str().expect("client_id").to_owned();
    let secret = created["client_secret"].as_str().expect("client_secret").to_owned();
    assert!(talon_wire::ids::is_hex32(&id));
    assert_eq!(secret.len(), 40);
    assert!(secret.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(created["name"], "ci-bot");
    assert_eq!(created["scopes"], serde_json::json!(["devices:read", "devices:write"]));
    assert_eq!(created["member_cids"], serde_json::json!([member]));
    assert_eq!(created["allowed_ips"], serde_json::json!(["10.0.0.0/8", "192.0.2.1/32"]));
    assert!(talon_wire::ids::is_hex32(created["cid"].as_str().expect("cid")));

    let listed = clients_json(&db, &["list", "--json"]);
    assert_eq!(listed.as_array().expect("list").len(), 1);
    assert!(listed[0].get("client_secret").is_none(), "the secret is shown only on create");
    let shown = clients_json(&db, &["show", &id, "--json"]);
    assert_eq!(shown["client_id"], id.as_str());
    assert!(shown.get("client_secret").is_none());

    let updated = clients_json(&db, &["update", &id, "--disable", "--scope", "detects:read", "--json"]);
    assert_eq!(updated["enabled"], false);
    assert_eq!(updated["scopes"], serde_json::json!(["detects:read"]));
    assert_eq!(updated["member_cids"], serde_json::json!([member]), "lists not named are kept");
    let cleared = clients_json(&db, &["update", &id, "--enable", "--clear-allowed-ips", "--json"]);
    assert_eq!(cleared["enabled"], true);
    assert_eq!(cleared["allowed_ips"], serde_json::json!([]));

    let reset = clients_json(&db, &["reset-secret", &id, "--json"]);
    let new_secret = reset["client_secret"].as_str().expect("new secret");
    assert_ne!(new_secret, secret);

    let text = clients(&db, &["list"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains(&id));
    assert!(!String::from_utf8_lossy(&text.stdout).contains(new_secret));

    assert!(clients(&db, &["delete", &id]).status.success());
    let gone = clients(&db, &["show", &id]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("no API client"));
}

/// The names `args` lists, and the next-page token printed to stderr, if any.
fn listed(db: &str, args: &[&str]) -> (Vec<String>, Option<String>) {
    let out = clients(db, &[&["list", "--json"], args].concat());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let names = list.as_array().expect("list").iter().map(|c| c["name"].as_str().expect("name").to_owned()).collect();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let next = stderr.split("--after ").nth(1).map(|t| t.trim().to_owned());
    (names, next)
}

#[test]
fn list_filters_sorts_and_pages_by_seek() {
    let (_dir, db) = fresh_db();
    for (name, scope) in [
        ("delta", "devices:read"),
        ("Alpha bot", "devices:write"),
        ("charlie bot", "devices:read"),
        ("bravo", "devices:read"),
    ] {
        clients_json(&db, &["create", "--name", name, "--scope", scope, "--json"]);
    }
    clients_json(&db, &["create", "--name", "echo", "--scope", "devices:read", "--disabled", "--json"]);
    let (all, next) = listed(&db, &["--sort", "name"]);
    assert_eq!(all, ["Alpha bot", "bravo", "charlie bot", "delta", "echo"]);
    assert_eq!(next, None, "everything, no next page");

    // One page at a time, each from the token the last printed.
    let (first, next) = listed(&db, &["--sort", "name.desc", "--limit", "2"]);
    assert_eq!(first, ["echo", "delta"]);
    let token = next.expect("a next page");
    let (second, next) = listed(&db, &["--sort", "name.desc", "--limit", "2", "--after", &token]);
    assert_eq!(second, ["charlie bot", "bravo"]);
    let (third, next) = listed(&db, &["--sort", "name.desc", "--limit", "2", "--after", &next.expect("next")]);
    assert_eq!((third, next), (vec!["Alpha bot".to_owned()], None));

    assert_eq!(listed(&db, &["--name", "BOT", "--sort", "name"]).0, ["Alpha bot", "charlie bot"]);
    assert_eq!(listed(&db, &["--scope", "devices:write"]).0, ["Alpha bot"]);
    assert_eq!(listed(&db, &["--enabled", "false"]).0, ["echo"]);

    for bad in [
        &["--limit", "0"][..],
        &["--limit", "501"],
        &["--sort", "secret"],
        &["--limit", "2", "--after", "junk"],
        &["--enabled", "maybe"],
    ] {
        let out = clients(&db, &[&["list"], bad].concat());
        assert!(!out.status.success(), "{bad:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).trim().is_empty(), "{bad:?} says why");
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let (_dir, db) = fresh_db();
    for (args, expected) in [
        (vec!["create", "--name", "x", "--scope", "hosts:read"], "unknown resource"),
        (vec!["create", "--name", "x", "--scope", "devices:admin"], "not of the form"),
        (vec!["create", "--name", "x", "--scope", "devices:read", "--cid", "XYZ"], "32 lowercase hex"),
        (vec!["create", "--name", "x", "--scope", "devices:read", "--allow-ip", "10.0.0.0/33"], "not an IP network"),
        (vec!["create", "--name", "x"], "--scope"),
        (vec!["show", "not-an-id"], "32 lowercase hex"),
        (vec!["update", "0123456789abcdef0123456789abcdef", "--enable", "--disable"], "cannot be used with"),
        (vec!["delete", "0123456789abcdef0123456789abcdef"], "no API client"),
    ] {
        let out = clients(&db, &args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
}
