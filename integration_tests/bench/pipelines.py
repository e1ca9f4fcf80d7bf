"""Bench item 5: the demo's two pipelines at N customers, each run through the pipeline runner
(harness.pipeline, the platform stand-in) in its own process: end-to-end time and
the peak memory of each of the three processes: source and destination measured by
/usr/bin/time -v (the read; discover runs before it), the runner by its own resource.getrusage.

  A. UPgates customers → destination-cartum-users (preset upgates_customer)
  B. Cartum users → destination-loyalty-batch (preset cartum_user)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from bench.common import Results, Row, Sizes, Workdir, ceil_div, installed, script
from bench.measure import parse_time_v, stat, time_v_prefix
from bench.sources import _past_clock, cartum_config, upgates_config
from bench.worlds import BenchCartum, BenchUpgates, SinkCartum, SinkLoyalty, lean_log

HERE = Path(__file__).resolve().parent


def _run_pipeline(work: Workdir, name: str, source: str, source_config: dict[str, Any], destination: str,
                  destination_config: dict[str, Any], streams: list[str], rep: int,
                  object_name: str | None = None) -> dict[str, Any]:
    times = {k: work.path / f"{name}-{rep}-{k}.time" for k in ("source", "destination")}
    spec = {
        "name": name,
        "source": time_v_prefix(times["source"]) + [script(source)],
        "source_config": source_config,
        "destination": time_v_prefix(times["destination"]) + [script(destination)],
        "destination_config": destination_config,
        "streams": streams,
        "destination_object_name": object_name,
        "state_dir": str(work.path / "state"),
    }
    spec_path = work.write_json(f"{name}-spec", spec)
    # Through /usr/bin/time so that the runner's own ru_maxrss starts clean (see bench.measure).
    proc = subprocess.run(time_v_prefix(work.path / f"{name}-{rep}-runner.time") + [sys.executable, str(HERE / "pipeline_child.py"), str(spec_path)],
                          capture_output=True, timeout=3600)
    lines = [ln for ln in proc.stdout.decode("utf-8", "replace").splitlines() if ln.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else {"ok": False}
    if proc.returncode != 0 or not outcome.get("ok"):
        raise RuntimeError(f"pipeline {name} failed ({proc.returncode}): {outcome} {proc.stderr.decode()[-1500:]}")
    outcome["time"] = {k: parse_time_v(p) for k, p in times.items()}
    outcome["time"]["runner"] = outcome.get("runner", {})
    return outcome


def bench_pipelines(results: Results, sizes: Sizes, log: Callable[[str], None]) -> None:
    section = "5"
    n = sizes.pipeline_customers
    needed = ["source-upgates-customers", "destination-cartum-users", "source-cartum", "destination-loyalty-batch"]
    missing = [c for c in needed if not installed(c)]
    if missing:
        results.skip(section, "pipelines", f"not installed: {missing}")
        return
    work = Workdir("pipelines")
    # Tidy worlds (the Bench* default): this item measures the pipes (every record sent,
    # requests vs ceil(N/batch)); item 7 runs the real-shop worlds.
    upgates = BenchUpgates(clock=_past_clock())
    upgates.bulk_seed(n)
    upgates = lean_log(upgates).start()
    cartum_dst = lean_log(SinkCartum()).start()
    cartum_src = lean_log(BenchCartum(users=n, orders=0, clock=_past_clock(10))).start()
    loyalty = lean_log(SinkLoyalty(customers=0)).start()
    try:
        plans = [
            ("A", "UPgates customers → Cartum users", "source-upgates-customers", upgates_config(upgates), ["customers"],
             "destination-cartum-users", "users", cartum_dst, "users/import", 100,
             {"shop_url": cartum_dst.url, "login": cartum_dst.login, "password": cartum_dst.password, "b2b": True,
              "batch_size": 100, "mapping": {"preset": "upgates_customer"}, "max_rejected_percent": 100}),
            ("B", "Cartum users → loyalty", "source-cartum", cartum_config(cartum_src), ["users"],
             "destination-loyalty-batch", "customers", loyalty, "customers_batch", 500,
             {"api_url": loyalty.url, "user_id": loyalty.user_id, "api_key": loyalty.api_key, "account_id": loyalty.account_id,
              "campaigns": loyalty.campaign_ids[:1], "mapping": {"preset": "cartum_user"}, "batch_size": 500,
              "allow_undo": False, "max_rejected_share": 1}),
        ]
        for key, title, src, src_cfg, streams, dst, obj, sink, function, batch, dst_cfg in plans:
            src_key = (src if src != "source-cartum" else f"source-cartum:{streams[0]}", n)
            alone = [results.alone.get(src_key), results.alone.get((dst, n))]
            ideal = max(alone) if None not in alone else None
            runs = []
            writes = []
            for rep in range(sizes.pipeline_reps):
                sink.log.clear()
                out = _run_pipeline(work, f"pipeline-{key}", src, src_cfg, dst, dst_cfg, streams, rep, obj)
                writes.append(sink.log.count(function=function))
                runs.append(out)
                t = out["time"]
                log(f"pipeline {key} {rep + 1}: {out['records_read']} in {out['seconds']:.1f}s; peak MB source "
                    f"{t['source'].get('maxrss_mb', 0):.0f}, destination {t['destination'].get('maxrss_mb', 0):.0f}, "
                    f"runner {t['runner'].get('maxrss_mb', 0):.0f}; {out.get('summary')}")
            read = sum(runs[-1]["records_read"].values())
            reference = ("ideal: the slower of the two alone (items 1 and 4: "
                         f"{alone[0]:.1f} s and {alone[1]:.1f} s), as they run side by side; " if ideal else "")
            results.add(Row(section, f"pipeline {key}: {title}, {n:,} customers: end-to-end time", stat(r["seconds"] for r in runs),
                            ideal, "s", note=f"{reference}{read:,} records, {read / stat(r['seconds'] for r in runs).median:,.0f} rec/s; "
                                            f"includes discover; destination: {(runs[-1].get('summary') or '-').split('): ', 1)[-1][:110]}"))
            states_in = runs[-1].get("states_from_source")
            results.add(Row(section, f"  pipeline {key}: {function} requests for {read:,} records, batch {batch}",
                            stat(writes), ceil_div(read, batch), goal="= 1.00",
                            note=f"ideal ceil(N/batch) whatever the source's checkpoints (issue 16 item 2); "
                                 f"{states_in} states from the source, {runs[-1].get('states_committed')} echoed"))
            for proc in ("source", "destination", "runner"):
                results.add(Row(section, f"  pipeline {key}: peak RSS of the {proc} process",
                                stat(r["time"][proc].get("maxrss_mb", float("nan")) for r in runs), None, "MB",
                                note=f"CPU {stat(r['time'][proc].get('user', 0) + r['time'][proc].get('sys', 0) for r in runs).median:.1f} s"))
    finally:
        for emu in (upgates, cartum_dst, cartum_src, loyalty):
            emu.stop()
        work.cleanup()
