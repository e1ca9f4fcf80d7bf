"""Helpers for the destinations' own tests (not used at run time; pytest is imported only
when a helper needs it, so the package does not depend on it).

The CDK's standard destination tests (`DestinationTestSuiteBase`) read the configs that a
connector's `acceptance-test-config.yml` names under `secrets/`; each connector's suite
writes them from its `integration_tests/*.json` with the running emulator's address:

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request):
        skip_image_test_without_image(request)

    @pytest.fixture(autouse=True, scope="class")
    def _emulator(self):
        with CartumEmulator(users=5, orders=0) as api:
            write_test_configs(ROOT, shop_url=api.url)
            yield api
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

TEST_CONFIGS = (("sample_config.json", "config.json"), ("invalid_config.json", "invalid_config.json"))


def write_test_configs(connector_root: Path, files: Iterable[tuple[str, str]] = TEST_CONFIGS, **overrides: Any) -> Path:
    """Write `secrets/<target>` from `integration_tests/<source>` for each (source, target)
    pair, with `overrides` (e.g. the emulator's URL) set; returns the secrets folder."""
    root = Path(connector_root)
    secrets = root / "secrets"
    secrets.mkdir(exist_ok=True)
    for source, target in files:
        config = json.loads((root / "integration_tests" / source).read_text())
        config.update(overrides)
        (secrets / target).write_text(json.dumps(config))
    return secrets


def skip_image_test_without_image(request: Any) -> None:
    """Skip a test marked `image_tests` when no `--connector-image` was given."""
    import pytest

    if request.node.get_closest_marker("image_tests") and not request.config.getoption("--connector-image"):
        pytest.skip("image test: build the image and pass --connector-image")
