"""falcon-toolkit interoperability check for a running Talon server.

falcon-toolkit (CrowdStrike's `falcon` command line, pinned to 3.6.2 by
scripts/python-env.sh) is run unmodified, as a user runs it, in child
processes with no TTY, against Talon. Everything it needs lives in a
throw-away directory made here:

  - HOME and XDG_DATA_HOME point into it, so no real profile is read and the
    old-location migration dialog (asked when ~/FalconToolkit exists) never
    appears;
  - FALCON_TOOLKIT_CONFIG_DIR holds FalconToolkit.json with one profile whose
    cloud_name is the server's URL (written by hand: the `profiles new`
    wizard offers only the real clouds);
  - the client secret is seeded in keyrings.alt's PlaintextKeyring
    (PYTHON_KEYRING_BACKEND), the headless keyring, so the toolkit never asks.

What it drives:

  - `falcon host_search -f ...` with OS, Hostname, LastSeen__GTE and Role
    filters, the table on stdout and the CSV export (-e), each CSV row checked
    field by field against the server's record;
  - `falcon containment -f Hostname=... contain` and
    `falcon containment -f DeviceID=... uncontain`, answering the toolkit's
    full-screen confirmation dialog through stdin (Down, Space selects the
    second option, Tab to Ok, Enter), and checking the host's status on the
    server after each;
  - Flight Control (MSSP): a second profile on the same client with the
    PublicCloudFlightControlParentCID backend. The client's member CIDs are
    its children (more than the toolkit's page of 10 in queryChildren, and
    each with its own demo hosts); `falcon -p talon-mssp --cid <child>
    host_search`, the same with FALCON_TOOLKIT_CID, and with a --cid that is
    no child (the parent's own), where the toolkit lists the children
    (getChildren) and the child is typed at its prompt on stdin. Each must
    list that child's hosts only (the toolkit logs in again with member_cid),
    checked against the server read with a token locked to that child.

Avoided: `containment -d`/`-df` (device IDs on the command line or in a
file), broken in 3.6.2 whatever the server answers (they build a set and then
slice it: TypeError), so devices are named with -f DeviceID=... instead. The
toolkit has no host-group commands.

Environment (set by crates/cli/tests/falcon_tools.rs):

    TALON_BASE_URL       e.g. http://127.0.0.1:PORT
    TALON_CLIENT_ID      a client with devices:read/write and mssp:read
    TALON_CLIENT_SECRET
    TALON_DEMO_HOSTS     the N given to `talon serve --demo-hosts N`
    TALON_MEMBER_CIDS    the client's member CIDs, comma-separated (at least 12: more than a page)

Each check prints "ok <name>: ..."; the first failure prints "FAIL <name>: ..."
with the command's output, and the script exits 1. Every command is bounded
by COMMAND_TIMEOUT. Exit 0 only when all passed; 2 for a bad environment.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _talon import CheckFailed, Oracle, environment, expect, main

COMMAND_TIMEOUT = 60
PROFILE = "talon"
MSSP_PROFILE = "talon-mssp"
# How long the server may take to seed a new member CID's demo hosts (its refresh loop runs every 250 ms).
SEEDING = 10
# The containment dialog's keys: Down to the second value, Space to select it, Tab to the Ok button,
# Enter. Its default value is Abort, so a wrong key sequence aborts rather than acting.
CONFIRM = "\x1b[B \t\r"
CSV_COLUMNS = ["aid", "hostname", "machine_domain", "local_ip", "os_version", "role", "containment_status",
               "last_seen", "grouping_tags"]


def seeded_hosts(env, child):
    """The records of a child's hosts, read with a token locked to it, once the server has seeded them."""
    oracle = Oracle(env, member_cid=child)
    deadline = time.monotonic() + SEEDING
    while True:
        hosts = oracle.records()
        if len(hosts) >= env.demo_hosts or time.monotonic() > deadline:
            expect(len(hosts) == env.demo_hosts, f"child {child} has {len(hosts)} hosts after {SEEDING} s")
            return hosts
        time.sleep(0.1)


