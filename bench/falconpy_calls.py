"""FalconPy's half of bench/sdk_vs_falconpy.sh.

N sequential authenticated calls of QueryDevicesByFilter through FalconPy's Hosts service class,
then N calls spread over W threads sharing one Hosts object (FalconPy is synchronous; threads are how
its users run calls concurrently). Prints one line per mode, `falconpy <mode> <calls> <seconds>
<calls/s>`, as the SDK's half does. Any answer other than 200 stops the run with exit code 1.

Environment: FALCON_BASE_URL, FALCON_CLIENT_ID, FALCON_CLIENT_SECRET; CALLS (default 5000) and
WORKERS (default 64).
"""
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from falconpy import Hosts, OAuth2


def call(hosts):
    answer = hosts.query_devices_by_filter()
    if answer["status_code"] != 200:
        print(f"falconpy: answer {answer['status_code']}: {answer['body'].get('errors')}", file=sys.stderr)
        sys.exit(1)


def report(mode, calls, started):
    secs = time.perf_counter() - started
    print(f"falconpy {mode} {calls} {secs:.3f} {calls / secs:.1f}", flush=True)


def main():
    calls = int(os.environ.get("CALLS", "5000"))
    workers = int(os.environ.get("WORKERS", "64"))
    auth = OAuth2(
        client_id=os.environ["FALCON_CLIENT_ID"],
        client_secret=os.environ["FALCON_CLIENT_SECRET"],
        base_url=os.environ["FALCON_BASE_URL"],
    )
    hosts = Hosts(auth_object=auth)
    # The token is fetched here, outside the timed part.
    call(hosts)

    started = time.perf_counter()
    for _ in range(calls):
        call(hosts)
    report("sequential", calls, started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        # list() re-raises a worker's exception here.
        list(pool.map(lambda _: call(hosts), range(calls)))
    report("concurrent", calls, started)


if __name__ == "__main__":
    main()
