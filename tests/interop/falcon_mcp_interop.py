"""falcon-mcp interoperability check for a running Talon server.

falcon-mcp (CrowdStrike's MCP server for Falcon, pinned to 0.20.0 by
scripts/python-env.sh) is run unmodified against Talon with only
FALCON_BASE_URL pointed at it. Its tools are called in-process through
FalconMCPServer(...).server.call_tool, i.e. through FastMCP's own argument
validation and defaults, exactly what an MCP client's tools/call reaches,
but without a stdio transport: no child process, pipes or handshake that
could hang or race, and a failure surfaces as this script's traceback.

What it drives (the hosts and hostgroups modules):

  - falcon_search_hosts (QueryDevicesByFilter, then PostDeviceDetailsV2)
    with every filter of the "WORKING PATTERNS" in falcon-mcp's own FQL guide
    (read from the installed package through its falcon://hosts/search/fql-guide
    resource), each compared with the server's count for the same FQL; with
    the filters the guide teaches per field (platform_name, product_type_desc,
    machine_domain, site_name, ou, last_seen:>'now-7d', hostname prefix and
    suffix wildcards, hostname:~, local_ip.raw:*), each compared with the
    hosts chosen here in Python from every record; with the sorts it names
    (modified_timestamp.desc, last_seen.desc, hostname.asc, ...) checked for
    order; and paging by limit and offset;
  - falcon_get_host_details;
  - falcon_manage_host_grouping_tags add and remove, checked on the server;
  - falcon_create_host_group (static, staticByID, dynamic with a rule),
    falcon_search_host_groups (queryCombinedHostGroups: its default name.asc,
    other sorts, pages of one, every example of its own
    falcon://host-groups/search/fql-guide, per type),
    falcon_perform_host_group_action (add-hosts by device_id and by platform,
    remove-hosts), falcon_search_host_group_members (queryCombinedGroupMembers:
    records, a host filter, a sort, pages of five), falcon_update_host_group
    (name, description, a new rule whose members the server recomputes) and
    falcon_delete_host_groups, each checked against the Host Group API read
    with plain HTTP, and the hosts' `groups` fields after the deletion.

Environment (set by crates/cli/tests/falcon_tools.rs):

    TALON_BASE_URL       e.g. http://127.0.0.1:PORT
    TALON_CLIENT_ID      a client with devices:read/write and host-group:read/write
    TALON_CLIENT_SECRET
    TALON_DEMO_HOSTS     the N given to `talon serve --demo-hosts N`

Each check prints "ok <name>: ..."; the first failure prints "FAIL <name>: ..."
and the script exits 1. Exit 0 only when all passed; 2 for a bad environment.

By hand: TALON_BASE_URL=... TALON_CLIENT_ID=... TALON_CLIENT_SECRET=...
TALON_DEMO_HOSTS=... "$(scripts/python-env.sh)" tests/interop/falcon_mcp_interop.py
"""
import json
import sys
from datetime import datetime, timedelta, timezone

from _talon import McpTools, Oracle, environment, expect, main, parse_time

MODULES = {"hosts", "hostgroups"}
GUIDE_URI = "falcon://hosts/search/fql-guide"
TAG = "talon-mcp"


class Run:
    def __init__(self):
        env = environment("falcon_mcp_interop")
        self.demo_hosts = env.demo_hosts
        self.oracle = Oracle(env)
        self.all = self.oracle.records()
        expect(len(self.all) == self.demo_hosts, f"the oracle sees {len(self.all)} of {self.demo_hosts} hosts")
        self.mcp = McpTools(env, MODULES)
        self.server, self.loop, self.tool = self.mcp.server, self.mcp.loop, self.mcp.call

    def search(self, fql=None, sort=None, limit=5000, offset=None):
        arguments = {"limit": limit}
        for key, value in (("filter", fql), ("sort", sort), ("offset", offset)):
            if value is not None:
                arguments[key] = value
        result = self.tool("falcon_search_hosts", **arguments)
        expect(isinstance(result, dict) and {"results", "pagination"} <= set(result),
               f"search_hosts({arguments}) is not a results envelope: {json.dumps(result)[:300]}")
        expect(result.get("filter_used") == fql, f"filter_used {result.get('filter_used')!r}, sent {fql!r}")
        page = result["pagination"]
        expect(isinstance(page.get("total"), int), f"search_hosts({arguments}): pagination {page}")
        for record in result["results"]:
            expect(record.get("device_id") in self.all, f"search_hosts: unknown record {json.dumps(record)[:200]}")
        return result


