"""Bench items 1-3: the sources' request economy, wall time under the API's limits, CPU per record.

UPgates (one world of N customers serves items 1 and 3):
  - full sync of N customers, `reps` times: customer requests vs ceil(N/100); the same runs give
    item 3's records per second and CPU per record of `source-upgates-customers read` at zero
    latency, beside the minimal loop (bench/loop.py) and a plain declarative manifest
    (bench/plain_upgates.yaml) read from the same emulator;
  - incremental: 1% of the customers change (an emulated hour later each time), the sync
    continues from the last state: requests vs ceil(changed/100).
UPgates under its limits (item 2): every request holds one of 3 slots for 100 ms
  (`service_time`, inside the emulator's concurrency guard, so the limit binds); sync time vs
  ceil(pages/3) x 100 ms.
Cartum (item 1): users and orders, full and incremental with 1% new, requests per gateway
  function vs ceil(N/page_size).
"""

from __future__ import annotations

import math
import os
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from emulators.base import Clock

from bench.common import Results, Row, Sizes, Workdir, catalog_for, ceil_div, installed, now, read_args, run_read
from bench.measure import ProcResult, run_process, stat
from bench.worlds import BenchUpgates

HERE = Path(__file__).resolve().parent
UPGATES = "source-upgates-customers"
CARTUM = "source-cartum"
UPGATES_PAGE = 100
CARTUM_PAGE_SIZE = 100  # the connector's default page_size, set explicitly in the config


def _past_clock(days: int = 5) -> Clock:
    """An emulated clock some days behind the real one: incremental repetitions move it on
    (an hour or a day each) without ever passing the real "now" the connectors cap windows at."""
    return Clock(start=datetime.now(timezone.utc) - timedelta(days=days))


def upgates_config(emu: BenchUpgates, **extra: Any) -> dict[str, Any]:
    return {"api_url": f"{emu.url}/api/v2", "login": emu.login, "api_key": emu.api_key, **extra}


def _rps(r: ProcResult) -> float:
    return r.records / r.wall


def _cpu_ms_per_1000(r: ProcResult) -> float:
    return 1000.0 * r.cpu / r.records * 1000.0


def _stream_rps(r: ProcResult) -> float:
    if r.first_record_at is None or r.last_record_at is None or r.last_record_at <= r.first_record_at:
        return float("nan")
    return (r.records - 1) / (r.last_record_at - r.first_record_at)


# ---- items 1 and 3: UPgates ---------------------------------------------------------------
first_full: list[ProcResult] = []  # item 1's full syncs, quoted beside item 3
first_loop: list[ProcResult] = []  # the minimal loop on item 1's world


