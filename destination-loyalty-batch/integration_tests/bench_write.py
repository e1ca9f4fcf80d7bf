"""Benchmark (prints figures, asserts nothing): the console script writing N customers to the
loyalty emulator with a given latency per request.

    .venv/bin/python destination-loyalty-batch/integration_tests/bench_write.py --records 20000 --latency 0.05

Reports wall time, records/s, customers_batch requests, and the cost of update mode's
grouping by field set (records with and without a phone need separate requests so that a
missing phone never blanks the stored one). With `--concurrency 1 4` each run is repeated per
`max_concurrent_requests` and the request phase (first customers_batch sent to last answered,
from the emulator's log) is compared with the ideal `requests x latency / N`.
"""

from __future__ import annotations

import argparse
import json
import time

from commerce_emulators.loyalty import LoyaltyEmulator
from commerce_emulators.runner import run_connector


def records(n: int, uniform: bool) -> list[str]:
    out = []
    for i in range(n):
        data = {"code": f"BENCH{i:07d}", "first_name": f"Name{i}", "last_name": "Bench", "email": f"b{i}@example.com",
                "city": "Brno, Královo Pole" if i % 7 == 0 else "Praha", "custom_date": "14.07.1970"}
        if uniform or i % 3:
            data["phone"] = f"+420 600 {i:06d}"
        out.append(json.dumps({"type": "RECORD", "record": {"stream": "customers", "data": data, "emitted_at": 0}}))
        if i % 5000 == 4999:
            out.append(json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "customers"}, "stream_state": {"n": i}}}}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1])
    parser.add_argument("--modes", nargs="+", default=["append/uniform", "append_dedup/uniform", "append_dedup/mixed"])
    args = parser.parse_args()
    runs = [(m.split("/")[0], m.split("/")[1] == "uniform", n) for m in args.modes for n in args.concurrency]
    for mode, uniform, concurrency in runs:
        with LoyaltyEmulator(latency=args.latency) as api:
            config = {"api_url": api.url, "user_id": api.user_id, "api_key": api.api_key, "account_id": api.account_id,
                      "campaigns": api.campaign_ids[:1], "batch_size": args.batch_size, "allow_undo": False,
                      "max_concurrent_requests": concurrency}
            catalog = {"streams": [{"stream": {"name": "customers", "json_schema": {}, "supported_sync_modes": ["incremental"]},
                                    "sync_mode": "incremental", "destination_sync_mode": mode}]}
            stdin = "\n".join(records(args.records, uniform)) + "\n"
            started = time.monotonic()
            result = run_connector("destination-loyalty-batch", "write", config=config, catalog=catalog, stdin=stdin, timeout=3600)
            seconds = time.monotonic() - started
            assert result.returncode == 0, result.stderr[-2000:]
            calls = api.log.select(function="customers_batch")
            phase = max(c.started + c.seconds for c in calls) - min(c.started for c in calls) if calls else 0.0
            ideal = len(calls) * args.latency / concurrency
            print(
                f"{mode:12s} {'uniform' if uniform else 'mixed  '} N={concurrency} records {args.records} in {seconds:.1f}s "
                f"({args.records / seconds:.0f}/s), customers_batch requests {len(calls)}, request phase {phase:.2f}s "
                f"vs ideal {ideal:.2f}s (ratio {ideal / phase if phase else 0:.2f}), "
                f"latency {args.latency}s, batch size {args.batch_size}, customers stored {len(api.customers)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