def guide_patterns(guide):
    """The filters of the guide's "WORKING PATTERNS" section: one or more per bullet, separated by ", ",
    each before its parenthesised note; bullets marked as not working are skipped."""
    section = guide.split("=== ✅ WORKING PATTERNS ===", 1)[1].split("=== ❌", 1)[0]
    patterns = []
    for line in section.splitlines():
        line = line.strip()
        if not line.startswith("•") or "❌" in line:
            continue
        line = line[1:].strip().split(" (", 1)[0].replace("✅", "").strip()
        patterns.extend(p.strip() for p in line.split(", ") if p.strip())
    return patterns


def check_guide_patterns(run):
    contents = run.loop.run_until_complete(run.server.read_resource(GUIDE_URI))
    guide = "".join(c.content for c in contents)
    run.guide = guide
    patterns = guide_patterns(guide)
    expect(len(patterns) >= 20, f"only {len(patterns)} patterns read from the guide: {patterns}")
    matched = 0
    for fql in patterns:
        result = run.search(fql)
        total = run.oracle.count(fql)
        expect(result["pagination"]["total"] == total == len(result["results"]),
               f"{fql}: falcon-mcp total {result['pagination']['total']}, {len(result['results'])} records, "
               f"the server counts {total}")
        matched += total > 0
    # Some patterns match no demo host by design (AZURE, GCP, Mobile, 192.168.*), a few only by chance (a
    # fresh customer per run gets fresh hosts); about twenty usually match, and fewer than ten means the
    # filters select nothing.
    expect(matched >= 10 or run.demo_hosts < 20, f"only {matched} guide patterns match a host")
    return f"{len(patterns)} filters from the guide accepted and counted alike, {matched} match hosts"


def by_field(run, name, fql, predicate, allow_empty=False):
    result = run.search(fql)
    got = [r["device_id"] for r in result["results"]]
    want = {k for k, r in run.all.items() if predicate(r)}
    expect(len(got) == len(set(got)), f"{name} ({fql}): duplicate records")
    expect(set(got) == want, f"{name} ({fql}): {len(got)} hosts, expected {len(want)}: "
                             f"extra {sorted(set(got) - want)[:3]}, missing {sorted(want - set(got))[:3]}")
    expect(result["pagination"]["total"] == len(want), f"{name}: total {result['pagination']['total']}")
    expect(want or allow_empty, f"{name} ({fql}): no demo host matches, the check proves nothing")
    return len(want)


def check_field_filters(run):
    records = sorted(run.all.values(), key=lambda r: r["hostname"])
    windows = next(r for r in records if r["platform_name"] == "Windows")
    low = str.lower
    week_ago = datetime.now(timezone.utc) - timedelta(days=7)
    first_octets = ".".join(records[0]["local_ip"].split(".")[:2])
    suffix = records[0]["hostname"][-2:]
    cases = [
        ("platform_name", "platform_name:'Windows'", lambda r: r["platform_name"] == "Windows"),
        ("platform_name!", "platform_name:!'Windows'", lambda r: r["platform_name"] != "Windows"),
        ("product_type_desc", "product_type_desc:'Server'", lambda r: r.get("product_type_desc") == "Server"),
        ("machine_domain", f"machine_domain:'{windows['machine_domain']}'",
         lambda r: r.get("machine_domain") == windows["machine_domain"]),
        ("site_name", f"site_name:'{windows['site_name']}'", lambda r: r.get("site_name") == windows["site_name"]),
        # ou is a list: a host matches when one of its OUs does.
        ("ou", "ou:'Servers'", lambda r: "Servers" in r.get("ou", [])),
        ("last_seen", "last_seen:>'now-7d'", lambda r: parse_time(r["last_seen"]) > week_ago),
        ("hostname prefix", "hostname:'WIN-*'", lambda r: low(r["hostname"]).startswith("win-")),
        ("hostname suffix", f"hostname:'*{suffix}'", lambda r: low(r["hostname"]).endswith(low(suffix))),
        ("hostname~", "hostname:~'macbook'", lambda r: "macbook" in low(r["hostname"])),
        ("local_ip.raw", f"local_ip.raw:*'{first_octets}.*'",
         lambda r: r.get("local_ip", "").startswith(first_octets + ".")),
        ("combined", "platform_name:'Linux'+product_type_desc:'Server'",
         lambda r: r["platform_name"] == "Linux" and r.get("product_type_desc") == "Server"),
        ("grouped", "(product_type_desc:'Server',product_type_desc:'Domain Controller')+platform_name:'Windows'",
         lambda r: r["platform_name"] == "Windows" and r.get("product_type_desc") in ("Server", "Domain Controller")),
    ]
    counts = []
    for name, fql, predicate in cases:
        # The demo data decides whether a few rarer kinds exist at all in a small tenant.
        rare = name in ("hostname~", "combined", "grouped", "ou") and run.demo_hosts < 20
        counts.append(f"{name} {by_field(run, name, fql, predicate, allow_empty=rare)}")
    return "; ".join(counts)


