"""falcon-mcp's other modules against a running Talon server (the generic engine).

falcon-mcp 0.20.0 (pinned by scripts/python-env.sh) is run unmodified, its
tools called in-process as falcon_mcp_interop.py does (through _talon.McpTools),
with the modules whose routes Talon answers through its generic engine:
detections (alerts), intel, spotlight, ioc, rtr, cases, policies,
sensorusage and discover. Each search tool must get 2xx answers in the
Falcon envelope and show what the server holds: first an empty result (the
customer holds none), then, where the API has a create route, the records
made here through it (with plain HTTP, or through the tool's own create when
it has one), compared with the server's own records read with plain HTTP.

  - detections: the demo hosts' alerts first, then those made here (marked
    talon_probe, so searches can tell them apart): search_detections (GetQueriesAlertsV2, then
    PostEntitiesAlertsV2 by composite_ids) by severity, by a dotted field
    (device.hostname) and sorted; get_detection_details; aggregate_detections
    (PostAggregatesAlertsV2, terms); update_detections (PatchEntitiesAlertsV3);
  - intel: search_actors, search_indicators, search_reports (no create route:
    empty envelopes, with filters, sorts and q);
  - spotlight: search_vulnerabilities (empty, `after` paging);
  - ioc: add_ioc (one, and a batch of `indicators`), search_iocs by type, by
    value, sorted, paged by `after`; remove_iocs by IDs and by filter;
  - rtr: init_rtr_session (creates a session record), search_rtr_sessions,
    get_rtr_session_details, aggregate_rtr_sessions, pulse_rtr_session,
    search_rtr_audit_sessions, delete_rtr_session;
  - cases: search_cases and get_cases over cases made by POST
    /cases/entities/cases/v2; create_case (PUT); list_case_templates;
  - policies: for each of the six policy types create_policy,
    search_policies, update_policy, perform_policy_action (disable, enable),
    search_policy_members, delete_policies;
  - sensorusage: search_sensor_usage (GetSensorUsageWeekly, an aggregate);
  - discover: search_applications, search_unmanaged_assets,
    search_managed_assets (empty).

A check may be marked @known_problem (see _talon.py) while a server
misbehaviour it found is being fixed; none is marked now.

Environment (set by crates/cli/tests/falcon_tools.rs): TALON_BASE_URL,
TALON_CLIENT_ID, TALON_CLIENT_SECRET (a client with the scopes of these
modules), TALON_DEMO_HOSTS.
"""
import sys
from datetime import datetime, timedelta, timezone

from _talon import McpTools, Oracle, environment, expect, main

MODULES = {"detections", "intel", "spotlight", "ioc", "rtr", "cases", "policies", "sensorusage", "discover"}
PREFIX = "talon-mcp"


class Run:
    def __init__(self):
        env = environment("falcon_mcp_modules_interop")
        self.demo_hosts = env.demo_hosts
        self.oracle = Oracle(env)
        self.hosts = sorted(self.oracle.records().values(), key=lambda r: r["hostname"])
        expect(len(self.hosts) == self.demo_hosts, f"the oracle sees {len(self.hosts)} of {self.demo_hosts} hosts")
        self.mcp = McpTools(env, MODULES)
        self.tool = self.mcp.call

    def search(self, name, **arguments):
        """A search tool's envelope: {"results", "pagination": {"total", ...}}, and filter_used as sent."""
        result = self.tool(name, **arguments)
        expect(isinstance(result, dict) and {"results", "pagination"} <= set(result),
               f"{name}({arguments}) is not a results envelope: {str(result)[:300]}")
        expect(isinstance(result["results"], list), f"{name}: results {str(result['results'])[:200]}")
        if "filter" in arguments:
            expect(result.get("filter_used") == arguments["filter"],
                   f"{name}: filter_used {result.get('filter_used')!r}, sent {arguments['filter']!r}")
        return result

    def expect_records(self, name, want, **arguments):
        """`name`'s search finds exactly the records `want` (by ID, equal to them), total included."""
        result = self.search(name, **arguments)
        got = {r.get("id"): r for r in result["results"]}
        expect(set(got) == {r["id"] for r in want} and len(got) == len(result["results"]),
               f"{name}({arguments}): {sorted(got)}, the server holds {sorted(r['id'] for r in want)}")
        for record in want:
            expect(got[record["id"]] == record, f"{name}: {record['id']} is not the server's record: "
                                                f"{got[record['id']]} != {record}")
        expect(result["pagination"]["total"] == len(want), f"{name}({arguments}): pagination {result['pagination']}")
        return result

    def expect_empty(self, name, **arguments):
        return self.expect_records(name, [], **arguments)


