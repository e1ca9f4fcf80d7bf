"""Requests in flight vs batches being worked on (issue 16 item 1): `RequestSlots` bounds the HTTP
requests in flight to max_concurrent_requests while one more worker settles the previous
batch. Invariants only, never timings: waits are liveness bounds (a deadlock fails the test
instead of hanging it), short pauses only make a violation likely to show."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from destination_common_helpers import FakeHandler, record, reply_json, state

from destination_common import BatchRefused, HttpClient, Outcome, RejectLog, StreamHandler, WriteLoop
from destination_common.http import RequestSlots, bind_request_slots
from destination_common.outcomes import NotSent

LIVENESS = 10  # seconds; only reached when something is broken


def wait_for(condition, what):
    deadline = time.monotonic() + LIVENESS
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.001)


# ---- RequestSlots --------------------------------------------------------------------------
def start(target, *args):
    t = threading.Thread(target=target, args=args, daemon=True)  # a broken test must not hang pytest's exit
    t.start()
    return t


def test_batches_take_their_first_slot_in_the_order_they_were_handed_to_the_workers():
    slots = RequestSlots(1)
    tickets = [slots.enlist() for _ in range(3)]
    order = []

    def batch(ticket):
        slots.acquire(ticket)
        order.append(ticket)
        slots.release()

    threads = []
    for ticket in reversed(tickets):  # the last batch asks first
        threads.append(start(batch, ticket))
        wait_for(lambda: slots.waiting == len(threads) or order, "a batch never asked")
    for t in threads:
        t.join(LIVENESS)
    assert order == tickets
    assert slots.in_use == 0 and slots.peak == 1


def test_a_worker_that_frees_a_slot_cannot_take_it_from_the_batch_that_waits_for_it():
    slots = RequestSlots(1)
    slots.acquire()  # a request of the batch before (a bisection half: no ticket)
    first = slots.enlist()
    order = []

    def waiting():
        slots.acquire(first)
        order.append("waiting batch")
        slots.release()

    t = start(waiting)
    wait_for(lambda: slots.waiting == 1, "the batch never asked")
    slots.release()
    slots.acquire(slots.enlist())  # the same worker's next batch, at once
    order.append("next batch")
    slots.release()
    t.join(LIVENESS)
    assert order == ["waiting batch", "next batch"]


def test_a_batch_that_makes_no_request_does_not_hold_later_batches_back():
    slots = RequestSlots(1)
    first, second = slots.enlist(), slots.enlist()
    done = []
    t = start(lambda: (slots.acquire(second), done.append(True), slots.release()))
    wait_for(lambda: slots.waiting == 1, "the second batch never asked")
    with slots.hold(lazy=True, ticket=first):
        pass  # no HttpClient exchange: no slot taken
    t.join(LIVENESS)
    assert done == [True] and slots.peak == 1


def test_never_more_slots_than_the_limit_across_threads():
    slots = RequestSlots(3)
    lock = threading.Lock()
    now, peak = [0], [0]

    def worker():
        for _ in range(50):
            slots.acquire()
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            time.sleep(0.0002)
            with lock:
                now[0] -= 1
            slots.release()

    threads = [start(worker) for _ in range(8)]
    for t in threads:
        t.join(LIVENESS)
    assert peak[0] <= 3 and slots.peak <= 3 and slots.in_use == 0


def test_after_stop_waiting_and_new_requests_are_not_sent():
    slots = RequestSlots(1)
    slots.acquire()
    raised = []

    def waiter():
        try:
            slots.acquire()
        except NotSent:
            raised.append(True)

    t = start(waiter)
    wait_for(lambda: slots.waiting == 1, "the waiter never queued")
    slots.stop()
    t.join(LIVENESS)
    assert raised == [True]
    with pytest.raises(NotSent):
        slots.acquire()


def test_http_client_exchanges_take_a_slot_only_in_a_bound_thread_and_one_per_hold_block(server_factory):
    srv = server_factory()
    client = HttpClient(timeout=5)
    slots = RequestSlots(1)
    client.post_json(srv.url, {"items": ["a"]})  # main thread: not bound, no slot
    assert slots.peak == 0
    seen = []

    def bound():
        bind_request_slots(slots)
        client.post_json(srv.url, {"items": ["b"]})  # a slot for this exchange only
        seen.append(slots.in_use)
        with slots.hold(lazy=True):
            assert slots.in_use == 0  # lazy: not taken before the first exchange
            client.post_json(srv.url, {"items": ["c"]})
            client.post_json(srv.url, {"items": ["d"]})  # the same slot, no second one
            seen.append(slots.in_use)
        seen.append(slots.in_use)

    t = start(bound)
    t.join(LIVENESS)
    assert seen == [0, 1, 0] and slots.peak == 1
    assert srv.hits == 4


def test_the_split_exchange_reads_proxies_from_the_environment(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = HttpClient()
    assert client._environment("http://shop.example.com/api")["proxies"].get("http") == "http://proxy.invalid:3128"
    assert not client._environment("http://127.0.0.1:9/api")["proxies"].get("http")
    assert client._environment("http://shop.example.com/api") == client.session.merge_environment_settings(
        "http://shop.example.com/api", {}, None, None, None
    )


# ---- a loopback API and a handler that writes through HttpClient -----------------------------
class Api:
    """Answers {"items": [...]} with one "ok" per item after `delay`; 413 for more than `limit`
    items (when set); records every request's items and the most requests in flight at once."""

    def __init__(self, *, delay=0.0, limit=None, fatal=()):
        self.delay, self.limit, self.fatal = delay, limit, set(fatal)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0
        self.hits = 0
        self.bodies: list[list[str]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                items = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))["items"]
                with outer.lock:
                    outer.hits += 1
                    outer.bodies.append(items)
                    outer.in_flight += 1
                    outer.peak = max(outer.peak, outer.in_flight)
                time.sleep(outer.delay)
                with outer.lock:
                    outer.in_flight -= 1
                if outer.limit is not None and len(items) > outer.limit:
                    status, body = 413, {"error": f"at most {outer.limit} items"}
                else:
                    status, body = 200, {"results": ["fatal" if i in outer.fatal else "ok" for i in items]}
                reply_json(self, status, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/import"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(**kwargs):
        s = Api(**kwargs)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


class HttpHandler(StreamHandler):
    """Writes through HttpClient; `through` sets requests_through_http_client."""

    def __init__(self, api, *, through=True, dedupe=False):
        self.api = api
        self.requests_through_http_client = through
        self.dedupe = dedupe
        self.http = HttpClient(timeout=5, max_retries=0)
        self.sent: list[list[str]] = []
        self.lock = threading.Lock()

    def map(self, data):
        return dict(data)

    def key(self, payload, data):
        return (payload or data).get("email")

    def send(self, items):
        keys = [i.key for i in items]
        with self.lock:
            self.sent.append(keys)
        try:
            answer = self.http.post_json(self.api.url, {"items": keys})
        except requests.HTTPError as exc:
            if exc.response is not None and exc.response.status_code == 413:
                self.learn_limit(self.api.limit, f"The API refused {len(items)} items")
                raise BatchRefused("too many items", code="http 413") from None
            raise
        if "fatal" in answer["results"]:
            raise AirbyteTracedException(message="the API says stop", failure_type=FailureType.config_error)
        return [Outcome.accepted() for _ in items]


def records(n, prefix="u"):
    return [record({"email": f"{prefix}{i}@x.io", "n": i}) for i in range(n)]


@pytest.mark.parametrize("through", [True, False], ids=["per-exchange", "whole-send"])
@pytest.mark.parametrize("n", [1, 2])
def test_never_more_http_requests_in_flight_than_max_concurrent_requests(server_factory, n, through):
    api = server_factory(delay=0.005)
    handler = HttpHandler(api, through=through)
    loop = WriteLoop({"users": handler}, batch_size=3, max_concurrent_requests=n)
    out = list(loop.run(records(60) + [state(1)]))
    assert api.peak <= n and loop.stats.max_in_flight <= n
    assert api.hits == 20 and loop.stats.accepted == 60 and len(out) == 1


@pytest.mark.parametrize("through", [True, False], ids=["per-exchange", "whole-send"])
def test_the_next_request_leaves_while_the_previous_batch_is_still_being_settled(server_factory, through):
    # batch 1's settlement (its reject written) waits until batch 2's request has reached the
    # API: with settlement before the next send (one worker), this never happens
    api = server_factory()
    second_arrived = threading.Event()
    waited = []

    class SlowRejects(RejectLog):
        def reject(self, *args, **kwargs):
            waited.append(second_arrived.wait(LIVENESS))
            return super().reject(*args, **kwargs)

    class OneRejected(HttpHandler):
        def send(self, items):
            outcomes = super().send(items)
            if items[0].key == "u2@x.io":
                second_arrived.set()
            return [Outcome.rejected(2, "bad") if i.key == "u0@x.io" else o for i, o in zip(items, outcomes)]

    loop = WriteLoop({"users": OneRejected(api, through=through)}, batch_size=2, max_concurrent_requests=1, rejects=SlowRejects())
    list(loop.run(records(4)))
    assert waited == [True] and api.peak == 1
    assert loop.stats.accepted == 3 and loop.rejects.total == 1


def test_a_key_is_not_sent_again_while_its_earlier_batch_is_still_being_settled():
    events = []
    lock = threading.Lock()

    class SlowRejects(RejectLog):
        def reject(self, *args, **kwargs):
            with lock:
                events.append("settling")
            time.sleep(0.05)  # batch 2 (same key a@) would be sent now if it were allowed
            with lock:
                events.append("settled")
            return super().reject(*args, **kwargs)

    class Logging(FakeHandler):
        def send(self, items):
            with lock:
                events.append(("send", [i.key for i in items]))
            return super().send(items)

    handler = Logging(reject={"b@x.io"})
    loop = WriteLoop({"users": handler}, batch_size=2, max_concurrent_requests=1, rejects=SlowRejects())
    emails = ["a@x.io", "b@x.io", "a@x.io", "c@x.io"]
    list(loop.run([record({"email": e, "n": i}) for i, e in enumerate(emails)]))
    assert events.index(("send", ["a@x.io", "c@x.io"])) > events.index("settled")


def test_states_are_echoed_while_the_write_goes_on_not_all_at_the_end():
    class Slow(FakeHandler):
        def send(self, items):
            time.sleep(0.002)
            return super().send(items)

    handler = Slow()
    loop = WriteLoop({"users": handler}, batch_size=10, max_concurrent_requests=1)
    messages = []
    for i in range(400):
        messages.append(record({"email": f"u{i}@x.io"}))
        if i % 40 == 39:
            messages.append(state(i))
    sends_at_first_state = None
    for m in loop.run(messages):
        if sends_at_first_state is None:
            sends_at_first_state = len(handler.calls)
    # the first state covers 4 batches; a few more may be sent or waiting, never all 40
    assert sends_at_first_state is not None and sends_at_first_state < 40


@pytest.mark.parametrize("through", [True, False], ids=["per-exchange", "whole-send"])
def test_a_limit_learnt_while_the_next_batch_waits_for_its_slot_sends_no_request_over_it(server_factory, through):
    api = server_factory(limit=10)
    handler = HttpHandler(api, through=through)
    loop = WriteLoop({"users": handler}, batch_size=40, max_concurrent_requests=1)
    list(loop.run(records(80)))
    assert [len(b) for b in api.bodies] == [40] + [10] * 8
    assert loop.stats.accepted == 80


@pytest.mark.parametrize("through", [True, False], ids=["per-exchange", "whole-send"])
def test_after_an_answer_that_stops_the_sync_the_waiting_batch_is_never_sent(server_factory, through):
    api = server_factory(fatal={"u0@x.io"}, delay=0.05)  # the next batch waits for its slot meanwhile
    handler = HttpHandler(api, through=through)
    loop = WriteLoop({"users": handler}, batch_size=1, max_concurrent_requests=1)
    with pytest.raises(AirbyteTracedException, match="says stop"):
        list(loop.run(records(6) + [state(1)]))
    assert api.bodies == [["u0@x.io"]]
    assert loop.stats.states == 0
