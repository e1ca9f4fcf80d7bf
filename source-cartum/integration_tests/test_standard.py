"""The CDK's standard (acceptance) tests for source-cartum, run against the Cartum emulator.

acceptance-test-config.yml names secrets/config.json and secrets/invalid_config.json; the
class-scoped fixture below starts a seeded emulator and writes both before any test reads
them (the standard tests read config files at test time, not at collection).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase
from emulators.cartum import CartumEmulator
from source_cartum import SourceCartum

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

SECRETS = Path(__file__).resolve().parent.parent / "secrets"


class TestSourceCartum(SourceTestSuiteBase):
    connector = SourceCartum

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request: pytest.FixtureRequest) -> None:
        """The CDK builds a Python connector's image only inside the Airbyte monorepo; here the
        image is built elsewhere and passed with --connector-image."""
        if request.node.get_closest_marker("image_tests") and not request.config.getoption("--connector-image"):
            pytest.skip("image test: build the source-cartum image and pass --connector-image")

    @pytest.fixture(autouse=True, scope="class")
    def _emulator(self):
        with CartumEmulator(users=120, orders=150) as api:
            start = (api.local_now() - timedelta(days=800)).date().isoformat()
            config = {
                "shop_url": api.url,
                "login": api.login,
                "password": api.password,
                "start_date": start,
                "page_size": 50,
                "orders_window_days": 366,
            }
            SECRETS.mkdir(exist_ok=True)
            (SECRETS / "config.json").write_text(json.dumps(config, indent=2))
            (SECRETS / "invalid_config.json").write_text(json.dumps({**config, "password": "not-the-password"}, indent=2))
            yield api

    @classmethod
    def create_connector(cls, scenario: ConnectorTestScenario | None) -> SourceCartum:
        config: dict[str, Any] = dict(
            (scenario or ConnectorTestScenario()).get_config_dict(
                connector_root=cls.get_connector_root_dir(), empty_if_missing=True
            )
        )
        return SourceCartum(config=config)
