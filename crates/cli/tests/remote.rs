//! The CLI's client side (`talon token`, `talon request`, `talon revoke`) against a real server, with
//! credentials from the environment as a new user would set them.

mod common;

use std::process::{Command, Output};

use common::*;

fn talon(base: &str, id: &str, secret: &str, args: &[&str]) -> Output {
    talon_as(base, id, secret, args)
}

#[tokio::test]
async fn token_request_and_revoke_with_credentials_from_the_environment() {
    let (_db, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "4"]);
    let created = clients_json(&db, &["create", "--name", "cli", "--scope", "devices:read", "--json"]);
    let (id, secret) = (created["client_id"].as_str().expect("id"), created["client_secret"].as_str().expect("secret"));
    let base = server.base_url.clone();
    // The server picks up the new client within its refresh interval.
    assert!(within(std::time::Duration::from_secs(2), || async { token(&base, id, secret).await.0 == 201 })
        .await
        .is_some());

    let out = talon(&base, id, secret, &["token"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let jwt = String::from_utf8(out.stdout).expect("utf-8").trim().to_owned();
    assert_eq!(jwt.split('.').count(), 3, "a JWT");

    let out = talon(&base, id, secret, &["request", "GET", "/devices/queries/devices/v1", "--query", "limit=2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON answer");
    assert_eq!(body["resources"].as_array().expect("ids").len(), 2);
    assert_eq!(body["meta"]["pagination"]["total"], 4);

    let out = talon(&base, id, secret, &["revoke", &jwt]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(get_devices(&base, &jwt).await, 401, "the revoked token is refused");

    // A route the client has no scope for: non-zero, with status, message and trace ID.
    let out = talon(
        &base,
        id,
        secret,
        &[
            "request",
            "POST",
            "/devices/entities/devices-actions/v2",
            "--query",
            "action_name=contain",
            "--data",
            r#"{"ids":["x"]}"#,
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("403") && err.contains("access denied, authorization failed") && err.contains("trace ID"),
        "{err}"
    );
}

#[tokio::test]
async fn failures_are_clear_and_never_show_the_secret() {
    let (_db, db) = fresh_db();
    let server = Server::start(&db, &[]);
    let id = server.printed("client_id:").expect("id");
    let out = talon(&server.base_url, &id, "WrongSecretValue123", &["token"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("403") && err.contains("Not Authorized") && err.contains("trace ID"), "{err}");
    assert!(
        !err.contains("WrongSecretValue123") && !String::from_utf8_lossy(&out.stdout).contains("WrongSecretValue123")
    );

    let out = talon("http://127.0.0.1:1", &id, "x", &["token"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("cannot reach the API") && !err.contains("panicked"), "{err}");

    let missing = Command::new(BIN)
        .args(["token"])
        .env_remove("FALCON_CLIENT_ID")
        .env_remove("FALCON_CLIENT_SECRET")
        .output()
        .expect("run");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("FALCON_CLIENT_ID"));

    let help =
        Command::new(BIN).args(["token", "--help"]).env("FALCON_CLIENT_SECRET", "HelpLeak42").output().expect("run");
    assert!(!String::from_utf8_lossy(&help.stdout).contains("HelpLeak42"), "--help hides the secret's value");
}
