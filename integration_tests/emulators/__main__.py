"""Serve one emulator on 127.0.0.1 until Ctrl-C:  python -m emulators upgates --port 8801"""

import argparse
import importlib
import time

EMULATORS = {
    "upgates": "emulators.upgates:UpgatesEmulator",
    "cartum": "emulators.cartum:CartumEmulator",
    "loyalty": "emulators.loyalty:LoyaltyEmulator",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators", description=__doc__)
    parser.add_argument("api", choices=sorted(EMULATORS))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--customers", type=int, default=250, help="UPgates: seeded customers (default 250)")
    parser.add_argument("--tidy", action="store_true",
                        help="UPgates / Cartum: the tidy world (every field filled, E.164 phones, nothing stamped in "
                             "the future) instead of the default real-shop world")
    args = parser.parse_args()
    module, cls = EMULATORS[args.api].split(":")
    kwargs = {"latency": args.latency}
    if args.api == "upgates":
        kwargs["customers"] = args.customers
    if args.tidy:
        kwargs.update({"upgates": {"world": "tidy"}, "cartum": {"tidy": True}}.get(args.api, {}))
    emulator = getattr(importlib.import_module(module), cls)(**kwargs)
    emulator.start(args.port)
    print(f"{args.api} emulator on {emulator.url} (Ctrl-C stops it)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
