"""Issue 16's goals and issue 13's realistic-world rows, each beside its measurement:

- item 6 "start-up": every connector's `spec` vs `python -c "import airbyte_cdk"` in the same
  run, alternated so that the machine's load falls on both alike (goal ≤ 1.1×);
- rows other helpers measure with their own code, imported by file path and called as
  `measure(quick, log) -> list[dict]` (see `external`): destinations pipelined at 50 ms per
  answer, concurrency 1 and 4 (`bench/core_pipelining.py`), UPgates at its concurrency limit
  (`integration_tests/bench/upgates_concurrency.py`);
- the realistic world (issue 13): the demo's connections on the emulators' default (real-shop)
  worlds, per destination: records rejected, corrected, requests vs ceil(N/batch).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from bench.common import Results, Row, Sizes, Workdir, ceil_div, installed, script, stat

ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = [
    "source-upgates-customers",
    "source-cartum",
    "destination-cartum-users",
    "destination-loyalty-batch",
    "destination-upgates-customers",
]
EXTERNAL = [
    ("4", "destinations pipelined (H-core)", ROOT / "integration_tests" / "bench" / "core_pipelining.py"),
    ("2", "UPgates at its concurrency limit (H-upsrc)", ROOT / "integration_tests" / "bench" / "upgates_concurrency.py"),
]


# ---- start-up -----------------------------------------------------------------------------
def _wall(args: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, timeout=300)
    took = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return took


def bench_startup(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    """`<connector> spec` beside `python -c "import airbyte_cdk"`: each repetition runs the
    import once and then every connector's spec, so both see the same load."""
    section = "6"
    reps = 3 if sizes.reps > 1 else 2  # quick: 2 (a spread), full: 3
    present = [c for c in CONNECTORS if installed(c)]
    baseline: list[float] = []
    walls: dict[str, list[float]] = {c: [] for c in present}
    for rep in range(reps):
        baseline.append(_wall([sys.executable, "-c", "import airbyte_cdk"]))
        for name in present:
            walls[name].append(_wall([script(name), "spec"]))
        log(f"start-up {rep + 1}/{reps}: import airbyte_cdk {baseline[-1]:.2f}s; "
            + ", ".join(f"{n} {w[-1]:.2f}s" for n, w in walls.items()))
    base = stat(baseline)
    results.add(Row(section, '`python -c "import airbyte_cdk"`: wall time (the reference)', base, None, "s",
                    note="same interpreter as the connectors' console scripts"))
    for name in present:
        results.add(Row(section, f"  `{name} spec`: wall time vs importing airbyte_cdk", stat(walls[name]), base.median, "s",
                        goal="≤ 1.1", note="issue 16 item 5; interleaved with the reference, same load"))
    for name in CONNECTORS:
        if name not in present:
            results.skip(section, f"  `{name} spec`", "not installed")


# ---- rows measured by other helpers' modules ------------------------------------------------
def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_ext_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def bench_external(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    quick = sizes.dest_small < 10_000
    for section, title, path in EXTERNAL:
        rel = path.relative_to(ROOT)
        if not path.exists():
            results.skip(section, title, f"{rel} is not there yet")
            continue
        try:
            module = _load(path)
            rows = module.measure(quick, log) if hasattr(module, "measure") else _adapt(path, quick, sizes, log)
        except Exception as exc:  # noqa: BLE001 - one module's failure must not hide the rest
            log(f"{rel} failed: {exc}")
            results.skip(section, title, f"{rel} failed: {str(exc)[:300]}")
            continue
        for item in rows:
            values = [v for v in item.get("values", []) if v is not None]
            results.add(Row(section, str(item.get("figure", title)), stat(values) if values else None, item.get("ideal"),
                            item.get("unit", ""), note=f"{item.get('note', '')} (measured by {rel})".strip(),
                            ratio_of=item.get("ratio", "measured/ideal"), goal=item.get("goal", "")))


RUN_LINE = re.compile(r"run (\d+): .*?(\d+) x 429.*?first request to last answer ([\d.]+) s, ideal ([\d.]+) s"
                      r".*?peak in flight (\d+), whole process ([\d.]+) s")


def _adapt(path: Path, quick: bool, sizes: Sizes, log: Callable[[str], None]) -> list[dict[str, Any]]:
    """upgates_concurrency.py has no measure(): run its command line (200 pages at 100 ms, 3 at
    once) in its own process group with a time limit, once per sync mode, and read its "run N: …"
    lines. Incremental: a STATE per page, and a page frees its slot only once its STATE is flushed
    (the kill bound); full refresh: a page frees it on its answer."""
    runs = 1 if quick else max(3, sizes.reps)
    rows = []
    for mode, label in (("incremental", "incremental first sync, a STATE per page"), ("full_refresh", "full refresh")):
        args = [sys.executable, str(path), "--pages", "200", "--latency", "0.1", "--workers", "3", "--runs", str(runs),
                "--mode", mode]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, cwd=ROOT)
        try:
            out, _ = proc.communicate(timeout=180 * runs)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise RuntimeError(f"{mode}: no answer within {180 * runs} s (killed)")
        text = out.decode("utf-8", "replace")
        found = [m.groups() for m in RUN_LINE.finditer(text)]
        if not found:
            raise RuntimeError(f"{mode}: exit {proc.returncode}, no result line: {text[-300:]}")
        for n, r429, span, ideal, peak, whole in found:
            log(f"UPgates at its concurrency limit, {mode} {n}: {span}s (ideal {ideal}s), {r429} x 429, "
                f"peak in flight {peak}, whole {whole}s")
        rows.append({
            "figure": f"UPgates 200 pages, 100 ms per request, 3 allowed at once (tidy world, {label}): "
                      "first request → last answer",
            "values": [float(f[2]) for f in found], "ideal": float(found[0][3]), "unit": "s", "goal": "≤ 1.15",
            "note": f"ideal ceil(200/3)×0.1 s; 429s {max(int(f[1]) for f in found)}; peak in flight "
                    f"{max(int(f[4]) for f in found)}; whole process {statistics.median(float(f[5]) for f in found):.1f} s",
        })
    return rows


