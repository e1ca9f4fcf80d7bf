"""`airbyte-cdk connector test` (the CDK's CLI runner of the standard tests) passes for this
connector, run as the README says: from the connector folder,

    cd source-cartum && ../.venv/bin/airbyte-cdk connector test

It builds `SourceCartum()` without arguments (the source builds itself from the config, catalog
and state check/discover/read receive) and reads the configs of acceptance-test-config.yml, which
conftest.py writes for the Cartum emulator it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = Path(sys.executable).with_name("airbyte-cdk")
JUNIT = ROOT / "build" / "test-results" / "standard-tests-junit.xml"


def test_airbyte_cdk_connector_test_passes() -> None:
    JUNIT.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "XDIST"))}
    done = subprocess.run([str(CLI), "connector", "test"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]

    outcome: dict[str, str] = {}
    for case in ET.parse(JUNIT).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome[case.get("name", "")] = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    assert "failed" not in outcome.values(), outcome
    # spec, check (both configs), discover and read ran against the emulator: not skipped
    for name in ("test_spec", "test_check['config' Test Scenario]", "test_check['invalid_config' Test Scenario]",
                 "test_discover['config' Test Scenario]", "test_basic_read['config' Test Scenario]"):
        assert outcome.get(name) == "passed", (name, outcome)
