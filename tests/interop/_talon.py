"""What the Falcon tools' interop scripts share: the environment, the oracle and the check loop.

caracara_interop.py, falcon_mcp_interop.py, falcon_mcp_modules_interop.py,
falcon_toolkit_interop.py and falconpy_uber_roundtrips.py import this module
(it sits beside them, so running a script by path finds it). It holds only
the scripts' own scaffolding, never a tool's code:

  - environment(): the TALON_* variables set by
    crates/cli/tests/falcon_tools.rs (exit 2 when one is missing);
  - Oracle: the server's own answers read with plain `requests`, not through
    FalconPy or any tool, optionally with a token locked to a member CID;
  - McpTools: falcon-mcp's FalconMCPServer with some modules, its tools
    called in-process, its error shapes turned into failures;
  - main(): runs a script's CHECKS (or those TALON_CHECKS names), prints
    "ok <check>: ..." per check, and stops at the first "FAIL <check>: ...";
    a check marked @known_problem("...") that fails prints
    "xfail <check>: <problem>: <failure>" and the run goes on.

Environment:

    TALON_BASE_URL       e.g. http://127.0.0.1:PORT
    TALON_CLIENT_ID      the script's API client
    TALON_CLIENT_SECRET
    TALON_DEMO_HOSTS     the N given to `talon serve --demo-hosts N` (each customer's hosts)
    TALON_MEMBER_CIDS    optional: the client's member CIDs (its Flight Control children), comma-separated
    TALON_CHECKS         optional: a comma list of the checks to run (default all)
"""
import asyncio
import json
import os
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone

import requests

TIMEOUT = 10


class CheckFailed(Exception):
    """The tool saw or did something other than what the server holds."""


def known_problem(problem):
    """Marks a check that fails for a server misbehaviour named by `problem` (reported, not yet fixed):
    main() shows its failure as "xfail" and goes on; once it passes, it prints "xpass" so the mark can go."""

    def mark(check):
        check.known_problem = problem
        return check

    return mark


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


def parse_time(text):
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Environment:
    base_url: str
    client_id: str
    client_secret: str
    demo_hosts: int
    member_cids: tuple


def environment(script):
    """The TALON_* variables; exits 2, naming what is missing, when the runner did not set them."""
    names = ("TALON_BASE_URL", "TALON_CLIENT_ID", "TALON_CLIENT_SECRET", "TALON_DEMO_HOSTS")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        print(f"{script}: missing environment: " + ", ".join(missing), file=sys.stderr)
        sys.exit(2)
    members = tuple(c for c in os.environ.get("TALON_MEMBER_CIDS", "").split(",") if c)
    return Environment(os.environ["TALON_BASE_URL"].rstrip("/"), os.environ["TALON_CLIENT_ID"],
                       os.environ["TALON_CLIENT_SECRET"], int(os.environ["TALON_DEMO_HOSTS"]), members)


