"""The console-script helpers the test modules of this folder share: run
`source-upgates-customers` as the platform runs it (console script, files, stdout) against the
UPgates emulator. (Not a test module; conftest.py puts this folder on sys.path for it.)"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from emulators.base import Clock
from harness.runner import RunResult, configured_catalog, run_connector, script
from emulators.upgates import UpgatesEmulator

SOURCE = "source-upgates-customers"


@functools.cache
def discovered_streams() -> list[dict[str, Any]]:
    """The catalog is static (discover sends no request), so one discover serves every test."""
    config = {"api_url": "http://127.0.0.1:9/api/v2", "login": "x", "api_key": "y"}
    return run_connector(SOURCE, "discover", config=config).of_type("CATALOG")[0]["catalog"]["streams"]


def catalog(config: dict[str, Any], *names: str, mode: str = "incremental") -> dict[str, Any]:
    streams = copy.deepcopy(discovered_streams())
    return configured_catalog([s for s in streams if not names or s["name"] in names], mode)


def read(api: UpgatesEmulator, config: dict[str, Any], cat: dict[str, Any], state=None) -> RunResult:
    api.log.clear()
    return run_connector(SOURCE, "read", config=config, catalog=cat, state=state)


def customer_ids(result: RunResult) -> set[int]:
    return {r["customer_id"] for r in result.records("customers")}


def customers_state(result: RunResult) -> dict[str, Any]:
    return [s for s in result.states if s["stream"]["stream_descriptor"]["name"] == "customers"][-1]["stream"]["stream_state"]


def quota_clock() -> Clock:
    """Emulator time a few seconds into an hour that starts two hours from now, so the quota's
    `Retry-After` (the next hour) is always more than the connector's longest wait away."""
    start = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(minute=0, second=5, microsecond=0)
    return Clock(start=start)


def run_raw(*args: str, files: dict[str, Any]) -> subprocess.CompletedProcess:
    """The console script with extra arguments (e.g. --debug), files written to a temp folder."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [script(SOURCE), *args]
        for name, value in files.items():
            path = Path(tmp, f"{name}.json")
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            argv += [f"--{name}", str(path)]
        return subprocess.run(argv, capture_output=True, timeout=300)
