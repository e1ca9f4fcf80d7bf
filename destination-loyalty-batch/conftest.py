"""For `airbyte-cdk connector test` (the CDK's CLI), run from this folder.

The CLI writes its own standard-suite module, `.tmp/integration_tests/test_airbyte_standards.py`
(a bare `DestinationTestSuiteBase` found through metadata.yaml), and runs it with this folder as
the root, so this conftest is the only place that can point it at the loyalty emulator.
`harness.standard.cli_suite_fixtures` gives that module only what unit_tests/
test_airbyte_standards.py gets from `EmulatorSuite`: the emulator, secrets/config.json and
secrets/invalid_config.json (acceptance-test-config.yml) written with its URL, and the image
tests skipped unless an image is given (`--pytest-arg=--connector-image=<image>`). Every other
test of the folder is left alone; the repository's run does not collect `.tmp/` (pytest.ini).
"""

from __future__ import annotations

from pathlib import Path

from emulators.loyalty import LoyaltyEmulator
from harness.standard import cli_suite_fixtures

ROOT = Path(__file__).resolve().parent

globals().update(cli_suite_fixtures(ROOT, LoyaltyEmulator, lambda api: {"api_url": api.url}))