class Run:
    def __init__(self, workdir):
        self.talon = env = environment("falcon_toolkit_interop")
        self.base_url, self.demo_hosts = env.base_url, env.demo_hosts
        client_id, secret = env.client_id, env.client_secret
        self.oracle = Oracle(env)
        self.all = self.oracle.records()
        expect(len(self.all) == self.demo_hosts, f"the oracle sees {len(self.all)} of {self.demo_hosts} hosts")
        # The Flight Control children (the client's member CIDs) and their own hosts, once seeded.
        self.children = env.member_cids
        expect(len(self.children) >= 12, f"TALON_MEMBER_CIDS names {len(self.children)} children, the checks need "
                                         "12 (two beyond the toolkit's page of 10)")
        self.child_hosts = {cid: seeded_hosts(env, cid) for cid in self.children}
        self.workdir = workdir
        self.falcon = str(Path(sys.executable).parent / "falcon")
        expect(os.access(self.falcon, os.X_OK), f"no falcon entry point next to {sys.executable}")
        config = workdir / "config"
        config.mkdir()
        # Only what the toolkit and its keyring read: nothing of the caller's HOME, profile or keyring.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir / "home"),
            "XDG_DATA_HOME": str(workdir / "data"),
            "XDG_CONFIG_HOME": str(workdir / "xdg-config"),
            "FALCON_TOOLKIT_CONFIG_DIR": str(config),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "LANG": "C.UTF-8",
            "COLUMNS": "200",
        }
        (workdir / "home").mkdir()
        backend_config = {"client_id": client_id, "cloud_name": self.base_url, "proxy": None,
                          # ssl_verify must be a JSON boolean: the toolkit reads it with bool(), so "False" is
                          # true.
                          "ssl_verify": False}
        # One profile per backend, on the same client and so the same keyring entry: the single-CID one, and
        # the Flight Control parent's, which picks a child (--cid, FALCON_TOOLKIT_CID, or a prompt).
        instances = [(PROFILE, "PublicCloudSingleCID"), (MSSP_PROFILE, "PublicCloudFlightControlParentCID")]
        profile = {
            "auth_backends": [],
            "instances": [{"name": name, "description": "Talon under test",
                           "auth": {"backend_name": backend, "backend_config": backend_config}}
                          for name, backend in instances],
        }
        (config / "FalconToolkit.json").write_text(json.dumps(profile, indent=2))
        seeded = subprocess.run(
            [sys.executable, "-c", "import keyring, sys; keyring.set_password('FalconToolkit', sys.argv[1], "
                                   "sys.stdin.read())", client_id],
            input=secret, env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        expect(seeded.returncode == 0, f"seeding the keyring failed: {seeded.stderr}")

    def falcon_cmd(self, *args, stdin="", options=("-p", PROFILE), env=None):
        """Runs `falcon OPTIONS ARGS` (by default `-p talon`) with `stdin` on a pipe and `env` added to the
        toolkit's environment; answers stdout, failing on a non-zero exit."""
        command = [self.falcon, *options, *args]
        try:
            done = subprocess.run(command, input=stdin, env={**self.env, **(env or {})}, capture_output=True,
                                  text=True, timeout=COMMAND_TIMEOUT, cwd=self.workdir)
        except subprocess.TimeoutExpired as timeout:
            raise CheckFailed(f"{' '.join(args)} still running after {COMMAND_TIMEOUT} s:\n"
                              f"{timeout.stdout}\n{timeout.stderr}") from None
        expect(done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def export(self, name, *filters, **how):
        """host_search with these -f filters and a CSV export (`how`: falcon_cmd's options, env, stdin);
        answers the rows keyed by aid, and stdout."""
        path = self.workdir / f"{name}.csv"
        args = ["host_search"]
        for f in filters:
            args += ["-f", f]
        stdout = self.falcon_cmd(*args, "-e", str(path), **how)
        expect(path.exists(), f"host_search {filters} wrote no CSV:\n{stdout}")
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            expect(reader.fieldnames == CSV_COLUMNS, f"CSV columns {reader.fieldnames}")
            rows = list(reader)
        by_aid = {row["aid"]: row for row in rows}
        expect(len(by_aid) == len(rows), f"{name}: duplicate rows")
        return by_aid, stdout


def check_row(row, record):
    want = {
        "hostname": record.get("hostname", ""),
        "machine_domain": record.get("machine_domain", ""),
        "local_ip": record.get("local_ip", ""),
        "os_version": record.get("os_version", ""),
        "role": record.get("product_type_desc", ""),
        "containment_status": record.get("status", "normal"),
        "last_seen": record.get("last_seen", ""),
        "grouping_tags": ";".join(record.get("tags", [])),
    }
    wrong = {k: (row[k], v) for k, v in want.items() if row[k] != v}
    expect(not wrong, f"CSV row of {row['aid']} differs from the server (CSV, server): {wrong}")


def check_search_os_csv(run):
    rows, _ = run.export("windows", "OS=Windows")
    want = run.oracle.records("platform_name:'Windows'")
    expect(want and set(rows) == set(want), f"OS=Windows: {len(rows)} CSV rows, the server holds {len(want)}")
    expect(want == {k: r for k, r in run.all.items() if r["platform_name"] == "Windows"}, "server filter disagrees")
    for aid, row in rows.items():
        check_row(row, want[aid])
    return f"{len(rows)} Windows hosts in the CSV, every field as on the server"


def check_search_hostnames(run):
    # One host per platform: Mac and Linux hosts have no domain, which the table must survive.
    names = sorted({r["platform_name"]: r["hostname"] for r in sorted(run.all.values(), key=lambda r: r["hostname"],
                                                                     reverse=True)}.values())
    rows, _ = run.export("hostnames", "Hostname=" + ",".join(names), "LastSeen__GTE=-30d")
    want = {k: r for k, r in run.all.items() if r["hostname"] in names}
    # A stale demo host may fall outside 30 days: the server's answer for the same filter decides.
    served = run.oracle.records(f"hostname:{names!r}+last_seen:>='now-30d'")
    expect(set(rows) == set(served) and set(served) <= set(want), f"Hostname filter: CSV {sorted(rows)}, "
                                                                   f"server {sorted(served)}")
    # Without -e the toolkit prints a table instead (its text wrapping reads machine_domain, os_version and
    # product_type_desc, so a null in them would crash it).
    table = run.falcon_cmd("host_search", "-f", "Hostname=" + ",".join(names), "-f", "LastSeen__GTE=-30d")
    for name in (run.all[aid]["hostname"] for aid in rows):
        expect(name in table, f"{name} is not in the host_search table:\n{table}")
    for aid, row in rows.items():
        check_row(row, run.all[aid])
    return f"{len(rows)} of {names} in the CSV and the table"


def check_search_all_roles(run):
    counts = {}
    for role, desc in (("Server", "Server"), ("Workstation", "Workstation"), ("DC", "Domain Controller")):
        rows, _ = run.export(f"role-{role}", f"Role={role}")
        want = {k for k, r in run.all.items() if r.get("product_type_desc") == desc}
        expect(set(rows) == want, f"Role={role}: {len(rows)} rows, expected {len(want)}")
        counts[role] = len(rows)
    expect(sum(counts.values()) == len(run.all), f"the roles do not cover every host: {counts}")
    return ", ".join(f"{k} {v}" for k, v in counts.items())


def target(run):
    # A Windows workstation if there is one: the kind of host a responder contains.
    return sorted(run.all.values(), key=lambda r: (r.get("product_type_desc") != "Workstation", r["hostname"]))[0]


def check_contain(run):
    host = target(run)
    stdout = run.falcon_cmd("containment", "-f", f"Hostname={host['hostname']}", "contain", stdin=CONFIRM)
    # The toolkit prints Succeeded only when PerformActionV2 answers 202.
    expect("Succeeded" in stdout, f"contain did not print Succeeded:\n{stdout}")
    status = run.oracle.record(host["device_id"])["status"]
    expect(status == "contained", f"after contain, {host['hostname']} is {status}:\n{stdout}")
    rows, _ = run.export("contained", f"Hostname={host['hostname']}")
    expect(rows[host["device_id"]]["containment_status"] == "contained", "the CSV does not show it contained")
    return f"{host['hostname']} contained"


def check_uncontain(run):
    host = target(run)
    stdout = run.falcon_cmd("containment", "-f", f"DeviceID={host['device_id']}", "uncontain", stdin=CONFIRM)
    expect("Succeeded" in stdout, f"uncontain did not print Succeeded:\n{stdout}")
    status = run.oracle.record(host["device_id"])["status"]
    expect(status == "normal", f"after uncontain, {host['hostname']} is {status}:\n{stdout}")
    return f"{host['hostname']} normal again"


def check_abort(run):
    host = target(run)
    # Tab then Enter presses Ok on the default value, Abort: nothing may change.
    run.falcon_cmd("containment", "-f", f"Hostname={host['hostname']}", "contain", stdin="\t\r")
    status = run.oracle.record(host["device_id"])["status"]
    expect(status == "normal", f"after an aborted contain, {host['hostname']} is {status}")
    return "Abort leaves the host normal"


def check_mssp_children(run):
    listed = run.oracle.paged("/mssp/queries/children/v1")
    expect(sorted(listed) == sorted(run.children), f"queryChildren gives {listed}, the client's members are "
                                                   f"{list(run.children)}")
    seen = set(run.all)
    for child, hosts in run.child_hosts.items():
        expect(not seen & set(hosts), f"child {child} shares hosts with the parent or a sibling")
        expect({r["cid"] for r in hosts.values()} == {child}, f"child {child}'s hosts carry another cid")
        seen |= set(hosts)
    # The toolkit pages queryChildren by 10 (in the server's default order): the checks below name children
    # from beyond its first page too, so they pass only if the toolkit read every page.
    first_page = run.oracle.get("/mssp/queries/children/v1", limit=10)["resources"]
    run.later = [c for c in listed if c not in first_page]
    expect(len(run.later) >= 2, f"{len(listed)} children fit in the toolkit's first page of 10")
    return f"{len(listed)} children ({len(run.later)} beyond a page of 10), {run.demo_hosts} hosts each, none shared"


def check_mssp_cid_option(run):
    child = run.later[0]
    rows, stdout = run.export("mssp-cid", options=("-p", MSSP_PROFILE, "--cid", child))
    # The backend checks --cid against queryChildren's answer before logging in with member_cid.
    expect("Valid member CID" in stdout, f"the toolkit did not take --cid {child}:\n{stdout}")
    want = run.child_hosts[child]
    expect(set(rows) == set(want), f"--cid {child}: {len(rows)} CSV rows, the child holds {len(want)} hosts "
                                   f"({len(set(rows) & set(run.all))} of them the parent's)")
    for aid, row in rows.items():
        check_row(row, want[aid])
    return f"--cid {child}: its {len(rows)} hosts only, every CSV field as on the server"


def check_mssp_cid_environment(run):
    child = run.later[1]
    rows, stdout = run.export("mssp-env", "OS=Windows", options=("-p", MSSP_PROFILE),
                              env={"FALCON_TOOLKIT_CID": child})
    expect("Valid member CID" in stdout, f"the toolkit did not take FALCON_TOOLKIT_CID={child}:\n{stdout}")
    want = {k for k, r in run.child_hosts[child].items() if r["platform_name"] == "Windows"}
    served = set(Oracle(run.talon, member_cid=child).records("platform_name:'Windows'"))
    expect(want and set(rows) == want == served, f"FALCON_TOOLKIT_CID={child} OS=Windows: {len(rows)} rows, "
                                                 f"{len(want)} Windows hosts in the child")
    return f"FALCON_TOOLKIT_CID={child} with OS=Windows: {len(rows)} of its hosts"


def check_mssp_choose_child(run):
    # Not a child (the parent's own CID): the toolkit says so, lists the children (getChildren) and asks
    # for one on stdin.
    parent = next(iter(run.all.values()))["cid"]
    child = run.later[0]
    rows, stdout = run.export("mssp-chosen", "Role=Server", options=("-p", MSSP_PROFILE, "--cid", parent),
                              stdin=f"{child}\n")
    expect("invalid CID" in stdout, f"--cid {parent} (the parent) was taken as a child:\n{stdout}")
    name = run.oracle.get("/mssp/entities/children/v1", ids=child)["resources"][0]["name"]
    expect(f"Connecting to {name}" in stdout, f"the toolkit did not connect to {name}:\n{stdout}")
    want = {k for k, r in run.child_hosts[child].items() if r.get("product_type_desc") == "Server"}
    expect(want and set(rows) == want, f"chosen child {child}, Role=Server: {len(rows)} rows, expected {len(want)}")
    return f"the parent's CID refused, {child} ({name}) chosen at the prompt: its {len(rows)} servers"


CHECKS = [
    check_search_os_csv,
    check_search_hostnames,
    check_search_all_roles,
    check_contain,
    check_uncontain,
    check_abort,
    check_mssp_children,
    check_mssp_cid_option,
    check_mssp_cid_environment,
    check_mssp_choose_child,
]


def run_in_scratch():
    """The checks, in a throw-away directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="talon-toolkit-") as workdir:
        return main("falcon-toolkit", lambda: Run(Path(workdir)), CHECKS)


if __name__ == "__main__":
    sys.exit(run_in_scratch())
