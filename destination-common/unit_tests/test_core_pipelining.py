"""The write loop with requests in flight (issue 16 items 1-2): invariants only, never timings.
Waits below are liveness bounds (a deadlock fails the test instead of hanging it)."""

import json
import random
import threading
import time

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from destination_common_helpers import FakeHandler, record, state

from destination_common import BatchRefused, Outcome, RejectLog, StreamHandler, WriteLoop

LIVENESS = 10  # seconds; only reached when something is broken


class Tracking(StreamHandler):
    """Accepts everything; checks, under a lock, that no key is in two sends in flight at once,
    that each key's values arrive in input order, and how many sends are in flight."""

    def __init__(self, *, delay=0.0, jitter=0.0, dedupe=False):
        self.dedupe = dedupe
        self.delay, self.jitter = delay, jitter
        self.lock = threading.Lock()
        self.in_flight_keys: set = set()
        self.in_flight = 0
        self.peak = 0
        self.overlaps = []
        self.applied: dict[str, list[int]] = {}
        self.settled: set[int] = set()
        self.threads: set[str] = set()
        self.rng = random.Random(7)

    def map(self, data):
        return dict(data)

    def key(self, payload, data):
        return (payload or data).get("email")

    def send(self, items):
        keys = {i.key for i in items}
        with self.lock:
            self.threads.add(threading.current_thread().name)
            if keys & self.in_flight_keys:
                self.overlaps.append(sorted(keys & self.in_flight_keys))
            self.in_flight_keys |= keys
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            pause = self.delay + self.rng.random() * self.jitter
        time.sleep(pause)
        with self.lock:
            for i in items:
                self.applied.setdefault(i.key, []).append(i.payload["n"])
                self.settled.add(i.payload["n"])
            self.in_flight_keys -= keys
            self.in_flight -= 1
        return [Outcome.accepted() for _ in items]


def test_send_runs_in_a_worker_while_the_main_thread_maps_the_next_batch():
    mapped_next = threading.Event()
    overlapped = []

    class Overlap(FakeHandler):
        def map(self, data):
            if data["email"] == "c@x.io":
                mapped_next.set()
            return super().map(data)

        def send(self, items):
            if items[0].key == "a@x.io":
                overlapped.append(mapped_next.wait(LIVENESS))  # the next batch is mapped meanwhile
            return super().send(items)

    handler = Overlap()
    loop = WriteLoop({"users": handler}, batch_size=2, max_concurrent_requests=1)
    list(loop.run([record({"email": e}) for e in ["a@x.io", "b@x.io", "c@x.io", "d@x.io"]]))
    assert overlapped == [True]
    assert handler.calls == [["a@x.io", "b@x.io"], ["c@x.io", "d@x.io"]]
    assert loop.stats.accepted == 4 and loop.stats.max_in_flight == 1


def test_up_to_n_requests_in_flight_and_never_more():
    n = 4
    barrier = threading.Barrier(n, timeout=LIVENESS)
    reached = []

    class Parallel(Tracking):
        def send(self, items):
            if items[0].payload["n"] < n:  # the first n single-item batches meet at the barrier
                reached.append(barrier.wait() >= 0)
            return super().send(items)

    handler = Parallel(delay=0.001)
    loop = WriteLoop({"users": handler}, batch_size=1, max_concurrent_requests=n)
    list(loop.run([record({"email": f"u{i}@x.io", "n": i}) for i in range(20)]))
    assert reached == [True] * n  # n sends were in flight together
    assert handler.peak <= n and loop.stats.max_in_flight == n
    assert loop.stats.accepted == 20


def test_same_key_is_never_in_two_requests_in_flight_and_updates_keep_their_order():
    handler = Tracking(jitter=0.003)
    loop = WriteLoop({"users": handler}, batch_size=3, max_concurrent_requests=4)
    keys = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io"]
    rng = random.Random(3)
    messages = [record({"email": rng.choice(keys), "n": i}) for i in range(150)]
    list(loop.run(messages))
    assert handler.overlaps == []
    for key, values in handler.applied.items():
        assert values == sorted(values), key  # a later update never overtook an earlier one
    assert loop.stats.accepted == 150


def test_states_are_echoed_in_order_and_only_after_every_record_before_them_is_settled():
    handler = Tracking(jitter=0.004)
    loop = WriteLoop({"users": handler}, batch_size=4, max_concurrent_requests=3)
    messages, before = [], {}
    n = 0
    for s in range(30):
        for _ in range(random.Random(s).randint(0, 6)):
            messages.append(record({"email": f"u{n}@x.io", "n": n}))
            n += 1
        messages.append(state(s))
        before[s] = set(range(n))
    echoed = []
    for m in loop.run(messages):
        s = m.state.stream.stream_state.n
        with handler.lock:
            assert before[s] <= handler.settled, s
        echoed.append(s)
    assert echoed == list(range(30))
    assert handler.peak <= 3


