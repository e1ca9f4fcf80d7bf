"""The error helpers (config_error, transient_error, system_error) and StreamHandler.learn_limit."""

import logging
import threading

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

import destination_common
from destination_common import StreamHandler, add_secret, config_error, system_error, transient_error

SECRET = "errors-helper-secret-7Qz"


@pytest.mark.parametrize(
    "helper, failure_type",
    [(config_error, FailureType.config_error), (transient_error, FailureType.transient_error), (system_error, FailureType.system_error)],
)
def test_helpers_return_redacted_traced_exceptions(helper, failure_type):
    add_secret(SECRET)
    cause = ValueError("cause")
    exc = helper(f"refused with {SECRET}", internal=f"internal {SECRET}", exception=cause)
    assert isinstance(exc, AirbyteTracedException)
    assert exc.failure_type == failure_type
    assert exc.message == "refused with ****"
    assert exc.internal_message == "internal ****"
    assert str(exc) == "refused with ****"
    assert exc._exception is cause
    plain = helper("plain text")
    assert plain.message == plain.internal_message == "plain text"


def test_helpers_are_exported():
    assert {"config_error", "transient_error", "system_error"} <= set(destination_common.__all__)


class _Handler(StreamHandler):
    def send(self, items):
        return []


def test_learn_limit_lowers_only_and_warns_once(caplog):
    handler = _Handler()
    assert handler.max_batch is None
    with caplog.at_level(logging.WARNING, logger="airbyte"):
        assert handler.learn_limit(10, "The API refused 20 items in one request (too many)") is True
        assert handler.learn_limit(10, "again") is False
        assert handler.learn_limit(30, "higher") is False
        assert handler.learn_limit(0, "nonsense") is False
    assert handler.max_batch == 10
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "The API refused 20 items in one request (too many); sending at most 10 per request from now on. "
        "Set batch_size to 10 to save the refused requests."
    ]
    assert handler.learn_limit(4, "lower") is True
    assert handler.max_batch == 4
    assert _Handler().max_batch is None  # per instance, the class default untouched


def test_learn_limit_is_thread_safe():
    handler = _Handler()
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def learn(n):
        barrier.wait()
        results.append(handler.learn_limit(n, "too many"))

    threads = [threading.Thread(target=learn, args=(n,)) for n in (50, 40, 30, 20, 25, 35, 45, 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert handler.max_batch == 20
    assert 1 <= sum(results) <= 7


def test_status_enum_keeps_the_texts():
    from destination_common import Outcome, Status

    assert Outcome.accepted().status is Status.ACCEPTED and Outcome.accepted().status == "accepted"
    assert Outcome.rejected(2, "x").status is Status.REJECTED
    assert Outcome.retry(3, "x").status is Status.RETRY
    assert Outcome.refused("c", "x").status is Status.REFUSED
    assert Outcome.planned("update") == Outcome(Status.PLANNED, "update")
    assert Outcome("accepted").status is Status.ACCEPTED  # a plain text still works
    assert {"accepted": 1}[Status.ACCEPTED] == 1 and f"{Status.RETRY}" == "retry"


def test_learn_limit_in_the_loop_slices_the_refused_and_later_batches(caplog):
    from destination_common_helpers import FakeHandler, record, state

    from destination_common import BatchRefused, Outcome, WriteLoop

    class Limited(FakeHandler):
        def send(self, items):
            self.calls.append([i.key for i in items])
            if len(items) > 3:
                self.learn_limit(3, f"The API refused {len(items)} items in one request (at most 3)")
                raise BatchRefused("Too many items (at most 3)")
            return [Outcome.accepted() for _ in items]

    handler = Limited()
    loop = WriteLoop({"users": handler}, batch_size=8, max_concurrent_requests=2)
    with caplog.at_level(logging.INFO, logger="airbyte"):
        out = list(loop.run([record({"email": f"u{i}@x.io"}) for i in range(16)] + [state(1)]))
    assert len(out) == 1 and loop.stats.accepted == 16 and loop.rejects.total == 0
    assert handler.max_batch == 3
    sent = [k for c in handler.calls if len(c) <= 3 for k in c]
    assert sorted(sent) == sorted(f"u{i}@x.io" for i in range(16))  # every record in a request of at most 3
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "at most 3" in r.getMessage()]
    assert len(warnings) == 1 and "Set batch_size to 3" in warnings[0]  # one warning, also with two refusals at once
