"""The manifest run as a manifest-only connector (what the Connector Builder and the platform's
source-declarative-manifest image do: the CDK's `source-declarative-manifest` launcher given the
manifest and components.py, injected in the config or as files) refuses to read `customers`:
before any customers request, with a config_error naming what to run instead, and exit code 1.
Without the refusal it read one page (100 of 250 customers), no state, and exited 0.

The packaged connector reads the same manifest through source.py (see test_sync.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

PACKAGE = Path(__file__).resolve().parents[1] / "source_upgates_customers"
MANIFEST = PACKAGE / "manifest.yaml"
COMPONENTS = PACKAGE / "components.py"
LAUNCHER = Path(sys.executable).with_name("source-declarative-manifest")
REFUSAL = "cannot run as a manifest-only connector"
# customers incremental, customer_groups and pricelists full refresh
CATALOG = json.loads((Path(__file__).with_name("configured_catalog.json")).read_text())


def launch(tmp_path: Path, command: str, config: dict[str, Any], *extra: str, catalog: dict | None = None) -> tuple[int, list[dict]]:
    (tmp_path / "config.json").write_text(json.dumps(config))
    args = [str(LAUNCHER), command, "--config", str(tmp_path / "config.json"), *extra]
    if catalog is not None:
        (tmp_path / "catalog.json").write_text(json.dumps(catalog))
        args += ["--catalog", str(tmp_path / "catalog.json")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["AIRBYTE_ENABLE_UNSAFE_CODE"] = "true"  # the injected components.py is custom code
    # cwd: a folder without the package or a manifest.yaml, as in the manifest-only image
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    return done.returncode, [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def injected(config: dict[str, Any]) -> dict[str, Any]:
    """The config as the Connector Builder sends it: manifest and components.py inside."""
    code = COMPONENTS.read_text(encoding="utf-8")
    return {
        **config,
        "__injected_declarative_manifest": yaml.safe_load(MANIFEST.read_text(encoding="utf-8")),
        "__injected_components_py": code,
        "__injected_components_py_checksums": {"md5": hashlib.md5(code.encode()).hexdigest()},
    }


def errors(messages: list[dict]) -> list[dict]:
    return [m["trace"]["error"] for m in messages if m["type"] == "TRACE" and m["trace"]["type"] == "ERROR"]


@pytest.mark.parametrize("how", ["injected_in_config", "manifest_and_components_paths"])
def test_manifest_only_read_refuses_customers_before_any_request(upgates, upgates_config, tmp_path, how):
    if how == "injected_in_config":
        config, extra = injected(upgates_config), ()
    else:
        config, extra = upgates_config, ("--manifest-path", str(MANIFEST), "--components-path", str(COMPONENTS))
    upgates.log.clear()
    code, messages = launch(tmp_path, "read", config, *extra, catalog=CATALOG)

    assert code == 1
    refusals = [e for e in errors(messages) if REFUSAL in e["message"]]
    assert refusals and refusals[0]["failure_type"] == "config_error"
    assert "source-upgates-customers" in refusals[0]["message"] and "Dockerfile" in refusals[0]["message"]
    # nothing of customers: no record, no state, not one customers request bought
    assert not [m for m in messages if m["type"] == "RECORD" and m["record"]["stream"] == "customers"]
    customers_states = [
        m["state"]["stream"].get("stream_state") or {}
        for m in messages
        if m["type"] == "STATE" and m["state"].get("stream", {}).get("stream_descriptor", {}).get("name") == "customers"
    ]
    assert all("last_update_time" not in s and "pass" not in s for s in customers_states)  # at most the CDK's no-cursor marker
    assert "GET customers" not in upgates.log.summary()
    assert upgates_config["api_key"] not in json.dumps(messages)


def test_manifest_only_check_fails_with_the_refusal(upgates, upgates_config, tmp_path):
    upgates.log.clear()
    code, messages = launch(tmp_path, "check", injected(upgates_config))
    status = [m for m in messages if m["type"] == "CONNECTION_STATUS"][0]["connectionStatus"]
    assert status["status"] == "FAILED" and REFUSAL in status["message"]
    assert "GET customers" not in upgates.log.summary()


def test_injected_components_load_as_the_builder_loads_them():
    """The Builder execs components.py in a fresh module before registering it (a dataclass
    with string annotations crashes there): the module must load alone, without the package."""
    from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import register_components_module_from_string

    code = COMPONENTS.read_text(encoding="utf-8")
    saved = {name: sys.modules.get(name) for name in ("components", "source_declarative_manifest.components")}
    try:
        module = register_components_module_from_string(code, {"md5": hashlib.md5(code.encode()).hexdigest()})
        for name in ("UpgatesErrorHandler", "RetryAfterHttpDate", "CustomersExtractor", "CustomersNeedTheConnector"):
            assert isinstance(getattr(module, name), type)
        assert "from source_upgates_customers" not in code and "import source_upgates_customers" not in code
    finally:
        for name, value in saved.items():
            if value is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = value
