"""What the bench suites share: the result rows and their table, connector calls with config,
catalog and state in files, and the sizes of the quick and the full mode."""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from harness.runner import configured_catalog, run_connector, script

from bench.measure import ProcResult, Stat, run_process, stat

BIN = Path(sys.executable).parent


@dataclass
class Sizes:
    """How big and how often. `quick` is for trying the bench; `full` is what the README shows."""

    reps: int = 3
    upgates_customers: int = 100_000
    upgates_full_reps: int = 1  # request counts of a full sync do not vary between runs
    cpu_customers: int = 20_000  # item 3: each of 4 readers runs `reps` times on this world
    upgates_latency_customers: int = 20_000
    cartum_users: int = 100_000
    cartum_orders: int = 100_000
    cartum_full_reps: int = 1  # request counts of a full sync do not vary between runs
    changed_share: float = 0.01
    dest_small: int = 100_000
    dest_large: int = 1_000_000
    dest_large_reps: int = 1
    dest_latency_records: int = 20_000
    pipeline_customers: int = 100_000
    pipeline_reps: int = 1
    realistic_records: int = 10_000  # issue 13's rows: the demo's connections on real-shop worlds

    @classmethod
    def quick(cls) -> "Sizes":
        return cls(
            reps=1,
            upgates_customers=2_000,
            cpu_customers=2_000,
            upgates_latency_customers=20_000,  # the goal's 200 pages (issue 16 item 3): ~10 s
            cartum_users=2_000,
            cartum_orders=2_000,
            dest_small=2_000,
            dest_large=10_000,
            dest_latency_records=10_000,  # enough batches at 4 in flight for a steady rate
            pipeline_customers=2_000,
            realistic_records=2_000,
        )


@dataclass
class Row:
    section: str
    figure: str
    measured: Stat | None
    ideal: float | None = None
    unit: str = ""
    note: str = ""
    ratio_of: str = "measured/ideal"  # how the ratio column reads ("ideal/measured" for rates)
    extra: dict[str, Any] = field(default_factory=dict)
    goal: str = ""  # the goal for this figure, on the ratio: "≤ 1.15", "≥ 0.95", "= 1.00"

    @property
    def ratio(self) -> float | None:
        if self.measured is None or not self.ideal or self.measured.median != self.measured.median:
            return None
        if self.ratio_of == "ideal/measured":
            return self.ideal / self.measured.median if self.measured.median else None
        return self.measured.median / self.ideal

    @property
    def verdict(self) -> str:
        """Whether the ratio meets the goal: "met", "NOT met" or "" (no goal or no ratio)."""
        ratio = self.ratio
        if ratio is None or not self.goal:
            return ""
        op, _, number = self.goal.partition(" ")
        try:
            target = float(number.split()[0].replace("×", ""))
        except (ValueError, IndexError):
            return ""
        ok = {"≤": ratio <= target + 1e-9, "≥": ratio >= target - 1e-9, "=": abs(ratio - target) < 0.005}.get(op)
        return "" if ok is None else ("met" if ok else "NOT met")

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "figure": self.figure,
            "unit": self.unit,
            "measured": self.measured.as_dict() if self.measured else None,
            "ideal": self.ideal,
            "ratio": None if self.ratio is None else round(self.ratio, 3),
            "ratio_of": self.ratio_of,
            "goal": self.goal or None,
            "verdict": self.verdict or None,
            "note": self.note,
            **({"extra": self.extra} if self.extra else {}),
        }


class Results:
    def __init__(self, log: Callable[[str], None]) -> None:
        self.rows: list[Row] = []
        self.log = log
        # wall times (median, s) of single-connector runs that item 5 compares its pipelines
        # with: ("source-upgates-customers", 100000) -> seconds
        self.alone: dict[tuple[str, int], float] = {}
        self.rss_small: dict[str, Any] = {}  # destination -> Stat of peak RSS at the small size

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        self.log(f"  -> {format_row(row)}")
        return row

    def skip(self, section: str, figure: str, why: str) -> None:
        self.add(Row(section, figure, None, note=f"NOT MEASURED: {why}"))


