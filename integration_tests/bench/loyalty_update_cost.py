"""Benchmark (prints figures, asserts nothing): what update mode costs on mixed data, the issue
13 item 6 case. N customers in loyalty shape, phone / city / last name each missing for some
(8 sets of fields), a STATE every K records as a source checkpoints, written in append_dedup
(overwrite_duplicates=update) with keep_existing and with send_blank.

    .venv/bin/python integration_tests/bench/loyalty_update_cost.py --records 775 --state-every 50

Prints customers_batch requests beside the ideal ceil(N / batch size) and the number of field
sets, and the `Loyalty summary` line.
"""

from __future__ import annotations

import argparse
import json
import math
import time

from emulators.loyalty import LoyaltyEmulator
from harness.loyalty_data import mixed_customers
from harness.runner import run_connector


def lines(records: list[dict], every: int) -> str:
    out = []
    for i, r in enumerate(records, 1):
        out.append(json.dumps({"type": "RECORD", "record": {"stream": "customers", "data": r, "emitted_at": 0}}))
        if every and i % every == 0:
            out.append(json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {
                "stream_descriptor": {"name": "customers"}, "stream_state": {"n": i}}}}))
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=775)
    parser.add_argument("--state-every", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--latency", type=float, default=0.0)
    args = parser.parse_args()
    records = mixed_customers(args.records, code_digits=5)
    sets = len({tuple(sorted(r)) for r in records})
    ideal = math.ceil(args.records / args.batch_size)
    for blanks in ("keep_existing", "send_blank"):
        with LoyaltyEmulator(latency=args.latency, customers=0) as api:
            config = {"api_url": api.url, "user_id": api.user_id, "api_key": api.api_key, "account_id": api.account_id,
                      "campaigns": api.campaign_ids[:1], "batch_size": args.batch_size, "allow_undo": False,
                      "blank_values_in_update": blanks}
            catalog = {"streams": [{"stream": {"name": "customers", "json_schema": {}, "supported_sync_modes": ["incremental"]},
                                    "sync_mode": "incremental", "destination_sync_mode": "append_dedup"}]}
            started = time.monotonic()
            result = run_connector("destination-loyalty-batch", "write", config=config, catalog=catalog,
                                   stdin=lines(records, args.state_every), timeout=3600)
            seconds = time.monotonic() - started
            assert result.returncode == 0, result.stderr[-2000:]
            loyalty = next((x for x in result.logs if x.startswith("Loyalty summary")), "")
            print(
                f"{blanks:13s} records {args.records}, a STATE every {args.state_every}, batch size {args.batch_size}: "
                f"customers_batch requests {api.log.count(function='customers_batch')} (ideal {ideal}, field sets {sets}), "
                f"states echoed {len(result.states)}, {seconds:.1f}s",
                flush=True,
            )
            print(f"  {loyalty}", flush=True)


if __name__ == "__main__":
    main()
