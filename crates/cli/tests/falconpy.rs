//! Interoperability: FalconPy from PyPI, unmodified, against a real `talon serve`.
//!
//! The Python environment is made by the project's own `scripts/python-env.sh` (pinned FalconPy in
//! `.venv`). If it cannot be made, this test fails loudly: it is never skipped.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test]
async fn falconpy_works_unmodified_against_talon() {
    let setup =
        Command::new("bash").arg(repo_root().join("scripts/python-env.sh")).output().expect("run python-env.sh");
    assert!(
        setup.status.success(),
        "scripts/python-env.sh failed (the FalconPy interop test needs it):\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = String::from_utf8(setup.stdout).expect("utf-8").trim().to_owned();

    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", "5"]);
    let admin_id = server.printed("client_id:").expect("admin id");
    let admin_secret = server.printed("client_secret:").expect("admin secret");
    let member = "11112222333344445555666677778888";
    clients_json(&db, &["update", &admin_id, "--member-cid", member, "--json"]);
    let readonly = clients_json(&db, &["create", "--name", "reader", "--scope", "devices:read", "--json"]);
    // Wait until the running server has picked up the CLI's changes (its refresh interval is 250 ms).
    let base = server.base_url.clone();
    let (id, secret) = (admin_id.clone(), admin_secret.clone());
    let synced = within(Duration::from_secs(5), || {
        let (base, id, secret) = (base.clone(), id.clone(), secret.clone());
        async move {
            let fields = [("client_id", id.as_str()), ("client_secret", secret.as_str()), ("member_cid", member)];
            token_with(&base, &fields).await.0 == 201
        }
    })
    .await;
    assert!(synced.is_some(), "the server did not pick up the admin's new member CID");

    let out = Command::new(&python)
        .arg(repo_root().join("tests/interop/falconpy_interop.py"))
        .env("TALON_BASE_URL", &server.base_url)
        .env("TALON_ADMIN_ID", &admin_id)
        .env("TALON_ADMIN_SECRET", &admin_secret)
        .env("TALON_READONLY_ID", readonly["client_id"].as_str().expect("id"))
        .env("TALON_READONLY_SECRET", readonly["client_secret"].as_str().expect("secret"))
        .env("TALON_MEMBER_CID", member)
        .env("TALON_OTHER_CID", "99990000999900009999000099990000")
        .output()
        .expect("run the FalconPy script");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "FalconPy interop failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.logs()
    );
    for check in [
        "token_keeps_base_url",
        "pyjwt_verifies_and_introspection",
        "hosts_query_devices",
        "hosts_filter_and_details",
        "cspm_policy_settings",
        "readonly_cannot_contain",
        "admin_can_contain",
        "wrong_secret_rejected",
        "revoked_token_refused",
        "logout_revokes",
        "uber_token_and_revoke",
        "member_cid_login",
    ] {
        assert!(stdout.contains(&format!("ok {check}")), "check {check} did not pass:\n{stdout}");
    }
}
