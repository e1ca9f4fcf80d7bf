"""Benchmark (prints figures, asserts nothing): the console script writing N customer updates
into the UPgates emulator. Shows PUT requests against ceil(N/batch), what 1 and 3 requests at
once change when each request takes time, and the cost of a learnt maximum.

    .venv/bin/python destination-upgates-customers/integration_tests/bench_write.py [N ...]
"""

from __future__ import annotations

import json
import math
import sys
import time

from commerce_emulators.fixtures.upgates_write import make_upgates_write, upgates_write_config
from commerce_emulators.runner import run_connector

CATALOG = {"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                        "sync_mode": "full_refresh", "destination_sync_mode": "update"}]}


def stdin(emails: list[str]) -> str:
    lines = []
    for i, email in enumerate(emails):
        data = {"id": 10_000 + i, "email": email}
        lines.append(json.dumps({"type": "RECORD", "record": {"stream": "users", "data": data, "emitted_at": 0}}))
        if i % 500 == 499:
            lines.append(json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"i": i}}}}))
    return "\n".join(lines) + "\n"


def bench(n: int, batch: int = 100, concurrency: int = 1, service_time: float = 0.0, max_items: int = 100) -> None:
    api = make_upgates_write(customers=n, world="tidy", service_time=service_time, max_write_items=max_items)
    with api:
        emails = [c["login"]["email"] for _, c in sorted(api.customers.items())]
        config = upgates_write_config(api, batch_size=batch, max_concurrent_requests=concurrency)
        started = time.monotonic()
        result = run_connector("destination-upgates-customers", "write", config=config, catalog=CATALOG, stdin=stdin(emails), timeout=3600)
        seconds = time.monotonic() - started
        puts = api.log.count(function="PUT customers")
        refused = api.log.count(function="PUT customers", status=413)
        ideal = math.ceil(n / min(batch, max_items))
        print(
            f"customers {n:>6}  batch {batch:>3}  shop max {max_items:>3}  at once {concurrency}  "
            f"service {service_time * 1000:.0f} ms  rc {result.returncode}  PUT {puts:>4} (ceil(N/B) {ideal}, refused {refused})  "
            f"peak in flight {api.peak_in_flight}  states {len(result.states):>3}  {seconds:6.1f} s  {n / seconds:7.0f} customers/s"
        )


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [2_000]
    for size in sizes:
        bench(size)
        bench(size, service_time=0.2)
        bench(size, service_time=0.2, concurrency=3)
        bench(size, batch=100, max_items=40)
