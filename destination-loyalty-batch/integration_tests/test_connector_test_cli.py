"""`airbyte-cdk connector test` (the CDK's CLI runner of the standard tests) passes for this
destination, run as its README says: from the connector folder (`../.venv/bin/airbyte-cdk
connector test`). The connector-root conftest.py starts the emulator for the suite the CLI
generates; its image tests are skipped without --connector-image, as in unit_tests/."""

from pathlib import Path

from harness.standard import run_connector_test_cli

ROOT = Path(__file__).resolve().parents[1]


def test_airbyte_cdk_connector_test_passes() -> None:
    outcome = run_connector_test_cli(ROOT)
    # check with both configs and the config against the spec ran against the emulator: not skipped
    for name in ("test_check['config' Test Scenario]", "test_check['invalid_config' Test Scenario]",
                 "test_config_matches_spec['config' Test Scenario]"):
        assert outcome.get(name) == "passed", (name, outcome)
