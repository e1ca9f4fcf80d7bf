"""Helpers of the write tests: messages, catalogs, in-process writes, reading back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Optional

import requests
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalogSerializer, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from emulators.cartum import CartumEmulator
from harness.fixtures.cartum_import import cartum_write_config
from destination_cartum_users import DestinationCartumUsers


def catalog_dict(stream: str = "users", mode: str = "append_dedup", object_name: Optional[str] = "users") -> dict:
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


def user(i: int, **extra: Any) -> dict:
    return {"title": f"Тест Користувач {i}", "email": f"user{i}@example.com", "phone": f"+38050{i:07d}", **extra}


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
    api: CartumEmulator,
    messages: Iterable[dict],
    *,
    catalog: Optional[dict] = None,
    on_output: Optional[Callable[[AirbyteMessage], None]] = None,
    **config: Any,
) -> WriteResult:
    """Run DestinationCartumUsers.write in-process (the CDK's parsing of each input line)."""
    cfg = cartum_write_config(api, **config)
    parsed = ConfiguredAirbyteCatalogSerializer.load(catalog or catalog_dict())

    def inputs() -> Iterator[AirbyteMessage]:
        for m in messages:
            yield AirbyteMessageSerializer.load(m) if isinstance(m, dict) else m

    result = WriteResult()
    try:
        for message in DestinationCartumUsers().write(cfg, parsed, inputs()):
            result.out.append(message)
            if on_output:
                on_output(message)
    except AirbyteTracedException as exc:
        result.error = exc
    return result


def export_users(api: CartumEmulator) -> dict[str, dict]:
    """Every user of the shop read back through users/export (the source's view), by e-mail."""
    base = api.url
    token = requests.post(f"{base}/api/auth/", json={"login": api.login, "password": api.password}, timeout=10).json()["response"]["token"]
    out: dict[str, dict] = {}
    offset = 0
    while True:
        answer = requests.post(f"{base}/api/users/export/", json={"token": token, "limit": 500, "offset": offset}, timeout=10).json()
        if answer["status"] == "EMPTY":
            return out
        users = answer["response"]["users"]
        for u in users:
            out[u["email"]] = u
        offset += len(users)
