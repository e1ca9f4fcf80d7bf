import json
import threading

import pytest
from airbyte_cdk.models import FailureType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from destination_common_helpers import FakeHandler, record, state

from destination_common import BatchRefused, Outcome

from destination_common import RejectLog, WriteLoop


def run(loop, messages):
    """Run the loop, returning the output and the events (sends and states) in order."""
    out = []
    for m in loop.run(messages):
        out.append(m)
    return out


def test_state_emitted_only_after_records_before_it_are_settled():
    # max_state_delay_seconds=0: a state does not wait for a full batch (one short batch per state)
    events = []
    handler = FakeHandler(events=events)
    loop = WriteLoop({"users": handler}, batch_size=10, max_state_delay_seconds=0)

    def messages():
        yield record({"email": "a@x.io"})
        yield record({"email": "b@x.io"})
        yield state(1)
        yield record({"email": "c@x.io"})
        yield state(2)
        yield state(3)
        yield record({"email": "d@x.io"})

    for m in loop.run(messages()):
        events.append(("state", m.state.stream.stream_state.n))
    sends = [e[1] for e in events if e[0] == "send"]
    assert sends == [["a@x.io", "b@x.io"], ["c@x.io"], ["d@x.io"]]
    states = [e for e in events if e[0] == "state"]
    assert states == [("state", 1), ("state", 2), ("state", 3)]
    # each state after the send of every record before it (d's send may overlap them)
    assert events.index(("state", 1)) > events.index(("send", ["a@x.io", "b@x.io"]))
    assert events.index(("state", 2)) > events.index(("send", ["c@x.io"]))
    assert loop.stats.accepted == 4 and loop.stats.states == 3


def test_states_do_not_cut_batches_by_default():
    events = []
    handler = FakeHandler(events=events)
    loop = WriteLoop({"users": handler}, batch_size=2)

    def messages():
        yield record({"email": "a@x.io"})
        yield state(1)
        yield record({"email": "b@x.io"})
        yield state(2)
        yield record({"email": "c@x.io"})
        yield state(3)

    for m in loop.run(messages()):
        events.append(("state", m.state.stream.stream_state.n))
    assert events == [
        ("send", ["a@x.io", "b@x.io"]),
        ("state", 1),
        ("state", 2),
        ("send", ["c@x.io"]),
        ("state", 3),
    ]
    assert loop.stats.batches == 2 and loop.stats.delayed_flushes == 0


def test_batches_flush_at_batch_size_and_memory_stays_bounded():
    handler = FakeHandler()
    loop = WriteLoop({"users": handler}, batch_size=3)
    seen_sizes = []

    def messages():
        for i in range(10):
            seen_sizes.append(len(loop._buffers["users"]))
            yield record({"email": f"u{i}@x.io"})

    run(loop, messages())
    assert [len(c) for c in handler.calls] == [3, 3, 3, 1]
    assert max(seen_sizes) < 3


def test_local_rejects_spend_no_request_and_are_recorded(tmp_path):
    path = tmp_path / "rejected.jsonl"
    handler = FakeHandler()
    loop = WriteLoop({"users": handler}, batch_size=10, rejects=RejectLog(str(path)))
    run(loop, [record({"name": "no email"}), record({"email": "bad"}), record({"email": "ok@x.io"})])
    assert handler.calls == [["ok@x.io"]]
    lines = [json.loads(l) for l in path.read_text().splitlines()]
    assert [(l["key"], l["code"]) for l in lines] == [(None, 1), ("bad", 2)]
    assert lines[0]["record"] == {"name": "no email"} and lines[0]["stream"] == "users"
    assert loop.rejects.counts == {"code 1": 1, "code 2": 1}


def test_dedupe_last_wins_within_batch():
    handler = FakeHandler(dedupe=True)
    loop = WriteLoop({"users": handler}, batch_size=3)
    msgs = [record({"email": e, "n": i}) for i, e in enumerate(["a@x.io", "b@x.io", "a@x.io", "c@x.io", "d@x.io"])]
    sent_payloads = []
    orig = handler.send
    handler.send = lambda items: (sent_payloads.append([(i.key, i.payload["n"]) for i in items]), orig(items))[1]
    run(loop, msgs)
    assert sent_payloads == [[("b@x.io", 1), ("a@x.io", 2), ("c@x.io", 3)], [("d@x.io", 4)]]
    assert loop.stats.collapsed == 1


