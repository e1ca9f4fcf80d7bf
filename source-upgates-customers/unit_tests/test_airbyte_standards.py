"""The CDK's standard (acceptance) tests for this connector, run against the UPgates emulator.

The configs in `acceptance-test-config.yml` name the emulator at 127.0.0.1:8801; each test
reads them with that address replaced by the running emulator's, so no fixed port is needed.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from emulators.upgates import UpgatesEmulator
from source_upgates_customers import SourceUpgatesCustomers

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

PLACEHOLDER = "http://127.0.0.1:8801"


class TestSourceUpgatesCustomers(SourceTestSuiteBase):
    connector = SourceUpgatesCustomers
    emulator_url: ClassVar[str] = PLACEHOLDER

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request: pytest.FixtureRequest) -> None:
        """The CDK builds a Python connector's image only inside the Airbyte monorepo; here the
        image comes from this folder's Dockerfile and is passed with --connector-image."""
        if request.node.get_closest_marker("image_tests") and not request.config.getoption("--connector-image"):
            pytest.skip("image test: build the image (docker build source-upgates-customers) and pass --connector-image")

    @pytest.fixture(autouse=True, scope="class")
    def _emulator(self):
        with UpgatesEmulator(customers=120) as api:
            type(self).emulator_url = api.url
            yield api
            type(self).emulator_url = PLACEHOLDER

    @classmethod
    def _config(cls, scenario: ConnectorTestScenario | None) -> dict[str, Any]:
        config = dict((scenario or ConnectorTestScenario()).get_config_dict(
            connector_root=cls.get_connector_root_dir(), empty_if_missing=True
        ))
        if str(config.get("api_url", "")).startswith(PLACEHOLDER):
            config["api_url"] = cls.emulator_url + config["api_url"][len(PLACEHOLDER):]
        return config

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceUpgatesCustomers:
        return SourceUpgatesCustomers(config=cls._config(scenario))
