"""run.py: a source that cannot be built still answers with one TRACE error message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from source_cartum import run


def test_unreadable_config_becomes_a_trace_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.json"
    config.write_text("{ not json")
    assert run._get_source(["check", "--config", str(config)]) is None
    message = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert message["type"] == "TRACE" and message["trace"]["error"]["failure_type"] == "system_error"
    assert "source-cartum could not start" in message["trace"]["error"]["message"]


def test_source_is_built_with_config_catalog_and_state(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"shop_url": "https://shop.example.com", "login": "a", "password": "b", "start_date": "2025-01-01"}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"registered_at": "2026-01-02"}}}]))
    catalog = Path(__file__).parent.parent / "integration_tests" / "configured_catalog.json"
    source = run._get_source(["read", "--config", str(config), "--catalog", str(catalog), "--state", str(state)])
    assert source is not None
    assert {s.name for s in source.streams(json.loads(config.read_text()))} == {"users", "customer_groups", "price_levels", "orders"}
