"""What keeps the path from one answer to the next request short (issue 16 item 1): the
batch's encoding done ahead in the main thread (`StreamHandler.prepare`), a short GIL switch
interval while the loop runs, a reader that waits without polling, no ~/.netrc lookup per
request. Invariants only, never timings."""

import sys
import threading

import requests
from destination_common_helpers import FakeHandler, record, state

from destination_common import HttpClient, WriteLoop
from destination_common import writer as writer_module


class Preparing(FakeHandler):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.prepared = []  # (thread name, keys)
        self.sent_after_prepare = []
        self.switch_in_send = []

    def prepare(self, items):
        self.prepared.append((threading.current_thread().name, [i.key for i in items]))

    def send(self, items):
        keys = [i.key for i in items]
        self.sent_after_prepare.append(any(k == keys for _, k in self.prepared))
        self.switch_in_send.append(sys.getswitchinterval())
        return super().send(items)


def test_prepare_runs_in_the_main_thread_before_send_of_the_same_batch_and_not_for_halves():
    handler = Preparing(poison={"c@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=4, max_concurrent_requests=1)
    emails = ["a@x.io", "b@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"]
    list(loop.run([record({"email": e}) for e in emails]))
    main = threading.main_thread().name
    assert handler.prepared == [(main, emails[:4]), (main, emails[4:])]
    # the batch of 4 is refused (c), then bisected: halves are sent without a prepare() of their own
    assert handler.calls[0] == emails[:4] and handler.sent_after_prepare[0] is True
    assert [] not in handler.calls and ["c@x.io"] in handler.calls
    assert loop.stats.accepted == 5 and loop.rejects.total == 1


def test_a_prepare_that_raises_is_only_an_optimisation():
    class Broken(FakeHandler):
        def prepare(self, items):
            raise RuntimeError("boom")

    loop = WriteLoop({"users": Broken()}, batch_size=2)
    out = list(loop.run([record({"email": "a@x.io"}), record({"email": "b@x.io"}), state(1)]))
    assert loop.stats.accepted == 2 and len(out) == 1


def test_no_prepare_in_a_dry_run():
    handler = Preparing()
    loop = WriteLoop({"users": handler}, batch_size=2, dry_run=True)
    list(loop.run([record({"email": "a@x.io"}), record({"email": "b@x.io"})]))
    assert handler.prepared == [] and handler.calls == []


def test_the_switch_interval_is_short_while_the_loop_runs_and_restored_after():
    before = sys.getswitchinterval()
    assert before > writer_module.SWITCH_INTERVAL  # CPython's default, 5 ms
    handler = Preparing()
    loop = WriteLoop({"users": handler}, batch_size=1)
    list(loop.run([record({"email": "a@x.io"}), record({"email": "b@x.io"})]))
    assert handler.switch_in_send and all(s <= writer_module.SWITCH_INTERVAL for s in handler.switch_in_send)
    assert sys.getswitchinterval() == before
    handler = Preparing()
    loop = WriteLoop({"users": handler}, batch_size=1, max_concurrent_requests=4)
    list(loop.run([record({"email": "a@x.io"}), record({"email": "b@x.io"})]))
    assert handler.switch_in_send == [before, before]  # with more in flight the main thread's CPU is the limit


def test_the_reader_blocks_on_a_bounded_read_ahead_and_every_message_arrives():
    handler = FakeHandler()
    loop = WriteLoop({"users": handler}, batch_size=7, input_buffer=3)
    messages = [record({"email": f"u{i}@x.io"}) for i in range(50)] + [state(1)]
    out = list(loop.run(messages))
    assert loop.stats.accepted == 50 and len(out) == 1


def test_read_ahead_takes_a_slot_per_input_chunk_stays_bounded_and_holds_back_no_message():
    """The reader takes a read-ahead slot per writer.INPUT_CHUNK messages: it is at most
    ceil(input_buffer / INPUT_CHUNK) × INPUT_CHUNK messages ahead of the main thread, and every
    message still travels at once: records the input gave before it went idle are sent (a full
    batch) and the state after them echoed while the input stays idle."""
    chunk = writer_module.INPUT_CHUNK

    class Counting(FakeHandler):
        mapped = 0

        def map(self, data):
            self.mapped += 1
            return super().map(data)

    handler = Counting()
    loop = WriteLoop({"users": handler}, batch_size=50, input_buffer=100)
    bound = -(-100 // chunk) * chunk
    ahead = []
    sent_while_idle = threading.Event()
    waited = []

    def messages():
        for i in range(3000):
            ahead.append(i - handler.mapped)
            yield record({"email": f"u{i}@x.io"})
        yield state(1)
        for i in range(50):  # one more full batch, not a multiple of the chunk, then idle input
            yield record({"email": f"v{i}@x.io"})
        waited.append(sent_while_idle.wait(10))  # 10 s: liveness only
        yield state(2)

    def on_send(items):
        if items[0].key == "v0@x.io":
            sent_while_idle.set()

    original = handler.send
    handler.send = lambda items: (on_send(items), original(items))[1]
    out = list(loop.run(messages()))
    assert waited == [True] and len(out) == 2
    assert loop.stats.accepted == 3050 and handler.mapped == 3050
    assert max(ahead) <= bound and max(ahead) > 1  # the reader does read ahead, within the bound


def test_http_client_never_reads_netrc(tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    plain = requests.Session().prepare_request(requests.Request("POST", "http://127.0.0.1:9/api"))
    assert "Authorization" in plain.headers  # what requests would do without the guard
    client = HttpClient()
    prepared = client.session.prepare_request(requests.Request("POST", "http://127.0.0.1:9/api"))
    assert "Authorization" not in prepared.headers
    basic = client.session.prepare_request(requests.Request("POST", "http://127.0.0.1:9/api", auth=("u", "p")))
    assert basic.headers["Authorization"].startswith("Basic ")  # a request's own auth still applies


def test_a_limit_learnt_while_a_buffer_fills_cuts_no_short_request():
    # The worker learns the API's limit (max_batch) while the main thread is filling the next
    # buffer; more likely now that a worker gets the GIL back sooner. Here the limit changes,
    # deterministically, when the next buffer holds 37 records.
    class Learning(FakeHandler):
        max_batch = None

        def map(self, data):
            if data["email"] == "u77@x.io":
                self.max_batch = 10
            return super().map(data)

    handler = Learning(dedupe=True)
    loop = WriteLoop({"users": handler}, batch_size=40, max_concurrent_requests=1)
    list(loop.run([record({"email": f"u{i}@x.io"}) for i in range(80)] + [state(1)]))
    # the first batch went at 40 (or, had its worker started late, in slices of 10); no short one
    assert all(len(c) in (40, 10) for c in handler.calls) and handler.calls[-1] != []
    assert [k for c in handler.calls for k in c] == [f"u{i}@x.io" for i in range(80)]
    assert loop.stats.accepted == 80
