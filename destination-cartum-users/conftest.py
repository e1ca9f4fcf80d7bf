"""`airbyte-cdk connector test` (the CDK's CLI) writes its own suite to
.tmp/integration_tests/test_airbyte_standards.py here, a bare `DestinationTestSuiteBase`
without our fixtures. For that suite only, this gives what harness.standard.EmulatorSuite
gives unit_tests/test_airbyte_standards.py: the Cartum emulator with secrets/*.json written
for it, and image tests skipped without --connector-image. Suites that already are an
EmulatorSuite (ours) and every other test are left alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent


def _cli_suite(cls: Any) -> bool:
    if cls is None:
        return False
    from airbyte_cdk.test.standard_tests.connector_base import ConnectorTestSuiteBase
    from harness.standard import EmulatorSuite

    return issubclass(cls, ConnectorTestSuiteBase) and not issubclass(cls, EmulatorSuite)


@pytest.fixture(autouse=True, scope="class")
def _cli_suite_emulator(request: pytest.FixtureRequest) -> Iterator[Any]:
    if not _cli_suite(request.cls):
        yield None
        return
    from emulators.cartum import CartumEmulator
    from harness.standard import serve_test_configs

    with serve_test_configs(ROOT, CartumEmulator(users=5, orders=0), lambda api: {"shop_url": api.url}) as api:
        yield api


@pytest.fixture(autouse=True)
def _cli_suite_image_tests(request: pytest.FixtureRequest) -> None:
    if _cli_suite(request.cls):
        from harness.standard import skip_image_test_without_image

        skip_image_test_without_image(request)
