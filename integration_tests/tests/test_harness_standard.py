"""harness.standard: the one way the connectors' CDK standard suites reach an emulator."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest_plugins = ["pytester"]

from emulators.upgates import UpgatesEmulator
from harness.standard import (
    TEST_CONFIGS,
    EmulatorSuite,
    scenario_config,
    serve_test_configs,
    skip_image_test_without_image,
    write_test_configs,
)


def _connector(tmp_path: Path) -> Path:
    (tmp_path / "integration_tests").mkdir()
    (tmp_path / "integration_tests" / "sample_config.json").write_text(json.dumps({"api_url": "http://old", "k": 1}))
    (tmp_path / "integration_tests" / "invalid_config.json").write_text(json.dumps({"api_url": "http://old", "k": 2}))
    return tmp_path


def test_write_test_configs_sets_the_emulator_url(tmp_path):
    secrets = write_test_configs(_connector(tmp_path), api_url="http://127.0.0.1:5")
    assert secrets == tmp_path / "secrets"
    assert json.loads((secrets / "config.json").read_text()) == {"api_url": "http://127.0.0.1:5", "k": 1}
    assert json.loads((secrets / "invalid_config.json").read_text()) == {"api_url": "http://127.0.0.1:5", "k": 2}


def test_write_test_configs_writes_only_the_named_files(tmp_path):
    root = _connector(tmp_path)
    secrets = write_test_configs(root, files=[("sample_config.json", "other.json")], k=3)
    assert sorted(p.name for p in secrets.iterdir()) == ["other.json"]
    assert json.loads((secrets / "other.json").read_text()) == {"api_url": "http://old", "k": 3}


def _request(marked: bool, image: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        node=SimpleNamespace(get_closest_marker=lambda name: object() if marked and name == "image_tests" else None),
        config=SimpleNamespace(getoption=lambda name: image if name == "--connector-image" else None),
    )


def test_image_tests_skip_without_an_image_only():
    with pytest.raises(pytest.skip.Exception):
        skip_image_test_without_image(_request(marked=True, image=None))
    skip_image_test_without_image(_request(marked=True, image="me/source:dev"))  # runs
    skip_image_test_without_image(_request(marked=False, image=None))  # not an image test


def test_serve_test_configs_starts_the_emulator_and_writes_its_address(tmp_path):
    root = _connector(tmp_path)
    emulator = UpgatesEmulator(customers=3)
    with serve_test_configs(root, emulator, lambda api: {"api_url": f"{api.url}/api/v2"}) as api:
        assert api is emulator
        written = json.loads((root / "secrets" / "config.json").read_text())
        assert written == {"api_url": f"{api.url}/api/v2", "k": 1}
        with urllib.request.urlopen(f"{api.url}/_emulator/stats", timeout=5) as reply:
            assert reply.status == 200
    assert emulator.port is None  # stopped
    assert json.loads((root / "secrets" / "invalid_config.json").read_text())["k"] == 2


def test_emulator_suite_serves_the_suites_configs(tmp_path):
    root = _connector(tmp_path)

    class Suite(EmulatorSuite):
        @classmethod
        def get_connector_root_dir(cls) -> Path:
            return root

        @classmethod
        def start_emulator(cls) -> UpgatesEmulator:
            return UpgatesEmulator(customers=2)

    with Suite.serve_emulator() as api:
        assert json.loads((root / "secrets" / "config.json").read_text())["api_url"] == api.url
        assert {target for _, target in TEST_CONFIGS} == {p.name for p in (root / "secrets").iterdir()}
    assert api.port is None


CLI_CONFTEST = """
from pathlib import Path
from emulators.upgates import UpgatesEmulator
from harness.standard import cli_suite_fixtures

pytest_plugins = ["airbyte_cdk.test.standard_tests.pytest_hooks"]  # --connector-image
ROOT = Path(__file__).resolve().parent
globals().update(cli_suite_fixtures(ROOT, lambda: UpgatesEmulator(customers=1)))
"""

CLI_SUITE = """
import json, pytest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

def test_configs_name_the_running_emulator():
    url = json.loads((ROOT / "secrets" / "config.json").read_text())["api_url"]
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":5")

@pytest.mark.image_tests
def test_an_image_test():
    pass
"""

OTHER_TEST = """
from pathlib import Path

def test_untouched():
    assert not (Path(__file__).resolve().parents[1] / "secrets").exists()
"""


def test_cli_suite_fixtures_serve_only_the_clis_generated_suite(pytester):
    root = _connector(pytester.path)
    pytester.makeconftest(CLI_CONFTEST)
    pytester.makeini("[pytest]\nnorecursedirs = .tmp secrets\nmarkers =\n    image_tests: images")
    (root / "unit_tests").mkdir()
    (root / "unit_tests" / "test_other.py").write_text(OTHER_TEST)
    (root / ".tmp" / "integration_tests").mkdir(parents=True)
    (root / ".tmp" / "integration_tests" / "test_airbyte_standards.py").write_text(CLI_SUITE)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)  # the repository's run: not .tmp/
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", ".tmp/integration_tests/test_airbyte_standards.py", "-rs")
    result.assert_outcomes(passed=1, skipped=1)


def test_scenario_config_reads_relative_to_the_connector_root(tmp_path):
    from airbyte_cdk.test.models import ConnectorTestScenario

    root = _connector(tmp_path)
    suite = SimpleNamespace(get_connector_root_dir=lambda: root)
    scenario = ConnectorTestScenario(config_path="integration_tests/sample_config.json")
    assert scenario_config(suite, scenario) == {"api_url": "http://old", "k": 1}
    assert scenario_config(suite, None) == {}
