"""`airbyte-cdk connector test` (the CDK's CLI; from this folder: `../.venv/bin/airbyte-cdk
connector test`) writes its own suite to .tmp/integration_tests/test_airbyte_standards.py here, a
bare `SourceTestSuiteBase` chosen from metadata.yaml, and runs it with pytest from this folder: it
builds `SourceUpgatesCustomers()` without arguments and reads the configs acceptance-test-config.yml
names (secrets/config.json, secrets/invalid_config.json). `harness.standard.cli_suite_fixtures`
gives the modules under .tmp/ what `EmulatorSuite` gives unit_tests/test_airbyte_standards.py: the
UPgates emulator with secrets/*.json written for it, and image tests skipped without
--connector-image. Every other test of the folder is left alone; a folder run never collects .tmp/.
"""

from pathlib import Path

from emulators.upgates import UpgatesEmulator
from harness.standard import cli_suite_fixtures

ROOT = Path(__file__).resolve().parent

collect_ignore_glob = [".tmp/*"]  # the CLI names its module explicitly (pytest.ini's norecursedirs has .tmp too)

globals().update(cli_suite_fixtures(ROOT, lambda: UpgatesEmulator(customers=120), lambda api: {"api_url": f"{api.url}/api/v2"}))
