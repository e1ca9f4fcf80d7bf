"""destination_common.input and the destinations' shared command behaviour (issue 12 items 6-9)."""

import io
import json
import subprocess
import sys

import pytest
from airbyte_cdk.models import AirbyteConnectionStatus, FailureType, Status, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from destination_common_helpers import FakeHandler

from destination_common import DiscoverableDestination, Operation, RejectLog, WriteLoop
from destination_common.input import InputReject, InputStats, read_messages, repaired_reason

PERSONAL = "Jana Nováková, +420 777 123 456"


def rec(data, stream="users"):
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1}})


STATE = json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 1}}}})


def lines_of(*lines):
    return io.BytesIO(("\n".join(lines) + "\n").encode("utf-8", "surrogatepass"))


def test_lone_surrogates_are_repaired_and_counted():
    raw = '{"type": "RECORD", "record": {"stream": "users", "data": {"email": "a@x.io", "name": "X\\ud800Y"}, "emitted_at": 1}}'
    stats = InputStats()
    out = list(read_messages(lines_of(raw, STATE), stats))
    assert [m.type for m in out] == [Type.RECORD, Type.STATE]
    assert out[0].record.data["name"] == "X\ufffdY"
    assert "lone surrogates" in repaired_reason(out[0])
    assert stats.repaired == 1 and stats.rejected == 0


def test_invalid_utf8_and_nan_are_repaired():
    raw = b'{"type": "RECORD", "record": {"stream": "users", "data": {"email": "a@x.io", "n": NaN, "s": "\xff"}, "emitted_at": 1}}'
    (msg,) = list(read_messages(io.BytesIO(raw + b"\n")))
    assert msg.record.data == {"email": "a@x.io", "n": None, "s": "\ufffd"}
    assert "invalid UTF-8" in repaired_reason(msg) and "NaN" in repaired_reason(msg)


@pytest.mark.parametrize(
    "line, reason, stream",
    [
        (f"this is not json {PERSONAL}", "not JSON", None),
        (json.dumps([1, PERSONAL]), "JSON but not an Airbyte message (an array, not an object)", None),
        (json.dumps({"hello": PERSONAL}), "not an Airbyte message (no 'type')", None),
        (json.dumps({"type": PERSONAL}), "not an Airbyte message (unknown 'type')", None),
        (json.dumps({"type": "RECORD", "record": {"stream": "users", "emitted_at": 1}}), "RECORD without 'data'", "users"),
        (json.dumps({"type": "RECORD", "record": {"stream": "users", "data": PERSONAL, "emitted_at": 1}}), "RECORD whose 'data' is not an object", "users"),
        (json.dumps({"type": "RECORD", "record": {"data": {"n": PERSONAL}, "emitted_at": 1}}), "'record/stream' is missing", None),
    ],
)
def test_unusable_lines_become_input_rejects_with_line_number_and_reason(line, reason, stream):
    out = list(read_messages(lines_of(STATE, "", line)))
    bad = out[1]
    assert isinstance(bad, InputReject) and bad.line == 3 and reason in bad.reason and bad.stream == stream
    assert PERSONAL not in bad.reason


def test_the_loop_keeps_input_rejects_in_the_file_counts_them_and_never_logs_the_content(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    loop = WriteLoop({"users": FakeHandler()}, batch_size=10, rejects=RejectLog(str(path)))
    raw = lines_of(rec({"email": "a@x.io"}), f"garbage {PERSONAL}", rec({"email": "b@x.io", "s": "\ud800"}), STATE)
    with caplog.at_level("DEBUG"):
        out = list(loop.run(read_messages(raw)))
    assert len(out) == 1 and out[0].state.destinationStats.recordCount == 3.0
    assert out[0].state.destinationStats.rejectedRecordCount == 1.0
    lines = [json.loads(l) for l in path.read_text().splitlines()]
    rejected = [l for l in lines if l["kind"] == "rejected"]
    assert [(l["key"], l["code"], l["record"]["line"]) for l in rejected] == [("line 2", "input", 2)]
    assert PERSONAL in rejected[0]["record"]["input"]  # kept, so nothing is lost
    assert [l["key"] for l in lines if l["kind"] == "correction"] == ["b@x.io"]
    assert PERSONAL not in caplog.text
    summary = loop.summary()
    assert "unreadable input lines 1" in summary and "repaired input lines 1" in summary and "corrected 1" in summary
    assert loop.stats.accepted == 2 and loop.rejects.total == 1


# ---- the destination commands ------------------------------------------------------------


class D(DiscoverableDestination):
    checked = []

    def spec(self, logger):
        from airbyte_cdk.models import ConnectorSpecification

        return ConnectorSpecification(connectionSpecification={"type": "object", "properties": {}})

    def operations(self, config):
        return [Operation("users", "append_dedup", {"type": "object"}, [["email"]])]

    def check(self, logger, config):
        self.checked.append(config)
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)

    def write(self, config, configured_catalog, input_messages):
        streams = self.resolve(config, configured_catalog)
        loop = WriteLoop.from_config({s: FakeHandler() for s in streams}, config, default_batch_size=10)
        yield from loop.run(input_messages)


