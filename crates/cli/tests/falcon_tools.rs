//! Interoperability: CrowdStrike's own tools from PyPI, pinned and unmodified (caracara, falcon-toolkit,
//! falcon-mcp, FalconPy's Uber class), against a real `talon serve --demo-hosts N` started here.
//!
//! Each test runs one script of `tests/interop/` in the venv of `scripts/python-env.sh`; the script drives
//! the tool and checks what it sees against the server's own answers, printing `ok <check>` per check. If
//! the venv cannot be made, the test fails loudly: it is never skipped. Each run is bounded by
//! [`LIMIT`]; on a timeout the script's process group is killed and its output so far is shown. A check
//! a script marks as a known server problem prints `xfail <check>` instead, and passes here.

mod common;

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// The most one script may take. They take a few seconds each; the margin is for a loaded CI machine.
const LIMIT: Duration = Duration::from_secs(120);
/// Enough hosts for every filter of the scripts to select some and leave out others.
const DEMO_HOSTS: &str = "40";
/// More than one page of caracara's scroll (it asks for 5000 hosts a page).
const PAST_ONE_SCROLL_PAGE: &str = "5003";
/// What every script's API client may do: the Hosts and Host Group APIs, Flight Control's children and
/// the sensor download CCID.
const SCOPES: &[&str] =
    &["devices:read", "devices:write", "host-group:read", "host-group:write", "mssp:read", "sensor-installers:read"];
/// What falcon-mcp's other modules call (their operations' catalogue scopes), and the hosts the script
/// reads with plain HTTP.
const MCP_MODULE_SCOPES: &[&str] = &[
    "devices:read",
    "alerts:read",
    "alerts:write",
    "falconx-actors:read",
    "falconx-indicators:read",
    "falconx-reports:read",
    "spotlight-vulnerabilities:read",
    "ioc:read",
    "ioc:write",
    "real-time-response:read",
    "real-time-response:write",
    "real-time-response-audit:read",
    "cases:read",
    "cases:write",
    "case-templates:read",
    "case-templates:write",
    "prevention-policies:read",
    "prevention-policies:write",
    "sensor-update-policies:read",
    "sensor-update-policies:write",
    "firewall-management:read",
    "firewall-management:write",
    "device-control-policies:read",
    "device-control-policies:write",
    "response-policies:read",
    "response-policies:write",
    "content-update-policies:read",
    "content-update-policies:write",
    "sensor-usage:read",
    "assets:read",
];
/// How many Flight Control children the toolkit's parent client has: more than one page of the toolkit's
/// queryChildren (it asks for 10 a page).
const CHILDREN: u32 = 12;

/// The parent client's member CIDs: [`CHILDREN`] CIDs whose first eight digits (Talon's child names) differ.
/// The server seeds each with its own demo hosts.
fn children() -> Vec<String> {
    (1..=CHILDREN).map(|i| format!("{:08x}{:024x}", 0xc41d_0000 + i, i)).collect()
}

/// The venv's Python, made (or found up to date) by `scripts/python-env.sh`.
fn python() -> String {
    let setup =
        Command::new("bash").arg(repo_root().join("scripts/python-env.sh")).output().expect("run python-env.sh");
    assert!(
        setup.status.success(),
        "scripts/python-env.sh failed (the Falcon tools' interop tests need it):\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    String::from_utf8(setup.stdout).expect("utf-8").trim().to_owned()
}

/// What a bounded run left behind.
struct Run {
    success: bool,
    timed_out: bool,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs `command` in a process group of its own, killing the whole group (the toolkit script's `falcon`
/// children too) once `limit` passes.
fn run_bounded(mut command: Command, limit: Duration) -> Run {
    let started = Instant::now();
    let mut child = command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Read both pipes as they fill, so a chatty script never blocks and a killed one still shows its output.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        let text = Arc::new(Mutex::new(Vec::new()));
        let sink = text.clone();
        let reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock().expect("lock").extend_from_slice(&chunk[..n]);
            }
        });
        (text, reader)
    };
    let (stdout, out_reader) = drain(Box::new(child.stdout.take().expect("stdout")));
    let (stderr, err_reader) = drain(Box::new(child.stderr.take().expect("stderr")));
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break (Some(status), false);
        }
        if started.elapsed() > limit {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Grandchildren of a killed group may hold the pipes a moment longer; the readers end when they close.
    let _ = (out_reader.join(), err_reader.join());
    let text = |bytes: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&bytes.lock().expect("lock")).into_owned();
    Run {
        success: status.is_some_and(|s| s.success()),
        timed_out,
        stdout: text(&stdout),
        stderr: text(&stderr),
        took: started.elapsed(),
    }
}

