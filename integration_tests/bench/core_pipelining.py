"""Benchmark (not a test): destination_common's write loop with requests in flight (issue 16
items 1-2). A fake handler answers each send() after 50 ms (the destinations' bench latency);
the loop maps, validates and buffers records meanwhile. Figures: records/s against the
one-request-at-a-time ideal (batch_size / latency), at max_concurrent_requests 1 (goal ≥ 0.95)
and 4 (goal ≥ 0.9 × 4), with a STATE every 7 records (states must not cut batches: requests =
ceil(N / batch)).

    .venv/bin/python integration_tests/bench/core_pipelining.py [--quick]

The bench table (bench/goals.py) calls `measure(quick, log) -> list[dict]`.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import threading
import time
from typing import Any, Callable, Sequence

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    StreamDescriptor,
    Type,
)

from destination_common import Item, Outcome, Reject, StreamHandler, WriteLoop

LATENCY = 0.05
BATCH = 100
STATE_EVERY = 7


class SleepyHandler(StreamHandler):
    """Maps like a destination (a few fields, an e-mail check), answers after LATENCY."""

    dedupe = True

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sends = 0

    def map(self, data: Any) -> Any:
        email = str(data.get("email") or "").strip().lower()
        if "@" not in email:
            raise Reject("email", "no e-mail")
        return {
            "email": email,
            "name": f"{data.get('first_name', '')} {data.get('last_name', '')}".strip(),
            "phone": data.get("phone"),
            "city": (data.get("address") or {}).get("city"),
        }

    def key(self, payload: Any, data: Any) -> Any:
        return (payload or {}).get("email")

    def send(self, items: Sequence[Item]) -> Sequence[Outcome]:
        time.sleep(LATENCY)
        with self.lock:
            self.sends += 1
        return [Outcome.accepted() for _ in items]


def messages(n: int) -> list[AirbyteMessage]:
    out = []
    for i in range(n):
        data = {"email": f"user{i}@example.cz", "first_name": "Jana", "last_name": f"Nováková {i}",
                "phone": "+420777123456", "address": {"city": "Brno", "zip": "60200"}}
        out.append(AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="customers", data=data, emitted_at=0)))
        if i % STATE_EVERY == STATE_EVERY - 1:
            out.append(AirbyteMessage(type=Type.STATE, state=AirbyteStateMessage(
                type=AirbyteStateType.STREAM,
                stream=AirbyteStreamState(stream_descriptor=StreamDescriptor(name="customers"), stream_state=AirbyteStateBlob(n=i)),
            )))
    return out


def run_once(n: int, concurrency: int) -> dict[str, float]:
    handler = SleepyHandler()
    loop = WriteLoop({"customers": handler}, batch_size=BATCH, max_concurrent_requests=concurrency, name="bench")
    msgs = messages(n)
    started = time.perf_counter()
    states = sum(1 for _ in loop.run(msgs))
    took = time.perf_counter() - started
    return {"seconds": took, "rate": n / took, "sends": handler.sends, "states": states}


def measure(quick: bool, log: Callable[[str], None]) -> list[dict]:
    logging.getLogger("airbyte").setLevel(logging.WARNING)  # no summary lines in the bench output
    reps = 1 if quick else 3
    ideal = BATCH / LATENCY  # one request at a time, nothing else: records/s
    rows = []
    for concurrency, goal, factor in ((1, "≥ 0.95 × ideal", 1), (4, "≥ 0.9 × 4 × ideal", 4)):
        n = (5_000 if quick else 10_000) * factor
        values, notes = [], []
        for _ in range(reps):
            r = run_once(n, concurrency)
            values.append(r["rate"])
            notes.append(f"{r['sends']} requests for {n} records (ceil = {math.ceil(n / BATCH)}), {r['states']} states")
            log(f"core pipelining N={concurrency}: {r['rate']:.0f} rec/s ({r['rate'] / ideal:.3f} of the one-at-a-time ideal); {notes[-1]}")
        rows.append({
            "figure": f"destination core, {LATENCY * 1000:.0f} ms per answer, batch {BATCH}, max_concurrent_requests {concurrency}",
            "values": values,
            "ideal": ideal * factor if factor > 1 else ideal,
            "unit": "rec/s",
            "goal": goal if factor == 1 else "≥ 0.9 × ideal",
            "ratio": "measured/ideal",
            "note": f"fake handler (sleep {LATENCY * 1000:.0f} ms per send), STATE every {STATE_EVERY} records; {notes[-1]}"
            + ("" if factor == 1 else f"; ideal here = {factor} × one-at-a-time"),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    rows = measure(args.quick, lambda line: print(line, file=sys.stderr, flush=True))
    one = BATCH / LATENCY
    for row in rows:
        ratios = ", ".join(f"{v / one:.3f}" for v in row["values"])
        print(f"{row['figure']}: {', '.join(f'{v:.0f}' for v in row['values'])} rec/s; "
              f"ratio to the one-at-a-time ideal ({one:.0f} rec/s): {ratios} (goal {row['goal']})")


if __name__ == "__main__":
    main()
