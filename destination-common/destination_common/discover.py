"""Destination-side `discover` (message DESTINATION_CATALOG) for the CDK's Destination, and
the configured-catalog check (destination_object_name, destination sync mode)."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, Optional

import orjson
from airbyte_cdk.destinations import Destination
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.models import AirbyteConnectionStatus, AirbyteMessage, ConfiguredAirbyteCatalog, FailureType, Status
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from airbyte_protocol_dataclasses.models import airbyte_protocol as protocol
from serpyco_rs import Serializer

_MESSAGE_SERIALIZER = Serializer(protocol.AirbyteMessage, omit_none=True)


@dataclass(frozen=True)
class Operation:
    """One thing the destination can do: write `object_name` in `sync_mode`
    (`append`, `overwrite`, `append_dedup`, `update`, `soft_delete`), matched on
    `matching_keys` (e.g. [["email"]]), fields described by `json_schema`."""

    object_name: str
    sync_mode: str
    json_schema: Mapping[str, Any]
    matching_keys: Optional[List[List[str]]] = None

    def to_protocol(self) -> protocol.DestinationOperation:
        return protocol.DestinationOperation(
            object_name=self.object_name,
            sync_mode=protocol.DestinationSyncMode(self.sync_mode),
            json_schema=dict(self.json_schema),
            matching_keys=self.matching_keys,
        )


def destination_catalog_message(operations: Iterable[Operation]) -> dict[str, Any]:
    """The DESTINATION_CATALOG AirbyteMessage as a JSON-ready dict (protocol dataclasses)."""
    message = protocol.AirbyteMessage(
        type=protocol.Type.DESTINATION_CATALOG,
        destination_catalog=protocol.DestinationCatalog(operations=[op.to_protocol() for op in operations]),
    )
    return _MESSAGE_SERIALIZER.dump(message)


@dataclass(frozen=True)
class ResolvedStream:
    stream: str  # the configured stream's name (records carry it)
    object_name: str
    sync_mode: str
    operation: Operation


def resolve_streams(catalog: ConfiguredAirbyteCatalog, operations: Iterable[Operation]) -> dict[str, ResolvedStream]:
    """Match each configured stream to an operation.

    The object is the stream's `destination_object_name`; without it, the stream's name if an
    object has that name, else the only object when there is exactly one. The stream's
    `destination_sync_mode` must be one the object supports. Anything else raises a
    config_error AirbyteTracedException that lists what is supported.
    """
    ops = list(operations)
    objects = sorted({op.object_name for op in ops})
    out: dict[str, ResolvedStream] = {}
    for configured in catalog.streams:
        name = configured.stream.name
        target = getattr(configured, "destination_object_name", None)
        if not target:
            target = name if name in objects else (objects[0] if len(objects) == 1 else None)
        if target not in objects:
            msg = (
                f"Stream '{name}' is mapped to object '{target}', which this destination does not have. "
                f"Set destination_object_name to one of: {', '.join(objects)}."
            )
            raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
        mode = configured.destination_sync_mode
        mode_value = getattr(mode, "value", mode)
        match = [op for op in ops if op.object_name == target and op.sync_mode == mode_value]
        if not match:
            supported = sorted(op.sync_mode for op in ops if op.object_name == target)
            msg = (
                f"Stream '{name}' asks for destination sync mode '{mode_value}' on object '{target}', "
                f"which supports only: {', '.join(supported)}. Change the sync mode of this stream."
            )
            raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
        out[name] = ResolvedStream(stream=name, object_name=target, sync_mode=mode_value, operation=match[0])
    return out


def connection_failed(exc: BaseException) -> AirbyteConnectionStatus:
    """The FAILED status `check` returns for what it caught: an AirbyteTracedException's
    message, or `<ExceptionType>: <text>` for anything else (check reports, never crashes);
    registered secrets are masked either way."""
    from destination_common.http import redact

    if isinstance(exc, AirbyteTracedException):
        message = exc.message or str(exc)
    else:
        message = f"{type(exc).__name__}: {exc}"
    return AirbyteConnectionStatus(status=Status.FAILED, message=redact(message))


class DiscoverableDestination(Destination):
    """A CDK Destination with the `discover --config` command.

    Implement `operations(config) -> list[Operation]`; `discover` prints one AirbyteMessage of
    type DESTINATION_CATALOG. In `write`, call `self.resolve(config, configured_catalog)` to
    apply destination_object_name and the configured sync mode (config error when
    unsupported).
    """

    VALID_CMDS = {"spec", "check", "write", "discover"}

    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        raise NotImplementedError

    def resolve(self, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog) -> dict[str, ResolvedStream]:
        return resolve_streams(catalog, self.operations(config))

    def parse_args(self, args: List[str]) -> argparse.Namespace:
        if args and args[0] == "discover":
            parser = argparse.ArgumentParser(prog="discover")
            parser.add_argument("--config", type=str, required=True, help="path to the JSON configuration file")
            parsed = parser.parse_args(args[1:])
            parsed.command = "discover"
            return parsed
        return super().parse_args(args)

    def discover_message(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return destination_catalog_message(self.operations(config))

    def run_discover(self, parsed_args: argparse.Namespace) -> dict[str, Any]:
        spec = self.spec(logging.getLogger("airbyte"))
        config = self.read_config(config_path=parsed_args.config)
        update_secrets(get_secrets(spec.connectionSpecification, config))
        check_config_against_spec_or_exit(config, spec)
        return self.discover_message(config)

    def run(self, args: List[str]) -> None:
        parsed = self.parse_args(args)
        if parsed.command != "discover":
            return super().run(args)
        init_uncaught_exception_handler(logging.getLogger("airbyte"))
        sys.stdout.write(orjson.dumps(self.run_discover(parsed)).decode() + "\n")
        sys.stdout.flush()