/// The API client a script runs as.
enum Access<'a> {
    /// A client of these scopes whose member CIDs are these.
    Client { scopes: &'a [&'a str], children: &'a [&'a str] },
    /// The server's first admin, which holds every scope.
    Admin,
}

/// A client of [`SCOPES`] without children.
const HOSTS_CLIENT: Access<'static> = Access::Client { scopes: SCOPES, children: &[] };

/// Starts a server with `hosts` demo hosts per customer, gives `script` the client `access` names, runs it
/// bounded with `env` added, and checks that it passed and printed `ok <check>` for each of `checks` (so
/// a check dropped from the script is noticed here), and `ok` or `xfail` for each of `known` (the checks
/// it marks as failing for a known server problem).
async fn interop(script: &str, hosts: &str, access: Access<'_>, env: &[(&str, &str)], checks: &[&str], known: &[&str]) {
    let python = python();
    let (_dir, db) = fresh_db();
    let server = Server::start(&db, &["--demo-hosts", hosts]);
    let children = match access {
        Access::Client { children, .. } => children,
        Access::Admin => &[],
    };
    let (id, secret) = match access {
        Access::Client { scopes, children } => {
            let grants: Vec<&str> = scopes
                .iter()
                .flat_map(|s| ["--scope", s])
                .chain(children.iter().flat_map(|c| ["--member-cid", c]))
                .collect();
            client_with(&db, &server.base_url, script, &grants).await
        }
        Access::Admin => (
            server.printed("client_id:").expect("the first admin's ID"),
            server.printed("client_secret:").expect("the first admin's secret"),
        ),
    };
    let mut command = Command::new(&python);
    command
        .arg(repo_root().join("tests/interop").join(script))
        .env("TALON_BASE_URL", &server.base_url)
        .env("TALON_CLIENT_ID", &id)
        .env("TALON_CLIENT_SECRET", &secret)
        .env("TALON_DEMO_HOSTS", hosts)
        .env("TALON_MEMBER_CIDS", children.join(","))
        .env("PYTHONUNBUFFERED", "1")
        // `_talon.py` is imported: no __pycache__ left in the tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        // Nothing of the caller's Falcon setup may point a tool elsewhere.
        .env_remove("FALCON_BASE_URL")
        .env_remove("FALCON_CLIENT_ID")
        .env_remove("FALCON_CLIENT_SECRET")
        .env_remove("FALCON_MEMBER_CID")
        .env_remove("FALCON_TOOLKIT_PROFILE")
        .env_remove("FALCON_TOOLKIT_CONFIG_DIR")
        .env_remove("FALCON_TOOLKIT_CID")
        .envs(env.iter().copied());
    let run = run_bounded(command, LIMIT);
    println!("{script} took {:.1} s\n{}", run.took.as_secs_f64(), run.stdout);
    let report = || format!("{}\n{}\nserver log:\n{}", run.stdout, run.stderr, server.logs());
    assert!(!run.timed_out, "{script} did not finish within {LIMIT:?}:\n{}", report());
    assert!(run.success, "{script} failed:\n{}", report());
    for check in checks {
        assert!(run.stdout.contains(&format!("ok {check}:")), "{script}: check {check} did not pass:\n{}", report());
    }
    for check in known {
        let seen = ["ok", "xfail"].iter().any(|how| run.stdout.contains(&format!("{how} {check}:")));
        assert!(seen, "{script}: known-problem check {check} did not run:\n{}", report());
    }
}

