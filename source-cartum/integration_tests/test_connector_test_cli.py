"""`airbyte-cdk connector test` (the CDK's CLI runner of the standard tests) passes for this
connector, run as the README says: from the connector folder,

    cd source-cartum && ../.venv/bin/airbyte-cdk connector test

It builds `SourceCartum()` without arguments (the source builds itself from the config, catalog
and state check/discover/read receive) and reads the configs of acceptance-test-config.yml, which
conftest.py writes for the Cartum emulator it starts."""

from pathlib import Path

from harness.standard import assert_connector_test_cli_passes


def test_airbyte_cdk_connector_test_passes() -> None:
    # spec/check/discover/read (sources) or check/config_matches_spec (destinations) ran
    # against the emulator and passed, not skipped: harness.standard.CLI_MUST_PASS
    assert_connector_test_cli_passes(Path(__file__).resolve().parents[1])
