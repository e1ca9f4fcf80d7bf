"""Run connectors the way the Airbyte platform does: as console scripts in subprocesses, with
config, catalog and state in files, messages as JSON lines on stdout. Used by the tests, the
demo and the benchmarks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

BIN = Path(sys.executable).parent


def script(name: str) -> str:
    """Path of a console script installed in the running virtualenv (e.g. `source-cartum`)."""
    path = BIN / name
    return str(path) if path.exists() else name


@dataclass
class RunResult:
    args: list[str]
    returncode: int
    messages: list[dict[str, Any]]
    stderr: str
    stdout_noise: list[str] = field(default_factory=list)  # stdout lines that were not JSON

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == kind]

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [
            m["record"]["data"]
            for m in self.of_type("RECORD")
            if stream is None or m["record"]["stream"] == stream
        ]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["state"] for m in self.of_type("STATE")]

    @property
    def logs(self) -> list[str]:
        return [m["log"]["message"] for m in self.of_type("LOG")]

    @property
    def traces(self) -> list[dict[str, Any]]:
        return [m["trace"] for m in self.of_type("TRACE")]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [t["error"] for t in self.traces if t.get("type") == "ERROR"]

    @property
    def output(self) -> str:
        """Everything the run printed, for secret-leak checks."""
        return "\n".join(json.dumps(m) for m in self.messages) + "\n".join(self.stdout_noise) + self.stderr

    def last_state(self) -> list[dict[str, Any]] | None:
        """The states to pass to the next run: the latest per stream (or the global one)."""
        latest = {state_key(s): s for s in self.states}
        return list(latest.values()) or None


def state_key(state: dict[str, Any]) -> str:
    """Which state a STATE message replaces: its stream's (namespace/name), or the global one."""
    if state.get("type") == "STREAM":
        desc = state["stream"]["stream_descriptor"]
        return f"{desc.get('namespace')}/{desc['name']}"
    return "__global__"


def parse_messages(lines: Iterable[str]) -> tuple[list[dict[str, Any]], list[str]]:
    messages, noise = [], []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            msg = json.loads(line)
        except ValueError:
            noise.append(line)
            continue
        if isinstance(msg, dict) and "type" in msg:
            messages.append(msg)
        else:
            noise.append(line)
    return messages, noise


def run_connector(
    command: str | list[str],
    verb: str,
    *,
    config: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    state: list[dict[str, Any]] | None = None,
    stdin: str | bytes | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
    workdir: str | Path | None = None,
) -> RunResult:
    """`command verb --config … --catalog … --state …`, files written to a temp folder."""
    cmd = [script(command)] if isinstance(command, str) else list(command)
    with tempfile.TemporaryDirectory(prefix="airbyte-run-") as tmp:
        args = cmd + [verb]
        for flag, value in (("--config", config), ("--catalog", catalog), ("--state", state)):
            if value is not None:
                path = Path(tmp) / f"{flag[2:]}.json"
                path.write_text(json.dumps(value))
                args += [flag, str(path)]
        proc = subprocess.run(
            args,
            input=stdin.encode() if isinstance(stdin, str) else stdin,
            capture_output=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            cwd=workdir,
        )
    messages, noise = parse_messages(proc.stdout.decode("utf-8", "replace").splitlines())
    return RunResult(args, proc.returncode, messages, proc.stderr.decode("utf-8", "replace"), noise)


def configured_catalog(
    streams: list[dict[str, Any]], sync_mode: str = "full_refresh", destination_sync_mode: str = "append"
) -> dict[str, Any]:
    """A configured catalog from `discover`'s streams, every stream in `sync_mode`."""
    out = []
    for s in streams:
        mode = sync_mode if sync_mode in s.get("supported_sync_modes", ["full_refresh"]) else "full_refresh"
        entry: dict[str, Any] = {"stream": s, "sync_mode": mode, "destination_sync_mode": destination_sync_mode}
        if s.get("source_defined_primary_key"):
            entry["primary_key"] = s["source_defined_primary_key"]
        if mode == "incremental" and s.get("default_cursor_field"):
            entry["cursor_field"] = s["default_cursor_field"]
        out.append(entry)
    return {"streams": out}
