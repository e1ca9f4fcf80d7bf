"""Run a source into a destination the way the Airbyte platform does, and keep the state.

    commerce-pipeline --name upgates-to-cartum \
        --source source-upgates-customers --source-config upgates.json \
        --destination destination-cartum-users --destination-config cartum.json \
        --streams customers --state-dir .pipelines

What it does, as the platform's orchestrator does it:
1. `source discover` → the catalog; the chosen streams are configured incremental where the
   stream supports it (else full refresh), with the destination sync mode asked for.
2. `source read --state <stored state>` runs with its stdout read line by line: RECORD and
   STATE messages go to `destination write`'s stdin; the source's LOG and TRACE messages are
   kept for the report (and echoed to the console as progress).
3. The STATE messages that the *destination* echoes are the committed ones: the last of each
   stream is stored in `<state-dir>/<name>/state.json` and passed to the next run. A state that
   the source emitted but the destination never echoed is not stored, so a crash of either side
   resumes from what really arrived.
It takes real configs as well as the emulators' (nothing in it knows about the emulators).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from harness.runner import configured_catalog, run_connector, script, state_key


@dataclass
class PipelineRun:
    name: str
    source_returncode: int = 0
    destination_returncode: int = 0
    records_read: dict[str, int] = field(default_factory=dict)
    states_from_source: int = 0
    states_committed: int = 0
    source_errors: list[str] = field(default_factory=list)
    destination_errors: list[str] = field(default_factory=list)
    destination_logs: list[str] = field(default_factory=list)
    source_logs: list[str] = field(default_factory=list)
    source_warnings: list[str] = field(default_factory=list)  # the source's WARN log lines
    destination_warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    state: list[dict[str, Any]] | None = None

    @property
    def ok(self) -> bool:
        return self.source_returncode == 0 and self.destination_returncode == 0

    @property
    def total_read(self) -> int:
        return sum(self.records_read.values())

    def summary_line(self) -> str | None:
        """The destination's closing summary log line (destination_common's "Write summary")."""
        for line in reversed(self.destination_logs):
            if line.startswith("Write summary"):
                return line
        return None


class Pipeline:
    def __init__(
        self,
        name: str,
        source: str | list[str],
        source_config: dict[str, Any],
        destination: str | list[str],
        destination_config: dict[str, Any],
        *,
        streams: list[str] | None = None,
        destination_sync_mode: str = "append_dedup",
        destination_object_name: str | None = None,
        state_dir: str | Path = ".pipelines",
        progress: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
        on_record: Callable[["Pipeline", PipelineRun], None] | None = None,
    ) -> None:
        self.name = name
        # Called after each record passes to the destination (tests use it to kill a side).
        self.on_record = on_record
        self.source = [script(source)] if isinstance(source, str) else list(source)
        self.destination = [script(destination)] if isinstance(destination, str) else list(destination)
        self.source_config = source_config
        self.destination_config = destination_config
        self.streams = streams
        self.destination_sync_mode = destination_sync_mode
        self.destination_object_name = destination_object_name
        self.state_path = Path(state_dir) / name / "state.json"
        self.progress = progress or (lambda line: None)
        self.env = {**os.environ, **(env or {})}
        self._catalog: dict[str, Any] | None = None

    # ---- state --------------------------------------------------------------------------
    def load_state(self) -> list[dict[str, Any]] | None:
        if self.state_path.exists():
            return json.loads(self.state_path.read_text()) or None
        return None

    def save_state(self, state: list[dict[str, Any]]) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.state_path)  # atomic: a crash never leaves half a state file

    def reset(self) -> None:
        if self.state_path.exists():
            self.state_path.unlink()

    # ---- catalog ------------------------------------------------------------------------
    def catalog(self) -> dict[str, Any]:
        if self._catalog is None:
            result = run_connector(self.source, "discover", config=self.source_config, env=self.env)
            cats = result.of_type("CATALOG")
            if result.returncode != 0 or not cats:
                raise RuntimeError(f"{self.name}: source discover failed: {result.errors or result.stderr[-2000:]}")
            streams = cats[0]["catalog"]["streams"]
            if self.streams:
                by_name = {s["name"]: s for s in streams}
                missing = [s for s in self.streams if s not in by_name]
                if missing:
                    raise RuntimeError(f"{self.name}: the source has no stream(s) {missing}; it has {sorted(by_name)}")
                streams = [by_name[s] for s in self.streams]
            catalog = configured_catalog(streams, "incremental", self.destination_sync_mode)
            if self.destination_object_name:
                for entry in catalog["streams"]:
                    entry["destination_object_name"] = self.destination_object_name
            self._catalog = catalog
        return self._catalog

    # ---- run ----------------------------------------------------------------------------
    def run(self, timeout: float = 3600) -> PipelineRun:
        started = time.monotonic()
        result = PipelineRun(self.name)
        catalog = self.catalog()
        state = self.load_state()
        committed: dict[str, dict[str, Any]] = {state_key(s): s for s in (state or [])}
        with tempfile.TemporaryDirectory(prefix=f"pipeline-{self.name}-") as tmp:
            paths = {}
            for key, value in (
                ("source_config", self.source_config),
                ("destination_config", self.destination_config),
                ("catalog", catalog),
                ("state", state),
            ):
                if value is not None:
                    paths[key] = Path(tmp) / f"{key}.json"
                    paths[key].write_text(json.dumps(value))
            src_args = self.source + ["read", "--config", str(paths["source_config"]), "--catalog", str(paths["catalog"])]
            if "state" in paths:
                src_args += ["--state", str(paths["state"])]
            dst_args = self.destination + ["write", "--config", str(paths["destination_config"]), "--catalog", str(paths["catalog"])]
            src = subprocess.Popen(src_args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
            dst = subprocess.Popen(dst_args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env)
            self.source_process, self.destination_process = src, dst
            src_err: list[bytes] = []
            dst_err: list[bytes] = []
            threads = [
                threading.Thread(target=_drain, args=(src.stderr, src_err), daemon=True),
                threading.Thread(target=_drain, args=(dst.stderr, dst_err), daemon=True),
                threading.Thread(target=self._read_destination, args=(dst.stdout, result, committed), daemon=True),
            ]
            for t in threads:
                t.start()
            try:
                self._pump(src.stdout, dst.stdin, result)
            finally:
                try:
                    dst.stdin.close()  # type: ignore[union-attr]
                except (BrokenPipeError, ValueError):
                    pass
            deadline = started + timeout
            result.source_returncode = src.wait(max(1, deadline - time.monotonic()))
            result.destination_returncode = dst.wait(max(1, deadline - time.monotonic()))
            for t in threads:
                t.join(10)
            if result.source_returncode != 0 and not result.source_errors:
                result.source_errors.append(b"".join(src_err).decode("utf-8", "replace")[-2000:])
            if result.destination_returncode != 0 and not result.destination_errors:
                result.destination_errors.append(b"".join(dst_err).decode("utf-8", "replace")[-2000:])
        result.state = list(committed.values()) or None
        result.seconds = time.monotonic() - started
        return result

    def _pump(self, src_out: Any, dst_in: Any, result: PipelineRun) -> None:
        """Source stdout → destination stdin (RECORD and STATE only), as the platform does."""
        destination_alive = True
        last_progress = time.monotonic()
        for raw in src_out:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue  # a connector's stray print is not a protocol message
            kind = msg.get("type")
            if kind == "RECORD":
                stream = msg["record"]["stream"]
                result.records_read[stream] = result.records_read.get(stream, 0) + 1
            elif kind == "STATE":
                result.states_from_source += 1
            elif kind == "LOG":
                line = msg["log"].get("message", "")
                result.source_logs.append(line)
                if msg["log"].get("level") in ("WARN", "WARNING"):
                    result.source_warnings.append(line)
                if msg["log"].get("level") in ("INFO", "WARN", "ERROR"):
                    self.progress(f"[{self.name}] source: {line}")
                continue
            elif kind == "TRACE":
                trace = msg["trace"]
                if trace.get("type") == "ERROR":
                    result.source_errors.append(trace["error"].get("message", ""))
                continue
            else:
                continue
            if destination_alive:
                try:
                    dst_in.write(raw)
                except (BrokenPipeError, ValueError):
                    destination_alive = False  # keep draining the source so it can exit
            if kind == "RECORD" and self.on_record is not None:
                self.on_record(self, result)
            if time.monotonic() - last_progress > 5:
                last_progress = time.monotonic()
                self.progress(f"[{self.name}] {result.total_read} records read so far")

    def _read_destination(self, dst_out: Any, result: PipelineRun, committed: dict[str, dict[str, Any]]) -> None:
        for raw in dst_out:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            kind = msg.get("type")
            if kind == "STATE":
                state = msg["state"]
                committed[state_key(state)] = state
                result.states_committed += 1
                self.save_state(list(committed.values()))
            elif kind == "LOG":
                line = msg["log"].get("message", "")
                result.destination_logs.append(line)
                if msg["log"].get("level") in ("WARN", "WARNING"):
                    result.destination_warnings.append(line)
                if msg["log"].get("level") in ("INFO", "WARN", "ERROR"):
                    self.progress(f"[{self.name}] destination: {line}")
            elif kind == "TRACE" and msg["trace"].get("type") == "ERROR":
                result.destination_errors.append(msg["trace"]["error"].get("message", ""))


def _drain(stream: Any, sink: list[bytes]) -> None:
    for chunk in iter(lambda: stream.read(65536), b""):
        sink.append(chunk)
        if len(sink) > 64:
            del sink[:-64]


def main(argv: list[str] | None = None, out: TextIO = sys.stdout) -> int:
    parser = argparse.ArgumentParser(prog="commerce-pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True, help="the connection's name; its state is kept under --state-dir/NAME")
    parser.add_argument("--source", required=True, help="source console script or image command, e.g. source-upgates-customers")
    parser.add_argument("--source-config", required=True, type=Path)
    parser.add_argument("--destination", required=True)
    parser.add_argument("--destination-config", required=True, type=Path)
    parser.add_argument("--streams", nargs="*", help="streams to sync (default: all)")
    parser.add_argument("--destination-sync-mode", default="append_dedup")
    parser.add_argument("--destination-object-name")
    parser.add_argument("--state-dir", default=".pipelines", type=Path)
    parser.add_argument("--reset", action="store_true", help="forget the stored state: the next run is a full sync")
    args = parser.parse_args(argv)
    pipeline = Pipeline(
        args.name,
        args.source.split(),
        json.loads(args.source_config.read_text()),
        args.destination.split(),
        json.loads(args.destination_config.read_text()),
        streams=args.streams,
        destination_sync_mode=args.destination_sync_mode,
        destination_object_name=args.destination_object_name,
        state_dir=args.state_dir,
        progress=lambda line: print(line, file=out, flush=True),
    )
    if args.reset:
        pipeline.reset()
    run = pipeline.run()
    print(
        f"{run.name}: read {run.total_read} records {run.records_read}, "
        f"{run.states_committed} states committed, {run.seconds:.1f}s, "
        f"source exit {run.source_returncode}, destination exit {run.destination_returncode}",
        file=out,
    )
    if run.summary_line():
        print(f"{run.name}: {run.summary_line()}", file=out)
    for err in run.source_errors + run.destination_errors:
        print(f"{run.name}: error: {err}", file=out)
    return 0 if run.ok else 1


if __name__ == "__main__":
    sys.exit(main())
