"""The CDK's standard destination tests for this connector, run against the loyalty emulator.

acceptance-test-config.yml names configs under secrets/ (gitignored); harness.standard's
EmulatorSuite starts the emulator once for the class and writes them from
integration_tests/*.json with the running emulator's URL (`api_url`), and skips the image
tests unless an image is passed with --connector-image.
"""

from __future__ import annotations

from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from emulators.loyalty import LoyaltyEmulator
from harness.standard import EmulatorSuite
from destination_loyalty_batch import DestinationLoyaltyBatch

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestDestinationLoyaltyBatch(EmulatorSuite, DestinationTestSuiteBase):
    connector = DestinationLoyaltyBatch

    @classmethod
    def start_emulator(cls) -> LoyaltyEmulator:
        return LoyaltyEmulator()
