"""run.py's start-up rule (shared with source-cartum): a config file that cannot be used is an
AirbyteTracedException config_error naming the file and what to do, printed as one Airbyte TRACE
line on stdout, exit code 1, no traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from source_upgates_customers import run as run_module


def start(monkeypatch, capsys, *args: str) -> tuple[int, list[str], str]:
    monkeypatch.setattr(sys, "argv", ["source-upgates-customers", *args])
    with pytest.raises(SystemExit) as exited:
        run_module.run()
    out, err = capsys.readouterr()
    return exited.value.code, out.splitlines(), err


@pytest.mark.parametrize(
    "content, words",
    [
        (None, ["cannot be read", "No such file", "Pass a readable JSON file with --config"]),
        (b"{not json", ["is not valid JSON (line 1, column 2)", "Fix the file at that position", "not shown"]),
        (b'{"api_key": "\xff\xfe"}', ["is not UTF-8 text", "Save it as UTF-8 JSON"]),
        (b"[1, 2]", ["must hold a JSON object of settings, not a list", "Write the settings as one JSON object"]),
    ],
    ids=["missing", "not_json", "not_utf8", "a_list"],
)
@pytest.mark.parametrize("command", ["check", "discover", "read"])
def test_an_unusable_config_file_is_one_config_error_trace_and_exit_1(monkeypatch, capsys, tmp_path: Path, command, content, words):
    path = tmp_path / "config.json"
    if content is not None:
        path.write_bytes(content)
    extra = ["--catalog", str(Path(__file__).parents[1] / "integration_tests" / "configured_catalog.json")] if command == "read" else []
    code, lines, err = start(monkeypatch, capsys, command, "--config", str(path), *extra)
    assert code == 1
    assert len(lines) == 1 and err == ""  # one TRACE line, nothing else, no traceback
    message = json.loads(lines[0])
    assert message["type"] == "TRACE" and message["trace"]["type"] == "ERROR"
    error = message["trace"]["error"]
    assert error["failure_type"] == "config_error"
    assert f"The config file {path}" in error["message"]
    for word in words:
        assert word in error["message"], error["message"]
    assert "Traceback" not in error.get("stack_trace", "")
    assert "not json" not in lines[0] and "\\u00ff" not in lines[0]  # never the file's content


def test_a_prepared_page_in_a_form_this_version_does_not_know_stops_the_sync_instead_of_writing_a_placeholder(monkeypatch, capfd):
    """Another airbyte-cdk 7.x than the lock's could serialize a PreparedPage's record with its
    fields in another order: run.py must not write that placeholder line where a page of
    customers belongs (the page would be lost silently); a system_error TRACE, exit 1, and no
    line with the placeholder key."""
    from source_upgates_customers.customers_pass import PREPARED_KEY

    state = '{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"groups"},"stream_state":{}}}}'
    reordered = '{"type":"RECORD","record":{"data":{"%s":"1"},"stream":"customers","emitted_at":1}}' % PREPARED_KEY

    class Entrypoint:
        def __init__(self, source):
            pass

        def parse_args(self, args):
            return type("Parsed", (), {"command": "check"})()

        def run(self, parsed):
            yield state
            yield reordered

    class Source:
        settle_after_flush = False

    monkeypatch.setattr(run_module, "_entrypoint_class", lambda: Entrypoint)
    with pytest.raises(SystemExit) as exited:
        run_module.launch(Source(), ["check"])
    out = capfd.readouterr().out  # fd level: the CDK's print buffer writes to sys.__stdout__
    assert exited.value.code == 1
    assert PREPARED_KEY not in out and out.splitlines()[0] == state
    trace = json.loads(out.splitlines()[-1])
    assert trace["type"] == "TRACE" and trace["trace"]["error"]["failure_type"] == "system_error"
    assert "does not recognise" in trace["trace"]["error"]["message"]
