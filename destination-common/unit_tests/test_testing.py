import json

from destination_common.testing import write_test_configs


def test_write_test_configs_sets_the_emulator_url(tmp_path):
    (tmp_path / "integration_tests").mkdir()
    (tmp_path / "integration_tests" / "sample_config.json").write_text(json.dumps({"api_url": "http://old", "k": 1}))
    (tmp_path / "integration_tests" / "invalid_config.json").write_text(json.dumps({"api_url": "http://old", "k": 2}))
    secrets = write_test_configs(tmp_path, api_url="http://127.0.0.1:5")
    assert json.loads((secrets / "config.json").read_text()) == {"api_url": "http://127.0.0.1:5", "k": 1}
    assert json.loads((secrets / "invalid_config.json").read_text()) == {"api_url": "http://127.0.0.1:5", "k": 2}
