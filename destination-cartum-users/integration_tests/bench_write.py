"""Benchmark (prints figures, asserts nothing): the console script writing N users into the
Cartum emulator. Shows requests per batch, throughput and that peak memory does not grow
with the input size (only one batch is held).

    .venv/bin/python destination-cartum-users/integration_tests/bench_write.py [N ...]
"""

from __future__ import annotations

import json
import re
import sys
import time

from commerce_emulators.cartum import CartumEmulator
from commerce_emulators.fixtures.cartum_import import cartum_write_config
from commerce_emulators.runner import run_connector

# VmHWM (peak resident memory of this process image); ru_maxrss would include the parent's
# peak, which Linux carries across fork+exec.
RUN = (
    "import re, sys\n"
    "from destination_cartum_users.run import run\n"
    "run()\n"
    "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
    "print('MAXRSS_KB', hwm, file=sys.stderr)\n"
)
CATALOG = {"streams": [{"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
                        "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup"}]}


def stdin(n: int) -> str:
    lines = []
    for i in range(n):
        data = {"title": f"Bench User {i}", "email": f"bench{i}@example.com", "phone": f"+38050{i % 10**7:07d}",
                "city": "Київ", "customer_group_id": 2 + i % 4, "balance": i % 1000, "balance_currency": 1}
        if i % 50 == 0:
            data["email"] = f"broken-{i}"  # 2% rejected locally
        lines.append(json.dumps({"type": "RECORD", "record": {"stream": "users", "data": data, "emitted_at": 0}}))
        if i % 1000 == 999:
            lines.append(json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"i": i}}}}))
    return "\n".join(lines) + "\n"


def bench(n: int, batch: int = 100, latency: float = 0.0) -> None:
    with CartumEmulator(users=0, orders=0, latency=latency) as api:
        config = cartum_write_config(api, batch_size=batch, max_rejected_percent=5)
        started = time.monotonic()
        result = run_connector([sys.executable, "-c", RUN], "write", config=config, catalog=CATALOG, stdin=stdin(n), timeout=3600)
        seconds = time.monotonic() - started
        rss = re.search(r"MAXRSS_KB (\d+)", result.stderr)
        imports = api.log.count(function="users/import")
        print(
            f"records {n:>7}  batch {batch:>3}  latency {latency * 1000:.0f} ms  rc {result.returncode}  "
            f"users in shop {len(api.shop.users):>7}  import requests {imports:>5} "
            f"({(n - n // 50) / max(imports, 1):.1f} users/request)  total requests {len(api.log.items):>5}  "
            f"states {len(result.states):>4}  {seconds:6.1f} s  {n / seconds:7.0f} records/s  "
            f"peak RSS {int(rss.group(1)) / 1024 if rss else float('nan'):.0f} MB"
        )


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [2_000, 20_000, 100_000]
    for size in sizes:
        bench(size)
    bench(sizes[0], latency=0.05)
