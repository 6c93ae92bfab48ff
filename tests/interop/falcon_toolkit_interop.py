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
    server after each.

Avoided: `containment -d`/`-df` (device IDs on the command line or in a
file), broken in 3.6.2 whatever the server answers (they build a set and then
slice it: TypeError), so devices are named with -f DeviceID=... instead; and
the Flight Control (MSSP) profile backend, until the server emulates MSSP
children. Host-group commands would go in CHECKS once host groups exist.

Environment (set by crates/cli/tests/falcon_tools.rs):

    TALON_BASE_URL       e.g. http://127.0.0.1:PORT
    TALON_CLIENT_ID      a client with devices:read and devices:write
    TALON_CLIENT_SECRET
    TALON_DEMO_HOSTS     the N given to `talon serve --demo-hosts N`

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
from pathlib import Path

from _talon import CheckFailed, Oracle, environment, expect, main

COMMAND_TIMEOUT = 60
PROFILE = "talon"
# The containment dialog's keys: Down to the second value, Space to select it, Tab to the Ok button,
# Enter. Its default value is Abort, so a wrong key sequence aborts rather than acting.
CONFIRM = "\x1b[B \t\r"
CSV_COLUMNS = ["aid", "hostname", "machine_domain", "local_ip", "os_version", "role", "containment_status",
               "last_seen", "grouping_tags"]


class Run:
    def __init__(self, workdir):
        env = environment("falcon_toolkit_interop")
        self.base_url, self.demo_hosts = env.base_url, env.demo_hosts
        client_id, secret = env.client_id, env.client_secret
        self.oracle = Oracle(env)
        self.all = self.oracle.records()
        expect(len(self.all) == self.demo_hosts, f"the oracle sees {len(self.all)} of {self.demo_hosts} hosts")
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
        profile = {
            "auth_backends": [],
            "instances": [{
                "name": PROFILE,
                "description": "Talon under test",
                "auth": {
                    "backend_name": "PublicCloudSingleCID",
                    # ssl_verify must be a JSON boolean: the toolkit reads it with bool(), so "False" is true.
                    "backend_config": {"client_id": client_id, "cloud_name": self.base_url, "proxy": None,
                                       "ssl_verify": False},
                },
            }],
        }
        (config / "FalconToolkit.json").write_text(json.dumps(profile, indent=2))
        seeded = subprocess.run(
            [sys.executable, "-c", "import keyring, sys; keyring.set_password('FalconToolkit', sys.argv[1], "
                                   "sys.stdin.read())", client_id],
            input=secret, env=self.env, capture_output=True, text=True, timeout=COMMAND_TIMEOUT,
        )
        expect(seeded.returncode == 0, f"seeding the keyring failed: {seeded.stderr}")

    def falcon_cmd(self, *args, stdin=""):
        """Runs `falcon -p talon ARGS` with `stdin` on a pipe; answers stdout, failing on a non-zero exit."""
        command = [self.falcon, "-p", PROFILE, *args]
        try:
            done = subprocess.run(command, input=stdin, env=self.env, capture_output=True, text=True,
                                  timeout=COMMAND_TIMEOUT, cwd=self.workdir)
        except subprocess.TimeoutExpired as timeout:
            raise CheckFailed(f"{' '.join(args)} still running after {COMMAND_TIMEOUT} s:\n"
                              f"{timeout.stdout}\n{timeout.stderr}") from None
        expect(done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def export(self, name, *filters):
        """host_search with these -f filters and a CSV export; answers the rows keyed by aid."""
        path = self.workdir / f"{name}.csv"
        args = ["host_search"]
        for f in filters:
            args += ["-f", f]
        stdout = self.falcon_cmd(*args, "-e", str(path))
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


# Host-group (and, with a Flight Control profile, MSSP) checks go here once the server emulates them.
CHECKS = [
    check_search_os_csv,
    check_search_hostnames,
    check_search_all_roles,
    check_contain,
    check_uncontain,
    check_abort,
]


def run_in_scratch():
    """The checks, in a throw-away directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="talon-toolkit-") as workdir:
        return main("falcon-toolkit", lambda: Run(Path(workdir)), CHECKS)


if __name__ == "__main__":
    sys.exit(run_in_scratch())
