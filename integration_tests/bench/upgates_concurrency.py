"""How close `read` of the customers stream comes to UPgates' concurrency ideal (issue 16 item 3).

    .venv/bin/python integration_tests/bench/upgates_concurrency.py [--pages 200] [--latency 0.1] [--workers 3] [--runs 3]

Starts the UPgates emulator (tidy world, `pages` x 100 customers, every answer held `latency`
seconds, 3 requests allowed at once), runs the real console script `source-upgates-customers
read` (customers, `--mode` incremental (default) or full_refresh, `num_workers` = workers), and
prints per run the wall time from
the first request's arrival to the last answer's end (the emulator's own log), the ideal
ceil(pages / workers) x latency, and the ratio (goal: <= 1.15). Also the process's whole time
(start-up included). A benchmark prints figures; it is not a pass/fail test.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "integration_tests"))

from harness.runner import configured_catalog, script  # noqa: E402
from bench.worlds import BenchUpgates as Emulator  # noqa: E402  (same answers, without re-sorting 20,000 customers per page)


def one_run(pages: int, latency: float, workers: int, mode: str) -> dict:
    with Emulator(customers=pages * 100, world="tidy", service_time=latency, max_concurrent=3) as api:
        config = {"api_url": f"{api.url}/api/v2", "login": api.login, "api_key": api.api_key, "num_workers": workers}
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "config.json").write_text(json.dumps(config))
            discover = subprocess.run([script("source-upgates-customers"), "discover", "--config", f"{tmp}/config.json"],
                                      capture_output=True, check=True)
            streams = [json.loads(l)["catalog"]["streams"] for l in discover.stdout.decode().splitlines() if '"CATALOG"' in l][0]
            catalog = configured_catalog([s for s in streams if s["name"] == "customers"], mode)
            Path(tmp, "catalog.json").write_text(json.dumps(catalog))
            api.log.clear()
            started = time.monotonic()
            proc = subprocess.run([script("source-upgates-customers"), "read", "--config", f"{tmp}/config.json",
                                   "--catalog", f"{tmp}/catalog.json"], capture_output=True)
            whole = time.monotonic() - started
        if proc.returncode != 0:
            raise SystemExit(f"read failed: {proc.stdout.decode()[-2000:]}")
        records = proc.stdout.count(b'"type":"RECORD"') + proc.stdout.count(b'"type": "RECORD"')
        items = api.log.select(path="/api/v2/customers")
        first = min(r.started for r in items)
        last = max(r.started + r.seconds for r in items)
        ideal = math.ceil(pages / workers) * latency
        # where the time goes: the emulator's own time per answer, and the time with fewer than
        # `workers` requests in flight (the source's share)
        events = sorted([(r.started, 1) for r in items] + [(r.started + r.seconds, -1) for r in items])
        idle, level, at = 0.0, 0, first
        for when, step in events:
            if level < workers:
                idle += (when - at) * (workers - level) / workers
            level, at = level + step, when
        return {"requests": len(items), "records": records, "status_429": sum(r.status == 429 for r in items),
                "sync_seconds": last - first, "ideal_seconds": ideal, "ratio": (last - first) / ideal,
                "process_seconds": whole, "peak_in_flight": api.peak_in_flight,
                "answer_seconds": statistics.mean(r.seconds for r in items), "slot_idle_seconds": idle}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", choices=["full_refresh", "incremental"], default="incremental",
                        help="incremental (default): a STATE per page, each page settled once its STATE is flushed")
    args = parser.parse_args()
    ratios = []
    for n in range(args.runs):
        r = one_run(args.pages, args.latency, args.workers, args.mode)
        ratios.append(r["ratio"])
        print(f"run {n + 1}: {r['requests']} requests ({r['status_429']} x 429), {r['records']} records, "
              f"first request to last answer {r['sync_seconds']:.2f} s, ideal {r['ideal_seconds']:.2f} s, "
              f"ratio {r['ratio']:.3f} (goal <= 1.15), peak in flight {r['peak_in_flight']}, "
              f"whole process {r['process_seconds']:.2f} s; emulator answer {r['answer_seconds'] * 1000:.1f} ms on average, "
              f"request slots idle {r['slot_idle_seconds']:.2f} s", flush=True)
    print(f"UPgates {args.mode} {args.pages} pages x {args.latency * 1000:.0f} ms, {args.workers} at once: ratio median "
          f"{statistics.median(ratios):.3f}, min {min(ratios):.3f}, max {max(ratios):.3f} over {len(ratios)} runs")


if __name__ == "__main__":
    main()
