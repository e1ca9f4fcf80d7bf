"""The benchmarks: figures measured in one run on this machine against the emulators, each beside
the figure it should be compared with. Not tests: nothing here passes or fails on a number.

    python -m bench            # the full run (100k / 1M records, medians of 3 runs)
    python -m bench --quick    # small sizes, one run each: to try the bench itself
    python -m bench --only 1 3 # some items only (1 source requests, 2 source wall time under
                               # limits, 3 source CPU per record, 4 destinations, 5 pipelines,
                               # 6 start-up, 7 the realistic world)

Each figure stands beside its ideal with the ratio and, where issue 16 or 13 sets one, the goal
on that ratio and whether this run met it. Some rows come from other folders' modules
(bench/goals.py says which); a missing or failing one shows as NOT MEASURED.

Prints the table (Markdown) and writes it with every run's figures to .bench/results.json
(and the table alone to .bench/results.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from bench.common import Results, Sizes, table
from bench.measure import machine

ROOT = Path(__file__).resolve().parents[2]


def _log(line: str) -> None:
    print(f"[{datetime.now(timezone.utc):%H:%M:%S}] {line}", file=sys.stderr, flush=True)


def write_out(args: argparse.Namespace, results: Results, info: dict, sizes: Sizes, started: float,
              failures: list[str], final: bool) -> None:
    """The table and the JSON; also after each suite (`partial`), so a run cut short keeps what
    it measured."""
    order = {str(i): i for i in range(1, 8)}
    rows = sorted(results.rows, key=lambda r: order.get(r.section[:1], 9))
    text = table(rows)
    finished = time.time()
    info = dict(info, loadavg_at_end=list(os.getloadavg()))
    header = (f"Benchmarks ({'quick' if args.quick else 'full'}{'' if final else ', partial'}), "
              f"{datetime.fromtimestamp(started, timezone.utc):%Y-%m-%d %H:%M}–"
              f"{datetime.fromtimestamp(finished, timezone.utc):%H:%M} UTC, {info.get('cpu')} ×{info.get('cpus')}, "
              f"{info.get('memory_gb')} GB, {info.get('os')}, Python {info.get('python')}, airbyte-cdk {info.get('airbyte_cdk')}; "
              f"load average {info['loadavg_at_start'][0]:.1f} at start, {info['loadavg_at_end'][0]:.1f} at end")
    if final:
        print()
        print(header)
        print()
        print(text)
        if failures:
            print("\nSuites that failed: " + "; ".join(failures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "mode": "quick" if args.quick else "full",
        "complete": final,
        "started_utc": datetime.fromtimestamp(started, timezone.utc).isoformat(),
        "finished_utc": datetime.fromtimestamp(finished, timezone.utc).isoformat(),
        "header": header,
        "machine": info,
        "sizes": sizes.__dict__,
        "rows": [r.as_dict() for r in rows],
        "failures": failures,
        "table_markdown": text,
    }
    args.out.write_text(json.dumps(payload, indent=1, ensure_ascii=False))
    args.out.with_suffix(".md").write_text(header + "\n\n" + text + "\n")
    if final:
        print(f"\nwritten to {args.out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, one run each")
    parser.add_argument("--only", nargs="*", default=None, help="items to run: 1 2 3 4 5 (1u, 1c: half of item 1)")
    parser.add_argument("--reps", type=int, help="runs per figure (default 3, quick 1)")
    parser.add_argument("--out", type=Path, default=ROOT / ".bench" / "results.json")
    args = parser.parse_args(argv)

    sizes = Sizes.quick() if args.quick else Sizes()
    if args.reps:
        sizes.reps = args.reps
    only = set(args.only or ["1", "2", "3", "4", "5", "6", "7"])
    # "1u" / "1c": only the UPgates or only the Cartum half of item 1
    if "1" in only:
        only |= {"1u", "1c"}
    results = Results(_log)
    info = machine()
    started = time.time()
    _log(f"bench ({'quick' if args.quick else 'full'}) on {info.get('cpu')} x{info.get('cpus')}, load {info['loadavg_at_start']}")

    from bench import destinations, goals, pipelines, sources

    suites = []
    if "6" in only:  # first: start-up is the figure most sensitive to a machine warming up
        suites.append(("6 start-up", goals.bench_startup))
    if "1u" in only:
        suites.append(("1 UPgates", sources.bench_upgates))
    if "3" in only:
        suites.append(("3 UPgates CPU per record", sources.bench_upgates_cpu))
    if "2" in only:
        suites.append(("2 UPgates under limits", sources.bench_upgates_limits))
    if "1c" in only:
        suites.append(("1 Cartum", sources.bench_cartum))
    if "4" in only:
        suites.append(("4 destinations", destinations.bench_destinations))
    if "2" in only or "4" in only:
        suites.append(("2/4 rows measured by other folders' modules", goals.bench_external))
    if "5" in only:
        suites.append(("5 pipelines", pipelines.bench_pipelines))
    if "7" in only:
        suites.append(("7 realistic world", goals.bench_realistic))
    if "4" in only:  # the 1,000,000-record runs are the longest: last
        suites.append(("4 destinations at the large size", destinations.bench_destinations_large))

    failures = []
    for name, fn in suites:
        _log(f"== {name}")
        t = time.perf_counter()
        try:
            fn(results, sizes, _log)
        except Exception as exc:  # a broken suite must not hide the others' figures
            _log(f"{name} failed: {exc}")
            traceback.print_exc(file=sys.stderr)
            failures.append(f"{name}: {exc}")
            results.skip(name.split()[0], name, f"suite failed: {str(exc)[:300]}")
        _log(f"== {name} took {time.perf_counter() - t:.0f}s")
        write_out(args, results, info, sizes, started, failures, final=False)

    write_out(args, results, info, sizes, started, failures, final=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
