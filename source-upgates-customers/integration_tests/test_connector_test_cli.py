"""`airbyte-cdk connector test` (the CDK's CLI runner of the standard tests) passes for this
connector, run as its README says: from the connector folder. It builds `SourceUpgatesCustomers()`
without arguments (the source takes its config from the entrypoint) and reads the configs of
acceptance-test-config.yml, which conftest.py writes for the UPgates emulator it starts."""

from pathlib import Path

from harness.standard import run_connector_test_cli

ROOT = Path(__file__).resolve().parents[1]


def test_airbyte_cdk_connector_test_passes() -> None:
    outcome = run_connector_test_cli(ROOT)
    # spec, check (both configs), discover and read ran against the emulator: not skipped
    for name in ("test_spec", "test_check['config' Test Scenario]", "test_check['invalid_config' Test Scenario]",
                 "test_discover['config' Test Scenario]", "test_basic_read['config' Test Scenario]"):
        assert outcome.get(name) == "passed", (name, outcome)
