#!/usr/bin/env python3
"""Writes Talon's Falcon operation catalogue from the pinned FalconPy's endpoint definitions.

Run it as `scripts/catalogue.sh` (which makes the pinned venv first). It reads `falconpy._endpoint` (public
domain) and `crates/wire/catalogue/falcon-scopes.tsv` (the scope each route requires, as public SDK data
names it), and writes:

- `crates/wire/catalogue/operations.jsonl`: one operation per line, facts only (ID, method, route, collection,
  scope and whether it is known or inferred, deprecated aliases, parameters with location, type, required,
  array format, enum, bounds, pattern, default). No descriptions: FalconPy's prose is not carried.
- `crates/wire/src/scope_resources.rs`: the scope catalogue's resources, every one the operations use plus
  Talon's own, as a Rust constant (a `Scope` constant is checked against it at compile time).

With `--check` it writes nothing and exits 1 when the committed files differ from what it would write.
"""
import argparse
import collections
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CATALOGUE = REPO / "crates/wire/catalogue"
OPERATIONS = CATALOGUE / "operations.jsonl"
SCOPES_TSV = CATALOGUE / "falcon-scopes.tsv"
RESOURCES_RS = REPO / "crates/wire/src/scope_resources.rs"

# Talon's own resources, which no Falcon route names: its admin API. (Falcon's own API-client routes, which
# the data does not scope, are inferred to `api-clients` by the collection rule too.)
TALON_RESOURCES = ["api-clients"]

# Console display names (the only name public data gives for some routes) to the wire resource. Where the
# wire name is public elsewhere (Hosts is `devices`, Quarantined Files `quarantine`) it is used; the rest
# are the display name in wire style. Scopes from this table are marked inferred.
DISPLAY_TO_WIRE = {
    "Hosts": "devices",
    "Quarantined Files": "quarantine",
    "Alerts": "alerts",
}

# Collections whose routes public data does not scope, but whose Falcon wire name is public (the console's
# "Kubernetes Protection" and the event stream's `streaming`); the rule below would guess from neighbours.
COLLECTION_RESOURCE = {
    "kubernetes_protection": "kubernetes-protection",
    "stream": "streaming",
}

# Scopes the wire contract (falcon-wire.md, the project's shared contract page) states for the seed
# workflow's operations, where the TSV has no row: known, not inferred.
CONTRACT_SCOPES = {
    ("GET", "/devices/queries/devices/v1"): "devices:read",
    ("GET", "/devices/entities/devices/v2"): "devices:read",
    ("POST", "/devices/entities/devices/v2"): "devices:read",
    ("POST", "/devices/entities/devices-actions/v2"): "devices:write",
    ("GET", "/settings/entities/policy/v1"): "cspm-registration:read",
    ("PATCH", "/settings/entities/policy/v1"): "cspm-registration:write",
}

# The operations that take client credentials instead of a bearer token.
CREDENTIAL_OPERATIONS = {"oauth2AccessToken", "oauth2RevokeToken"}

# The parameter facts carried over, in this order.
PARAM_KEYS = ["name", "in", "type", "required", "collectionFormat", "items", "enum", "default", "minimum",
              "maximum", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems", "format",
              "allowEmptyValue"]

# Path segments of a POST that only reads (searches and lookups by body), for the access rule.
READ_SEGMENTS = {"queries", "combined", "aggregates", "GET"}