# ---- the realistic world --------------------------------------------------------------------
def rejected_file_counts(path: Path) -> dict[str, Any]:
    """Rejected-records file: records rejected, records corrected (distinct keys with a
    correction note) and the notes by reason."""
    rejected, corrected, reasons = 0, set(), {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if item.get("kind") == "correction":
                corrected.add((item.get("stream"), item.get("key")))
                reason = f"{item.get('field')}: {item.get('reason')}"
                reasons[reason] = reasons.get(reason, 0) + 1
            else:
                rejected += 1
    return {"rejected": rejected, "corrected": len(corrected), "reasons": reasons}


def bench_realistic(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    """The demo's connections on the emulators' default worlds (real-shop data) at N records."""
    import demo.run as demo
    from emulators.cartum import CartumEmulator
    from emulators.loyalty import LoyaltyEmulator
    from emulators.upgates import UpgatesEmulator

    section = "7"
    n = sizes.realistic_records
    needed = ["source-upgates-customers", "destination-cartum-users", "source-cartum", "destination-loyalty-batch"]
    missing = [c for c in needed if not installed(c)]
    if missing:
        results.skip(section, "realistic world", f"not installed: {missing}")
        return
    work = Workdir("realistic")
    up = UpgatesEmulator(customers=n, seed=13).start()
    # the shop's own users: a tenth of N (the write-back rejects them "not found": no UPgates customer)
    cartum = CartumEmulator(users=max(1, n // 10), orders=0, seed=13).start()
    loyalty = LoyaltyEmulator(customers=0, seed=13).start()
    world = demo.World(up, cartum, loyalty)
    try:
        pipes = demo.pipelines(world, work.path, progress=lambda line: None)
        plan = {
            "upgates-to-cartum": ("destination-cartum-users", cartum, "users/import", "UPgates customers", 100,
                                  lambda: cartum.log.count(function="users/import")),
            "cartum-to-loyalty": ("destination-loyalty-batch", loyalty, "customers_batch", "Cartum users", 500,
                                  lambda: loyalty.log.count(function="customers_batch")),
            "cartum-to-upgates": ("destination-upgates-customers", up, "PUT /customers", "Cartum users (write-back)", 100,
                                  lambda: up.log.count(path="/api/v2/customers", method="PUT")),
        }
        for pipe in pipes:
            if pipe.name not in plan:
                continue
            name, sink, function, what, default_batch, count_requests = plan[pipe.name]
            sink.log.clear()
            run = pipe.run()
            if not run.ok:
                results.skip(section, f"{name} on the realistic world", f"failed: {(run.source_errors + run.destination_errors)[:2]}")
                continue
            read = run.total_read
            batch = int(pipe.destination_config.get("batch_size") or default_batch)
            counts = rejected_file_counts(Path(pipe.destination_config["rejected_records_path"]))
            requests = count_requests()
            top = ", ".join(f"{k} {v}" for k, v in sorted(counts["reasons"].items(), key=lambda kv: -kv[1])[:3])
            log(f"realistic {name}: {read} read, {counts['rejected']} rejected, {counts['corrected']} corrected, {requests} requests")
            results.add(Row(section, f"{name} ← {what}, realistic world, {read:,} records: {function} requests",
                            stat([requests]), ceil_div(read, batch), goal="= 1.00",
                            note=f"ideal ceil(N/batch), batch {batch}; records rejected {counts['rejected']} "
                                 f"({100 * counts['rejected'] / max(1, read):.1f}%), corrected {counts['corrected']} "
                                 f"({100 * counts['corrected'] / max(1, read):.1f}%){'; notes: ' + top if top else ''}"))
            results.add(Row(section, f"  {name}: records rejected", stat([counts["rejected"]]), None,
                            note="every reject is in the rejected-records file with its reason"))
            results.add(Row(section, f"  {name}: records corrected (phone normalised, field dropped)",
                            stat([counts["corrected"]]), None, note="kind \"correction\" lines, distinct records"))
        if "upgates-to-cartum" in {p.name for p in pipes}:
            phone = demo.phone_rejects_where_country_known(world, pipes[0])
            results.add(Row(section, "  destination-cartum-users: customers rejected for their phone where a country is known",
                            stat([phone["rejected"]]), None, goal="",
                            note=f"goal 0 (issue 13 item 2); {phone['with_country']:,} customers with a country"))
    finally:
        for emu in (up, cartum, loyalty):
            emu.stop()
        work.cleanup()


__all__ = ["bench_external", "bench_realistic", "bench_startup", "rejected_file_counts"]
