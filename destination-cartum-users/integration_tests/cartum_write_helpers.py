"""Cartum's bits of the write tests: the default catalog, a user record, in-process writes with
the emulator's config, reading the shop back. The shared part (messages, WriteResult,
write_in_process) is harness.destination_writes."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import requests
from airbyte_cdk.models import AirbyteMessage

from emulators.cartum import CartumEmulator
from harness.destination_writes import WriteResult, record, state, stdin_of, write_in_process
from harness.destination_writes import catalog_dict as _catalog_dict
from harness.fixtures.cartum_import import cartum_write_config
from destination_cartum_users import DestinationCartumUsers

__all__ = ["WriteResult", "catalog_dict", "export_users", "record", "state", "stdin_of", "user", "write"]


def catalog_dict(stream: str = "users", mode: str = "append_dedup", object_name: Optional[str] = "users") -> dict:
    return _catalog_dict(stream, mode, object_name)


def user(i: int, **extra: Any) -> dict:
    return {"title": f"Тест Користувач {i}", "email": f"user{i}@example.com", "phone": f"+38050{i:07d}", **extra}


def write(
    api: CartumEmulator,
    messages: Iterable[dict],
    *,
    catalog: Optional[dict] = None,
    on_output: Optional[Callable[[AirbyteMessage], None]] = None,
    **config: Any,
) -> WriteResult:
    """Run DestinationCartumUsers.write in-process against `api` (the CDK's parsing of each input line)."""
    cfg = cartum_write_config(api, **config)
    return write_in_process(DestinationCartumUsers(), cfg, messages, catalog=catalog or catalog_dict(), on_output=on_output)


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
