"""DestinationCartumUsers: customers into a Cartum shop through users/import."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, List

from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteMessage, ConfiguredAirbyteCatalog, Status

from destination_common import DiscoverableDestination, Operation, WriteLoop, connection_failed

from destination_cartum_users.client import CartumClient
from destination_cartum_users.handler import ProductPricesHandler, UsersImportHandler
from destination_cartum_users.mapping import build_mapper
from destination_cartum_users.phones import phone_policy
from destination_cartum_users.prices import PRICES_SCHEMA
from destination_cartum_users.schema import user_schema

NAME = "destination-cartum-users"
OBJECT = "users"
PRICES = "product_prices"
DEFAULT_RETAIL_LEVEL = 2  # seed 001: the built-in "Price" level, imported only through `price`


class DestinationCartumUsers(DiscoverableDestination):
    # A stream without destination_object_name (PyAirbyte cannot set one) and not named like
    # an object goes to `users`.
    default_object = OBJECT

    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        return [
            Operation(OBJECT, "append_dedup", user_schema(bool(config.get("b2b", True))), [["email"]]),
            Operation(PRICES, "append_dedup", PRICES_SCHEMA, [["article"]]),
        ]

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            build_mapper(config)
            phone_policy(config)
            client = CartumClient({**config, "http_max_retries": min(int(config.get("http_max_retries", 5)), 1)})
            client.check_access(b2b=bool(config.get("b2b", True)))
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
        phones = phone_policy(config)
        client = CartumClient(config)
        client.authenticate()  # bad credentials fail before any input is read
        objects = {s.object_name for s in streams.values()}
        handlers: dict[str, Any] = {}
        if OBJECT in objects:
            users = self.users_handler(config, client, mapper, phones)
            handlers.update({name: users for name, s in streams.items() if s.object_name == OBJECT})
        if PRICES in objects:
            levels = client.price_level_ids() if config.get("b2b", True) else None
            retail = int(config.get("retail_price_level_id") or DEFAULT_RETAIL_LEVEL)
            prices = ProductPricesHandler(client, level_ids=levels, retail_level=retail)
            handlers.update({name: prices for name, s in streams.items() if s.object_name == PRICES})
        loop = WriteLoop.from_config(handlers, config, default_batch_size=100, request_stats=client.http.stats, name=NAME)
        yield from loop.run(input_messages)

    @staticmethod
    def users_handler(config: Mapping[str, Any], client: CartumClient, mapper: Any, phones: Any) -> UsersImportHandler:
        """With B2B, the shop's customer groups are read once to validate customer_group_id."""
        return UsersImportHandler(
            client,
            mapper,
            require_title=not config.get("allow_missing_title", False),
            group_ids=client.customer_group_ids() if config.get("b2b", True) else None,
            phones=phones,
        )
