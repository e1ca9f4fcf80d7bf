"""The CDK's standard destination tests for this connector, run against the Cartum emulator.

acceptance-test-config.yml names configs under secrets/ (gitignored); `EmulatorSuite`
(harness.standard) starts the emulator and writes them from integration_tests/*.json with the
running emulator's URL, and skips the image tests without --connector-image.
"""

from __future__ import annotations

from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from emulators.cartum import CartumEmulator
from harness.standard import EmulatorSuite
from destination_cartum_users import DestinationCartumUsers

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestDestinationCartumUsers(EmulatorSuite, DestinationTestSuiteBase):
    connector = DestinationCartumUsers

    @classmethod
    def start_emulator(cls) -> CartumEmulator:
        return CartumEmulator(users=5, orders=0)

    @classmethod
    def emulator_config(cls, api: CartumEmulator) -> dict:
        return {"shop_url": api.url}
