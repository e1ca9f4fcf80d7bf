"""Helpers of the write tests: messages, catalogs, in-process writes, reading the shop back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from harness.fixtures.upgates_write import upgates_write_config
from emulators.upgates import UpgatesEmulator
from destination_upgates_customers import DestinationUpgatesCustomers

PUT = "PUT customers"
GET = "GET customers"


def catalog_dict(stream: str = "users", mode: str = "update", object_name: Optional[str] = "customers") -> dict:
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
    return {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"n": n}}}}


def emails(api: UpgatesEmulator) -> list[str]:
    """The shop's customer e-mails in customer_id order, without the later case twins (the
    realistic world has e-mails differing only in case: PUT matches e-mails case-insensitively,
    so a twin would be the same customer to the connector)."""
    seen: set[str] = set()
    out = []
    for _, c in sorted(api.customers.items()):
        email = c["login"]["email"]
        if email and email.lower() not in seen:
            seen.add(email.lower())
            out.append(email)
    return out


def cartum_user(i: int, email: str) -> dict:
    """A record as source-cartum's users stream gives it."""
    return {"id": 1000 + i, "title": f"Uživatel {i}", "email": email, "phone": "+420777000111", "registered": "2026-01-01 10:00:00"}


def metas_of(api: UpgatesEmulator, email: str) -> dict[str, str]:
    customer = next(c for _, c in sorted(api.customers.items()) if c["login"]["email"].lower() == email.lower())
    return {m["key"]: m.get("value") for m in customer.get("metas") or []}


def stdin_of(messages: Iterable[dict]) -> str:
    return "\n".join(json.dumps(m, ensure_ascii=False) for m in messages) + "\n"


@dataclass
class WriteResult:
    out: list[AirbyteMessage] = field(default_factory=list)
    error: Optional[AirbyteTracedException] = None

    @property
    def states(self) -> list[int]:
        return [m.state.stream.stream_state.n for m in self.out if m.type == Type.STATE]


def write(
    api: UpgatesEmulator,
    messages: Iterable[dict],
    *,
    catalog: Optional[dict] = None,
    on_output: Optional[Callable[[AirbyteMessage], None]] = None,
    **config: Any,
) -> WriteResult:
    """Run DestinationUpgatesCustomers.write in-process (the CDK's parsing of each input line)."""
    cfg = upgates_write_config(api, **config)
    parsed = ConfiguredAirbyteCatalogSerializer.load(catalog or catalog_dict())

    def inputs() -> Iterator[AirbyteMessage]:
        for m in messages:
            yield AirbyteMessageSerializer.load(m) if isinstance(m, dict) else m

    result = WriteResult()
    try:
        for message in DestinationUpgatesCustomers().write(cfg, parsed, inputs()):
            result.out.append(message)
            if on_output:
                on_output(message)
    except AirbyteTracedException as exc:
        result.error = exc
    return result
