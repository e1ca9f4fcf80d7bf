"""The API URL's user-info never reaches an output: the spec's pattern on api_url makes the
CDK's validation quote the value, before any secret is registered (issue 11 item 2; the
config reader of destination-common masks URL user-info)."""

import json
import subprocess
import sys
from pathlib import Path

SECRET = "Sekret77pwQ"


def test_check_of_a_destination_with_a_url_pattern_does_not_quote_user_info(tmp_path: Path) -> None:
    """destination-upgates-customers' spec has a pattern on api_url: the CDK's validation error
    quotes the value."""
    config = {"api_url": f"https://user:{SECRET}@shop.example.com/api/v2", "login": "l", "api_key": "k"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    exe = Path(sys.executable).with_name("destination-upgates-customers")
    proc = subprocess.run([str(exe), "check", "--config", str(path)], capture_output=True, text=True, timeout=120)
    assert '"FAILED"' in proc.stdout, proc.stdout[-500:]
    assert SECRET not in proc.stdout + proc.stderr
