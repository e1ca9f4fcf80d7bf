"""The CDK's standard destination tests for this connector, run against the UPgates emulator.

acceptance-test-config.yml names configs under secrets/ (gitignored); `EmulatorSuite`
(harness.standard) starts the emulator and writes them from integration_tests/*.json with the
running emulator's URL, and skips the image tests without --connector-image.
"""

from __future__ import annotations

from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from emulators.upgates import UpgatesEmulator
from harness.standard import EmulatorSuite
from destination_upgates_customers import DestinationUpgatesCustomers

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestDestinationUpgatesCustomers(EmulatorSuite, DestinationTestSuiteBase):
    connector = DestinationUpgatesCustomers

    @classmethod
    def start_emulator(cls) -> UpgatesEmulator:
        return UpgatesEmulator(customers=5)

    @classmethod
    def emulator_config(cls, api: UpgatesEmulator) -> dict:
        return {"api_url": f"{api.url}/api/v2"}
