"""Serve a bench-sized emulator until killed, for profiling a connector by hand:

    PYTHONPATH=integration_tests .venv/bin/python -m bench.serve upgates --customers 20000 --port 8811
    .venv/bin/pyinstrument -r text .venv/bin/source-upgates-customers read --config c.json --catalog cat.json >/dev/null
"""

from __future__ import annotations

import argparse
import time

from bench.worlds import BenchUpgates


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("api", choices=["upgates", "cartum", "cartum-sink", "loyalty-sink"])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--service-time", type=float, default=0.0)
    args = parser.parse_args()
    if args.api == "upgates":
        emu = BenchUpgates(latency=args.latency, service_time=args.service_time)
        emu.bulk_seed(args.customers)
    elif args.api == "cartum":
        from bench.worlds import BenchCartum

        emu = BenchCartum(users=args.customers, orders=args.customers, latency=args.latency, tidy=False)
    else:
        from bench.worlds import SinkCartum, SinkLoyalty, lean_log

        emu = lean_log(SinkCartum(latency=args.latency) if args.api == "cartum-sink" else SinkLoyalty(latency=args.latency, customers=0))
    emu.start(args.port)
    print(f"{args.api} on {emu.url}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
