"""UPgates' bits of the write tests: the default catalog, the shop's e-mails and custom fields,
a source-cartum user record, in-process writes with the emulator's config. The shared part
(messages, WriteResult, write_in_process) is harness.destination_writes."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from airbyte_cdk.models import AirbyteMessage

from emulators.upgates import UpgatesEmulator
from harness.destination_writes import WriteResult, record, state, stdin_of, write_in_process
from harness.destination_writes import catalog_dict as _catalog_dict
from harness.fixtures.upgates_write import upgates_write_config
from destination_upgates_customers import DestinationUpgatesCustomers

__all__ = ["GET", "PUT", "WriteResult", "cartum_user", "catalog_dict", "emails", "metas_of", "record", "state", "stdin_of", "write"]

PUT = "PUT customers"
GET = "GET customers"


def catalog_dict(stream: str = "users", mode: str = "update", object_name: Optional[str] = "customers") -> dict:
    return _catalog_dict(stream, mode, object_name)


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


def write(
    api: UpgatesEmulator,
    messages: Iterable[dict],
    *,
    catalog: Optional[dict] = None,
    on_output: Optional[Callable[[AirbyteMessage], None]] = None,
    **config: Any,
) -> WriteResult:
    """Run DestinationUpgatesCustomers.write in-process against `api` (the CDK's parsing of each input line)."""
    cfg = upgates_write_config(api, **config)
    return write_in_process(DestinationUpgatesCustomers(), cfg, messages, catalog=catalog or catalog_dict(), on_output=on_output)
