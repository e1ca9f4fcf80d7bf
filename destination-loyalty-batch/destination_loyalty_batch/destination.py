"""DestinationLoyaltyBatch: check, discover (the destination objects of schema.py) and write
for the loyalty platform's customers_batch, on the shared destination core (destination_common)."""

from __future__ import annotations

import logging
from typing import Any, Iterable, List, Mapping, Optional

from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    Status,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import DiscoverableDestination, Operation, WriteLoop, connection_failed, redact, resolve_streams

from destination_loyalty_batch.client import LoyaltyClient
from destination_loyalty_batch.dry_run import DRY_RUN_LOOKUPS, LookupBudget
from destination_loyalty_batch.generated_ids import GeneratedIds, generated_ids_path
from destination_loyalty_batch.handler import LoyaltyHandler
from destination_loyalty_batch.mapping import CustomFields, build_mapper
from destination_loyalty_batch.masking import LoyaltyRejectLog
from destination_loyalty_batch.schema import OBJECT, duplicate_mode, operations
from destination_loyalty_batch.stats import LoyaltyStats

logger = logging.getLogger("airbyte")

DEFAULT_BATCH_SIZE = 500


class DestinationLoyaltyBatch(DiscoverableDestination):
    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        client = LoyaltyClient(config)
        return operations(client.custom_fields())

    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            client = LoyaltyClient(config)
            client.http.max_retries = min(client.http.max_retries, 1)  # check answers in seconds, not minutes
            existing = {str(c.get("id")) for c in client.campaigns()}
            wanted = [str(c).strip() for c in config.get("campaigns") or []]
            missing = [c for c in wanted if c not in existing]
            if missing:
                return AirbyteConnectionStatus(
                    status=Status.FAILED,
                    message=(
                        f"Campaign(s) {', '.join(missing)} not found in account '{client.account_id}' "
                        f"(its campaigns: {', '.join(sorted(existing)) or 'none'}). Fix the campaign ids."
                    ),
                )
            fields = self._fields(client)
            build_mapper(config, fields)
            return AirbyteConnectionStatus(status=Status.SUCCEEDED)
        except Exception as exc:  # noqa: BLE001 - check reports, never crashes
            return connection_failed(exc)

    @staticmethod
    def _fields(client: LoyaltyClient) -> Optional[CustomFields]:
        try:
            return CustomFields(client.custom_fields())
        except AirbyteTracedException as exc:
            logger.warning(
                redact(
                    f"Could not list the account's custom fields ({exc.message}); custom fields can be used "
                    "only by their custom_field_N names."
                )
            )
            return None

    def write(
        self,
        config: Mapping[str, Any],
        configured_catalog: ConfiguredAirbyteCatalog,
        input_messages: Iterable[AirbyteMessage],
    ) -> Iterable[AirbyteMessage]:
        client = LoyaltyClient(config)
        resolved = resolve_streams(configured_catalog, operations())
        fields = self._fields(client)
        mapper, strict = build_mapper(config, fields)
        batch_size = int(config.get("batch_size") or DEFAULT_BATCH_SIZE)
        stats = LoyaltyStats(batch_size)
        dry_run = bool(config.get("dry_run", False))
        handling = str(config.get("duplicate_handling") or "from_sync_mode")
        blanks = str(config.get("blank_values_in_update") or "keep_existing")
        generated = GeneratedIds(None if dry_run else generated_ids_path(config.get("rejected_records_path")))
        lookups = LookupBudget(DRY_RUN_LOOKUPS)
        handlers = {}
        for name, stream in resolved.items():
            mode = duplicate_mode(stream.sync_mode, handling)
            logger.info(f"Stream '{name}' → {OBJECT}: destination sync mode {stream.sync_mode}, overwrite_duplicates={mode}")
            if mode == "yes":
                logger.warning(
                    f"Stream '{name}': duplicate handling 'replace' blanks every field of an existing customer that a record does not carry."
                )
            if mode == "update" and blanks == "send_blank":
                logger.warning(
                    f"Stream '{name}': blank_values_in_update=send_blank: a field a record lacks is sent empty and clears the stored value."
                )
            handlers[name] = LoyaltyHandler(
                client=client,
                mapper=mapper,
                strict_fields=strict,
                custom_fields=fields,
                mode=mode,
                campaigns=config["campaigns"],
                delimiter=str(config.get("delimiter") or "pipe"),
                undo=bool(config.get("allow_undo", True)),
                card_number_generate=int(config.get("card_number_generate") or 0),
                auto_add=float(config.get("auto_add") or 0),
                blank_values_in_update=blanks,
                default_phone_region=config.get("default_phone_region") or None,
                invalid_phone=str(config.get("invalid_phone") or "drop_field"),
                generated_ids=generated,
                stats=stats,
                lookups=lookups,
            )
        loop = WriteLoop.from_config(
            handlers, config, default_batch_size=DEFAULT_BATCH_SIZE, request_stats=client.http.stats, name="destination-loyalty-batch"
        )
        # the customers' passwords and PINs are masked in the rejected-records file and its log lines
        first = next(iter(handlers.values()), None)
        if first is not None:
            shared = loop.rejects
            loop.rejects = LoyaltyRejectLog(shared.path, secrets_of=first.secret_values, log_limit=shared.log_limit)
            loop.rejects.mask_fields = {"customer_password", "customer_PIN", "password", "pin"}
        try:
            yield from loop.run(input_messages)
        finally:
            generated.close()