class Oracle:
    """Reads (and for setup, writes) the server with plain HTTP, not through FalconPy or a tool."""

    def __init__(self, env, member_cid=None):
        self.base_url = env.base_url
        self.session = requests.Session()
        form = {"client_id": env.client_id, "client_secret": env.client_secret}
        if member_cid:
            form["member_cid"] = member_cid
        reply = self.session.post(f"{self.base_url}/oauth2/token", data=form, timeout=TIMEOUT)
        expect(reply.status_code == 201, f"oracle token ({member_cid or 'own CID'}): {reply.status_code} "
                                         f"{reply.text[:300]}")
        self.session.headers["Authorization"] = "Bearer " + reply.json()["access_token"]

    def get(self, path, **params):
        reply = self.session.get(f"{self.base_url}{path}", params=params, timeout=TIMEOUT)
        expect(reply.status_code == 200, f"GET {path} {params}: {reply.status_code} {reply.text[:300]}")
        body = reply.json()
        expect(not body.get("errors"), f"GET {path}: errors {body.get('errors')}")
        return body

    def send(self, method, path, status, body=None, **params):
        """Any request with a JSON body; expects `status` and a Falcon envelope, answers the body."""
        reply = self.session.request(method, f"{self.base_url}{path}", params=params, json=body, timeout=TIMEOUT)
        expect(reply.status_code == status, f"{method} {path} {params}: {reply.status_code}, expected {status}: "
                                            f"{reply.text[:300]}")
        answer = reply.json()
        expect({"meta", "resources", "errors"} <= set(answer), f"{method} {path}: not an envelope: {reply.text[:300]}")
        return answer

    def paged(self, path, **params):
        """Every resource of a query paged by integer offset (the host-group and member queries)."""
        out = []
        while True:
            body = self.get(path, limit=500, offset=len(out), **params)
            out.extend(body["resources"])
            if not body["resources"] or len(out) >= body["meta"]["pagination"]["total"]:
                return out

    def records(self, fql=None):
        """Every visible host's record (CombinedDevicesByFilter, paged by its `next` token), by device ID."""
        out, offset = [], None
        while True:
            params = {"limit": 1000}
            if fql:
                params["filter"] = fql
            if offset:
                params["offset"] = offset
            body = self.get("/devices/combined/devices/v1", **params)
            out.extend(body["resources"])
            page = body["meta"]["pagination"]
            offset = page.get("next")
            if not offset or not body["resources"] or len(out) >= page["total"]:
                return {r["device_id"]: r for r in out}

    def record(self, device_id):
        body = self.get("/devices/entities/devices/v2", ids=device_id)
        expect(len(body["resources"]) == 1, f"details of {device_id}: {body['resources']}")
        return body["resources"][0]

    def count(self, fql):
        return self.get("/devices/queries/devices/v1", filter=fql, limit=1)["meta"]["pagination"]["total"]

    def groups(self, fql=None):
        """The customer's host groups (queryCombinedHostGroups), by ID."""
        params = {"filter": fql} if fql else {}
        return {g["id"]: g for g in self.paged("/devices/combined/host-groups/v1", **params)}

    def group(self, group_id):
        """One host group's record, as the customer's groups list it."""
        groups = self.groups()
        expect(group_id in groups, f"group {group_id} is not on the server: {sorted(groups)}")
        return groups[group_id]

    def members(self, group_id):
        """The device IDs of a group's members (queryGroupMembers)."""
        return set(self.paged("/devices/queries/host-group-members/v1", id=group_id))

    def create_groups(self, groups):
        """Creates host groups (`{"name", "group_type", ...}` each, 100 a call); answers their records."""
        made = []
        for i in range(0, len(groups), 100):
            reply = self.session.post(f"{self.base_url}/devices/entities/host-groups/v1",
                                      json={"resources": groups[i : i + 100]}, timeout=TIMEOUT)
            expect(reply.status_code == 201, f"POST host groups: {reply.status_code} {reply.text[:300]}")
            made.extend(reply.json()["resources"])
        return made

    def delete_groups(self, ids):
        """Deletes host groups, 100 a call (the tools' own delete is not always usable; see their scripts)."""
        ids = list(ids)
        for i in range(0, len(ids), 100):
            reply = self.session.delete(f"{self.base_url}/devices/entities/host-groups/v1",
                                        params={"ids": ids[i : i + 100]}, timeout=TIMEOUT)
            expect(reply.status_code == 200, f"DELETE host groups: {reply.status_code} {reply.text[:300]}")


def text_or_json(text):
    """A tool's text content: JSON when it parses as an object or a list, else the text itself."""
    if text[:1] in "{[":
        return json.loads(text)
    return text