def test_states_do_not_cut_batches_requests_are_the_ideal():
    handler = Tracking()
    loop = WriteLoop({"users": handler}, batch_size=10, max_concurrent_requests=2)
    messages = []
    for i in range(95):
        messages.append(record({"email": f"u{i}@x.io", "n": i}))
        if i % 3 == 0:
            messages.append(state(i))
    out = list(loop.run(messages))
    assert loop.stats.batches == 10  # ceil(95 / 10) whatever the checkpoint rate
    assert len(out) == 32


def test_a_waiting_state_flushes_the_partial_batch_after_max_state_delay_even_when_input_is_idle():
    handler = FakeHandler()
    loop = WriteLoop({"users": handler}, batch_size=100, max_state_delay_seconds=0.01)
    echoed = threading.Event()
    waited = []

    def messages():
        yield record({"email": "a@x.io"})
        yield state(1)
        waited.append(echoed.wait(LIVENESS))  # input idle until the state is echoed
        yield record({"email": "b@x.io"})

    for m in loop.run(messages()):
        echoed.set()
    assert waited == [True]
    assert handler.calls == [["a@x.io"], ["b@x.io"]]
    assert loop.stats.delayed_flushes == 1 and loop.stats.states == 1


def test_bisection_retry_and_learnt_max_batch_work_with_requests_in_flight(tmp_path):
    class Mixed(FakeHandler):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.lock = threading.Lock()

        def send(self, items):
            time.sleep(0.001)
            with self.lock:
                if len(items) > 5:
                    self.max_batch = 5
                    self.calls.append([i.key for i in items])
                    raise BatchRefused("Too many items (at most 5)")
                return super().send(items)

    path = tmp_path / "r.jsonl"
    handler = Mixed(poison={"u13@x.io", "u27@x.io"}, retry={"u5@x.io"}, retry_once={"u8@x.io", "u31@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=8, rejects=RejectLog(str(path)), max_concurrent_requests=4)
    out = list(loop.run([record({"email": f"u{i}@x.io"}) for i in range(40)] + [state(1)]))
    rejected = {json.loads(l)["key"]: json.loads(l)["code"] for l in path.read_text().splitlines()}
    assert rejected == {"u13@x.io": "refused", "u27@x.io": "refused", "u5@x.io": 3}
    assert loop.stats.accepted == 37 and len(out) == 1
    assert max(len(c) for c in handler.calls[1:]) <= 8 and loop.stats.bisections >= 2
    assert loop.stats.item_retries == 3


def test_an_error_from_send_stops_after_requests_in_flight_finish_with_no_state_past_unsettled_records():
    finished = []
    release = threading.Event()

    class Failing(Tracking):
        def send(self, items):
            if any(i.key == "boom@x.io" for i in items):
                release.set()
                raise AirbyteTracedException(message="outage", failure_type=FailureType.transient_error)
            if items[0].payload["n"] >= 4:
                release.wait(LIVENESS)  # in flight when the error happens
            out = super().send(items)
            finished.append(items[0].payload["n"])
            return out

    handler = Failing()
    loop = WriteLoop({"users": handler}, batch_size=2, max_concurrent_requests=3)
    msgs = [record({"email": f"u{i}@x.io", "n": i}) for i in range(4)] + [state(1)]
    msgs += [record({"email": "u4@x.io", "n": 4}), record({"email": "u5@x.io", "n": 5})]
    msgs += [record({"email": "boom@x.io", "n": 6}), record({"email": "u7@x.io", "n": 7}), state(2)]
    msgs += [record({"email": f"v{i}@x.io", "n": 10 + i}) for i in range(10)] + [state(3)]
    echoed = []
    with pytest.raises(AirbyteTracedException, match="outage"):
        for m in loop.run(msgs):
            echoed.append(m.state.stream.stream_state.n)
    assert 2 not in echoed and 3 not in echoed
    assert 4 in finished  # the batch in flight finished before the run stopped
    assert threading.active_count() < 20


def test_after_a_send_raised_a_batch_queued_for_a_worker_is_never_sent():
    mapped = threading.Event()

    class Stopper(FakeHandler):
        def map(self, data):
            if data["email"] == "c@x.io":
                mapped.set()  # by now b@ was submitted, queued behind boom@
            return super().map(data)

        def send(self, items):
            self.calls.append([i.key for i in items])
            if items[0].key == "boom@x.io":
                mapped.wait(LIVENESS)
                raise AirbyteTracedException(message="quota exhausted", failure_type=FailureType.transient_error)
            return [Outcome.accepted() for _ in items]

    handler = Stopper()
    loop = WriteLoop({"users": handler}, batch_size=1, max_concurrent_requests=1)
    with pytest.raises(AirbyteTracedException, match="quota"):
        list(loop.run([record({"email": e}) for e in ["boom@x.io", "b@x.io", "c@x.io", "d@x.io"]] + [state(1)]))
    assert handler.calls == [["boom@x.io"]]
    assert loop.stats.states == 0
