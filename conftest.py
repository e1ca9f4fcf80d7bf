"""Root conftest.

- Makes every emulator fixture module in harness.fixtures available to every test
  of the repository (connector folders and integration_tests alike).
- Under pytest-xdist (`scripts/test.sh` runs `-n 2 --dist loadgroup`), keeps each top-level
  folder's tests in one worker: a connector's standard tests write its secrets/config.json
  for the emulator they start, so two workers must never share a connector folder.
"""

import pkgutil
from pathlib import Path

import pytest

import harness.fixtures as _fixtures

pytest_plugins = [f"harness.fixtures.{m.name}" for m in pkgutil.iter_modules(_fixtures.__path__)]

_ROOT = Path(__file__).resolve().parent


@pytest.hookimpl(tryfirst=True)  # before xdist turns the marks into node-id suffixes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = Path(str(item.path)).resolve().relative_to(_ROOT).parts[0]
        except ValueError:
            continue
        if folder == "integration_tests":
            # The cross-connector tests are the heaviest: split them by module so that both
            # workers share them (each module starts its own emulators on free ports).
            folder = f"integration_tests/{Path(str(item.path)).name}"
        item.add_marker(pytest.mark.xdist_group(folder))
