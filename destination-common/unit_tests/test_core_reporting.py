"""destinationStats on echoed states, dry run, field-level notes, config fields."""

import json

import orjson
from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStateBlob,
    AirbyteGlobalState,
    AirbyteStreamState,
    StreamDescriptor,
    Type,
)
from destination_common_helpers import FakeHandler, record, state

from destination_common import Outcome, RejectLog, StreamHandler, WriteLoop
from destination_common.input import message_json


def global_state(n):
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.GLOBAL,
            global_=AirbyteGlobalState(shared_state=AirbyteStateBlob(n=n), stream_states=[]),
        ),
    )


def stats_of(message):
    line = json.loads(message_json(message))
    return line["state"]["destinationStats"]


def test_echoed_states_carry_record_and_rejected_counts_of_the_records_they_cover():
    handler = FakeHandler(reject={"b@x.io"})
    loop = WriteLoop({"users": handler, "orders": handler}, batch_size=10)
    msgs = [
        record({"email": "a@x.io"}),
        record({"email": "b@x.io"}),  # rejected by the API
        record({"email": "bad"}),  # rejected locally
        record({"email": "o1@x.io"}, stream="orders"),
        state(1),
        record({"email": "c@x.io"}),
        state(2),
        record({"email": "o2@x.io"}, stream="orders"),
        state(3, stream="orders"),
        record({"email": "d@x.io"}),
        global_state(4),
    ]
    out = list(loop.run(msgs))
    assert [stats_of(m) for m in out] == [
        {"recordCount": 3.0, "rejectedRecordCount": 2.0},  # users: a, b, bad
        {"recordCount": 1.0, "rejectedRecordCount": 0.0},  # users: c
        {"recordCount": 2.0, "rejectedRecordCount": 0.0},  # orders: o1, o2
        {"recordCount": 1.0, "rejectedRecordCount": 0.0},  # global: d
    ]
    assert out[0].state.destinationStats.recordCount == 3.0  # the CDK model's own field


def test_dry_run_plans_sends_nothing_withholds_states_and_reports_per_stream(tmp_path, caplog):
    class Planner(FakeHandler):
        def send(self, items):
            raise AssertionError("send() in a dry run")

        def plan(self, items):
            self.calls.append([i.key for i in items])
            out = []
            for i in items:
                if i.key.startswith("new"):
                    out.append(Outcome.planned("create"))
                elif i.key.startswith("old"):
                    out.append(Outcome.planned("update"))
                elif i.key.startswith("no"):
                    out.append(Outcome.rejected("group", "unknown group"))
                else:
                    out.append(Outcome.planned("create or update"))
            return out

    path = tmp_path / "r.jsonl"
    handler = Planner()
    loop = WriteLoop(
        {"users": handler, "others": FakeHandler()}, batch_size=3, rejects=RejectLog(str(path)), dry_run=True, max_rejected_share=0.1
    )
    msgs = [record({"email": e}) for e in ["new1@x.io", "old1@x.io", "new2@x.io", "no1@x.io", "x@x.io", "bad"]]
    with caplog.at_level("INFO", logger="airbyte"):
        out = list(loop.run(msgs + [state(1)]))
    assert out == [] and loop.stats.states_withheld == 1 and loop.stats.states == 0
    assert loop.stats.accepted == 0 and loop.stats.planned == 4
    assert not path.exists()  # a dry run writes nothing, not even the rejected-records file
    text = caplog.text
    assert "Dry run (destination) stream users: would create 2, update 1, create or update 1, reject 2 (code 2: 1, group: 1)" in text
    assert "Dry run (destination) stream others: would create 0, update 0, create or update 0, reject 0 (none)" in text
    assert "a real sync would fail" in text  # 2 of 6 rejected > 10%: reported, not raised


def test_default_plan_is_create_or_update():
    class Plain(StreamHandler):
        def send(self, items):
            raise AssertionError

    loop = WriteLoop({"users": Plain()}, batch_size=10, dry_run=True)
    list(loop.run([record({"email": "a@x.io"})]))
    assert loop.dry_run_lines() == ["Dry run (destination) stream users: would create 0, update 0, create or update 1, reject 0 (none)"]


