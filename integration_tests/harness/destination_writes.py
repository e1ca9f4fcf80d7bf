"""What the destinations' write tests share (owner: H-dcart): Airbyte messages as dicts, a
configured catalog, and `write_in_process`, which runs a destination's `write` in this
process with the CDK's parsing of each input message (fast: no interpreter start per run;
the console script is covered by each connector's test_commands.py).

Each connector keeps only its API-specific bits next to its tests (the config builder, the
records its API takes, reading the shop back): destination-cartum-users/integration_tests/
cartum_write_helpers.py, destination-upgates-customers/integration_tests/upgates_write_helpers.py.

Test equipment: connectors never import it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException


def catalog_dict(stream: str, mode: str, object_name: Optional[str]) -> dict:
    """A configured catalog of one full-refresh stream written in `mode` to `object_name`
    (None: no destination_object_name, as PyAirbyte sends it)."""
    entry: dict[str, Any] = {
        "stream": {"name": stream, "json_schema": {"type": "object"}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh",
        "destination_sync_mode": mode,
    }
    if object_name:
        entry["destination_object_name"] = object_name
    return {"streams": [entry]}


def record(data: dict, stream: str = "users") -> dict:
    return {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}}


def state(n: int, stream: str = "users") -> dict:
    """A STREAM state whose stream_state is {"n": n} (WriteResult.states lists the n echoed)."""
    return {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"n": n}}}}


def stdin_of(messages: Iterable[dict]) -> str:
    """The messages as the console script reads them: one JSON line each."""
    return "\n".join(json.dumps(m, ensure_ascii=False) for m in messages) + "\n"


@dataclass
class WriteResult:
    out: list[AirbyteMessage] = field(default_factory=list)
    error: Optional[AirbyteTracedException] = None

    @property
    def states(self) -> list[int]:
        return [m.state.stream.stream_state.n for m in self.out if m.type == Type.STATE]


def write_in_process(
    destination: Any,
    config: Mapping[str, Any],
    messages: Iterable[Any],
    *,
    catalog: dict,
    on_output: Optional[Callable[[AirbyteMessage], None]] = None,
) -> WriteResult:
    """Run `destination.write(config, catalog, messages)`; dict messages are parsed as the CDK
    parses an input line. The messages it emits and the AirbyteTracedException that stopped
    it (if any) are in the result; `on_output` sees each message as it is emitted."""
    parsed = ConfiguredAirbyteCatalogSerializer.load(catalog)

    def inputs() -> Iterator[AirbyteMessage]:
        for m in messages:
            yield AirbyteMessageSerializer.load(m) if isinstance(m, dict) else m

    result = WriteResult()
    try:
        for message in destination.write(config, parsed, inputs()):
            result.out.append(message)
            if on_output:
                on_output(message)
    except AirbyteTracedException as exc:
        result.error = exc
    return result
