"""pytest set-up of this connector folder, for `airbyte-cdk connector test`.

That command (the CDK's CLI; from this folder: `../.venv/bin/airbyte-cdk connector test`) writes
its own test module, .tmp/integration_tests/test_airbyte_standards.py (a `SourceTestSuiteBase`
chosen from metadata.yaml), and runs it with pytest from here: it builds `SourceCartum()` without
arguments (the source then builds itself from the config, catalog and state that check, discover
and read receive) and reads the configs that acceptance-test-config.yml names
(secrets/config.json, secrets/invalid_config.json). For that generated module only, this file
starts the Cartum emulator and writes those configs with its address (harness.standard, as
integration_tests/test_standard.py does for itself), and skips the image tests unless
--connector-image names an image. A run of the repository's tests never collects the generated
module.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

ROOT = Path(__file__).resolve().parent
GENERATED = ROOT / ".tmp"

collect_ignore_glob = [".tmp/*"]  # the CLI names its module explicitly; a folder run skips it


def emulator_config(api: Any) -> dict[str, Any]:
    """What the standard tests' configs (integration_tests/sample_config.json and
    invalid_config.json, which keeps its wrong password) get from the running emulator."""
    from harness.fixtures.cartum import cartum_config_for

    config = cartum_config_for(api, page_size=50, orders_window_days=366)
    return {key: config[key] for key in ("shop_url", "start_date", "shop_timezone", "page_size", "orders_window_days")}


@pytest.fixture(scope="session")
def connector_test_emulator() -> Iterator[Any]:
    from emulators.cartum import CartumEmulator
    from harness.standard import serve_test_configs

    with serve_test_configs(ROOT, CartumEmulator(users=120, orders=150), emulator_config) as api:
        yield api


@pytest.fixture(autouse=True)
def _connector_test_cli(request: pytest.FixtureRequest) -> None:
    if GENERATED not in Path(str(request.node.path)).resolve().parents:
        return
    from harness.standard import skip_image_test_without_image

    skip_image_test_without_image(request)
    request.getfixturevalue("connector_test_emulator")
