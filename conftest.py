"""Root conftest: makes every emulator fixture module in commerce_emulators.fixtures available
to every test of the repository (connector folders and integration_tests alike)."""

import pkgutil

import commerce_emulators.fixtures as _fixtures

pytest_plugins = [f"commerce_emulators.fixtures.{m.name}" for m in pkgutil.iter_modules(_fixtures.__path__)]