def bench_upgates(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    s1 = "1"
    n = sizes.upgates_customers
    if not installed(UPGATES):
        results.skip(s1, f"UPgates full sync {n:,}", f"{UPGATES} is not installed")
        return
    emu = BenchUpgates(clock=_past_clock())
    started = now()
    emu.bulk_seed(n)
    log(f"UPgates: {n:,} customers seeded in {now() - started:.1f}s")
    emu.start()
    work = Workdir("upgates")
    try:
        config = upgates_config(emu)
        catalog = catalog_for(UPGATES, config, ["customers"], "incremental", "append_dedup")
        ideal_pages = ceil_div(n, UPGATES_PAGE)

        full: list[ProcResult] = []
        requests: list[int] = []
        other: list[int] = []
        for rep in range(sizes.upgates_full_reps):
            emu.log.clear()
            r = run_read(UPGATES, work, config, catalog)
            full.append(r)
            requests.append(emu.log.count(path="/api/v2/customers", method="GET"))
            other.append(len(emu.log.items) - requests[-1])
            log(f"UPgates full sync {rep + 1}/{sizes.upgates_full_reps}: {r.records:,} records, {requests[-1]} customer requests, "
                f"{r.wall:.1f}s wall, {r.cpu:.1f}s CPU, {r.maxrss_mb:.0f} MB")
        results.alone[(UPGATES, n)] = stat(r.wall for r in full).median
        results.add(Row(s1, f"UPgates full sync of {n:,} customers: customer requests", stat(requests), ideal_pages,
                        note=f"ideal ceil(N/100); other requests: {max(other)}; records {full[-1].records:,}"))

        # incremental: 1% changed, an emulated hour after the previous sync each time
        state = full[-1].states
        inc_requests: list[int] = []
        inc_records: list[int] = []
        changed = max(1, int(n * sizes.changed_share))
        rng = random.Random(7)
        for rep in range(sizes.reps):
            # an hour passes; the changes are spread over it (all at one instant, they would
            # all sit inside the next sync's 10-minute lookback)
            emu.clock.advance(3600)
            now_local = emu.local_now()
            for cid in rng.sample(sorted(emu.customers), changed):
                emu.update_customer(cid, nickname=f"changed-{rep}")
                emu.customers[cid]["last_update_time"] = now_local - timedelta(seconds=rng.randrange(3600))
            emu.log.clear()
            r = run_read(UPGATES, work, config, catalog, state)
            state = r.states or state
            inc_requests.append(emu.log.count(path="/api/v2/customers", method="GET"))
            inc_records.append(r.records)
            log(f"UPgates incremental {rep + 1}: {changed} changed, {r.records} read, {inc_requests[-1]} requests")
        results.add(Row(s1, f"UPgates incremental, {changed:,} of {n:,} changed: customer requests", stat(inc_requests),
                        ceil_div(changed, UPGATES_PAGE),
                        note=f"records read {min(inc_records):,}–{max(inc_records):,} (10-min lookback re-reads)"))

        first_full[:] = full
        # the minimal loop on the same 100,000 (item 3 quotes both: start-up weighs less here)
        cfg_path = work.write_json("loop-config", config)
        first_loop.clear()
        for rep in range(sizes.upgates_full_reps):
            r = run_process([sys.executable, str(HERE / "loop.py"), "--config", str(cfg_path)])
            if r.ok:
                first_loop.append(r)
                log(f"loop at {n:,}: {r.wall:.1f}s wall, {r.cpu:.1f}s CPU")
    finally:
        work.cleanup()
        emu.stop()


def bench_upgates_cpu(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    """Item 3 on its own world of `cpu_customers`: the minimal loop, our source, the plain
    manifest and the plain manifest with a plain-key extractor, `reps` runs each (interleaved,
    so that a change in the machine's load hits all four alike), zero latency."""
    s3 = "3"
    n = sizes.cpu_customers
    emu = BenchUpgates(clock=_past_clock())
    emu.bulk_seed(n)
    emu.start()
    work = Workdir("upgates-cpu")
    try:
        config = upgates_config(emu)
        readers: dict[str, list[str] | None] = {}
        envs: dict[str, dict[str, str] | None] = {}
        readers["loop"] = [sys.executable, str(HERE / "loop.py"), "--config", str(work.write_json("loop-config", config))]
        failed: dict[str, str] = {}
        if installed(UPGATES):
            try:
                catalog = catalog_for(UPGATES, config, ["customers"], "incremental", "append_dedup")
                readers["ours"] = read_args(UPGATES, work, config, catalog)
            except Exception as exc:  # noqa: BLE001 - the other readers still measure
                failed["ours"] = str(exc)[:300]
        else:
            failed["ours"] = f"{UPGATES} is not installed"
        plain_catalog = catalog_for_plain(work, config)
        readers["plain"] = plain_args(work, config, plain_catalog)
        readers["plain+key"] = plain_args(work, config, plain_catalog)
        envs["plain+key"] = fast_extractor_env(work)
        runs: dict[str, list[ProcResult]] = {k: [] for k in readers}
        for rep in range(sizes.reps):
            for name, args in readers.items():
                if name in failed or args is None:
                    continue
                r = run_process(args, env=envs.get(name))
                if not r.ok or r.records != n:
                    failed[name] = f"{r.records} records; " + r.describe_failure()[:300]
                    log(f"{name} failed: {failed[name]}")
                    continue
                runs[name].append(r)
                log(f"{name} {rep + 1}: {r.records:,} records, {r.wall:.1f}s wall, {r.cpu:.1f}s CPU, "
                    f"steady {_stream_rps(r):,.0f} rec/s, {r.maxrss_mb:.0f} MB")
        if not runs["loop"]:
            results.skip(s3, "minimal loop", failed.get("loop", "no run"))
            return
        loop = runs["loop"]
        loop_rps = stat(_rps(r) for r in loop)
        loop_steady = stat(_stream_rps(r) for r in loop)
        loop_cpu = stat(_cpu_ms_per_1000(r) for r in loop)
        results.add(Row(s3, f"minimal loop (requests + json), {n:,} records: records/s", loop_rps, None, "rec/s",
                        note=f"steady {loop_steady.median:,.0f} rec/s; CPU {loop_cpu.median:.0f} ms/1000 rec; "
                             f"{stat(r.maxrss_mb for r in loop).median:.0f} MB peak"))
        titles = {
            "ours": f"`{UPGATES} read`",
            "plain": "plain declarative manifest (stock CDK path)",
            "plain+key": "  plain manifest, DpathExtractor replaced by a plain-key extractor",
        }
        for name in ("ours", "plain", "plain+key"):
            if not runs.get(name):
                results.skip(s3, f"{titles[name]}, {n:,} records", failed.get(name, "no run"))
                continue
            rr = runs[name]
            results.add(Row(s3, f"{titles[name]}, {n:,} records: records/s vs loop", stat(_rps(r) for r in rr), loop_rps.median,
                            "rec/s", note=("goal ≥ 0.6 of the loop; " if name == "ours" else "")
                            + f"whole process incl. start-up; peak RSS {stat(r.maxrss_mb for r in rr).median:.0f} MB"))
            results.add(Row(s3, "  same, steady-state records/s (first → last record) vs loop", stat(_stream_rps(r) for r in rr),
                            loop_steady.median, "rec/s", note="start-up excluded"))
            results.add(Row(s3, "  same, CPU per 1000 records (user+sys, whole process) vs loop", stat(_cpu_ms_per_1000(r) for r in rr),
                            loop_cpu.median, "ms", note="lower is better: the ratio is how many times the loop's CPU"))
        if first_full:
            big = stat(_rps(r) for r in first_full)
            loop_big = stat(_rps(r) for r in first_loop) if first_loop else None
            b = first_full[-1]
            results.add(Row(s3, f"`{UPGATES} read` of {b.records:,} records (item 1's full sync) vs the loop on the same: records/s",
                            big, loop_big.median if loop_big else None, "rec/s",
                            note=f"n={len(first_full)} each; whole process; steady {_stream_rps(b):,.0f} vs "
                                 f"{_stream_rps(first_loop[-1]) if first_loop else float('nan'):,.0f} rec/s; "
                                 f"CPU {_cpu_ms_per_1000(b):.0f} vs "
                                 f"{_cpu_ms_per_1000(first_loop[-1]) if first_loop else float('nan'):.0f} ms/1000 rec; "
                                 f"peak RSS {b.maxrss_mb:.0f} MB"))
    finally:
        work.cleanup()
        emu.stop()


def catalog_for_plain(work: Workdir, config: dict[str, Any]) -> dict[str, Any]:
    from harness.runner import configured_catalog

    stream = {"name": "customers", "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh"]}
    return configured_catalog([stream], "full_refresh", "overwrite")


def fast_extractor_env(work: Workdir) -> dict[str, str]:
    """The plain manifest with bench.fast_components.KeyExtractor instead of DpathExtractor."""
    text = (HERE / "plain_upgates.yaml").read_text()
    old = "          type: DpathExtractor\n"
    if old not in text:
        raise RuntimeError("plain_upgates.yaml: extractor block not found")
    text = text.replace(old, "          type: CustomRecordExtractor\n          class_name: bench.fast_components.KeyExtractor\n")
    path = work.path / "plain_upgates_keyextractor.yaml"
    path.write_text(text)
    pythonpath = os.pathsep.join(p for p in (str(HERE.parent), os.environ.get("PYTHONPATH", "")) if p)
    return {"BENCH_MANIFEST": str(path), "PYTHONPATH": pythonpath}


def plain_args(work: Workdir, config: dict[str, Any], catalog: dict[str, Any]) -> list[str]:
    return [sys.executable, str(HERE / "plain_source.py"), "read",
            "--config", str(work.write_json("plain-config", config)),
            "--catalog", str(work.write_json("plain-catalog", catalog))]


# ---- item 2: UPgates under its limits -----------------------------------------------------
def bench_upgates_limits(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    section = "2"
    n = sizes.upgates_latency_customers
    if not installed(UPGATES):
        results.skip(section, f"UPgates sync under limits {n:,}", f"{UPGATES} is not installed")
        return
    service = 0.1
    emu = BenchUpgates(clock=_past_clock(), max_concurrent=3, service_time=service)
    emu.bulk_seed(n)
    emu.start()
    work = Workdir("upgates-limits")
    try:
        config = upgates_config(emu, num_workers=3)
        catalog = catalog_for(UPGATES, config, ["customers"], "incremental", "append_dedup")
        pages = ceil_div(n, UPGATES_PAGE)
        walls, spans, rejected, peaks = [], [], [], []
        for rep in range(sizes.reps):
            emu.log.clear()
            emu.peak_in_flight = 0
            r = run_read(UPGATES, work, config, catalog)
            walls.append(r.wall)
            items = emu.log.items
            spans.append(max(i.started + i.seconds for i in items) - min(i.started for i in items))
            rejected.append(emu.log.count(status=429))
            peaks.append(emu.peak_in_flight)
            log(f"UPgates at 100 ms, 3 slots {rep + 1}: {r.records:,} records in {r.wall:.1f}s (API phase {spans[-1]:.1f}s), "
                f"{rejected[-1]} answered 429, peak {peaks[-1]} in flight")
        ideal = math.ceil(pages / 3) * service
        results.add(Row(section, f"UPgates full sync of {n:,} customers ({pages} pages), 100 ms per request, 3 allowed at once: "
                                 "sync time (first request → last answer)", stat(spans), ideal, "s", goal="≤ 1.15",
                        note=f"ideal ceil(pages/3)×0.1 s; one request at a time would take {pages * service:.1f} s; "
                             f"429s {max(rejected)}; peak in flight {max(peaks)}"))
        results.add(Row(section, "  same, whole process (start-up included)", stat(walls), ideal, "s"))
    finally:
        work.cleanup()
        emu.stop()


# ---- item 1: Cartum -----------------------------------------------------------------------
def cartum_config(emu: Any, **extra: Any) -> dict[str, Any]:
    """start_date: a little before the seeded world (users over 730 days, orders over 365). An
    older start costs orders one request per empty 30-day window (12 a year)."""
    start = (datetime.now(timezone.utc) - timedelta(days=800)).strftime("%Y-%m-%d")
    return {"shop_url": emu.url, "login": emu.login, "password": emu.password, "start_date": start,
            "page_size": CARTUM_PAGE_SIZE, **extra}


def bench_cartum(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    section = "1"
    nu, no = sizes.cartum_users, sizes.cartum_orders
    if not installed(CARTUM):
        results.skip(section, f"Cartum users {nu:,} / orders {no:,}", f"{CARTUM} is not installed")
        return
    from bench.worlds import BenchCartum

    started = now()
    emu = BenchCartum(users=nu, orders=no, clock=_past_clock(10))
    log(f"Cartum: {nu:,} users and {no:,} orders seeded in {now() - started:.1f}s")
    emu.start()
    work = Workdir("cartum")
    try:
        config = cartum_config(emu)
        streams = {"users": ("users/export", nu), "orders": ("orders/get", no)}
        available = {s["name"] for s in _discover(config)}
        for stream, (function, count) in streams.items():
            if stream not in available:
                results.skip(section, f"Cartum {stream}", f"{CARTUM} has no {stream} stream yet (has {sorted(available)})")
                continue
            catalog = catalog_for(CARTUM, config, [stream], "incremental", "append_dedup")
            full_req, auth_req, walls = [], [], []
            state = None
            for rep in range(min(sizes.reps, sizes.cartum_full_reps)):
                emu.log.clear()
                r = run_read(CARTUM, work, config, catalog)
                state = r.states or state
                full_req.append(emu.log.count(function=function))
                auth_req.append(emu.log.count(function="auth"))
                walls.append(r.wall)
                log(f"Cartum {stream} full {rep + 1}: {r.records:,} records, {full_req[-1]} {function} requests")
            results.alone[(f"{CARTUM}:{stream}", count)] = stat(walls).median
            ideal = ceil_div(count, CARTUM_PAGE_SIZE) + (1 if count % CARTUM_PAGE_SIZE == 0 else 0)
            results.add(Row(section, f"Cartum {stream} full sync of {count:,}, page size {CARTUM_PAGE_SIZE}: {function} requests",
                            stat(full_req), ideal,
                            note=f"ideal ceil(N/page) (+1 empty page when page divides N: the API gives no total); "
                                 f"auth requests {max(auth_req)}; start_date {config['start_date']}"))
            # incremental: 1% new, an emulated day later each time
            added = max(1, int(count * sizes.changed_share))
            inc_req, inc_rec = [], []
            rng = random.Random(9)
            for rep in range(sizes.reps):
                # a day passes; the new users / orders are spread over it, in time order
                emu.clock.advance(86400)
                now_local = emu.local_now()
                moments = sorted(now_local - timedelta(seconds=rng.randrange(86400)) for _ in range(added))
                if stream == "users":
                    for moment in moments:
                        emu.add_user(registered=moment)
                else:
                    emu.add_orders(added, moments)
                emu.log.clear()
                r = run_read(CARTUM, work, config, catalog, state)
                state = r.states or state
                inc_req.append(emu.log.count(function=function))
                inc_rec.append(r.records)
                log(f"Cartum {stream} incremental {rep + 1}: {added} new, {r.records} read, {inc_req[-1]} requests")
            results.add(Row(section, f"Cartum {stream} incremental, {added:,} new of {count:,}: {function} requests",
                            stat(inc_req), ceil_div(added, CARTUM_PAGE_SIZE) + 1,
                            goal="= 1.00",
                            note=f"ideal ceil(new/page) + 1: after a full last page the read needs the empty next one to "
                                 f"know it ended, and a short page is confirmed by the next offset (issue 12 item 4: the "
                                 f"API's page cap is undocumented); "
                                 f"records read {min(inc_rec):,}–{max(inc_rec):,}"))
            results.add(Row(section, f"  Cartum {stream} incremental, {added:,} new of {count:,}: records read",
                            stat(inc_rec), added, goal="= 1.00",
                            note="ideal: the new ones only (issue 16 item 4: no re-reads at the cursor's last second)"))
    finally:
        work.cleanup()
        emu.stop()


def _discover(config: dict[str, Any]) -> list[dict[str, Any]]:
    from bench.common import discover_streams

    return discover_streams(CARTUM, config)
