"""A URL's user-info never reaches an output through the CDK's spec validation, which quotes a
value that fails a pattern and runs before our secrets are registered (issue 11 item 2)."""

import json
from pathlib import Path

from destination_common.discover import read_config_file

SECRET = "Sekret77pwQ"


def test_config_file_urls_lose_their_user_info(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "api_url": f"https://user:{SECRET}@shop.example.com/api/v2",
        "nested": {"urls": [f"http://a:{SECRET}@127.0.0.1:1/x", "https://plain.example.com/a@b"]},
        "note": f"not a url: user:{SECRET}@host",
    }))
    config = read_config_file(str(path))
    assert config["api_url"] == "https://***@shop.example.com/api/v2"
    assert config["nested"]["urls"] == ["http://***@127.0.0.1:1/x", "https://plain.example.com/a@b"]
    assert config["note"] == f"not a url: user:{SECRET}@host"  # only URLs are touched
