"""`airbyte-cdk connector test` (the CDK's CLI) writes its own suite to
.tmp/integration_tests/test_airbyte_standards.py here, a bare `DestinationTestSuiteBase`
without our fixtures. `harness.standard.cli_suite_fixtures` gives the modules under .tmp/ what
`EmulatorSuite` gives unit_tests/test_airbyte_standards.py: the UPgates emulator with
secrets/*.json written for it, and image tests skipped without --connector-image. Every other
test of the folder is left alone."""

from pathlib import Path

from emulators.upgates import UpgatesEmulator
from harness.standard import cli_suite_fixtures

ROOT = Path(__file__).resolve().parent

globals().update(cli_suite_fixtures(ROOT, lambda: UpgatesEmulator(customers=5), lambda api: {"api_url": f"{api.url}/api/v2"}))
