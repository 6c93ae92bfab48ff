"""falcon-mcp interoperability check for a running Talon server.

falcon-mcp (CrowdStrike's MCP server for Falcon, pinned to 0.20.0 by
scripts/python-env.sh) is run unmodified against Talon with only
FALCON_BASE_URL pointed at it. Its tools are called in-process through
FalconMCPServer(...).server.call_tool, i.e. through FastMCP's own argument
validation and defaults, exactly what an MCP client's tools/call reaches,
but without a stdio transport: no child process, pipes or handshake that
could hang or race, and a failure surfaces as this script's traceback.

What it drives (the hosts module):

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
  - falcon_manage_host_grouping_tags add and remove, checked on the server.

Left out until the server emulates host groups (another piece of issue 11):
the hostgroups module (falcon_search_host_groups, falcon_search_host_group_members,
falcon_create_host_group, falcon_update_host_group, falcon_delete_host_groups,
falcon_perform_host_group_action). Add them as further functions in CHECKS and
"hostgroups" to MODULES.

Environment (set by crates/cli/tests/falcon_tools.rs):

    TALON_BASE_URL       e.g. http://127.0.0.1:PORT
    TALON_CLIENT_ID      a client with devices:read and devices:write
    TALON_CLIENT_SECRET
    TALON_DEMO_HOSTS     the N given to `talon serve --demo-hosts N`

Each check prints "ok <name>: ..."; the first failure prints "FAIL <name>: ..."
and the script exits 1. Exit 0 only when all passed; 2 for a bad environment.

By hand: TALON_BASE_URL=... TALON_CLIENT_ID=... TALON_CLIENT_SECRET=...
TALON_DEMO_HOSTS=... "$(scripts/python-env.sh)" tests/interop/falcon_mcp_interop.py
"""
import asyncio
import json
import os
import sys
from datetime import datetime, timedelta, timezone

from _talon import Oracle, environment, expect, main, parse_time

MODULES = {"hosts"}
GUIDE_URI = "falcon://hosts/search/fql-guide"
TAG = "talon-mcp"


class Run:
    def __init__(self):
        env = environment("falcon_mcp_interop")
        base_url, cid, secret = env.base_url, env.client_id, env.client_secret
        self.demo_hosts = env.demo_hosts
        self.oracle = Oracle(env)
        self.all = self.oracle.records()
        expect(len(self.all) == self.demo_hosts, f"the oracle sees {len(self.all)} of {self.demo_hosts} hosts")
        # falcon-mcp reads its configuration from the environment only (its CLI sets the same variables).
        os.environ.update(FALCON_BASE_URL=base_url, FALCON_CLIENT_ID=cid, FALCON_CLIENT_SECRET=secret)
        for name in ("FALCON_MEMBER_CID", "FALCON_PROXY_URL", "FALCON_MCP_TOOLS", "FALCON_MCP_EXCLUDE_TOOLS"):
            os.environ.pop(name, None)
        # Imported here so that it sees the environment above.
        from falcon_mcp.server import FalconMCPServer

        # The constructor logs in (one POST /oauth2/token) and raises when that fails.
        self.server = FalconMCPServer(enabled_modules=set(MODULES)).server
        self.loop = asyncio.new_event_loop()

    def tool(self, name, listing=False, **arguments):
        """Calls an MCP tool; answers its JSON result (a list when `listing`), failing on falcon-mcp's
        error shapes."""
        out = self.loop.run_until_complete(self.server.call_tool(name, arguments))
        if isinstance(out, tuple):  # (content, structured) when a tool declares structured output
            out = out[0]
        expect(all(c.type == "text" for c in out), f"{name}: unexpected content {out!r:.300}")
        # FastMCP turns a returned list into one text content per item, and anything else into one.
        items = [json.loads(c.text) for c in out]
        expect(listing or len(items) == 1, f"{name}: {len(items)} contents for one result")
        # falcon-mcp reports an API failure as {"error": ...}, alone or as a list's only item.
        errors = [r for r in items if isinstance(r, dict) and "error" in r]
        expect(not errors, f"{name}({arguments}): {json.dumps(errors)[:1500]}")
        return items if listing else items[0]

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


# Host-group checks (the hostgroups module) go here once the server emulates host groups.
CHECKS = [
    check_guide_patterns,
    check_field_filters,
    check_sorts,
    check_paging,
    check_host_details,
    check_grouping_tags,
]


if __name__ == "__main__":
    sys.exit(main("falcon-mcp", Run, CHECKS))