class McpTools:
    """falcon-mcp (unmodified) with `modules` enabled, logged in to the server of `env`; its tools are
    called in-process through FastMCP's call_tool (its own argument validation and defaults)."""

    def __init__(self, env, modules):
        # falcon-mcp reads its configuration from the environment only (its CLI sets the same variables).
        os.environ.update(FALCON_BASE_URL=env.base_url, FALCON_CLIENT_ID=env.client_id,
                          FALCON_CLIENT_SECRET=env.client_secret)
        for name in ("FALCON_MEMBER_CID", "FALCON_PROXY_URL", "FALCON_MCP_TOOLS", "FALCON_MCP_EXCLUDE_TOOLS"):
            os.environ.pop(name, None)
        # Imported here so that it sees the environment above.
        from falcon_mcp.server import FalconMCPServer

        # The constructor logs in (one POST /oauth2/token) and raises when that fails.
        self.server = FalconMCPServer(enabled_modules=set(modules)).server
        self.loop = asyncio.new_event_loop()

    def call(self, name, /, listing=False, **arguments):
        """Calls an MCP tool; answers its JSON result (a list when `listing`), failing on falcon-mcp's
        error shapes."""
        out = self.loop.run_until_complete(self.server.call_tool(name, arguments))
        if isinstance(out, tuple):  # (content, structured) when a tool declares structured output
            out = out[0]
        expect(all(c.type == "text" for c in out), f"{name}: unexpected content {out!r:.300}")
        # FastMCP turns a returned list into one text content per item, and anything else into one; a
        # text item (a deleted record's ID) is its text, not JSON.
        items = [text_or_json(c.text) for c in out]
        expect(listing or len(items) == 1, f"{name}: {len(items)} contents for one result")
        # falcon-mcp reports an API failure as {"error": ...}, alone, as a list's only item, or (a search
        # whose filter the API refused) as the only item of "results" beside an "fql_guide".
        errors = [r for r in items if isinstance(r, dict) and ("error" in r or "fql_guide" in r)]
        expect(not errors, f"{name}({arguments}): {json.dumps(errors)[:1500]}")
        return items if listing else items[0]

    def resource(self, uri):
        """The text of one of falcon-mcp's resources (its FQL guides)."""
        contents = self.loop.run_until_complete(self.server.read_resource(uri))
        return "".join(c.content for c in contents)


def main(label, setup, checks):
    """Runs `setup()` (the script's run, carrying `demo_hosts`), then each check of `checks` (or those
    TALON_CHECKS names) with it; answers the exit code: 0 when all passed, 1 at the first failure."""
    started = time.monotonic()
    try:
        run = setup()
    except Exception:  # noqa: BLE001 - the message is the point
        print(f"FAIL setup:\n{traceback.format_exc()}", flush=True)
        return 1
    names = {c.__name__.removeprefix("check_"): c for c in checks}
    chosen = [c for c in os.environ.get("TALON_CHECKS", "").split(",") if c]
    unknown = set(chosen) - set(names)
    if unknown:
        print(f"{label}: no such checks: {sorted(unknown)}", file=sys.stderr)
        return 2
    selected = [(n, c) for n, c in names.items() if not chosen or n in chosen]
    known = 0
    for name, check in selected:
        problem = getattr(check, "known_problem", None)
        try:
            detail = check(run)
        except Exception as failure:  # noqa: BLE001 - a tool's exception is a failure too
            shown = str(failure) if isinstance(failure, CheckFailed) else "\n" + traceback.format_exc()
            if problem:
                print(f"xfail {name}: {problem}: {shown}", flush=True)
                known += 1
                continue
            print(f"FAIL {name}: {shown}", flush=True)
            return 1
        if problem:
            print(f"xpass {name}: passes now; remove its known_problem mark ({problem})", flush=True)
        print(f"ok {name}: {detail}", flush=True)
    problems = f", {known} known problems (xfail)" if known else ""
    print(f"{label}: {len(selected) - known} checks passed{problems} on {run.demo_hosts} hosts "
          f"in {time.monotonic() - started:.1f} s")
    return 0
