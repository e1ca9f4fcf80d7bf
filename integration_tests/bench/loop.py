"""The yardstick of bench item 3: the least a source can do to read UPgates customers.

    python loop.py --config upgates.json

Pages through GET {api_url}/customers with one `requests` session (HTTP Basic auth, the same
config file as source-upgates-customers), stops at the last page the answer announces, and
writes every customer as an Airbyte RECORD line with `json`, then one STATE line with the
highest last_update_time, as the source does. No schema, no retries, no transformation:
whatever the connector spends on top of this is the price of its machinery.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--stream", default="customers")
    args = parser.parse_args(argv)
    with open(args.config) as f:
        config = json.load(f)
    base = config["api_url"].rstrip("/")
    session = requests.Session()
    session.auth = (config["login"], config["api_key"])
    out = sys.stdout
    dumps = json.dumps
    cursor = ""
    page = 1
    while True:
        response = session.get(f"{base}/customers", params={"page": page}, timeout=60)
        response.raise_for_status()
        body = response.json()
        emitted_at = int(time.time() * 1000)
        for customer in body.get("customers") or ():
            out.write(dumps({"type": "RECORD", "record": {"stream": args.stream, "data": customer, "emitted_at": emitted_at}}))
            out.write("\n")
            updated = customer.get("last_update_time") or ""
            if updated > cursor:
                cursor = updated
        if not body.get("current_page") or body["current_page"] >= body.get("number_of_pages", 0):
            break
        page += 1
    state = {
        "type": "STATE",
        "state": {
            "type": "STREAM",
            "stream": {"stream_descriptor": {"name": args.stream}, "stream_state": {"last_update_time": cursor}},
        },
    }
    out.write(dumps(state) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
