"""Transient faults are retried; STATE is echoed only after every record before it is settled."""

from __future__ import annotations

import orjson
from airbyte_cdk.models import AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, FailureType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_loyalty_batch import DestinationLoyaltyBatch

PEOPLE = [{"code": f"F{i:02d}", "first_name": f"Person {i}", "email": f"f{i}@example.com"} for i in range(6)]


def summary(result):
    return next(x for x in result.logs if x.startswith("Write summary"))


def test_5xx_drop_truncated_and_cut_answers_are_retried(loyalty_api, write_fast):
    # Faults hit every call in turn (the first is manage_fields): 503, 503, then the first
    # batch is dropped, the second's answer truncated (applied, answer lost: resent, idempotent by
    # code), the third's answer cut mid-body.
    loyalty_api.inject("status", status=503, times=2)
    loyalty_api.inject("drop", skip=1)
    loyalty_api.inject("truncate", skip=2)
    loyalty_api.inject("cut", skip=3)
    result = write_fast(loyalty_api, PEOPLE, batch_size=2, http_max_retries=5)
    assert result.error is None, result.error
    assert sorted(c for c in loyalty_api.customers if c.startswith("F")) == [p["code"] for p in PEOPLE]
    assert len(loyalty_api.customers) == 3 + len(PEOPLE)  # no duplicate from a resent batch
    assert "retries 5" in summary(result)
    assert any("unreadable answer" in x for x in result.logs)
    assert not any(loyalty_api.api_key in x for x in result.logs)


def test_read_timeout_is_retried(loyalty_api, write_fast):
    loyalty_api.inject("timeout", delay=3, times=1)
    result = write_fast(loyalty_api, PEOPLE[:2], request_timeout_seconds=1)
    assert result.error is None, result.error
    assert "F01" in loyalty_api.customers
    assert any("ReadTimeout" in x for x in result.logs)


def test_retries_exhausted_stop_with_transient_error_and_no_later_state(loyalty_api, helpers, write_fast):
    h = helpers
    loyalty_api.inject("status", status=502, skip=2, times=100)  # manage_fields and the first batch pass, then an outage
    lines = [h.record(PEOPLE[0]), h.record(PEOPLE[1]), h.state(1), h.record(PEOPLE[2]), h.state(2)]
    result = write_fast(loyalty_api, lines, batch_size=2, http_max_retries=2)
    assert isinstance(result.error, AirbyteTracedException)
    assert result.error.failure_type == FailureType.transient_error
    assert "after 3 attempts" in result.error.message and "Run the sync again later" in result.error.message
    assert [s["stream"]["stream_state"]["cursor"] for s in result.states] == [1]
    assert "F01" in loyalty_api.customers and "F02" not in loyalty_api.customers
    assert loyalty_api.log.count(function="customers_batch") == 1 + 3
    assert loyalty_api.api_key not in result.error.message + "".join(result.logs)


def test_states_are_emitted_only_after_their_records_are_in_the_platform(loyalty_api, helpers):
    """Drive write() message by message: when a STATE comes out, every record before it must
    already be readable in the platform. A STATE no longer cuts a batch: it is held until the
    records before it are written in a full batch (or input ends)."""
    h = helpers
    lines = [h.record(PEOPLE[0]), h.record(PEOPLE[1]), h.state(1), h.record(PEOPLE[2]), h.state(2), h.record(PEOPLE[3]),
             h.record(PEOPLE[4])]
    msgs = (AirbyteMessageSerializer.load(orjson.loads(x)) for x in lines)
    config = h.config(loyalty_api, batch_size=2)
    out = DestinationLoyaltyBatch().write(config, ConfiguredAirbyteCatalogSerializer.load(h.catalog()), msgs)
    seen = []
    for message in out:
        assert message.type == Type.STATE
        cursor = message.state.stream.stream_state.cursor
        expected = {1: ["F00", "F01"], 2: ["F00", "F01", "F02"]}[cursor]
        assert [c for c in expected if c in loyalty_api.customers] == expected
        seen.append(cursor)
    assert seen == [1, 2]
    assert "F04" in loyalty_api.customers  # flushed at the end of input
    # full batches only: (F00, F01), (F02, F03), then F04 at the end; never a short batch for a STATE
    assert loyalty_api.log.count(function="customers_batch") == 3


def test_request_too_large_is_split_not_fatal(loyalty_api, write_fast):
    loyalty_api.inject("status", status=413, skip=1, times=1)  # manage_fields passes, the first batch is "too large"
    result = write_fast(loyalty_api, PEOPLE, batch_size=6)
    assert result.error is None, result.error
    assert sorted(c for c in loyalty_api.customers if c.startswith("F")) == [p["code"] for p in PEOPLE]
    assert "bisections 1" in summary(result) and "rejected 0" in summary(result)
