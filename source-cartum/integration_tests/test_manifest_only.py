"""manifest.yaml + components.py outside the package, as Airbyte's tooling runs them.

- The Connector Builder: components.py's text injected in the config
  (`__injected_components_py`, with its checksum), loaded by the CDK's own code path
  (`get_registered_components_module` -> `register_components_module_from_string`, module
  `components`), test reads through the CDK's connector-builder handler. They give the same
  records as the packaged source.
- The manifest-only runtime (`source-declarative-manifest`, what the platform's manifest-only
  image runs): refused with a config_error before any request, exit code 1, no record (a sync
  needs source.py too; see components.MANIFEST_ONLY_REFUSAL).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from airbyte_cdk.connector_builder.connector_builder_handler import TestLimits, create_source, get_limits, read_stream
from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import (
    COMPONENTS_MODULE_NAME,
    ENV_VAR_ALLOW_CUSTOM_CODE,
    INJECTED_COMPONENTS_PY,
    INJECTED_COMPONENTS_PY_CHECKSUMS,
    INJECTED_MANIFEST,
    SDM_COMPONENTS_MODULE_NAME,
)
from harness.fixtures.cartum import cartum_config_for
from source_cartum import components as packaged

PACKAGE = Path(packaged.__file__).parent
MANIFEST_PATH = PACKAGE / "manifest.yaml"
COMPONENTS_PATH = PACKAGE / "components.py"
BIN = Path(sys.executable).parent


@pytest.fixture
def builder_modules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Custom code allowed (as the Builder's environment does), and the `components` modules the
    CDK registers in sys.modules removed again afterwards (other tests of this process)."""
    monkeypatch.setenv(ENV_VAR_ALLOW_CUSTOM_CODE, "true")
    saved = {name: sys.modules.get(name) for name in (COMPONENTS_MODULE_NAME, SDM_COMPONENTS_MODULE_NAME)}
    yield
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def builder_config(config: dict[str, Any]) -> dict[str, Any]:
    """What the Connector Builder sends: the user's config, the manifest and components.py's text."""
    text = COMPONENTS_PATH.read_text(encoding="utf-8")
    return {
        **config,
        "__command": "test_read",
        INJECTED_MANIFEST: yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8")),
        INJECTED_COMPONENTS_PY: text,
        INJECTED_COMPONENTS_PY_CHECKSUMS: {"md5": hashlib.md5(text.encode()).hexdigest()},
        "__test_read_config": {"max_records": 5000, "max_pages_per_slice": 100, "max_slices": 100},
    }


def builder_records(config: dict[str, Any], stream: str, sync: Any) -> list[dict[str, Any]]:
    catalog = sync.catalog([stream])
    limits: TestLimits = get_limits(config)
    source = create_source(config=copy.deepcopy(config), limits=limits, catalog=catalog, state=[])
    # The classes come from the injected text (module `components`), not from the installed package.
    authenticator_class = sys.modules[SDM_COMPONENTS_MODULE_NAME].CartumSessionAuthenticator
    assert authenticator_class.__module__ == COMPONENTS_MODULE_NAME and authenticator_class is not packaged.CartumSessionAuthenticator
    message = read_stream(source, config, catalog, [], limits)
    assert message.record is not None, f"the test read failed: {message}"
    result = message.record.data
    assert not result.get("test_read_limit_reached"), "raise the test read limits: the comparison needs every record"
    errors = [log for log in result.get("logs", []) if log.get("level") in ("ERROR", "FATAL")]
    assert not errors, errors
    return [record for piece in result["slices"] for page in piece["pages"] for record in page["records"]]


