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
