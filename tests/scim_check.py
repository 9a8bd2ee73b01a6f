"""Run scim2-tester against a SCIM service and print the checks that did not pass, as JSON.

A process of its own, like the IdP that would call the service: in the test process
it would share the interpreter (and its lock) with the API's server thread.
Usage: python -m tests.scim_check <base URL> <token>
"""

from __future__ import annotations

import json
import sys

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server


def main(base_url: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=base_url, headers=headers, timeout=30) as http:
        results = check_server(SyncSCIMClient(http))
    failed = [
        {"title": r.title, "reason": r.reason, "status": r.status.name}
        for r in results
        if r.status not in {Status.SUCCESS, Status.SKIPPED}
    ]
    print(json.dumps({"checks": len(results), "failed": failed}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
