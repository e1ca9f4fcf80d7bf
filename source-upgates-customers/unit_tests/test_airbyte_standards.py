"""The CDK's standard (acceptance) tests for this connector, run against the UPgates emulator.

`EmulatorSuite` (harness.standard) starts the emulator once for the class and writes
secrets/config.json and secrets/invalid_config.json (named by `acceptance-test-config.yml`) from
integration_tests/sample_config.json and invalid_config.json with the running emulator's
`api_url`. The connector is built as `airbyte-cdk connector test` builds it, without arguments:
`SourceUpgatesCustomers()` takes its config from the entrypoint (see source.py).
"""

from __future__ import annotations

from typing import Any, Mapping

from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from emulators.upgates import UpgatesEmulator
from harness.standard import EmulatorSuite
from source_upgates_customers import SourceUpgatesCustomers

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]


class TestSourceUpgatesCustomers(EmulatorSuite, SourceTestSuiteBase):
    connector = SourceUpgatesCustomers

    @classmethod
    def start_emulator(cls) -> UpgatesEmulator:
        return UpgatesEmulator(customers=120)

    @classmethod
    def emulator_config(cls, api: Any) -> Mapping[str, Any]:
        return {"api_url": f"{api.url}/api/v2"}
