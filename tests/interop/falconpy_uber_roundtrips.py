"""FalconPy's Uber class (APIHarnessV2) on a sample of the generic engine's resources, round trip by round trip.

FalconPy 1.6.6 (pinned by scripts/python-env.sh), unmodified, calls every
operation by its ID through APIHarnessV2.command against a running Talon
server. The sample is chosen here from the catalogue
(crates/wire/catalogue/operations.jsonl, FalconPy's own operations), not by
hand: every resource `/<service>/<kind>/<type>/vN` that has all five of

    create  POST   /<service>/entities/<type>/vN
    get     GET    /<service>/entities/<type>/vN   (an ID query parameter)
    query   GET    /<service>/queries/<type>/vN
    update  PATCH  /<service>/entities/<type>/vN
    delete  DELETE /<service>/entities/<type>/vN   (an ID query parameter)

each answered by the generic engine (the server's /openapi.json says
`x-talon-answer: generic`) and needing no query parameter but its IDs; of
several versions of a kind, the newest. Resources are taken round robin over
the collections (sorted by name, each collection's resources by route) until
MAX_OPERATIONS operations are counted, five per resource.

For each: create (its body in one of the three forms the engine takes, in
turn: {"resources": [{...}]}, a bare object, a list) -> get (the record
created) -> query with an FQL filter that selects it (and one that selects
nothing) -> update -> get (sees the change) -> delete -> get (404). Every
answer must carry the Falcon envelope (meta with trace_id and powered_by,
resources, errors; meta.pagination on queries).

Environment (set by crates/cli/tests/falcon_tools.rs): TALON_BASE_URL,
TALON_CLIENT_ID, TALON_CLIENT_SECRET (a client holding every scope),
TALON_DEMO_HOSTS. Prints "ok sample: ..." with the operations, resources and
collections exercised, and "ok round_trips: ...".
"""
import json
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import requests
from falconpy import APIHarnessV2

from _talon import TIMEOUT, environment, expect, main

CATALOGUE = Path(__file__).resolve().parents[2] / "crates/wire/catalogue/operations.jsonl"
MAX_OPERATIONS = 100
KINDS = ("create", "get", "query", "update", "delete")
# The query parameters that name records, as the engine reads them, most usual first.
ID_PARAMS = ("ids", "id", "composite_ids", "policy_ids", "rule_ids", "names")
ROUTE = re.compile(r"^/(?P<service>[^/{}]+)/(?P<kind>entities|queries)/(?P<type>[^/{}]+)/v(?P<version>\d+)$")


def kind_of(op):
    """create, get, query, update or delete, when `op` is one of those on a conventional route."""
    m = ROUTE.match(op["path"])
    if not m:
        return None
    ids = ids_param(op)
    return {
        ("entities", "POST"): "create",
        ("entities", "GET"): "get" if ids else None,
        ("queries", "GET"): "query",
        ("entities", "PATCH"): "update",
        ("entities", "DELETE"): "delete" if ids else None,
    }.get((m["kind"], op["method"]))


def ids_param(op):
    names = {p["name"] for p in op.get("params", []) if p["in"] == "query"}
    return next((n for n in ID_PARAMS if n in names), None)


def needs_only_ids(op):
    """No required query parameter but the ID parameter (a header or path one rules the resource out too)."""
    ids = ids_param(op)
    return all(not p.get("required") or (p["in"] == "query" and p["name"] == ids) or p["in"] == "body"
               for p in op.get("params", []))


def sample(generic_routes):
    """The resources to exercise, [(resource, collection, {kind: op})], as the module docstring says."""
    operations = [json.loads(line) for line in CATALOGUE.read_text().splitlines()]
    by_resource = defaultdict(lambda: defaultdict(list))
    for op in operations[1:]:
        kind = kind_of(op)
        if kind and (op["method"], op["path"]) in generic_routes and needs_only_ids(op):
            m = ROUTE.match(op["path"])
            by_resource[f"{m['service']}/{m['type']}"][kind].append(op)
    by_collection = defaultdict(list)
    for resource, kinds in sorted(by_resource.items()):
        if set(kinds) != set(KINDS):
            continue
        # The newest version of each kind (then the smallest ID, for a total order).
        chosen = {k: min(ops, key=lambda o: (-int(ROUTE.match(o["path"])["version"]), o["id"])) for k, ops in
                  kinds.items()}
        by_collection[chosen["create"]["collection"]].append((resource, chosen["create"]["collection"], chosen))
    picked, depth = [], 0
    while len(picked) * len(KINDS) < MAX_OPERATIONS and any(len(v) > depth for v in by_collection.values()):
        for collection in sorted(by_collection):
            if depth < len(by_collection[collection]) and len(picked) * len(KINDS) < MAX_OPERATIONS:
                picked.append(by_collection[collection][depth])
        depth += 1
    eligible = sum(len(v) for v in by_collection.values())
    return picked, eligible


