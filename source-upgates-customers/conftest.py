"""pytest set-up of this connector folder, for `airbyte-cdk connector test`.

That command (the CDK's CLI; from this folder: `../.venv/bin/airbyte-cdk connector test`) writes
its own test module, .tmp/integration_tests/test_airbyte_standards.py (a `SourceTestSuiteBase`
chosen from metadata.yaml), and runs it with pytest from here: it builds
`SourceUpgatesCustomers()` without arguments and reads the configs that acceptance-test-config.yml
names (secrets/config.json, secrets/invalid_config.json). For that generated module only, this
file starts the UPgates emulator and writes those configs with its address (harness.standard,
as unit_tests/test_airbyte_standards.py does for itself), and skips the image tests unless
--connector-image names an image. A full test run never collects the generated module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent
GENERATED = ROOT / ".tmp"

collect_ignore_glob = [".tmp/*"]  # the CLI names its module explicitly; a folder run skips it


def emulator_config(api: Any) -> dict[str, Any]:
    return {"api_url": f"{api.url}/api/v2"}


@pytest.fixture(scope="session")
def connector_test_emulator() -> Iterator[Any]:
    from emulators.upgates import UpgatesEmulator
    from harness.standard import serve_test_configs

    with serve_test_configs(ROOT, UpgatesEmulator(customers=120), emulator_config) as api:
        yield api


@pytest.fixture(autouse=True)
def _connector_test_cli(request: pytest.FixtureRequest) -> None:
    if GENERATED not in Path(str(request.node.path)).resolve().parents:
        return
    from harness.standard import skip_image_test_without_image

    skip_image_test_without_image(request)
    request.getfixturevalue("connector_test_emulator")
