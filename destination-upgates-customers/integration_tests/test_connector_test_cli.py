"""`airbyte-cdk connector test` (the CDK's CLI runner of the standard tests) passes for this
destination, run as its README says: from the connector folder (`../.venv/bin/airbyte-cdk
connector test`). The connector-root conftest.py starts the emulator for the suite the CLI
generates; its image tests are skipped without --connector-image, as in unit_tests/."""

from pathlib import Path

from harness.standard import assert_connector_test_cli_passes


def test_airbyte_cdk_connector_test_passes() -> None:
    # spec/check/discover/read (sources) or check/config_matches_spec (destinations) ran
    # against the emulator and passed, not skipped: harness.standard.CLI_MUST_PASS
    assert_connector_test_cli_passes(Path(__file__).resolve().parents[1])