#[tokio::test]
async fn caracara_works_unmodified_against_talon() {
    interop(
        "caracara_interop.py",
        DEMO_HOSTS,
        HOSTS_CLIENT,
        &[],
        &[
            "login",
            "describe_all",
            "filter_os",
            "filter_role",
            "filter_last_seen",
            "filter_hostnames",
            "filter_combined",
            "online_state",
            "contain_release",
            "hide_unhide",
            "tag_untag",
            "create_group",
            "describe_groups",
            "add_to_group",
            "get_group_members",
            "host_groups_field",
            "update_group",
            "remove_from_group",
            "many_groups",
            "ccid",
        ],
        &[],
    )
    .await;
}

/// caracara lists hosts only through the scroll, 5000 a page, following the offset token until it holds
/// `total` (a short page before that would make it loop for ever): a tenant of more than one page.
#[tokio::test]
async fn caracara_follows_the_scroll_past_one_page() {
    let checks = ["login", "describe_all"];
    let env = [("TALON_CHECKS", &*checks.join(","))];
    interop("caracara_interop.py", PAST_ONE_SCROLL_PAGE, HOSTS_CLIENT, &env, &checks, &[]).await;
}

#[tokio::test]
async fn falcon_mcp_works_unmodified_against_talon() {
    interop(
        "falcon_mcp_interop.py",
        DEMO_HOSTS,
        HOSTS_CLIENT,
        &[],
        &[
            "guide_patterns",
            "field_filters",
            "sorts",
            "paging",
            "host_details",
            "grouping_tags",
            "create_host_groups",
            "search_host_groups",
            "perform_host_group_action",
            "search_host_group_members",
            "update_host_group",
            "delete_host_groups",
        ],
        &[],
    )
    .await;
}

/// The toolkit as a single-CID user runs it, and through its Flight Control profile as the parent of
/// [`CHILDREN`] children does.
#[tokio::test]
async fn falcon_toolkit_works_unmodified_against_talon() {
    let children = children();
    let children: Vec<&str> = children.iter().map(String::as_str).collect();
    interop(
        "falcon_toolkit_interop.py",
        DEMO_HOSTS,
        Access::Client { scopes: SCOPES, children: &children },
        &[],
        &[
            "search_os_csv",
            "search_hostnames",
            "search_all_roles",
            "contain",
            "uncontain",
            "abort",
            "mssp_children",
            "mssp_cid_option",
            "mssp_cid_environment",
            "mssp_choose_child",
        ],
        &[],
    )
    .await;
}

/// falcon-mcp's modules whose routes the generic engine answers (detections, intel, spotlight, IOC, RTR,
/// cases, policies, sensor usage, discover): every search tool empty at first, then seeing the records
/// made through the API.
#[tokio::test]
async fn falcon_mcp_modules_work_unmodified_against_talon() {
    interop(
        "falcon_mcp_modules_interop.py",
        DEMO_HOSTS,
        Access::Client { scopes: MCP_MODULE_SCOPES, children: &[] },
        &[],
        &[
            "detections",
            "aggregate_detections",
            "intel",
            "spotlight",
            "discover",
            "iocs",
            "remove_iocs",
            "rtr_sessions",
            "cases",
            "policies",
            "update_detections",
            "sensor_usage",
            "remove_iocs_by_filter",
            "delete_rtr_session",
            "create_case",
            "device_control_policies",
        ],
        &[],
    )
    .await;
}

/// FalconPy's Uber class round trips (create, get, query by FQL, update, get, delete, get) on the generic
/// engine's resources that have all five routes, sampled from the catalogue by the script (100 operations
/// over 20 resources of 20 collections), as the first admin, which holds every scope.
#[tokio::test]
async fn falconpy_uber_round_trips_on_generic_resources() {
    interop("falconpy_uber_roundtrips.py", "1", Access::Admin, &[], &["sample", "round_trips"], &[]).await;
}
