"""DestinationUpgatesCustomers: write back into UPgates customers with PUT /api/v2/customers."""

from __future__ import annotations

import logging
from typing import Any, Iterable, List, Mapping, Optional

import requests
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import DiscoverableDestination, Operation, WriteLoop, connection_failed

from destination_upgates_customers.client import UpgatesClient, config_error, messages_text
from destination_upgates_customers.handler import DOCUMENTED_MAX, CustomersPutHandler
from destination_upgates_customers.mapping import build_mapper
from destination_upgates_customers.schema import customer_schema

NAME = "destination-upgates-customers"
OBJECT = "customers"
# `update`: what PUT /customers does (existing customers only); `append_dedup` is accepted for
# platforms that only offer it, with the same behaviour (an unknown e-mail is rejected).
SYNC_MODES = ("update", "append_dedup")


def meta_keys_of(config: Mapping[str, Any]) -> Optional[list[str]]:
    keys = [str(k).strip() for k in config.get("known_meta_keys") or [] if str(k).strip()]
    return keys or None


def write_right(status_body: Any) -> Optional[bool]:
    """From GET /status: whether this API user may write customers (None: cannot tell)."""
    endpoints = status_body.get("endpoints") if isinstance(status_body, Mapping) else None
    if not isinstance(endpoints, list):
        return None
    for entry in endpoints:
        if isinstance(entry, Mapping) and entry.get("endpoint") == "customers":
            right = entry.get("write_yn")
            return bool(right) if isinstance(right, bool) else None
    return False


class DestinationUpgatesCustomers(DiscoverableDestination):
    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        schema = customer_schema(meta_keys_of(config))
        return [Operation(OBJECT, mode, schema, [["email"]]) for mode in SYNC_MODES]

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            build_mapper(config)
            client = UpgatesClient({**config, "http_max_retries": min(int(config.get("http_max_retries", 5)), 1)})
            try:
                response = client.request("GET", "status", what="GET status")
            except AirbyteTracedException as exc:
                if exc.failure_type == FailureType.transient_error and "quota" not in (exc.message or ""):
                    raise config_error(
                        f"Cannot reach an UPgates API at {client.base} ({exc.message}). "
                        "Check the API URL (shop admin: Add-ons > API) and that the shop is online."
                    ) from None
                raise
            body = _json(response)
            text = messages_text(body)
            if response.status_code == 401:
                raise config_error(
                    f"UPgates refused the API login '{client.login}' (HTTP 401{': ' + text if text else ''}). "
                    "Check the API login and the API key (shop admin: Add-ons > API)."
                )
            if response.status_code == 403:
                raise config_error(
                    f"UPgates answered HTTP 403 to GET status ({text or 'forbidden'}): the API user is inactive or locked "
                    "out after failed logins (wait an hour). Check the user in the shop admin (Add-ons > API)."
                )
            if response.status_code >= 400 or not isinstance(body, Mapping):
                raise config_error(
                    f"{client.base}/status answered HTTP {response.status_code}"
                    f"{' without JSON' if not isinstance(body, Mapping) else ''}: this does not look like the UPgates "
                    "API v2. Check the API URL (it ends in /api/v2)."
                )
            if write_right(body) is False:
                raise config_error(
                    f"The UPgates API user '{client.login}' has no right to write customers. "
                    "Give it the customers write right in the shop admin (Add-ons > API)."
                )
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        except Exception as exc:  # noqa: BLE001 - check reports, never crashes
            return connection_failed(exc)

    # ---- write --------------------------------------------------------------------------
    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        streams = self.resolve(config, configured_catalog)
        mapper = build_mapper(config)
        client = UpgatesClient(config)
        handler = CustomersPutHandler(
            client,
            mapper,
            email_field=str(config.get("email_field") or "login.email"),
            meta_keys=meta_keys_of(config),
        )
        loop = WriteLoop.from_config(
            {name: handler for name in streams},
            config,
            default_batch_size=DOCUMENTED_MAX,
            request_stats=client.stats,
            name=NAME,
        )
        yield from loop.run(input_messages)


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
