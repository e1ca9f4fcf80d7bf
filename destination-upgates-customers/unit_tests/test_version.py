"""The User-Agent names the package's current version, which is pyproject.toml's."""

import tomllib
from pathlib import Path

from destination_upgates_customers import __version__
from destination_upgates_customers.client import USER_AGENT, UpgatesClient

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_pyprojects_and_in_the_user_agent():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]
    assert USER_AGENT == f"airbyte-destination-upgates-customers/{__version__}"
    client = UpgatesClient({"api_url": "http://127.0.0.1:9/api/v2", "login": "u", "api_key": "k"})
    assert client.http.session.headers["User-Agent"] == USER_AGENT