SORTS = [
    ("modified_timestamp.desc", "modified_timestamp", True),
    ("last_seen.desc", "last_seen", True),
    ("hostname.asc", "hostname", False),
    ("hostname.desc", "hostname", True),
    ("first_seen.asc", "first_seen", False),
    ("platform_name.asc", "platform_name", False),
    ("agent_version.desc", "agent_version", True),
    ("os_version.asc", "os_version", False),
]


def check_sorts(run):
    for sort, field, descending in SORTS:
        result = run.search(sort=sort)
        got = result["results"]
        expect(len(got) == len(run.all), f"sort={sort}: {len(got)} of {len(run.all)} hosts")
        # Text sorts ignore case in Falcon; times sort as text in this fixed format.
        keys = [r.get(field, "").lower() for r in got]
        expect(keys == sorted(keys, reverse=descending), f"sort={sort}: out of order: {keys[:10]}")
    return f"{len(SORTS)} sorts in order ({', '.join(s for s, _, _ in SORTS)})"


def check_paging(run):
    whole = [r["device_id"] for r in run.search(sort="hostname.asc")["results"]]
    size, pages = 4, []
    for offset in range(0, len(whole), size):
        result = run.search(sort="hostname.asc", limit=size, offset=offset)
        page = result["pagination"]
        expect(page["total"] == len(whole) and page.get("offset") == offset and page.get("limit") == size,
               f"offset {offset}: pagination {page}")
        pages.extend(r["device_id"] for r in result["results"])
    expect(pages == whole, "pages by limit and offset do not join into the whole list")
    return f"{len(whole)} hosts in pages of {size}"


def check_host_details(run):
    ids = sorted(run.all)[:3]
    details = run.tool("falcon_get_host_details", listing=True, ids=ids)
    expect(isinstance(details, list) and sorted(d["device_id"] for d in details) == ids,
           f"get_host_details: {json.dumps(details)[:300]}")
    for d in details:
        expect(d == run.all[d["device_id"]], f"get_host_details {d['device_id']}: not the server's record")
    return f"{len(details)} records, equal to the server's"


def check_grouping_tags(run):
    aids = sorted(run.all)[:2]

    def tags(aid):
        return run.oracle.record(aid)["tags"]

    before = {aid: tags(aid) for aid in aids}
    qualified = f"FalconGroupingTags/{TAG}"
    answer = run.tool("falcon_manage_host_grouping_tags", listing=True, ids=aids, action="add", tags=[TAG])
    expect(sorted(r.get("device_id") for r in answer) == aids and all(r.get("updated") for r in answer),
           f"add answered {answer}")
    for aid in aids:
        expect(qualified in tags(aid), f"after add, {aid} has {tags(aid)}")
    tagged = run.search(f"tags:'{qualified}'")
    expect(sorted(r["device_id"] for r in tagged["results"]) == aids, "tags filter does not find the tagged hosts")
    answer = run.tool("falcon_manage_host_grouping_tags", listing=True, ids=aids, action="remove", tags=[qualified])
    expect(sorted(r.get("device_id") for r in answer) == aids, f"remove answered {answer}")
    for aid in aids:
        expect(tags(aid) == before[aid], f"after remove, {aid} has {tags(aid)}")
    return f"{qualified} added to and removed from {len(aids)} hosts"


GROUP_GUIDE_URI = "falcon://host-groups/search/fql-guide"
GROUP_PREFIX = "talon-mcp"


def check_create_host_groups(run):
    specs = {
        "static": {"description": "by hostname"},
        "staticByID": {},
        "dynamic": {"description": "Windows hosts", "assignment_rule": "platform_name:'Windows'"},
    }
    run.groups = {}
    for kind, extra in specs.items():
        answer = run.tool("falcon_create_host_group", listing=True, name=f"{GROUP_PREFIX}-{kind}", group_type=kind,
                          **extra)
        expect(len(answer) == 1 and answer[0].get("group_type") == kind, f"create_host_group({kind}): {answer}")
        expect(answer[0] == run.oracle.group(answer[0]["id"]), f"create_host_group({kind}): not the server's record")
        run.groups[kind] = answer[0]["id"]
    windows = {k for k, r in run.all.items() if r["platform_name"] == "Windows"}
    members = run.oracle.members(run.groups["dynamic"])
    expect(windows and members == windows, f"the dynamic group holds {len(members)}, {len(windows)} are Windows")
    return f"static, staticByID and dynamic ({len(windows)} Windows members), each the server's record"


