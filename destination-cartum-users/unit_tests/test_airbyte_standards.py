"""The CDK's standard destination tests for this connector, run against the Cartum emulator.

acceptance-test-config.yml names configs under secrets/ (gitignored); the fixture below starts
the emulator and writes them from integration_tests/*.json with the running emulator's URL.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from airbyte_cdk.test.standard_tests import DestinationTestSuiteBase
from destination_common.testing import skip_image_test_without_image, write_test_configs
from emulators.cartum import CartumEmulator
from destination_cartum_users import DestinationCartumUsers

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]

ROOT = Path(__file__).resolve().parents[1]


class TestDestinationCartumUsers(DestinationTestSuiteBase):
    connector = DestinationCartumUsers

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request: pytest.FixtureRequest) -> None:
        skip_image_test_without_image(request)

    @pytest.fixture(autouse=True, scope="class")
    def _emulator(self):
        with CartumEmulator(users=5, orders=0) as api:
            write_test_configs(ROOT, shop_url=api.url)
            yield api
