"""Runs FalconPy's Uber class (APIHarnessV2.command) over the cases a Rust test wrote, against a server
that records what arrives. Before each case it calls GET /__case/N, so the recorder can tell which
requests belong to which case. Prints one line per case that FalconPy refused before sending.

Usage: python falconpy_uber_record.py CASES.json   (TALON_BASE_URL, TALON_CLIENT_ID, TALON_CLIENT_SECRET)
"""
import json
import os
import sys

import requests
from falconpy import APIHarnessV2


def main() -> int:
    base = os.environ["TALON_BASE_URL"]
    cases = json.load(open(sys.argv[1], encoding="utf-8"))
    falcon = APIHarnessV2(client_id=os.environ["TALON_CLIENT_ID"],
                          client_secret=os.environ["TALON_CLIENT_SECRET"],
                          base_url=base)
    refused = 0
    for number, case in enumerate(cases):
        requests.get(f"{base}/__case/{number}", timeout=10)
        kwargs = dict(case["path_kwargs"])
        if case["query"]:
            kwargs["parameters"] = case["query"]
        if case["body"] is not None:
            kwargs["body"] = case["body"]
        if case["form"]:
            kwargs["data"] = case["form"]
        if case["headers"]:
            kwargs["headers"] = case["headers"]
        if case["files"]:
            kwargs["files"] = [(f["field"], (f["file_name"], f["content"].encode()))
                               for f in case["files"]]
        try:
            falcon.command(case["operation"], **kwargs)
        except Exception as error:  # noqa: BLE001 - any refusal is reported, not fatal
            refused += 1
            print(f"refused {case['operation']}: {type(error).__name__}: {error}")
    print(f"ran {len(cases)} cases, {refused} refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