def wire_style(display: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", display.lower()).strip("-")


def load_known_scopes():
    """(method, path) -> (scope, known?) from the TSV."""
    known = {}
    for line in SCOPES_TSV.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or line.startswith("operation_id\t") or not line.strip():
            continue
        _op, method, path, scope, _source = line.split("\t")
        if scope.startswith("?"):
            display, access = scope[1:].rsplit(":", 1)
            wire = DISPLAY_TO_WIRE.get(display, wire_style(display))
            known[(method, path)] = (f"{wire}:{access}", False)
        else:
            known[(method, path)] = (scope, True)
    for route, scope in CONTRACT_SCOPES.items():
        if not known.get(route, (None, False))[1]:
            known[route] = (scope, True)
    return known


def access_of(method: str, path: str) -> str:
    if method in ("GET", "HEAD"):
        return "read"
    if method == "POST" and READ_SEGMENTS & set(path.split("/")):
        return "read"
    return "write"


def infer_resource(op, by_collection, by_prefix):
    """The resource of an unscoped route: the most common among scoped routes of its collection (ties go to
    the one sharing the longest route prefix; wire names before names made from display names), else among
    routes of its first path segment, else the collection's name in wire style."""
    method, path, collection = op["method"], op["path"], op["collection"]
    segments = path.split("/")

    def best(candidates):
        counts = collections.Counter(r for r, _ in candidates)
        top = max(counts.values())
        tied = [r for r, c in counts.items() if c == top]

        def shared_prefix(resource):
            return max(len(common_prefix(segments, p.split("/"))) for r, p in candidates if r == resource)

        return sorted(tied, key=lambda r: (-shared_prefix(r), r))[0]

    if collection in COLLECTION_RESOURCE:
        return COLLECTION_RESOURCE[collection]
    for table, key in ((by_collection, collection), (by_prefix, segments[1])):
        candidates = table.get(key, [])
        # Wire names from public data outrank names made from a display name.
        wire = [(r, p) for r, p, is_wire in candidates if is_wire]
        if wire or candidates:
            return best(wire or [(r, p) for r, p, _ in candidates])
    return wire_style(collection)


def common_prefix(a, b):
    out = []
    for x, y in zip(a, b):
        if x != y:
            break
        out.append(x)
    return out


def param_facts(p):
    out = {}
    for key in PARAM_KEYS:
        if key not in p:
            continue
        value = p[key]
        if key == "required" and not value:
            continue
        if key == "items":
            value = value.get("type", "string")
        out[key] = value
    return out


def build():
    sys.path.insert(0, str(REPO))
    import falconpy
    from falconpy._endpoint import api_endpoints, deprecated_endpoints

    current_count = len(api_endpoints) - len(deprecated_endpoints)
    current, deprecated = api_endpoints[:current_count], api_endpoints[current_count:]

    # The first entry of an ID wins, as in FalconPy's Uber class.
    ops, order = {}, []
    for method_path in current:
        op_id, method, path, _desc, collection, params = method_path
        if op_id in ops:
            continue
        ops[op_id] = {"id": op_id, "method": method, "path": path, "collection": collection,
                      "params": [param_facts(p) for p in params], "aliases": []}
        order.append(op_id)

    first_on_route = {}
    for op_id in order:
        first_on_route.setdefault((ops[op_id]["method"], ops[op_id]["path"]), op_id)
    for entry in deprecated:
        op_id, method, path = entry[0], entry[1], entry[2]
        if op_id in ops or any(op_id in o["aliases"] for o in ops.values()):
            continue
        target = first_on_route.get((method, path))
        if target is None:
            raise SystemExit(f"deprecated {op_id} has no current operation on {method} {path}")
        ops[target]["aliases"].append(op_id)

    known = load_known_scopes()
    by_collection, by_prefix = collections.defaultdict(list), collections.defaultdict(list)
    for op in ops.values():
        scope = known.get((op["method"], op["path"]))
        if scope:
            resource = scope[0].rsplit(":", 1)[0]
            by_collection[op["collection"]].append((resource, op["path"], scope[1]))
            by_prefix[op["path"].split("/")[1]].append((resource, op["path"], scope[1]))

    for op in ops.values():
        if op["id"] in CREDENTIAL_OPERATIONS:
            op["scope"], op["scope_known"] = None, True
            continue
        scope = known.get((op["method"], op["path"]))
        if scope:
            op["scope"], op["scope_known"] = scope
        else:
            resource = infer_resource(op, by_collection, by_prefix)
            op["scope"], op["scope_known"] = f"{resource}:{access_of(op['method'], op['path'])}", False

    lines = []
    for op_id in sorted(order, key=lambda i: (ops[i]["collection"], ops[i]["path"], ops[i]["method"], i)):
        op = ops[op_id]
        record = {"id": op["id"], "method": op["method"], "path": op["path"], "collection": op["collection"],
                  "scope": op["scope"], "scope_known": op["scope_known"]}
        if op["aliases"]:
            record["aliases"] = sorted(op["aliases"])
        record["params"] = op["params"]
        lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":"), sort_keys=False))
    header = json.dumps({"source": f"crowdstrike-falconpy {falconpy.__version__}", "operations": len(lines),
                         "generator": "scripts/catalogue.py"}, separators=(",", ":"))
    operations = header + "\n" + "\n".join(lines) + "\n"

    resources = sorted({op["scope"].rsplit(":", 1)[0] for op in ops.values() if op["scope"]} | set(TALON_RESOURCES))
    body = "".join(f'    "{r}",\n' for r in resources)
    resources_rs = ("//! The scope catalogue's resources: every one the Falcon operation catalogue uses, and Talon's own.\n"
                    "//!\n//! Generated by `scripts/catalogue.sh` from the pinned FalconPy; do not edit by hand.\n\n"
                    "/// Every resource that may appear in a scope, sorted.\n"
                    f"pub const RESOURCES: &[&str] = &[\n{body}];\n")
    return operations, resources_rs, ops, known


def accuracy_report(ops, known):
    """How well the inference rule predicts the routes whose scope is known (each left out in turn)."""
    hits = total = 0
    for op in ops.values():
        scope = known.get((op["method"], op["path"]))
        if not scope or not scope[1]:
            continue
        by_collection, by_prefix = collections.defaultdict(list), collections.defaultdict(list)
        for other in ops.values():
            s = known.get((other["method"], other["path"]))
            if s and other is not op:
                r = s[0].rsplit(":", 1)[0]
                by_collection[other["collection"]].append((r, other["path"], s[1]))
                by_prefix[other["path"].split("/")[1]].append((r, other["path"], s[1]))
        guess = f"{infer_resource(op, by_collection, by_prefix)}:{access_of(op['method'], op['path'])}"
        total += 1
        hits += guess == scope[0]
    return hits, total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files, write nothing")
    parser.add_argument("--report", action="store_true", help="print counts and the inference rule's accuracy")
    args = parser.parse_args()
    operations, resources_rs, ops, known = build()
    if args.report:
        n_known = sum(1 for o in ops.values() if o["scope_known"])
        aliases = sum(len(o["aliases"]) for o in ops.values())
        hits, total = accuracy_report(ops, known)
        print(f"operations {len(ops)}, aliases {aliases}, scope known {n_known}, inferred {len(ops) - n_known}, "
              f"resources {resources_rs.count(chr(10) + '    ')}; rule predicts {hits}/{total} known scopes "
              "when each is left out")
    if args.check:
        stale = [str(p.relative_to(REPO)) for p, text in ((OPERATIONS, operations), (RESOURCES_RS, resources_rs))
                 if not p.exists() or p.read_text(encoding="utf-8") != text]
        if stale:
            print("catalogue out of date (run scripts/catalogue.sh): " + ", ".join(stale), file=sys.stderr)
            sys.exit(1)
        return
    OPERATIONS.write_text(operations, encoding="utf-8")
    RESOURCES_RS.write_text(resources_rs, encoding="utf-8")


if __name__ == "__main__":
    main()