@pytest.mark.parametrize("path_kind", ["folder", "proc"])
def test_check_fails_on_a_rejected_records_path_that_cannot_be_appended(tmp_path, path_kind):
    path = str(tmp_path) if path_kind == "folder" else "/proc/version"
    D.checked.clear()
    status = D().check(None, {"rejected_records_path": path})
    assert status.status == Status.FAILED and path in status.message
    assert D.checked == []  # the connector's own check was not reached
    assert D().check(None, {"rejected_records_path": str(tmp_path / "ok.jsonl")}).status == Status.SUCCEEDED


CATALOG = {
    "streams": [
        {"stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh"]}, "sync_mode": "full_refresh", "destination_sync_mode": "append_dedup"}
    ]
}


@pytest.mark.parametrize(
    "which, content, needle",
    [
        ("config", "{not json", "is not valid JSON (line 1, column 2"),
        ("config", "[1, 2]", "holds an array, not a JSON object"),
        ("catalog", "{not json", "is not valid JSON"),
        ("catalog", "[]", "holds an array, not a JSON object"),
        ("catalog", "{}", "has no 'streams' array"),
        ("catalog", json.dumps({"streams": [{"stream": {"name": "users"}}]}), "'streams/0/stream/json_schema' is missing"),
        ("catalog", json.dumps({"streams": []}), "no stream this destination can write (streams in the catalog: none)"),
        ("config", None, "cannot be read"),
    ],
)
def test_unreadable_config_or_catalog_is_a_config_error_naming_the_file(tmp_path, which, content, needle):
    config, catalog = tmp_path / "config.json", tmp_path / "catalog.json"
    config.write_text("{}")
    catalog.write_text(json.dumps(CATALOG))
    target = config if which == "config" else catalog
    if content is None:
        target.unlink()
    else:
        target.write_text(content)
    args = ["write", "--config", str(config), "--catalog", str(catalog)]
    with pytest.raises(AirbyteTracedException) as err:
        list(D().run_cmd(D().parse_args(args)))
    assert err.value.failure_type == FailureType.config_error
    assert needle in err.value.message
    if "no stream" not in needle:
        assert str(target) in err.value.message
    else:
        assert "objects: users" in err.value.message


SCRIPT = """
import sys
sys.path.insert(0, {helpers!r})
from test_core_input import D
D().run(sys.argv[1:])
"""


def test_write_command_end_to_end_parses_stdin_itself_and_prints_rejected_counts(tmp_path):
    from pathlib import Path

    here = Path(__file__).parent
    script = tmp_path / "d.py"
    script.write_text(SCRIPT.format(helpers=str(here)))
    rejected = tmp_path / "r.jsonl"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"rejected_records_path": str(rejected), "max_rejected_percent": 50}))
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(CATALOG))
    stdin = "\n".join([rec({"email": "a@x.io"}), f"not json {PERSONAL}", rec({"email": "b@x.io"}), STATE]) + "\n"
    out = subprocess.run(
        [sys.executable, str(script), "write", "--config", str(config), "--catalog", str(catalog)],
        input=stdin.encode(),
        capture_output=True,
    )
    assert out.returncode == 0, out.stderr.decode()
    messages = [json.loads(l) for l in out.stdout.decode().splitlines() if l.startswith("{")]
    states = [m for m in messages if m["type"] == "STATE"]
    assert [s["state"]["destinationStats"] for s in states] == [{"recordCount": 3.0, "rejectedRecordCount": 1.0}]
    assert PERSONAL not in out.stdout.decode() + out.stderr.decode()
    assert json.loads(rejected.read_text().splitlines()[0])["record"]["line"] == 2


def test_a_default_object_takes_streams_that_match_no_object():
    from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

    from destination_common import resolve_streams

    ops = [Operation("users", "append_dedup", {}, [["email"]]), Operation("prices", "append", {}, None)]
    stream = dict(CATALOG["streams"][0], stream=dict(CATALOG["streams"][0]["stream"], name="customers"))
    catalog = ConfiguredAirbyteCatalogSerializer.load({"streams": [stream]})
    with pytest.raises(AirbyteTracedException):
        resolve_streams(catalog, ops)
    assert resolve_streams(catalog, ops, default_object="users")["customers"].object_name == "users"
