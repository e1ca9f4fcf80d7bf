"""The CDK's standard (acceptance) tests for source-cartum, run against the Cartum emulator.

acceptance-test-config.yml names secrets/config.json and secrets/invalid_config.json;
harness.standard.EmulatorSuite starts a seeded emulator once for the class and writes both from
integration_tests/sample_config.json and invalid_config.json (which keeps its wrong password)
with the emulator's address (`emulator_config` in the connector folder's conftest.py, shared with
`airbyte-cdk connector test`). The connector is built as run.py builds it, with its config; the
CLI's run (integration_tests/test_connector_test_cli.py) builds it without arguments.
"""

from __future__ import annotations

from typing import Any

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from emulators.cartum import CartumEmulator
from harness.fixtures.cartum import cartum_config_for
from harness.standard import EmulatorSuite, scenario_config
from source_cartum import SourceCartum

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestSourceCartum(EmulatorSuite, SourceTestSuiteBase):
    connector = SourceCartum

    @classmethod
    def start_emulator(cls) -> CartumEmulator:
        return CartumEmulator(users=120, orders=150)

    @classmethod
    def emulator_config(cls, api: CartumEmulator) -> dict[str, Any]:
        # the same values as conftest.py's emulator_config (login and password stay as the files have them)
        config = cartum_config_for(api, page_size=50, orders_window_days=366)
        return {key: config[key] for key in ("shop_url", "start_date", "shop_timezone", "page_size", "orders_window_days")}

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceCartum:
        return SourceCartum(config=scenario_config(cls, scenario))