def test_notes_from_map_are_kept_as_corrections_and_counted(tmp_path, caplog):
    class Noting(FakeHandler):
        def map(self, data):
            payload = super().map(data)
            if data.get("phone") == "bad":
                self.note("phone", "dropped (not a phone number)")
            if data.get("phone") == "local":
                self.note("phone", "normalised to E.164")
            return payload

        def validate(self, payload):
            super().validate(payload)

    path = tmp_path / "r.jsonl"
    loop = WriteLoop({"users": Noting()}, batch_size=10, rejects=RejectLog(str(path)), max_rejected_share=0.0)
    msgs = [
        record({"email": "a@x.io", "phone": "bad"}),
        record({"email": "b@x.io", "phone": "local"}),
        record({"email": "c@x.io", "phone": "local"}),
        record({"email": "d@x.io"}),
    ]
    with caplog.at_level("INFO", logger="airbyte"):
        list(loop.run(msgs))  # notes never count toward the rejected share (threshold 0 passes)
    lines = [json.loads(l) for l in path.read_text().splitlines()]
    assert [(l["kind"], l["key"], l["field"]) for l in lines] == [
        ("correction", "a@x.io", "phone"),
        ("correction", "b@x.io", "phone"),
        ("correction", "c@x.io", "phone"),
    ]
    assert loop.stats.corrected == 3 and loop.rejects.total == 0 and loop.stats.accepted == 4
    assert "corrected 3 (phone: normalised to E.164: 2, phone: dropped (not a phone number): 1)" in loop.summary()


def test_notes_of_a_rejected_record_are_not_counted():
    class Noting(FakeHandler):
        def map(self, data):
            self.note("phone", "normalised")
            return super().map(data)

    loop = WriteLoop({"users": Noting()}, batch_size=10)
    list(loop.run([record({"email": "bad"})]))
    assert loop.stats.corrected == 0 and loop.rejects.total == 1


def test_loop_reads_the_new_shared_config_fields():
    loop = WriteLoop.from_config({"users": FakeHandler()}, {}, default_batch_size=7)
    assert (loop.max_concurrent_requests, loop.max_state_delay_seconds, loop.dry_run) == (1, 60.0, False)
    config = {"max_concurrent_requests": 4, "max_state_delay_seconds": 5, "dry_run": True}
    loop = WriteLoop.from_config({"users": FakeHandler()}, config, default_batch_size=7)
    assert (loop.max_concurrent_requests, loop.max_state_delay_seconds, loop.dry_run) == (4, 5.0, True)
    loop = WriteLoop.from_config({"users": FakeHandler()}, {"max_state_delay_seconds": None}, default_batch_size=7)
    assert loop.max_state_delay_seconds is None


def test_message_json_without_stats_is_the_cdk_serialisation():
    m = state(1)
    assert orjson.loads(message_json(m)) == {
        "type": "STATE",
        "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"n": 1}}},
    }


def test_skip_is_a_planned_action_and_a_replaced_rejects_log_is_kept_out_of_a_dry_run(tmp_path):
    class Skipper(FakeHandler):
        def plan(self, items):
            return [Outcome.planned("skip") if i.key.startswith("old") else Outcome.planned("create") for i in items]

    loop = WriteLoop.from_config({"users": Skipper()}, {"dry_run": True}, default_batch_size=10)
    loop.rejects = RejectLog(str(tmp_path / "r.jsonl"))  # a connector may swap it after from_config
    list(loop.run([record({"email": e}) for e in ["old@x.io", "new@x.io", "bad"]]))
    assert loop.dry_run_lines() == [
        "Dry run (destination) stream users: would create 1, update 0, create or update 0, skip 1 (left as they are), "
        "reject 1 (code 2: 1)"
    ]
    assert not (tmp_path / "r.jsonl").exists()


def test_batch_group_batches_each_group_apart_and_keeps_the_invariants():
    class Grouped(FakeHandler):
        def map(self, data):
            return {"email": data["email"], "n": data.get("n"), "fields": data.get("fields")}

        def batch_group(self, payload):
            return payload["fields"]

    handler = Grouped(dedupe=True)
    loop = WriteLoop({"users": handler}, batch_size=2)
    msgs = [
        record({"email": "a@x.io", "fields": "ab", "n": 1}),
        record({"email": "b@x.io", "fields": "a", "n": 2}),
        record({"email": "a@x.io", "fields": "a", "n": 3}),  # replaces a@ of group "ab"
        state(1),
        record({"email": "c@x.io", "fields": "ab", "n": 4}),
        record({"email": "d@x.io", "fields": "ab", "n": 5}),
    ]
    out = list(loop.run(msgs))
    assert sorted(handler.calls) == sorted([["b@x.io", "a@x.io"], ["c@x.io", "d@x.io"]])
    assert loop.stats.collapsed == 1 and loop.stats.batches == 2 and len(out) == 1
    assert out[0].state.destinationStats.recordCount == 3.0
