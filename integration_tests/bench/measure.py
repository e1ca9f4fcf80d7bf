"""Measuring one process: wall time (time.perf_counter), CPU time and peak RSS as
/usr/bin/time -v reports them, and the Airbyte messages it printed, counted without parsing
every RECORD.

Why /usr/bin/time and not os.wait4 on our own child: Python starts children with vfork, and
at exec Linux records the high-water RSS of the mm being left, which is the parent's. A child
of the bench process (which holds the emulators' worlds) would report the bench's RSS as its
own peak. GNU time is a small process of its own, so its child's ru_maxrss is the child's.

Also: /usr/bin/time -v wrapping for processes that someone else spawns (the pipeline runner),
and the statistics (median, min, max, spread) the report prints.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

TIME_BIN = "/usr/bin/time"


@dataclass
class ProcResult:
    args: list[str]
    returncode: int
    wall: float  # seconds from spawn to exit
    user: float  # CPU seconds in user mode
    sys: float  # CPU seconds in the kernel
    maxrss_mb: float  # peak resident set size
    records: int = 0
    states: list[dict[str, Any]] = field(default_factory=list)  # latest per stream
    errors: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)  # the last LOG lines
    state_marks: list[tuple[float, Any]] = field(default_factory=list)  # (seconds after spawn, stream_state)
    first_record_at: float | None = None  # seconds after spawn
    last_record_at: float | None = None
    stdout_bytes: int = 0
    stderr_tail: str = ""

    @property
    def cpu(self) -> float:
        return self.user + self.sys

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.errors

    def describe_failure(self) -> str:
        return (
            f"{' '.join(self.args[:2])} exited {self.returncode}; errors: {self.errors[:3]}; "
            f"logs: {self.logs[-3:]}; stderr: {self.stderr_tail[-800:]}"
        )


class _StdoutReader(threading.Thread):
    """Counts RECORD lines by their prefix (the CDK and our loop both start a line with
    {"type":"RECORD" or {"type": "RECORD"); parses everything else."""

    def __init__(self, stream: IO[bytes], started: float) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.started = started
        self.records = 0
        self.bytes = 0
        self.first: float | None = None
        self.last: float | None = None
        self.states: dict[str, dict[str, Any]] = {}
        self.errors: list[str] = []
        self.logs: list[str] = []
        self.state_marks: list[tuple[float, Any]] = []

    def run(self) -> None:
        records = 0
        nbytes = 0
        for line in self.stream:
            nbytes += len(line)
            head = line[:24]
            if b'"RECORD"' in head:
                if not records:
                    self.first = time.perf_counter() - self.started
                records += 1
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            kind = msg.get("type") if isinstance(msg, dict) else None
            if kind == "RECORD":  # a serializer that orders keys differently
                if not records:
                    self.first = time.perf_counter() - self.started
                records += 1
            elif kind == "STATE":
                state = msg["state"]
                if state.get("type") == "STREAM":
                    self.state_marks.append((time.perf_counter() - self.started, state["stream"].get("stream_state")))
                    desc = state["stream"]["stream_descriptor"]
                    self.states[f"{desc.get('namespace')}/{desc['name']}"] = state
                else:
                    self.states["__global__"] = state
            elif kind == "TRACE" and msg["trace"].get("type") == "ERROR":
                self.errors.append(msg["trace"]["error"].get("message", ""))
            elif kind == "LOG":
                self.logs.append(msg["log"].get("message", ""))
                del self.logs[:-20]
        if records:
            self.last = time.perf_counter() - self.started
        self.records = records
        self.bytes = nbytes


def _drain(stream: IO[bytes], sink: list[bytes]) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        sink.append(chunk)
        del sink[:-16]


def run_process(
    args: Sequence[str],
    *,
    stdin_path: str | Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
) -> ProcResult:
    """Run `args` to its end under /usr/bin/time -v; stdin from a file (no feeder thread
    competing for the CPU)."""
    stdin: Any = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    fd, time_file = tempfile.mkstemp(prefix="bench-time-", suffix=".txt")
    os.close(fd)
    started = time.perf_counter()
    try:
        proc = subprocess.Popen(
            time_v_prefix(time_file) + list(args),
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **(env or {})},
        )
    finally:
        if stdin_path:
            stdin.close()
    reader = _StdoutReader(proc.stdout, started)  # type: ignore[arg-type]
    err: list[bytes] = []
    drain = threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)
    reader.start()
    drain.start()
    timer = threading.Timer(timeout, proc.kill)
    timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        timer.cancel()
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(30)
    drain.join(5)
    timed = parse_time_v(time_file)
    os.unlink(time_file)
    if not HAVE_TIME:
        timed.pop("maxrss_mb", None)
    return ProcResult(
        args=list(args),
        returncode=int(timed.get("exit", proc.returncode)),
        wall=wall,
        user=timed.get("user", usage.ru_utime),
        sys=timed.get("sys", usage.ru_stime),
        maxrss_mb=timed.get("maxrss_mb", float("nan")),
        records=reader.records,
        states=list(reader.states.values()),
        errors=reader.errors,
        logs=reader.logs,
        state_marks=reader.state_marks,
        first_record_at=reader.first,
        last_record_at=reader.last,
        stdout_bytes=reader.bytes,
        stderr_tail=b"".join(err).decode("utf-8", "replace")[-4000:],
    )


# ---- /usr/bin/time -v ----------------------------------------------------------------------
HAVE_TIME = os.access(TIME_BIN, os.X_OK)


def time_v_prefix(out_file: str | Path) -> list[str]:
    """Prefix a command with this to get GNU time's report in `out_file` (nothing when GNU time
    is missing: Debian package `time`; CPU then comes from os.wait4 and peak RSS is not known)."""
    return [TIME_BIN, "-v", "-o", str(out_file)] if HAVE_TIME else []


_TIME_FIELDS = {
    "Maximum resident set size (kbytes)": ("maxrss_mb", lambda v: int(v) / 1024.0),
    "User time (seconds)": ("user", float),
    "System time (seconds)": ("sys", float),
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": ("wall", lambda v: _clock_seconds(v)),
    "Exit status": ("exit", int),
}


def _clock_seconds(text: str) -> float:
    parts = [float(p) for p in text.strip().split(":")]
    seconds = 0.0
    for p in parts:
        seconds = seconds * 60 + p
    return seconds


def parse_time_v(path: str | Path) -> dict[str, float]:
    out: dict[str, float] = {}
    if not Path(path).exists():
        return out
    for line in Path(path).read_text(errors="replace").splitlines():
        key, sep, value = line.strip().rpartition(": ")
        if sep and key in _TIME_FIELDS:
            name, conv = _TIME_FIELDS[key]
            out[name] = conv(value)
    return out


# ---- statistics ------------------------------------------------------------------------------
@dataclass
class Stat:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def lo(self) -> float:
        return min(self.values)

    @property
    def hi(self) -> float:
        return max(self.values)

    @property
    def spread_pct(self) -> float:
        """(max - min) / median, in percent: the whole range of the runs, not a deviation."""
        m = self.median
        return 0.0 if not m else 100.0 * (self.hi - self.lo) / abs(m)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "min": self.lo,
            "max": self.hi,
            "spread_pct": round(self.spread_pct, 1),
            "runs": self.values,
        }


def stat(values: Iterable[float]) -> Stat:
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError("no values")
    return Stat(vals)


_NUM = re.compile(r"^-?\d+(\.\d+)?$")


def machine() -> dict[str, Any]:
    """What the figures ran on: CPU model and count, memory, OS, Python, load at the start."""
    info: dict[str, Any] = {"cpus": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        info["os"] = "Debian " + Path("/etc/debian_version").read_text().strip()
    except OSError:
        info["os"] = os.uname().sysname
    info["kernel"] = os.uname().release
    import platform

    info["python"] = platform.python_version()
    try:
        from importlib.metadata import version

        info["airbyte_cdk"] = version("airbyte-cdk")
    except Exception:  # pragma: no cover
        pass
    info["loadavg_at_start"] = list(os.getloadavg())
    return info
