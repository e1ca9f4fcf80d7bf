"""run.py: a source that cannot be built still answers with one TRACE error message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from source_cartum import run


GOOD_CONFIG = {"shop_url": "https://shop.example.com", "login": "a", "password": "b", "start_date": "2025-01-01"}


def _users_state(value: object) -> list:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"registered_at": value}}}]


@pytest.mark.parametrize(
    "which,content,words",
    [
        ("config", "{ not json", ["config file", "not valid JSON"]),
        ("config", "[1, 2]", ["config file", "JSON object"]),
        ("config", json.dumps({**GOOD_CONFIG, "start_date": "2026-02-30"}), ["config file", "'start_date'", "2026-02-30"]),
        ("config", json.dumps({**GOOD_CONFIG, "shop_timezone": "Europe/Atlantis"}), ["config file", "'shop_timezone'"]),
        ("config", json.dumps({**GOOD_CONFIG, "shop_url": "https://u:Pw-In-Url@shop.example.com"}), ["config file", "'shop_url'", "user name or password"]),
        ("catalog", "{ nope", ["catalog file", "not valid JSON"]),
        ("catalog", "[]", ["catalog file", "'streams'"]),
        ("state", "not json at all", ["state file", "not valid JSON"]),
        ("state", json.dumps(_users_state("garbage")), ["state file", "'users'", "'registered_at'", "garbage"]),
        ("state", json.dumps(_users_state("2026-02-30")), ["state file", "'registered_at'", "2026-02-30"]),
        ("state", json.dumps([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "orders"}, "stream_state": {"stat_created_at": 17}}}]), ["'orders'", "'stat_created_at'"]),
    ],
)
def test_unreadable_inputs_are_config_errors_naming_file_and_field(tmp_path: Path, which: str, content: str, words: list) -> None:
    import subprocess
    import sys

    files = {"config": json.dumps(GOOD_CONFIG), "catalog": (Path(__file__).parent.parent / "integration_tests" / "configured_catalog.json").read_text(), "state": "[]"}
    files[which] = content
    args = ["read"]
    for name, text in files.items():
        (tmp_path / f"{name}.json").write_text(text)
        args += [f"--{name}", str(tmp_path / f"{name}.json")]
    proc = subprocess.run([sys.executable, "-c", "from source_cartum.run import run; run()", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    traces = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{") and '"TRACE"' in line]
    assert len(traces) == 1, proc.stdout + proc.stderr
    error = traces[0]["trace"]["error"]
    assert error["failure_type"] == "config_error"
    assert str(tmp_path / f"{which}.json") in error["message"]
    for word in words:
        assert word in error["message"]
    assert "Pw-In-Url" not in proc.stdout + proc.stderr


def test_spec_needs_no_declarative_machinery() -> None:
    import subprocess
    import sys

    code = "import sys; from source_cartum.run import run; sys.argv=['source-cartum','spec']; run(); print(sorted(m for m in sys.modules if m.startswith('airbyte_cdk')))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    spec = json.loads(lines[0])
    assert spec["type"] == "SPEC" and spec["spec"]["connectionSpecification"]["properties"]["password"]["airbyte_secret"] is True
    assert lines[1] == "[]"  # not even airbyte_cdk itself


def test_source_is_built_with_config_catalog_and_state(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"shop_url": "https://shop.example.com", "login": "a", "password": "b", "start_date": "2025-01-01"}))
    state = tmp_path / "state.json"
    state.write_text(json.dumps([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"registered_at": "2026-01-02"}}}]))
    catalog = Path(__file__).parent.parent / "integration_tests" / "configured_catalog.json"
    source = run._get_source(["read", "--config", str(config), "--catalog", str(catalog), "--state", str(state)])
    assert source is not None
    assert {s.name for s in source.streams(json.loads(config.read_text()))} == {"users", "customer_groups", "price_levels", "orders"}


def test_spec_is_the_cdks_spec() -> None:
    import logging
    import subprocess
    import sys

    from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, Type

    from source_cartum import SourceCartum

    cdk = AirbyteMessageSerializer.dump(AirbyteMessage(type=Type.SPEC, spec=SourceCartum().spec(logging.getLogger("test"))))
    proc = subprocess.run([sys.executable, "-c", "from source_cartum.run import run; import sys; sys.argv=['source-cartum','spec']; run()"], capture_output=True, text=True, timeout=120)
    assert json.loads(proc.stdout) == cdk


def _run(*args: str) -> "subprocess.CompletedProcess[str]":
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "from source_cartum.run import run; run()", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["check", "discover", "read"])
@pytest.mark.parametrize(
    "content,words",
    [
        (None, ["cannot be read", "Pass a readable JSON file with --config"]),
        (b"\xff\xfe{}", ["is not UTF-8 text", "Save it as UTF-8 JSON"]),
        ('{"password": "Secret-Pw-123", ', ["is not valid JSON (line 1, column", "its content is not shown"]),
        ("[1, 2]", ["must hold a JSON object of settings, not a list", "Write the settings as one JSON object"]),
    ],
)
def test_start_up_rule_an_unusable_config_file_is_one_trace_config_error_exit_1(tmp_path: Path, command: str, content: object, words: list) -> None:
    """The start-up rule shared with source-upgates-customers: for every command (check too), a
    config file that cannot be used -> one TRACE config_error naming the file and what to do,
    exit code 1, no traceback, the file's content not quoted."""
    path = tmp_path / "config.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    args = [command, "--config", str(path)]
    if command == "read":
        args += ["--catalog", str(Path(__file__).parent.parent / "integration_tests" / "configured_catalog.json")]
    proc = _run(*args)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [m["type"] for m in lines] == ["TRACE"], proc.stdout
    error = lines[0]["trace"]["error"]
    assert error["failure_type"] == "config_error" and lines[0]["trace"]["type"] == "ERROR"
    assert error["message"].startswith(f"The config file {path} ")
    for word in words:
        assert word in error["message"]
    assert "Traceback" not in proc.stderr and "Secret-Pw-123" not in proc.stdout + proc.stderr


def test_check_reports_a_bad_field_of_a_readable_config_as_a_failed_status(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**GOOD_CONFIG, "start_date": "2026-02-30"}))
    proc = _run("check", "--config", str(path))
    assert proc.returncode == 0
    status = json.loads(proc.stdout.splitlines()[0])
    assert status["type"] == "CONNECTION_STATUS" and status["connectionStatus"]["status"] == "FAILED"
    assert "'start_date'" in status["connectionStatus"]["message"]
