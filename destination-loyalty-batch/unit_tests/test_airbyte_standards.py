"""The CDK's standard destination tests for this connector, run against the loyalty emulator.

acceptance-test-config.yml names configs under secrets/ (gitignored); the fixture below starts
the emulator and writes them from integration_tests/*.json with the running emulator's URL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from commerce_emulators.loyalty import LoyaltyEmulator
from destination_loyalty_batch import DestinationLoyaltyBatch

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parents[1]


class TestDestinationLoyaltyBatch(DestinationTestSuiteBase):
    connector = DestinationLoyaltyBatch

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request: pytest.FixtureRequest) -> None:
        if request.node.get_closest_marker("image_tests") and not request.config.getoption("--connector-image"):
            pytest.skip("image test: build the image and pass --connector-image")

    @pytest.fixture(autouse=True, scope="class")
    def _emulator(self):
        with LoyaltyEmulator() as api:
            secrets = ROOT / "secrets"
            secrets.mkdir(exist_ok=True)
            for source, target in (("sample_config.json", "config.json"), ("invalid_config.json", "invalid_config.json")):
                config = json.loads((ROOT / "integration_tests" / source).read_text())
                config["api_url"] = api.url
                (secrets / target).write_text(json.dumps(config))
            yield api
