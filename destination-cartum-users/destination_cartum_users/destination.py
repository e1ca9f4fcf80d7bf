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
from destination_cartum_users.handler import ProductPricesHandler, UsersImportHandler
from destination_cartum_users.mapping import build_mapper
from destination_cartum_users.phones import PhonePolicy, region_for_country
from destination_cartum_users.prices import PRICES_SCHEMA
from destination_cartum_users.schema import user_schema

NAME = "destination-cartum-users"
OBJECT = "users"
PRICES = "product_prices"
DEFAULT_RETAIL_LEVEL = 2  # seed 001: the built-in "Price" level, imported only through `price`


def phone_policy(config: Mapping[str, Any]) -> PhonePolicy:
    region = (config.get("default_phone_region") or "").strip()
    if region and (len(region) != 2 or region_for_country(region) != region.upper()):
        raise config_error(
            f"default_phone_region '{region[:20]}' is not an ISO 3166 alpha-2 country code known to the phone "
            "library (e.g. CZ, SK, UA)."
        )
    try:
        return PhonePolicy(config)
    except ValueError as exc:
        raise config_error(str(exc)) from None


def price_level_ids(client: CartumClient) -> set[int] | None:
    """Ids of price-levels/export (a FORBIDDEN: the shop has no B2B module: config error)."""
    status, response = client.call("price-levels/export")
    if status == "FORBIDDEN":
        raise b2b_missing(client.base, "price-levels/export")
    if status == "EMPTY":
        return set()
    if status != "OK" or not isinstance(response, Mapping):
        raise config_error(f"price-levels/export answered {status}: {client.message(response)[:200]}")
    return {lv.get("id") for lv in response.get("price_levels") or [] if isinstance(lv, Mapping)}


def b2b_missing(base: str, function: str = "customer-groups/export") -> AirbyteTracedException:
    return config_error(
        f"The shop at {base} has no B2B module ({function} answered FORBIDDEN). "
        "Switch 'B2B module' off in the configuration, or enable the module in the shop."
    )


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
        phones = phone_policy(config)
        client = CartumClient(config)
        client.authenticate()  # bad credentials fail before any input is read
        objects = {s.object_name for s in streams.values()}
        handlers: dict[str, Any] = {}
        if OBJECT in objects:
            users = self.users_handler(config, client, mapper, phones)
            handlers.update({name: users for name, s in streams.items() if s.object_name == OBJECT})
        if PRICES in objects:
            levels = price_level_ids(client) if config.get("b2b", True) else None
            retail = int(config.get("retail_price_level_id") or DEFAULT_RETAIL_LEVEL)
            prices = ProductPricesHandler(client, level_ids=levels, retail_level=retail)
            handlers.update({name: prices for name, s in streams.items() if s.object_name == PRICES})
        loop = WriteLoop.from_config(handlers, config, default_batch_size=100, request_stats=client.http.stats, name=NAME)
        yield from loop.run(input_messages)

    @staticmethod
    def users_handler(config: Mapping[str, Any], client: CartumClient, mapper: Any, phones: PhonePolicy) -> UsersImportHandler:
        """With B2B, the shop's customer groups are read once to validate customer_group_id."""
        group_ids = None
        if config.get("b2b", True):
            status, response = client.call("customer-groups/export")
            if status == "FORBIDDEN":
                raise b2b_missing(client.base)
            if status == "OK" and isinstance(response, Mapping):
                group_ids = {g.get("id") for g in response.get("customer_groups") or [] if isinstance(g, Mapping)}
            elif status == "EMPTY":
                group_ids = set()
        return UsersImportHandler(
            client,
            mapper,
            require_title=not config.get("allow_missing_title", False),
            group_ids=group_ids,
            phones=phones,
        )
