"""DestinationCartumUsers: customers into a Cartum shop through users/import."""

from __future__ import annotations

import logging
from typing import Any, Iterable, List, Mapping

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import DiscoverableDestination, Operation, WriteLoop, connection_failed

from destination_cartum_users.client import CartumClient, config_error
from destination_cartum_users.handler import UsersImportHandler
from destination_cartum_users.mapping import build_mapper
from destination_cartum_users.schema import user_schema

NAME = "destination-cartum-users"
OBJECT = "users"


def b2b_missing(base: str) -> AirbyteTracedException:
    return config_error(
        f"The shop at {base} has no B2B module (customer-groups/export answered FORBIDDEN). "
        "Switch 'B2B module' off in the configuration, or enable the module in the shop."
    )


class DestinationCartumUsers(DiscoverableDestination):
    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        return [Operation(OBJECT, "append_dedup", user_schema(bool(config.get("b2b", True))), [["email"]])]

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            build_mapper(config)
            client = CartumClient({**config, "http_max_retries": min(int(config.get("http_max_retries", 5)), 1)})
            try:
                client.authenticate()
            except AirbyteTracedException as exc:
                if exc.failure_type == FailureType.transient_error:
                    raise config_error(
                        f"Cannot reach a Cartum API at {client.base} ({exc.message}). "
                        "Check the shop URL and that the shop is online."
                    ) from None
                raise
            if config.get("b2b", True):
                status, response = client.call("customer-groups/export")
                if status == "FORBIDDEN":
                    raise b2b_missing(client.base)
            else:
                status, response = client.call("users/export", {"limit": 1})
            if status not in ("OK", "EMPTY"):
                raise config_error(f"The shop at {client.base} answered {status}: {client.message(response)}")
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
        client = CartumClient(config)
        client.authenticate()  # bad credentials fail before any input is read
        group_ids = None
        if config.get("b2b", True):
            status, response = client.call("customer-groups/export")
            if status == "FORBIDDEN":
                raise b2b_missing(client.base)
            if status == "OK" and isinstance(response, Mapping):
                group_ids = {g.get("id") for g in response.get("customer_groups") or [] if isinstance(g, Mapping)}
            elif status == "EMPTY":
                group_ids = set()
        handler = UsersImportHandler(
            client,
            mapper,
            require_title=not config.get("allow_missing_title", False),
            group_ids=group_ids,
        )
        loop = WriteLoop.from_config(
            {name: handler for name in streams}, config, default_batch_size=100, request_stats=client.http.stats, name=NAME
        )
        yield from loop.run(input_messages)