class Run:
    def __init__(self):
        env = environment("falconpy_uber_roundtrips")
        self.demo_hosts = env.demo_hosts
        document = requests.get(f"{env.base_url}/openapi.json", timeout=TIMEOUT).json()
        self.generic = {(method.upper(), path) for path, item in document["paths"].items()
                        for method, entry in item.items()
                        if isinstance(entry, dict) and entry.get("x-talon-answer") == "generic"}
        expect(len(self.generic) > 1000, f"only {len(self.generic)} generic operations in /openapi.json")
        self.falcon = APIHarnessV2(client_id=env.client_id, client_secret=env.client_secret, base_url=env.base_url)
        expect(self.falcon.login(), "APIHarnessV2 could not log in")


def envelope(answer, what, status, paged=False):
    """The body of a FalconPy answer, checked: its status and the Falcon envelope."""
    body = answer.get("body") if isinstance(answer, dict) else None
    expect(isinstance(body, dict), f"{what}: no JSON body: {str(answer)[:300]}")
    expect(answer["status_code"] == status, f"{what}: {answer['status_code']}, expected {status}: "
                                             f"{json.dumps(body)[:400]}")
    meta = body.get("meta", {})
    expect({"trace_id", "powered_by", "query_time"} <= set(meta) and "resources" in body and "errors" in body,
           f"{what}: not a Falcon envelope: {json.dumps(body)[:300]}")
    expect(status >= 400 or body["errors"] == [], f"{what}: errors {body['errors']}")
    expect(not paged or isinstance(meta.get("pagination", {}).get("total"), int), f"{what}: pagination {meta}")
    return body


def create_body(n, fields):
    """The three body forms the engine takes, in turn."""
    return [{"resources": [fields]}, fields, [fields]][n % 3]


def round_trip(falcon, n, resource, ops):
    probe = f"talon-uber-{n}"
    ids_of = {k: ids_param(ops[k]) for k in ("get", "update", "delete")}

    def get(record_id, status):
        return envelope(falcon.command(ops["get"]["id"], parameters={ids_of["get"]: [record_id]}),
                        f"{resource}: {ops['get']['id']}", status)

    fields = {"name": probe, "description": "made by the Uber class", "talon_probe": probe, "rank": n}
    made = envelope(falcon.command(ops["create"]["id"], body=create_body(n, fields)),
                    f"{resource}: {ops['create']['id']}", 201)
    expect(len(made["resources"]) == 1 and made["resources"][0].get("talon_probe") == probe,
           f"{resource}: create answered {made['resources']}")
    record = made["resources"][0]
    record_id = record["id"]
    expect(get(record_id, 200)["resources"] == [record], f"{resource}: get does not answer the created record")
    query = ops["query"]["id"]
    found = envelope(falcon.command(query, parameters={"filter": f"talon_probe:'{probe}'+rank:{n}"}),
                     f"{resource}: {query}", 200, paged=True)
    expect(found["resources"] == [record_id] and found["meta"]["pagination"]["total"] == 1,
           f"{resource}: {query} by filter answered {found['resources']} ({found['meta']['pagination']})")
    none = envelope(falcon.command(query, parameters={"filter": f"talon_probe:'{probe}-not'"}),
                    f"{resource}: {query} (no match)", 200, paged=True)
    expect(none["resources"] == [] and none["meta"]["pagination"]["total"] == 0,
           f"{resource}: {query} by a filter selecting nothing answered {none['resources']}")
    update = ops["update"]
    change = {"description": "changed by the Uber class"}
    if ids_of["update"] and any(p["name"] == ids_of["update"] and p.get("required") for p in update["params"]):
        answer = falcon.command(update["id"], parameters={ids_of["update"]: [record_id]}, body=change)
    else:
        answer = falcon.command(update["id"], body={"resources": [{"id": record_id, **change}]})
    changed = envelope(answer, f"{resource}: {update['id']}", 200)
    expect([r.get("description") for r in changed["resources"]] == [change["description"]],
           f"{resource}: update answered {changed['resources']}")
    again = get(record_id, 200)["resources"]
    expect(again == changed["resources"] and again[0]["talon_probe"] == probe,
           f"{resource}: get after the update answered {again}")
    envelope(falcon.command(ops["delete"]["id"], parameters={ids_of["delete"]: [record_id]}),
             f"{resource}: {ops['delete']['id']}", 200)
    gone = get(record_id, 404)
    expect(gone["resources"] == [] and [e.get("code") for e in gone["errors"]] == [404],
           f"{resource}: get after the delete answered {gone}")


def check_sample(run):
    run.picked, eligible = sample(run.generic)
    operations = {op["id"] for _, _, ops in run.picked for op in ops.values()}
    collections = {c for _, c, _ in run.picked}
    expect(len(operations) == len(KINDS) * len(run.picked) and len(operations) >= 50,
           f"{len(operations)} operations over {len(run.picked)} resources")
    return (f"{len(operations)} operations, {len(run.picked)} resources, {len(collections)} collections "
            f"(of {eligible} resources with all five routes): " + ", ".join(r for r, _, _ in run.picked))


def check_round_trips(run):
    for n, (resource, _, ops) in enumerate(run.picked):
        round_trip(run.falcon, n, resource, ops)
    calls = len(run.picked) * 8
    return f"{len(run.picked)} round trips (create, get, query x2, update, get, delete, get: {calls} calls), all as expected"


CHECKS = [check_sample, check_round_trips]


if __name__ == "__main__":
    sys.exit(main("FalconPy Uber round trips", Run, CHECKS))