def now_minus(**delta):
    return (datetime.now(timezone.utc) - timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- detections (alerts) -----------------------------------------------------------------------------------

ALERTS = "/alerts/entities/alerts/v2"


def alerts(run, ids):
    """The server's alert records, by composite_ids (PostEntitiesAlertsV2 with plain HTTP)."""
    return run.oracle.send("POST", ALERTS, 200, {"composite_ids": list(ids)})["resources"]


def all_alerts(run):
    """Every alert the server holds (the demo hosts' alerts and any made here), with plain HTTP."""
    ids = run.oracle.send("GET", "/alerts/queries/alerts/v2", 200, limit=10000)["resources"]
    return alerts(run, ids) if ids else []


# The alerts made here carry this field, so that searches can tell them from the demo hosts' alerts.
MINE = f"talon_probe:'{PREFIX}'"


def check_detections(run):
    demo = all_alerts(run)
    expect(demo, "the demo hosts have alerts")
    # Its default page is 10: every alert asks for a page that holds them all.
    run.expect_records("falcon_search_detections", demo, limit=1000)
    run.expect_empty("falcon_search_detections", filter=MINE, sort="severity.desc")
    host = run.hosts[0]
    specs = [
        ("Critical", 90, "new", "Execution", host, now_minus(hours=1)),
        ("High", 70, "new", "Persistence", host, now_minus(hours=2)),
        ("High", 60, "closed", "Execution", run.hosts[1], now_minus(days=3)),
    ]
    body = {"resources": [{
        "severity_name": name, "severity": severity, "status": status, "tactic": tactic, "product": "epp",
        "device": {"device_id": h["device_id"], "hostname": h["hostname"]}, "timestamp": ts, "talon_probe": PREFIX,
    } for name, severity, status, tactic, h, ts in specs]}
    made = run.oracle.send("POST", ALERTS, 201, body)["resources"]
    run.alert_ids = [a["id"] for a in made]
    served = alerts(run, run.alert_ids)
    expect([a["id"] for a in served] == run.alert_ids, f"the server's alerts: {served}")
    run.expect_records("falcon_search_detections", demo + served, limit=1000)
    every = run.expect_records("falcon_search_detections", served, filter=MINE)
    high = [a for a in served if a["severity_name"] == "High"]
    run.expect_records("falcon_search_detections", high, filter=f"{MINE}+severity_name:'High'")
    run.expect_records("falcon_search_detections", served[:2], filter=f"{MINE}+device.hostname:'{host['hostname']}'")
    run.expect_records("falcon_search_detections", served[:2], filter=f"{MINE}+timestamp:>'now-1d'")
    ordered = run.search("falcon_search_detections", filter=MINE, sort="severity.desc")["results"]
    expect([a["severity"] for a in ordered] == [90, 70, 60], f"severity.desc: {[a['severity'] for a in ordered]}")
    paged = run.search("falcon_search_detections", filter=MINE, sort="severity.asc", limit=1, offset=1)
    expect([a["severity"] for a in paged["results"]] == [70] and paged["pagination"]["total"] == 3,
           f"limit 1 offset 1: {paged}")
    details = run.tool("falcon_get_detection_details", listing=True, ids=run.alert_ids[1:])
    expect(details == served[1:], f"get_detection_details: {details}")
    return (f"{len(demo)} demo alerts, then {len(every['results'])} made ones by severity, device.hostname, "
            f"timestamp, sort and page")


def check_aggregate_detections(run):
    answer = run.tool("falcon_aggregate_detections", listing=True, field="severity_name", filter=MINE)
    expect(len(answer) == 1 and answer[0].get("name") == "alert_aggregation", f"aggregate: {answer}")
    buckets = {str(b["label"]).lower(): b["count"] for b in answer[0]["buckets"]}
    expect(buckets == {"high": 2, "critical": 1}, f"severity_name buckets: {answer[0]['buckets']}")
    answer = run.tool("falcon_aggregate_detections", listing=True, field="tactic", filter=f"{MINE}+status:'new'")
    buckets = {str(b["label"]).lower(): b["count"] for b in answer[0]["buckets"]}
    expect(buckets == {"execution": 1, "persistence": 1}, f"tactic buckets of new alerts: {answer[0]['buckets']}")
    return f"terms of severity_name and of tactic (filtered): {buckets}"


def check_update_detections(run):
    target = run.alert_ids[0]
    answer = run.tool("falcon_update_detections", listing=True, ids=[target], status="in_progress",
                      add_tags=[PREFIX])
    expect(not any(isinstance(a, dict) and "error" in a for a in answer), f"update_detections: {answer}")
    record = alerts(run, [target])[0]
    expect(record.get("status") == "in_progress" and PREFIX in record.get("tags", []),
           f"after update_detections(status=in_progress, add_tags): status {record.get('status')!r}, "
           f"tags {record.get('tags')!r}, action_parameters {record.get('action_parameters')!r}")
    run.expect_records("falcon_search_detections", [record], filter=f"{MINE}+status:'in_progress'")
    return "status in_progress and a tag, seen by the server and the search"


# --- intel, spotlight, discover, sensor usage (no create route: empty) -------------------------------------

def check_intel(run):
    for name, sort in (("falcon_search_actors", "created_date.desc"), ("falcon_search_indicators", "published_date.desc"),
                       ("falcon_search_reports", "created_date.desc")):
        run.expect_empty(name)
        run.expect_empty(name, filter="name:'BEAR*'", sort=sort, limit=20, offset=0)
        run.expect_empty(name, q="panda")
    run.expect_empty("falcon_search_indicators", filter="type:'domain'", include_deleted=True, include_relations=True)
    return "actors, indicators and reports: empty envelopes with filters, sorts, paging and q"


def check_spotlight(run):
    run.expect_empty("falcon_search_vulnerabilities", filter="status:'open'")
    result = run.expect_empty("falcon_search_vulnerabilities", filter="cve.severity:'CRITICAL'",
                              sort="created_timestamp.desc", facet=["cve", "host_info"], limit=50)
    expect(result["pagination"].get("next") is None, f"an empty query's next page: {result['pagination']}")
    return "vulnerabilities: empty envelopes (after paging, facets)"


def check_discover(run):
    run.expect_empty("falcon_search_applications", filter="name:'Chrome'")
    run.expect_empty("falcon_search_applications", filter="vendor:'Google*'", facet="host_info", sort="name.asc")
    run.expect_empty("falcon_search_unmanaged_assets")
    run.expect_empty("falcon_search_unmanaged_assets", filter="platform_name:'Windows'", sort="hostname.asc")
    run.expect_empty("falcon_search_managed_assets")
    return "applications, unmanaged and managed assets: empty envelopes"


def check_sensor_usage(run):
    for arguments in ({}, {"filter": "event_date:'2024-06-11'"}, {"filter": "period:'30'"}):
        answer = run.tool("falcon_search_sensor_usage", listing=True, **arguments)
        expect(isinstance(answer, list), f"search_sensor_usage({arguments}): {answer}")
    return f"GetSensorUsageWeekly answered 2xx for 3 filters ({answer})"


# --- ioc -----------------------------------------------------------------------------------------------------

IOCS = "/iocs/entities/indicators/v1"


def iocs(run, ids):
    return run.oracle.get(IOCS, ids=list(ids))["resources"]


def check_iocs(run):
    run.expect_empty("falcon_search_iocs")
    run.expect_empty("falcon_search_iocs", filter="type:'domain'", sort="modified_on.desc")
    one = run.tool("falcon_add_ioc", listing=True, type="domain", value=f"{PREFIX}.example", action="detect",
                   severity="high", description="made by falcon-mcp", platforms=["windows", "mac"],
                   applied_globally=True, tags=[PREFIX])
    expect(len(one) == 1 and one[0].get("value") == f"{PREFIX}.example", f"add_ioc: {one}")
    batch = run.tool("falcon_add_ioc", listing=True, comment="a batch", indicators=[
        {"type": "ipv4", "value": "203.0.113.7", "action": "prevent", "severity": "medium", "platforms": ["linux"],
         "applied_globally": True},
        {"type": "ipv4", "value": "203.0.113.8", "action": "detect", "severity": "low", "platforms": ["linux"],
         "applied_globally": True},
    ])
    expect(len(batch) == 2 and all(i.get("comment") == "a batch" for i in batch), f"add_ioc batch: {batch}")
    run.ioc_ids = [i["id"] for i in one + batch]
    served = iocs(run, run.ioc_ids)
    expect(sorted(i["id"] for i in served) == sorted(run.ioc_ids), f"the server's IOCs: {served}")
    by_id = {i["id"]: i for i in served}
    run.expect_records("falcon_search_iocs", served)
    run.expect_records("falcon_search_iocs", [by_id[i["id"]] for i in one], filter="type:'domain'")
    run.expect_records("falcon_search_iocs", [by_id[i["id"]] for i in batch], filter="type:'ipv4'+applied_globally:true")
    run.expect_records("falcon_search_iocs", [by_id[batch[0]["id"]]], filter="value:'203.0.113.7'")
    values = [i["value"] for i in run.search("falcon_search_iocs", sort="value.desc")["results"]]
    expect(values == sorted(values, reverse=True) and len(values) == 3, f"value.desc: {values}")
    # Pages of one, by the `after` token the previous page gave.
    pages, after = [], None
    for _ in range(4):
        arguments = {"limit": 1, "sort": "value.asc"} | ({"after": after} if after else {})
        page = run.search("falcon_search_iocs", **arguments)
        pages.extend(i["value"] for i in page["results"])
        after = page["pagination"].get("next")
        if not after:
            break
    expect(pages == sorted(values), f"pages by after: {pages}")
    return f"{len(served)} IOCs made by add_ioc, found by type, value and a combined filter, sorted, paged by after"


def check_remove_iocs(run):
    first = run.ioc_ids[0]
    answer = run.tool("falcon_remove_iocs", ids=[first], comment="done")
    expect(answer.get("status") == "deleted" and answer.get("count") == 1, f"remove_iocs by id: {answer}")
    left = iocs(run, run.ioc_ids[1:])
    run.expect_records("falcon_search_iocs", left)
    run.tool("falcon_remove_iocs", ids=run.ioc_ids[1:])
    run.expect_empty("falcon_search_iocs")
    return "removed by ID, one then the rest; the search is empty again"


def check_remove_iocs_by_filter(run):
    made = run.oracle.send("POST", IOCS, 201, {"indicators": [
        {"type": "domain", "value": f"gone.{PREFIX}.example", "action": "detect", "applied_globally": True}]})
    answer = run.tool("falcon_remove_iocs", filter=f"value:'gone.{PREFIX}.example'")
    expect(answer.get("count") == 1, f"remove_iocs by filter: {answer}")
    run.expect_empty("falcon_search_iocs")
    return f"removed {made['resources'][0]['id']} by filter"


# --- rtr -----------------------------------------------------------------------------------------------------

SESSIONS = "/real-time-response/entities/sessions/GET/v1"


def check_rtr_sessions(run):
    run.expect_empty("falcon_search_rtr_sessions")
    host = run.hosts[0]
    opened = run.tool("falcon_init_rtr_session", listing=True, device_id=host["device_id"], queue_offline=True)
    expect(len(opened) == 1 and opened[0].get("device_id") == host["device_id"], f"init_rtr_session: {opened}")
    run.session_id = opened[0]["id"]
    served = run.oracle.send("POST", SESSIONS, 200, {"ids": [run.session_id]})["resources"]
    expect(served == opened, f"init_rtr_session answered {opened}, the server holds {served}")
    run.expect_records("falcon_search_rtr_sessions", served)
    run.expect_records("falcon_search_rtr_sessions", served, filter=f"device_id:'{host['device_id']}'",
                       sort="created_timestamp.desc")
    run.expect_empty("falcon_search_rtr_sessions", filter=f"device_id:'{run.hosts[1]['device_id']}'")
    details = run.tool("falcon_get_rtr_session_details", listing=True, ids=[run.session_id])
    expect(details == served, f"get_rtr_session_details: {details}")
    answer = run.tool("falcon_aggregate_rtr_sessions", listing=True, field="device_id")
    buckets = [(str(b["label"]).lower(), b["count"]) for b in answer[0]["buckets"]]
    expect(buckets == [(host["device_id"].lower(), 1)], f"aggregate_rtr_sessions: {answer}")
    pulse = run.tool("falcon_pulse_rtr_session", listing=True, device_id=host["device_id"])
    expect(len(pulse) == 1, f"pulse_rtr_session: {pulse}")
    run.expect_empty("falcon_search_rtr_audit_sessions")
    run.expect_empty("falcon_search_rtr_audit_sessions", filter="created_at:>'now-7d'", with_command_info=True)
    return "a session opened by init_rtr_session, found, read, aggregated and pulsed; no audit sessions"


def check_delete_rtr_session(run):
    run.tool("falcon_delete_rtr_session", session_id=run.session_id)
    run.expect_empty("falcon_search_rtr_sessions")
    return "deleted; the search is empty again"


# --- cases ---------------------------------------------------------------------------------------------------

CASES = "/cases/entities/cases/v2"
TEMPLATES = "/casemgmt/entities/templates/v1"


def check_cases(run):
    run.expect_empty("falcon_search_cases")
    run.expect_empty("falcon_search_cases", filter="status:'new'", sort="created_timestamp.desc", q="talon")
    body = {"resources": [{"name": f"{PREFIX}-{i}", "severity": 20 * i, "status": status, "tags": [PREFIX]}
                          for i, status in ((1, "new"), (2, "in_progress"), (3, "new"))]}
    made = run.oracle.send("POST", CASES, 201, body)["resources"]
    ids = [c["id"] for c in made]
    served = run.oracle.send("POST", CASES, 200, {"ids": ids})["resources"]
    expect([c["id"] for c in served] == ids, f"the server's cases: {served}")
    run.expect_records("falcon_search_cases", served)
    run.expect_records("falcon_search_cases", [served[0], served[2]], filter="status:'new'")
    run.expect_records("falcon_search_cases", [served[2]], filter="severity:>50")
    ordered = [c["name"] for c in run.search("falcon_search_cases", sort="severity.desc")["results"]]
    expect(ordered == [f"{PREFIX}-3", f"{PREFIX}-2", f"{PREFIX}-1"], f"severity.desc: {ordered}")
    got = run.tool("falcon_get_cases", listing=True, ids=ids[:2])
    expect(got == served[:2], f"get_cases: {got}")
    expect(run.tool("falcon_list_case_templates", listing=True) == [], "list_case_templates before any template")
    made = run.oracle.send("POST", TEMPLATES, 201, {"resources": [{"name": f"{PREFIX}-template", "fields": []}]})
    template = run.oracle.get(TEMPLATES, ids=made["resources"][0]["id"])["resources"]
    listed = run.tool("falcon_list_case_templates", listing=True)
    expect(listed == template, f"list_case_templates: {listed}, the server holds {template}")
    return (f"empty, then {len(served)} cases made by POST {CASES}, by status, severity, sort; get_cases; "
            f"list_case_templates empty, then the template made by POST {TEMPLATES}")


def check_create_case(run):
    made = run.tool("falcon_create_case", listing=True, name=f"{PREFIX}-tool", severity=40, status="new")
    expect(len(made) == 1 and made[0].get("name") == f"{PREFIX}-tool", f"create_case: {made}")
    run.expect_records("falcon_search_cases", made, filter=f"name:'{PREFIX}-tool'")
    return "a case made by create_case, found by name"


# --- policies ------------------------------------------------------------------------------------------------

POLICY_TYPES = ("prevention", "sensor_update", "firewall", "response", "content_update")
# The route each type's records are read from with plain HTTP (the combined query).
POLICY_COMBINED = {
    "prevention": "/policy/combined/prevention/v1",
    "sensor_update": "/policy/combined/sensor-update/v2",
    "firewall": "/policy/combined/firewall/v1",
    "device_control": "/policy/combined/device-control/v1",
    "response": "/policy/combined/response/v1",
    "content_update": "/policy/combined/content-update/v1",
}


def served_policy(run, kind, policy_id):
    records = [p for p in run.oracle.get(POLICY_COMBINED[kind])["resources"] if p["id"] == policy_id]
    expect(len(records) == 1, f"{kind} policy {policy_id} is not on the server")
    return records[0]


def policy_round_trip(run, kind):
    name = f"{PREFIX}-{kind}"
    run.expect_empty("falcon_search_policies", policy_type=kind)
    platform = {} if kind == "content_update" else {"platform_name": "Windows"}
    made = run.tool("falcon_create_policy", listing=True, policy_type=kind, name=name, description="made", **platform)
    expect(len(made) == 1 and made[0].get("name") == name, f"create_policy({kind}): {made}")
    pid = made[0]["id"]
    expect(made[0] == served_policy(run, kind, pid), f"create_policy({kind}): not the server's record")
    run.expect_records("falcon_search_policies", made, policy_type=kind, filter=f"name:'{name}'")
    changed = run.tool("falcon_update_policy", listing=True, policy_type=kind, id=pid, description="changed")
    record = served_policy(run, kind, pid)
    expect(changed == [record] and record["description"] == "changed" and record["name"] == name,
           f"update_policy({kind}): {changed}, the server holds {record}")
    for action, enabled in (("enable", True), ("disable", False)):
        acted = run.tool("falcon_perform_policy_action", listing=True, policy_type=kind, action_name=action, ids=[pid])
        record = served_policy(run, kind, pid)
        expect(acted == [record] and record.get("enabled") is enabled, f"{action}({kind}): {acted}")
    run.expect_records("falcon_search_policies", [record], policy_type=kind, filter="enabled:false",
                       sort="name.asc")
    run.expect_empty("falcon_search_policy_members", policy_type=kind, id=pid)
    run.tool("falcon_delete_policies", listing=True, policy_type=kind, ids=[pid])
    run.expect_empty("falcon_search_policies", policy_type=kind)


def check_policies(run):
    for kind in POLICY_TYPES:
        policy_round_trip(run, kind)
    return f"{len(POLICY_TYPES)} types: create, search, update, enable/disable, members, delete ({', '.join(POLICY_TYPES)})"


def check_device_control_policies(run):
    policy_round_trip(run, "device_control")
    return "device_control: create, search, update, enable/disable, members, delete"


CHECKS = [
    check_detections,
    check_aggregate_detections,
    check_update_detections,
    check_intel,
    check_spotlight,
    check_discover,
    check_sensor_usage,
    check_iocs,
    check_remove_iocs,
    check_remove_iocs_by_filter,
    check_rtr_sessions,
    check_delete_rtr_session,
    check_cases,
    check_create_case,
    check_policies,
    check_device_control_policies,
]


if __name__ == "__main__":
    sys.exit(main("falcon-mcp modules", Run, CHECKS))
