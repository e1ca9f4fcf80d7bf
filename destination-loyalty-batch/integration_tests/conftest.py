"""Shared pieces of the connector's tests against the loyalty emulator: config and catalog
builders, Airbyte message lines, read-back through customer_search."""

from __future__ import annotations

import json
from typing import Any, Iterable

import pytest
import requests

from emulators.loyalty import LoyaltyEmulator


def emulator_config(api: LoyaltyEmulator, **overrides: Any) -> dict[str, Any]:
    config = {
        "api_url": api.url,
        "user_id": api.user_id,
        "api_key": api.api_key,
        "account_id": api.account_id,
        "campaigns": api.campaign_ids[:1],
        "mapping": {"preset": "loyalty"},
        "max_rejected_percent": 100,
        "http_max_retries": 3,
        "http_backoff_seconds": 0.01,
        "request_timeout_seconds": 5,
    }
    config.update(overrides)
    return config


def catalog(mode: str = "append_dedup", stream: str = "customers", object_name: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "stream": {"name": stream, "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental",
        "destination_sync_mode": mode,
    }
    if object_name:
        entry["destination_object_name"] = object_name
    return {"streams": [entry]}


def record_line(data: dict[str, Any], stream: str = "customers") -> str:
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}})


def state_line(value: Any, stream: str = "customers") -> str:
    return json.dumps(
        {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": value}}}}
    )


def messages(*parts: Iterable[str] | str) -> str:
    lines: list[str] = []
    for part in parts:
        lines.extend([part] if isinstance(part, str) else list(part))
    return "\n".join(lines) + "\n"


def search(api: LoyaltyEmulator, **fields: Any) -> list[dict[str, Any]]:
    """Read back through the API (customer_search), as a user would."""
    form = {"API": "1.5", "user_id": api.user_id, "user_api_key": api.api_key, "account_id": api.account_id,
            "type": "customer_search", "output": "JSON", **fields}
    out = requests.post(api.url, data=form, timeout=10).json()
    assert out["status"] == "success", out
    return out["customers"]


@pytest.fixture
def helpers():
    class H:
        config = staticmethod(emulator_config)
        catalog = staticmethod(catalog)
        record = staticmethod(record_line)
        state = staticmethod(state_line)
        messages = staticmethod(messages)
        search = staticmethod(search)

    return H


class InProcessResult:
    def __init__(self, messages, logs, error):
        self.messages = messages
        self.logs = logs
        self.error = error

    @property
    def states(self):
        from airbyte_cdk.models import AirbyteStateMessageSerializer, Type

        return [AirbyteStateMessageSerializer.dump(m.state) for m in self.messages if m.type == Type.STATE]


def write_in_process(config: dict[str, Any], catalog_dict: dict[str, Any], lines: Iterable[str]) -> InProcessResult:
    """`write` run in this process (fast: no interpreter start, no CDK import per run) through the
    destinations' shared `harness.destination_writes.write_in_process`, with the log lines
    collected. The console script is exercised by the subprocess tests; these cover behaviour
    in depth."""
    import logging

    import orjson
    from airbyte_cdk.models import AirbyteMessageSerializer

    from destination_loyalty_batch import DestinationLoyaltyBatch
    from harness.destination_writes import write_in_process as write_with

    logs: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logs.append(record.getMessage())

    handler = Collect(level=logging.DEBUG)
    log = logging.getLogger("airbyte")
    log.addHandler(handler)
    out: list[Any] = []
    error = None
    try:
        input_messages = (AirbyteMessageSerializer.load(orjson.loads(line)) for line in lines)
        error = write_with(DestinationLoyaltyBatch(), config, input_messages, catalog=catalog_dict, on_output=out.append).error
    except Exception as exc:  # noqa: BLE001 - the test inspects it (an AirbyteTracedException is the result's error)
        error = exc
    finally:
        log.removeHandler(handler)
    return InProcessResult(out, logs, error)


@pytest.fixture
def write_fast():
    def run(api: LoyaltyEmulator, records: list[dict[str, Any]], *, mode: str = "append_dedup", states: bool = True, **config: Any):
        if records and isinstance(records[0], str):  # raw message lines, states placed by the test
            lines = list(records)
        else:
            lines = [record_line(r) for r in records] + ([state_line(1)] if states else [])
        return write_in_process(emulator_config(api, **config), catalog(mode), lines)

    return run
