"""The customers pass: its state after every page, out-of-order pages, resume, legacy state,
the cursor boundary and the `/status` rights."""

from __future__ import annotations

import logging
from typing import Any

from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.types import Record
from source_upgates_customers.components import parse_time
from source_upgates_customers.customers_pass import CustomersPassCursor, pass_start
from source_upgates_customers.source import customers_right

LOG = logging.getLogger("test")


class Page:
    def __init__(self, page: int, skipped: bool = False) -> None:
        self.page, self.skipped = page, skipped


def cursor_for(state: dict[str, Any], **config: Any) -> tuple[CustomersPassCursor, InMemoryMessageRepository]:
    repo = InMemoryMessageRepository()
    return CustomersPassCursor.from_state(state, config, repo, ConnectorStateManager(), LOG), repo


def states(repo: InMemoryMessageRepository) -> list[dict[str, Any]]:
    return [m.state.stream.stream_state.__dict__ for m in repo.consume_queue()]


def record(ts: str) -> Record:
    return Record(data={"customer_id": 1, "last_update_time": ts}, stream_name="customers")


def test_state_after_every_page_out_of_order_then_final():
    cursor, repo = cursor_for({"last_update_time": "2024-01-01T00:00:00+01:00"}, lookback_minutes=10)
    assert cursor.pass_.from_ == "2023-12-31T23:50:00+01:00"  # the cursor less the lookback
    cursor.pass_.total_pages = 3
    cursor.observe(record("2024-03-01T10:00:00+01:00"))
    cursor.observe(record("2024-03-01T09:30:00Z"))  # later instant, other offset
    cursor.close_partition(Page(1))
    cursor.close_partition(Page(3))
    cursor.close_partition(Page(2, skipped=True))  # skipped after a failure: not done
    got = states(repo)
    assert got[0]["pass"]["pages_done"] == 1 and got[0]["last_update_time"] == "2024-01-01T00:00:00+01:00"
    assert got[1]["pass"] == {"from": "2023-12-31T23:50:00+01:00", "pages_done": 1, "done_after": [3],
                              "items": None, "max_seen": "2024-03-01T09:30:00Z"}
    assert len(got) == 2
    cursor.close_partition(Page(2))
    assert states(repo) == [{"last_update_time": "2024-03-01T09:30:00Z"}]
    cursor.ensure_at_least_one_state_emitted()  # the final state is not repeated
    assert states(repo) == []


def test_resume_keeps_the_pass_and_ignores_start_date_and_lookback():
    saved = {"last_update_time": "2024-01-01T00:00:00+01:00",
             "pass": {"from": "2023-12-31T23:50:00+01:00", "pages_done": 4, "done_after": [6], "items": 900,
                      "max_seen": "2024-02-01T00:00:00+01:00"}}
    cursor, repo = cursor_for(saved, start_date="2025-01-01T00:00:00+01:00", lookback_minutes=60)
    p = cursor.pass_
    assert (p.from_, p.pages_done, p.done_after, p.items_at_start, p.resumed) == ("2023-12-31T23:50:00+01:00", 4, {6}, 900, True)
    p.total_pages = 6
    cursor.close_partition(Page(5))
    assert states(repo) == [{"last_update_time": "2024-02-01T00:00:00+01:00"}]  # 5 and 6 done: pass complete


def test_a_failed_first_page_keeps_the_incoming_state():
    cursor, repo = cursor_for({"last_update_time": "2024-01-01T00:00:00+01:00"})
    cursor.ensure_at_least_one_state_emitted()
    assert states(repo) == [{"last_update_time": "2024-01-01T00:00:00+01:00"}]


def test_pass_start_and_time_formats():
    assert pass_start({}, None) is None
    assert pass_start({"start_date": "2024-01-01T00:00:00Z"}, None) == "2024-01-01T00:00:00+00:00"
    # the saved cursor wins over an older start_date; the lookback is subtracted
    assert pass_start({"start_date": "2020-01-01T00:00:00Z", "lookback_minutes": 0}, "2024-05-01T12:00:00+0200") == "2024-05-01T12:00:00+02:00"
    assert parse_time("2024-05-01 12:00:00").tzinfo is not None  # naive: read as UTC


def test_customers_right_from_status():
    status = {"endpoints": [{"endpoint": "customers", "read_yn": False, "write_yn": False}, {"endpoint": "groups", "read_yn": True}]}
    assert customers_right(status) is False
    assert customers_right({"endpoints": [{"endpoint": "customers", "read_yn": True}]}) is True
    assert customers_right({"something": "else"}) is None
