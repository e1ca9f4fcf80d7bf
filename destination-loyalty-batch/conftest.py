"""For `airbyte-cdk connector test` (the CDK's CLI), run from this folder.

The CLI writes its own standard-suite module, `.tmp/integration_tests/test_airbyte_standards.py`
(a bare `DestinationTestSuiteBase` found through metadata.yaml), and runs it with this folder as
the root, so this conftest is the only place that can point it at the loyalty emulator. For that
module only it does what unit_tests/test_airbyte_standards.py gets from harness.standard's
EmulatorSuite: start the emulator, write secrets/config.json and secrets/invalid_config.json
(acceptance-test-config.yml) with its URL, and skip the image tests unless an image is given
(`--pytest-arg=--connector-image=<image>`). Every other test of the folder is left alone, and
a run that does not name `.tmp/` (the repository's suite) does not collect the CLI's module: the
same tests run from unit_tests/test_airbyte_standards.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from emulators.loyalty import LoyaltyEmulator
from harness.standard import serve_test_configs, skip_image_test_without_image

ROOT = Path(__file__).resolve().parent
CLI_SUITE = ROOT / ".tmp"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if not Path(collection_path).resolve().is_relative_to(CLI_SUITE):
        return None
    named = (Path(str(arg).split("::")[0]).resolve() for arg in config.args)
    return not any(path.is_relative_to(CLI_SUITE) for path in named) or None


def _from_the_cli(request: pytest.FixtureRequest) -> bool:
    return Path(str(request.path)).resolve().is_relative_to(CLI_SUITE)


@pytest.fixture(autouse=True, scope="module")
def _cli_suite_emulator(request: pytest.FixtureRequest) -> Iterator[Any]:
    if not _from_the_cli(request):
        yield None
        return
    with serve_test_configs(ROOT, LoyaltyEmulator(), lambda api: {"api_url": api.url}) as api:
        yield api


@pytest.fixture(autouse=True)
def _cli_image_tests_need_an_image(request: pytest.FixtureRequest) -> None:
    if _from_the_cli(request):
        skip_image_test_without_image(request)
