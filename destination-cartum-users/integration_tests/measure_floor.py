"""The floor the bench's Cartum emulator allows (issue 16 part 1): a bare `requests` loop
POSTing users/import bodies of 100 users, already encoded, to the bench's sink emulator with
50 ms per answer (in its own process, as in the bench), from 1 and from 4 threads, with nothing
else in this process. Records/s against the issue's ideal (100/0.05 s, and 4 x that): no
destination that sends through `requests` can do better on the same machine at the same time,
so compare the bench's destination-cartum-users rows with these, measured in the same minutes.

    .venv/bin/python destination-cartum-users/integration_tests/measure_floor.py [--requests 100]

Prints figures; not a test."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from destination_cartum_users.client import EncodedBody
from destination_cartum_users.mapping import build_mapper

ROOT = Path(__file__).resolve().parents[2]
LATENCY = 0.05
BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "integration_tests"))
    from bench.synth import _cartum_templates

    mapper = build_mapper({})
    users = [mapper(u) for u in _cartum_templates()]
    bodies = []
    for n in range(args.requests):
        batch = [dict(users[(n * BATCH + i) % len(users)], email=f"floor.{n}.{i}@example.com") for i in range(BATCH)]
        bodies.append(EncodedBody.of("users", batch))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "integration_tests"))
    emulator = subprocess.Popen([sys.executable, "-m", "bench.serve", "cartum-sink", "--latency", str(LATENCY)],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        url = emulator.stdout.readline().split(" on ")[1].strip()
        session = requests.Session()
        token = session.post(f"{url}/api/auth/", json={"login": "api-user", "password": "api-password"}).json()["response"]["token"]
        data = [b.with_token(token) for b in bodies]

        def post(body: bytes) -> None:
            answer = session.post(f"{url}/api/users/import/", data=body, headers={"Content-Type": "application/json"})
            if answer.json().get("status") != "OK":
                raise RuntimeError(f"users/import answered {answer.text[:200]}")

        for threads in (1, 4):
            started = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                list(pool.map(post, data))
            rate = len(data) * BATCH / (time.perf_counter() - started)
            ideal = threads * BATCH / LATENCY
            print(f"{threads} in flight: {rate:,.0f} records/s = {rate / ideal:.3f} of {threads} x {BATCH}/{LATENCY} s "
                  f"(load average {os.getloadavg()[0]:.1f})")
    finally:
        emulator.kill()


if __name__ == "__main__":
    main()
