"""DestinationUpgatesCustomers: write back into UPgates customers with PUT /api/v2/customers."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, List, Optional

from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteMessage, ConfiguredAirbyteCatalog, Status

from destination_common import DiscoverableDestination, Operation, WriteLoop, connection_failed

from destination_upgates_customers.client import UpgatesClient
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


class DestinationUpgatesCustomers(DiscoverableDestination):
    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        schema = customer_schema(meta_keys_of(config))
        return [Operation(OBJECT, mode, schema, [["email"]]) for mode in SYNC_MODES]

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            build_mapper(config)
            client = UpgatesClient({**config, "http_max_retries": min(int(config.get("http_max_retries", 5)), 1)})
            client.check_access()
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

