//! `talon ops list|show` (the catalogue, offline) and the two argument orders of `talon clients`.

mod common;

use std::process::Command;

use common::*;

fn talon(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(BIN).args(args).env_remove("TALON_DATABASE_URL").output().expect("run talon");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn ops_list_has_every_operation_with_scope_and_answer() {
    let (ok, stdout, _) = talon(&["ops", "list"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines.len() >= 1600, "{} operations", lines.len());
    let query = lines.iter().find(|l| l.starts_with("QueryDevicesByFilter\t")).expect("QueryDevicesByFilter");
    assert_eq!(*query, "QueryDevicesByFilter\tGET\t/devices/queries/devices/v1\tdevices:read\temulated");
    let groups = lines.iter().find(|l| l.starts_with("queryHostGroups\t")).expect("queryHostGroups");
    assert!(groups.ends_with("\thost-group:read\temulated"), "{groups}");
    let alerts = lines.iter().find(|l| l.starts_with("GetQueriesAlertsV2\t")).expect("GetQueriesAlertsV2");
    assert!(alerts.ends_with("\tgeneric") && alerts.contains("\talerts:read"), "{alerts}");
    let odd = lines.iter().find(|l| l.contains("/aspm-api-gateway/api/v1/")).expect("a route of no conventional shape");
    assert!(odd.ends_with("\t501"), "{odd}");
    let generic = lines.iter().filter(|l| l.ends_with("\tgeneric")).count();
    assert!(generic >= 1200, "{generic} generic operations");
    // An inferred scope is marked.
    assert!(lines.iter().any(|l| l.split('\t').nth(3).is_some_and(|s| s.ends_with('?'))));

    let (ok, stdout, _) = talon(&["ops", "list", "--collection", "host_group", "--json"]);
    assert!(ok);
    let ops: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(ops.as_array().map(Vec::len), Some(9));
    assert!(ops.as_array().expect("list").iter().all(|o| o["collection"] == "host_group"));

    let (ok, stdout, _) = talon(&["ops", "list", "--search", "DEVICES-SCROLL"]);
    assert!(ok);
    assert!(stdout.lines().any(|l| l.starts_with("QueryDevicesByFilterScroll\t")), "{stdout}");
    let (ok, _, stderr) = talon(&["ops", "list", "--collection", "no_such"]);
    assert!(!ok && stderr.contains("no collection"), "{stderr}");
}

#[test]
fn ops_show_lists_parameters_and_a_wrong_case_names_the_right_id() {
    let (ok, stdout, _) = talon(&["ops", "show", "QueryDevicesByFilterScroll"]);
    assert!(ok, "{stdout}");
    assert!(stdout.contains("route:      GET /devices/queries/devices-scroll/v1"), "{stdout}");
    assert!(stdout.contains("scope:      devices:read (known)"), "{stdout}");
    for param in ["offset (query, string)", "limit (query, integer)", "sort (query, string)", "filter (query, string)"]
    {
        assert!(stdout.contains(param), "{param} missing:\n{stdout}");
    }
    let (ok, stdout, _) = talon(&["ops", "show", "queryPreventionPolicies"]);
    assert!(ok);
    assert!(stdout.contains("this server: generic (query of the resource policy/prevention)"), "{stdout}");
    let (ok, stdout, _) = talon(&["ops", "show", "GetDeviceDetailsV2", "--json"]);
    assert!(ok);
    let op: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(op["params"][0]["name"], "ids");
    assert_eq!(op["params"][0]["required"], true);
    assert_eq!(op["answer"], "emulated");

    let (ok, _, stderr) = talon(&["ops", "show", "querydevicesbyfilterscroll"]);
    assert!(!ok);
    assert!(stderr.contains("case-sensitive") && stderr.contains("\"QueryDevicesByFilterScroll\""), "{stderr}");
    let (ok, _, stderr) = talon(&["ops", "show", "QueryDevicesByFiltr"]);
    assert!(!ok && stderr.contains("QueryDevicesByFilter"), "{stderr}");
}

#[test]
fn a_deprecated_alias_shows_its_current_operation() {
    let catalogue = talon_wire::catalogue::catalogue();
    let op = catalogue.operations().iter().find(|o| !o.aliases.is_empty()).expect("an alias");
    let (ok, stdout, _) = talon(&["ops", "show", &op.aliases[0]]);
    assert!(ok);
    assert!(stdout.contains(&format!("is a deprecated alias of {}", op.id)), "{stdout}");
}

#[test]
fn clients_takes_the_database_before_or_after_the_subcommand() {
    let (_db, url) = fresh_db();
    let (ok, stdout, stderr) =
        talon(&["clients", "create", "--database", &url, "--name", "after", "--scope", "devices:read", "--json"]);
    assert!(ok, "{stderr}");
    let after: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let (ok, stdout, stderr) =
        talon(&["clients", "--database", &url, "create", "--name", "before", "--scope", "devices:read", "--json"]);
    assert!(ok, "{stderr}");
    let before: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let (ok, stdout, _) = talon(&["clients", "list", "--database", &url, "--json"]);
    assert!(ok);
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    let ids: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|c| c["client_id"].as_str()).collect();
    for created in [&after, &before] {
        assert!(ids.contains(&created["client_id"].as_str().expect("id")), "{listed}");
    }
}