def as_emitted(value: Any) -> Any:
    """A Builder record as a RECORD message carries it: the CDK's message serializer omits
    null-valued fields; the Builder shows the record before serialization."""
    if isinstance(value, dict):
        return {k: as_emitted(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_emitted(v) for v in value]
    return value


@pytest.mark.parametrize("stream,key", [("users", "id"), ("customer_groups", "id"), ("price_levels", "id"), ("orders", "order_id")])
def test_builder_test_read_with_injected_components_gives_the_packaged_records(
    stream: str, key: str, builder_modules: None, cartum_factory: Any, sync: Any
) -> None:
    api = cartum_factory(users=70, orders=60)
    config = cartum_config_for(api, page_size=25, orders_window_days=366)
    packaged_records = sync.records(sync.run(config, [stream]), stream)
    injected = builder_records(builder_config(config), stream, sync)
    assert len(packaged_records) > 0
    injected = [as_emitted(record) for record in injected]
    injected, packaged_records = (sorted(r, key=lambda record: record[key]) for r in (injected, packaged_records))
    first = next(((a, b) for a, b in zip(injected, packaged_records) if a != b), None)
    assert injected == packaged_records, f"{len(injected)} vs {len(packaged_records)} records; first difference: {first}"


def test_components_py_compiles_as_the_builder_compiles_it(builder_modules: None) -> None:
    """`from __future__ import annotations` with a dataclass made this crash (the module is run
    before it is in sys.modules, and dataclasses look up the module of an annotation)."""
    from airbyte_cdk.sources.declarative.parsers.custom_code_compiler import get_registered_components_module

    module = get_registered_components_module(builder_config({}))
    assert module is sys.modules[COMPONENTS_MODULE_NAME] is sys.modules[SDM_COMPONENTS_MODULE_NAME]
    for name in ("CartumSessionAuthenticator", "NoRedirectAuthenticator", "ProgressOffsetIncrement", "PhpLooseValues",
                 "ShopLocalDatetime", "UsersCursorStateMigration", "OrdersCursorStateMigration"):
        assert getattr(module, name).__module__ == COMPONENTS_MODULE_NAME


def _manifest_only(command: str, tmp_path: Path, config: dict[str, Any], sync: Any) -> tuple[subprocess.CompletedProcess, list[dict]]:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    catalog_path = tmp_path / "catalog.json"
    from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

    catalog_path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(sync.catalog(["users", "orders"], "incremental"))))
    args = [str(BIN / "source-declarative-manifest"), command, "--config", str(config_path),
            "--manifest-path", str(MANIFEST_PATH), "--components-path", str(COMPONENTS_PATH)]
    if command == "read":
        args += ["--catalog", str(catalog_path)]
    env = {**os.environ, ENV_VAR_ALLOW_CUSTOM_CODE: "true"}
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    messages = []
    for line in done.stdout.splitlines():
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    return done, messages


@pytest.mark.parametrize("command", ["read", "discover"])
def test_the_manifest_only_runtime_refuses_before_any_request(command: str, tmp_path: Path, cartum: Any, sync: Any) -> None:
    done, messages = _manifest_only(command, tmp_path, cartum_config_for(cartum), sync)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    errors = [m["trace"]["error"] for m in messages if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"]
    assert errors and errors[0]["failure_type"] == "config_error", messages
    assert errors[0]["message"] == packaged.MANIFEST_ONLY_REFUSAL
    assert not [m for m in messages if m.get("type") in ("RECORD", "STATE", "CATALOG")]
    assert cartum.log.count() == 0, "no request may reach the shop"


def test_the_manifest_only_check_fails_with_the_refusal(tmp_path: Path, cartum: Any, sync: Any) -> None:
    done, messages = _manifest_only("check", tmp_path, cartum_config_for(cartum), sync)
    statuses = [m["connectionStatus"] for m in messages if m.get("type") == "CONNECTION_STATUS"]
    errors = [m["trace"]["error"] for m in messages if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"]
    assert (statuses and statuses[0]["status"] == "FAILED" and "does not run as a manifest-only connector" in statuses[0]["message"]) or (
        done.returncode == 1 and errors and errors[0]["message"] == packaged.MANIFEST_ONLY_REFUSAL
    ), done.stdout[-2000:]
    assert cartum.log.count() == 0