def search_groups(run, **arguments):
    result = run.tool("falcon_search_host_groups", **arguments)
    expect(isinstance(result, dict) and {"results", "pagination"} <= set(result),
           f"search_host_groups({arguments}) is not a results envelope: {json.dumps(result)[:300]}")
    return result


def group_guide_patterns(guide):
    """The filters of the host-group guide's "EXAMPLE QUERIES": each bullet under it is one filter."""
    section = guide.split("=== EXAMPLE QUERIES ===", 1)[1].split("=== ", 1)[0]
    return [line.strip()[1:].strip() for line in section.splitlines() if line.strip().startswith("•")]


def check_search_host_groups(run):
    served = run.oracle.groups()
    every = search_groups(run)
    records = every["results"]
    expect({g["id"]: g for g in records} == served and every["pagination"]["total"] == len(served),
           f"search_host_groups(): {len(records)} groups, the server holds {len(served)}")
    # falcon-mcp sorts by name.asc unless told otherwise.
    names = [g["name"] for g in records]
    expect(names == sorted(names, key=str.lower), f"default sort name.asc: {names}")
    for sort, key, descending in (("name.desc", "name", True), ("created_timestamp.desc", "created_timestamp", True),
                                  ("group_type.asc", "group_type", False)):
        got = [g[key].lower() for g in search_groups(run, sort=sort)["results"]]
        expect(len(got) == len(served) and got == sorted(got, reverse=descending), f"sort={sort}: {got}")
    pages = [search_groups(run, limit=1, offset=i)["results"] for i in range(len(served))]
    expect([p[0]["name"] for p in pages if len(p) == 1] == names, "pages of one do not join into the list")
    # Every example of falcon-mcp's own guide, counted alike by the tool and the server.
    contents = run.loop.run_until_complete(run.server.read_resource(GROUP_GUIDE_URI))
    patterns = group_guide_patterns("".join(c.content for c in contents))
    expect(len(patterns) >= 8, f"only {len(patterns)} patterns read from the host-group guide: {patterns}")
    matched = 0
    for fql in patterns:
        result = search_groups(run, filter=fql)
        want = run.oracle.groups(fql)
        expect({g["id"] for g in result["results"]} == set(want) and result["pagination"]["total"] == len(want),
               f"{fql}: falcon-mcp {len(result['results'])} groups, the server {len(want)}")
        expect(result.get("filter_used") == fql, f"filter_used {result.get('filter_used')!r}, sent {fql!r}")
        matched += bool(want)
    # Per type, against the records.
    for kind, gid in run.groups.items():
        got = {g["id"] for g in search_groups(run, filter=f"group_type:'{kind}'")["results"]}
        expect(got == {gid}, f"group_type:'{kind}' gives {sorted(got)}")
    return f"{len(served)} groups in name order, 3 sorts, pages of 1; {len(patterns)} guide filters, {matched} match"


def group_action(run, action, kind, fql):
    answer = run.tool("falcon_perform_host_group_action", listing=True, action_name=action,
                      ids=[run.groups[kind]], filter=fql)
    expect([g.get("id") for g in answer] == [run.groups[kind]], f"{action} on {kind} answered {answer}")
    expect(answer[0] == run.oracle.group(run.groups[kind]), f"{action} on {kind}: not the server's record")


def check_perform_host_group_action(run):
    ordered = sorted(run.all.values(), key=lambda r: r["hostname"])
    picked = [r["device_id"] for r in ordered[:3]]
    group_action(run, "add-hosts", "static", f"device_id:{picked!r}")
    expect(run.oracle.members(run.groups["static"]) == set(picked), "add-hosts by device_id: wrong members")
    linux = {k for k, r in run.all.items() if r["platform_name"] == "Linux"}
    group_action(run, "add-hosts", "staticByID", "platform_name:'Linux'")
    expect(linux and run.oracle.members(run.groups["staticByID"]) == linux, "add-hosts by platform: wrong members")
    group_action(run, "remove-hosts", "static", f"device_id:'{picked[0]}'")
    expect(run.oracle.members(run.groups["static"]) == set(picked[1:]), "remove-hosts: wrong members")
    run.static_members = set(picked[1:])
    return f"3 added by device_id and 1 removed (static), {len(linux)} Linux hosts added (staticByID)"


def members_of(run, kind, **arguments):
    result = run.tool("falcon_search_host_group_members", id=run.groups[kind], **arguments)
    expect(isinstance(result, dict) and {"results", "pagination"} <= set(result),
           f"search_host_group_members({kind}) is not a results envelope: {json.dumps(result)[:300]}")
    return result