def fmt_num(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if value != value:
        return "n/a"
    if unit in ("s",):
        return f"{value:.2f}"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def format_row(row: Row) -> str:
    m = row.measured
    measured = "-" if m is None else fmt_num(m.median, row.unit)
    spread = "-" if m is None or len(m.values) < 2 else f"{fmt_num(m.lo, row.unit)}–{fmt_num(m.hi, row.unit)} (±{m.spread_pct / 2:.0f}%, n={len(m.values)})"
    if m is not None and len(m.values) == 1:
        spread = "n=1"
    ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
    goal = f"goal {row.goal}: {row.verdict}" if row.goal else ""
    return " | ".join([row.figure, f"{measured} {row.unit}".strip(), spread, fmt_num(row.ideal, row.unit), ratio, goal, row.note])


def table(rows: Sequence[Row]) -> str:
    """A Markdown table: it prints readably and goes into docs/performance.md as it is."""
    out = ["| # | figure | measured (median) | spread: min–max | ideal | ratio | goal | note |",
           "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        m = row.measured
        measured = "-" if m is None else f"{fmt_num(m.median, row.unit)} {row.unit}".strip()
        if m is None or len(m.values) == 1:
            spread = "n=1" if m is not None else "-"
        else:
            spread = f"{fmt_num(m.lo, row.unit)}–{fmt_num(m.hi, row.unit)} (n={len(m.values)}, ±{m.spread_pct / 2:.0f}%)"
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        if row.ratio is not None and row.ratio_of != "measured/ideal":
            ratio += f" ({row.ratio_of})"
        ideal = "-" if row.ideal is None else f"{fmt_num(row.ideal, row.unit)} {row.unit}".strip()
        goal = "-" if not row.goal else f"{row.goal}" + (f" **{row.verdict}**" if row.verdict else "")
        out.append(f"| {row.section} | {row.figure} | {measured} | {spread} | {ideal} | {ratio} | {goal} | {row.note} |")
    return "\n".join(out)


# ---- connectors -----------------------------------------------------------------------------
def installed(name: str) -> bool:
    return (BIN / name).exists() or shutil.which(name) is not None


def discover_streams(command: str, config: dict[str, Any]) -> list[dict[str, Any]]:
    result = run_connector(command, "discover", config=config, timeout=120)
    cats = result.of_type("CATALOG")
    if result.returncode != 0 or not cats:
        raise RuntimeError(f"{command} discover failed: {result.errors or result.stderr[-1500:]}")
    return cats[0]["catalog"]["streams"]


def catalog_for(command: str, config: dict[str, Any], streams: Sequence[str], sync_mode: str = "incremental",
                destination_sync_mode: str = "append") -> dict[str, Any]:
    found = {s["name"]: s for s in discover_streams(command, config)}
    missing = [s for s in streams if s not in found]
    if missing:
        raise RuntimeError(f"{command} has no stream(s) {missing}; it has {sorted(found)}")
    return configured_catalog([found[s] for s in streams], sync_mode, destination_sync_mode)


class Workdir:
    """A temporary folder for config, catalog, state and input files of one suite."""

    def __init__(self, prefix: str) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-")
        self.path = Path(self._tmp.name)
        self._n = 0

    def write_json(self, name: str, value: Any) -> Path:
        self._n += 1
        path = self.path / f"{self._n:03d}-{name}.json"
        path.write_text(json.dumps(value))
        return path

    def cleanup(self) -> None:
        self._tmp.cleanup()


def read_args(command: str, work: Workdir, config: dict[str, Any], catalog: dict[str, Any],
              state: list[dict[str, Any]] | None = None) -> list[str]:
    args = [script(command), "read", "--config", str(work.write_json("config", config)),
            "--catalog", str(work.write_json("catalog", catalog))]
    if state:
        args += ["--state", str(work.write_json("state", state))]
    return args


def run_read(command: str, work: Workdir, config: dict[str, Any], catalog: dict[str, Any],
             state: list[dict[str, Any]] | None = None, timeout: float = 1800) -> ProcResult:
    result = run_process(read_args(command, work, config, catalog, state), timeout=timeout)
    if not result.ok:
        raise RuntimeError(result.describe_failure())
    return result


def ceil_div(a: float, b: float) -> int:
    return int(math.ceil(a / b))


def now() -> float:
    return time.perf_counter()


__all__ = [
    "Row", "Results", "Sizes", "Stat", "Workdir", "catalog_for", "ceil_div", "installed", "run_read",
    "read_args", "stat", "table", "script", "format_row",
]
