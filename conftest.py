"""Root conftest.

- Makes every emulator fixture module in harness.fixtures available to every test
  of the repository (connector folders and integration_tests alike).
- Under pytest-xdist (`scripts/test.sh` runs `-n 2 --dist loadgroup`), keeps each connector
  folder's tests (unit_tests/ and integration_tests/ alike) in one worker: a connector's
  standard tests write its secrets/*.json for the emulator they start (harness.standard), so
  two workers must never share a connector folder. The cross-connector tests under
  integration_tests/ write nothing into connector folders (tmp_path only): each of their modules
  is its own group, so the heavy ones (test_pipelines.py, test_demo.py, ...) spread over both
  workers.
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
            folder = Path(str(item.path)).resolve().relative_to(_ROOT).as_posix()
        item.add_marker(pytest.mark.xdist_group(folder))