def test_no_dedupe_keeps_duplicates():
    handler = FakeHandler(dedupe=False)
    loop = WriteLoop({"users": handler}, batch_size=10)
    run(loop, [record({"email": "a@x.io"}), record({"email": "a@x.io"})])
    assert handler.calls == [["a@x.io", "a@x.io"]]


def test_bisection_isolates_refused_items(tmp_path):
    path = tmp_path / "r.jsonl"
    emails = [f"u{i}@x.io" for i in range(8)]
    handler = FakeHandler(poison={"u5@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=8, rejects=RejectLog(str(path)))
    run(loop, [record({"email": e}) for e in emails])
    assert loop.stats.accepted == 7
    assert loop.rejects.total == 1
    rejected = json.loads(path.read_text())
    assert rejected["key"] == "u5@x.io" and rejected["code"] == "refused"
    assert "invalid user" in rejected["reason"]
    # 8 → 4+4 → (2+2) → (1+1): 1 + 2 + 2 + 2 calls
    assert handler.calls[0] == emails and len(handler.calls) == 7
    assert loop.stats.bisections == 3


def test_retry_once_then_reject():
    handler = FakeHandler(retry={"r@x.io"}, retry_once={"o@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10)
    run(loop, [record({"email": e}) for e in ["a@x.io", "r@x.io", "o@x.io"]])
    assert handler.calls == [["a@x.io", "r@x.io", "o@x.io"], ["r@x.io", "o@x.io"]]
    assert loop.stats.accepted == 2
    assert loop.rejects.counts == {"code 3": 1}
    assert loop.stats.item_retries == 2


def test_api_rejections_counted_by_reason():
    handler = FakeHandler(reject={"b@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10)
    run(loop, [record({"email": e}) for e in ["a@x.io", "b@x.io"]])
    assert loop.stats.accepted == 1 and loop.rejects.counts == {"code 2": 1}
    assert "rejected 1 (code 2: 1)" in loop.summary()


def test_threshold_fails_after_everything_accepted_was_flushed(tmp_path):
    path = tmp_path / "r.jsonl"
    handler = FakeHandler(reject={"b@x.io", "c@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10, rejects=RejectLog(str(path)), max_rejected_share=0.5)
    emitted = []
    with pytest.raises(AirbyteTracedException) as err:
        for m in loop.run([record({"email": e}) for e in ["a@x.io", "b@x.io", "c@x.io"]] + [state(1)]):
            emitted.append(m)
    assert [m.type for m in emitted] == [Type.STATE]
    assert handler.calls == [["a@x.io", "b@x.io", "c@x.io"]]
    assert err.value.failure_type == FailureType.config_error
    assert "2 of 3 records were rejected" in err.value.message and str(path) in err.value.message
    assert len(path.read_text().splitlines()) == 2


def test_threshold_not_exceeded_is_success():
    handler = FakeHandler(reject={"b@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10, max_rejected_share=0.5)
    out = run(loop, [record({"email": e}) for e in ["a@x.io", "b@x.io"]] + [state(1)])  # exactly 50% is allowed: no raise
    assert loop.stats.accepted == 1 and loop.rejects.total == 1 and loop.rejects.counts == {"code 2": 1}
    assert loop.rejected_share() == 0.5
    assert [m.type for m in out] == [Type.STATE]  # the state is echoed: the sync succeeded


def test_records_of_unknown_streams_are_skipped_and_mapping_bug_rejects():
    class Buggy(FakeHandler):
        def map(self, data):
            return {"email": data["email"], "x": 1 / data["d"]}

    handler = Buggy()
    loop = WriteLoop({"users": handler}, batch_size=10)
    run(loop, [record({"email": "a@x.io"}, stream="other"), record({"email": "b@x.io", "d": 0}), record({"email": "c@x.io", "d": 1})])
    assert loop.stats.unknown_stream == 1
    assert loop.rejects.counts == {"mapping": 1}
    assert handler.calls == [["c@x.io"]]


def test_outcome_count_mismatch_is_a_system_error():
    class Short(FakeHandler):
        def send(self, items):
            return []

    loop = WriteLoop({"users": Short()}, batch_size=10)
    with pytest.raises(AirbyteTracedException) as err:
        run(loop, [record({"email": "a@x.io"})])
    assert err.value.failure_type == FailureType.system_error


def test_progress_and_summary_lines(caplog):
    handler = FakeHandler()
    loop = WriteLoop({"users": handler}, batch_size=2, progress_every=2, request_stats=lambda: {"requests": 7, "retries": 1})
    with caplog.at_level("INFO", logger="airbyte"):
        run(loop, [record({"email": f"u{i}@x.io"}) for i in range(4)])
    text = caplog.text
    assert "Progress: records in 2, accepted 2, rejected 0, requests 7" in text
    assert "Write summary (destination): records in 4, accepted 4, rejected 0 (none)" in text
    assert "requests 7, retries 1" in text


def test_rejects_log_by_key_only(caplog):
    handler = FakeHandler(reject={"b@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10)
    with caplog.at_level("INFO", logger="airbyte"):
        run(loop, [record({"email": "b@x.io", "n": "SECRET-CONTENT"})])
    assert "b@x.io" in caplog.text and "SECRET-CONTENT" not in caplog.text


def test_max_batch_learned_from_a_size_refusal_slices_later_batches():
    class Limited(FakeHandler):
        def send(self, items):
            self.calls.append([i.key for i in items])
            if len(items) > 3:
                self.max_batch = 3  # learned: "at most 3"
                raise BatchRefused("Too many items (at most 3)")
            return [Outcome.accepted() for _ in items]

    handler = Limited()
    loop = WriteLoop({"users": handler}, batch_size=8)
    learnt = threading.Event()
    orig = handler.send

    def send(items):
        try:
            return orig(items)
        finally:
            if handler.max_batch:
                learnt.set()

    handler.send = send

    def messages():
        for i in range(8):
            yield record({"email": f"u{i}@x.io"})
        assert learnt.wait(10)  # the next records arrive once the limit is learnt
        for i in range(8, 16):
            yield record({"email": f"u{i}@x.io"})

    run(loop, messages())
    # the refused 8 are re-sent in slices of 3; later batches are filled to 3, not to 8 and sliced
    assert [len(c) for c in handler.calls] == [8, 3, 3, 2, 3, 3, 2]
    assert loop.stats.accepted == 16 and loop.rejects.total == 0
    assert loop.stats.batches == 7


def test_batches_fill_to_a_learnt_max_batch_below_batch_size():
    class Limited(FakeHandler):
        max_batch = 4

    handler = Limited()
    loop = WriteLoop({"users": handler}, batch_size=10)
    run(loop, [record({"email": f"u{i}@x.io"}) for i in range(20)])
    assert [len(c) for c in handler.calls] == [4, 4, 4, 4, 4]  # ceil(20 / 4), not 2 × (4 + 4 + 2)


class GroupedHandler(FakeHandler):
    """Sends each batch as two requests (even and odd positions), as a connector that splits a
    batch by field groups does; a request containing a `poison` e-mail is refused as a whole
    and its items answered Outcome.refused, the other request's items accepted."""

    def send(self, items):
        keys = [i.key for i in items]
        self.calls.append(keys)
        out = [None] * len(items)
        for part in (range(0, len(items), 2), range(1, len(items), 2)):
            part = list(part)
            if not part:
                continue
            bad = any(items[i].key in self.poison for i in part)
            for i in part:
                out[i] = Outcome.refused("batch_error", "a line is invalid") if bad else Outcome.accepted()
        return out


def test_refused_outcomes_are_bisected_until_the_bad_item_is_isolated(tmp_path):
    path = tmp_path / "r.jsonl"
    emails = [f"u{i}@x.io" for i in range(8)]
    handler = GroupedHandler(poison={"u5@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=8, rejects=RejectLog(str(path)))
    run(loop, [record({"email": e}) for e in emails])
    rejected = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(r["key"], r["code"], r["reason"]) for r in rejected] == [("u5@x.io", "batch_error", "a line is invalid")]
    assert loop.stats.accepted == 7 and loop.stats.item_retries == 0
    # 8 sent: odd part (u1 u3 u5 u7) refused → halves [u1 u3] (ok) + [u5 u7]; [u5 u7] is sent
    # as two one-line requests, u5's refused → alone → rejected without another request.
    assert handler.calls == [emails, ["u1@x.io", "u3@x.io"], ["u5@x.io", "u7@x.io"]]
    assert loop.stats.bisections == 1


def test_refused_outcomes_keep_states_after_their_records():
    events = []
    handler = GroupedHandler(poison={"b@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=10)
    out = run(loop, [record({"email": e}) for e in ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]] + [state(1)])
    assert len(out) == 1 and loop.stats.accepted == 3 and loop.rejects.total == 1
    assert len(handler.calls) >= 2  # the refused part was resent before the state was emitted


def test_refused_single_item_is_rejected_with_its_code_and_reason():
    class AlwaysRefused(FakeHandler):
        def send(self, items):
            self.calls.append([i.key for i in items])
            return [Outcome.refused(7, "refused together") for _ in items]

    handler = AlwaysRefused()
    loop = WriteLoop({"users": handler}, batch_size=4)
    run(loop, [record({"email": f"u{i}@x.io"}) for i in range(4)])
    assert loop.rejects.counts == {"code 7": 4}
    assert [len(c) for c in handler.calls] == [4, 2, 1, 1, 2, 1, 1]  # as BatchRefused: down to one item
    assert loop.stats.bisections == 3


def test_handler_summary_lines_are_logged_after_the_write_summary(caplog):
    class Summarised(FakeHandler):
        def summary(self):
            return f"Fake summary: calls {len(self.calls)}"

    handler = Summarised()
    loop = WriteLoop({"users": handler, "others": handler}, batch_size=10)
    with caplog.at_level("INFO", logger="airbyte"):
        run(loop, [record({"email": "a@x.io"})])
    lines = [r.getMessage() for r in caplog.records]
    i = next(n for n, x in enumerate(lines) if x.startswith("Write summary (destination): "))
    assert lines[i + 1] == "Fake summary: calls 1"
    assert lines.count("Fake summary: calls 1") == 1  # one handler serving two streams: once


def test_handler_summary_is_logged_when_the_run_fails_and_a_failing_summary_does_not_mask_it(caplog):
    class Broken(FakeHandler):
        def send(self, items):
            raise RuntimeError("outage")

        def summary(self):
            raise KeyError("oops")

    loop = WriteLoop({"users": Broken()}, batch_size=10)
    with caplog.at_level("INFO", logger="airbyte"), pytest.raises(RuntimeError, match="outage"):
        run(loop, [record({"email": "a@x.io"})])
    assert "Write summary (destination)" in caplog.text
    assert "Broken.summary() failed: KeyError" in caplog.text


def test_handler_without_summary_adds_no_line(caplog):
    loop = WriteLoop({"users": FakeHandler()}, batch_size=10)
    with caplog.at_level("INFO", logger="airbyte"):
        run(loop, [record({"email": "a@x.io"})])
    assert [r.getMessage() for r in caplog.records][-1].startswith("Write summary (destination): ")


@pytest.mark.parametrize(
    "config, expected",
    [
        ({}, (7, None, 0.10)),
        ({"batch_size": 3, "rejected_records_path": "r.jsonl", "max_rejected_percent": 25}, (3, "r.jsonl", 0.25)),
        ({"batch_size": 0, "rejected_records_path": "", "max_rejected_percent": 100}, (7, None, None)),
        ({"max_rejected_percent": None}, (7, None, None)),
        ({"max_rejected_percent": 0}, (7, None, 0.0)),
    ],
)
def test_loop_from_the_shared_config_fields(config, expected):
    loop = WriteLoop.from_config({"users": FakeHandler()}, config, default_batch_size=7, name="d")
    assert (loop.batch_size, loop.rejects.path, loop.max_rejected_share) == expected
    assert loop.name == "d"
