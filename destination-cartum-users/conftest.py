"""`airbyte-cdk connector test` (the CDK's CLI) writes its own suite to
.tmp/integration_tests/test_airbyte_standards.py here, a bare `DestinationTestSuiteBase`
without our fixtures. `harness.standard.cli_suite_fixtures` gives the modules under .tmp/ what
`EmulatorSuite` gives unit_tests/test_airbyte_standards.py: the Cartum emulator with
secrets/*.json written for it, and image tests skipped without --connector-image. Every other
test of the folder is left alone."""

from pathlib import Path

from emulators.cartum import CartumEmulator
from harness.standard import cli_suite_fixtures

ROOT = Path(__file__).resolve().parent

globals().update(cli_suite_fixtures(ROOT, lambda: CartumEmulator(users=5, orders=0), lambda api: {"shop_url": api.url}))
