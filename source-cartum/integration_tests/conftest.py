"""In-process syncs of SourceCartum against the Cartum emulator (fixtures `cartum`,
`cartum_factory` come from harness.fixtures.cartum via the root conftest)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
from typing import Any, Iterable

import pytest

from airbyte_cdk.models import AirbyteStateMessage, AirbyteStateMessageSerializer, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, ExpectedOutcome, read
from source_cartum import SourceCartum

INCREMENTAL = {"users": "registered_at", "orders": "stat_created_at"}


def catalog(streams: Iterable[str], mode: str = "full_refresh") -> Any:
    builder = CatalogBuilder()
    for name in streams:
        sync_mode = SyncMode.incremental if mode == "incremental" and name in INCREMENTAL else SyncMode.full_refresh
        stream = ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(sync_mode)
        stream = stream.with_primary_key([["order_id"]] if name == "orders" else [["id"]])
        builder = builder.with_stream(stream)
    return builder.build()


def run_sync(
    config: dict[str, Any],
    streams: Iterable[str],
    mode: str = "full_refresh",
    state: list[dict[str, Any]] | None = None,
    fail: bool = False,
) -> EntrypointOutput:
    """One `read` through the CDK entrypoint, in this process (no interpreter start-up)."""
    config = copy.deepcopy(config)  # a fresh config object per sync (each source holds its own login)
    configured = catalog(streams, mode)
    state_messages = [AirbyteStateMessageSerializer.load(s) for s in state] if state else None
    source = SourceCartum(catalog=configured, config=config, state=state_messages)
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if fail else ExpectedOutcome.EXPECT_SUCCESS
    return read(source, config, configured, state_messages, expected_outcome=outcome)


def records(output: EntrypointOutput, stream: str) -> list[dict[str, Any]]:
    return [m.record.data for m in output.records if m.record.stream == stream]


def last_states(output: EntrypointOutput) -> list[dict[str, Any]]:
    """The latest state per stream, as dicts for the next sync."""
    latest: dict[str, dict[str, Any]] = {}
    for message in output.state_messages:
        state = AirbyteStateMessageSerializer.dump(message.state)
        latest[state["stream"]["stream_descriptor"]["name"]] = state
    return list(latest.values())


@pytest.fixture
def sync() -> SimpleNamespace:
    """`sync.run(config, streams, mode, state, fail)`, `sync.records(out, stream)`, `sync.last_states(out)`,
    `sync.catalog(streams, mode)`."""
    return SimpleNamespace(run=run_sync, records=records, last_states=last_states, catalog=catalog)