def check_search_host_group_members(run):
    current = run.oracle.records()
    sizes = {}
    for kind, gid in run.groups.items():
        result = members_of(run, kind, limit=5000)
        ids = [r["device_id"] for r in result["results"]]
        want = run.oracle.members(gid)
        expect(len(ids) == len(set(ids)) and set(ids) == want and result["pagination"]["total"] == len(want),
               f"members of {kind}: {len(ids)} records (total {result['pagination']['total']}), the server {len(want)}")
        for r in result["results"]:
            expect(r == current[r["device_id"]], f"member record {r['device_id']} is not the server's")
        sizes[kind] = len(ids)
    # A host filter over the members, a sort and paging, as the tool's arguments describe them.
    dynamic = run.oracle.members(run.groups["dynamic"])
    servers = {i for i in dynamic if current[i].get("product_type_desc") == "Server"}
    got = {r["device_id"] for r in members_of(run, "dynamic", filter="product_type_desc:'Server'")["results"]}
    expect(servers and got == servers, f"Windows servers among the members: {len(got)}, expected {len(servers)}")
    ordered = [r["hostname"] for r in members_of(run, "dynamic", sort="hostname.desc", limit=5000)["results"]]
    expect(ordered == sorted(ordered, key=str.lower, reverse=True) and len(ordered) == len(dynamic),
           f"sort=hostname.desc: {ordered}")
    paged = []
    for offset in range(0, len(dynamic), 5):
        result = members_of(run, "dynamic", sort="hostname.desc", limit=5, offset=offset)
        expect(result["pagination"].get("offset") == offset and result["pagination"]["total"] == len(dynamic),
               f"members page at {offset}: {result['pagination']}")
        paged.extend(r["hostname"] for r in result["results"])
    expect(paged == ordered, "member pages of 5 do not join into the sorted list")
    return f"members {sizes} as on the server; {len(servers)} servers by filter; sorted and paged by 5"


def check_update_host_group(run):
    gid = run.groups["dynamic"]
    rule = "platform_name:'Mac'"
    answer = run.tool("falcon_update_host_group", listing=True, id=gid, name=f"{GROUP_PREFIX}-macs",
                      description="Mac hosts", assignment_rule=rule)
    group = run.oracle.group(gid)
    expect(answer == [group], f"update_host_group answered {answer}, the server holds {group}")
    expect((group["name"], group["description"], group["assignment_rule"]) == (f"{GROUP_PREFIX}-macs", "Mac hosts",
                                                                              rule), f"after update: {group}")
    macs = {k for k, r in run.all.items() if r["platform_name"] == "Mac"}
    expect(macs and run.oracle.members(gid) == macs, "the dynamic group's members did not follow its new rule")
    # Only the description: the name stays.
    answer = run.tool("falcon_update_host_group", listing=True, id=run.groups["static"], description="renamed not")
    group = run.oracle.group(run.groups["static"])
    expect(answer == [group] and group["name"] == f"{GROUP_PREFIX}-static" and group["description"] == "renamed not",
           f"description-only update: {group}")
    expect(run.oracle.members(run.groups["static"]) == run.static_members, "an update changed a static group's hosts")
    return f"dynamic renamed with a new rule ({len(macs)} Macs); static described, its members kept"


def check_delete_host_groups(run):
    ids = sorted(run.groups.values())
    answer = run.tool("falcon_delete_host_groups", listing=True, ids=ids)
    # falcon-mcp answers the API's resources (the deleted IDs here), or [] when there are none.
    expect(answer in ([], ids) or sorted(answer) == ids, f"delete_host_groups answered {answer}")
    expect(not run.oracle.groups(), f"groups left after delete: {sorted(run.oracle.groups())}")
    grouped = [k for k, r in run.oracle.records().items() if r.get("groups")]
    expect(not grouped, f"hosts still naming a deleted group: {grouped[:5]}")
    again = search_groups(run)
    expect(again["results"] == [] and again["pagination"]["total"] == 0, f"search after delete: {again}")
    return f"{len(ids)} groups deleted (answered {'their IDs' if answer else '[]'}); no host names one"


CHECKS = [
    check_guide_patterns,
    check_field_filters,
    check_sorts,
    check_paging,
    check_host_details,
    check_grouping_tags,
    check_create_host_groups,
    check_search_host_groups,
    check_perform_host_group_action,
    check_search_host_group_members,
    check_update_host_group,
    check_delete_host_groups,
]


if __name__ == "__main__":
    sys.exit(main("falcon-mcp", Run, CHECKS))
