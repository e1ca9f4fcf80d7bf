"""Destination-side `discover` (message DESTINATION_CATALOG) for the CDK's Destination, and
the configured-catalog check (destination_object_name, destination sync mode)."""

from __future__ import annotations

import argparse
import functools
import io
import json
import logging
import re
import sys
from dataclasses import dataclass
from typing import Any, Iterable, List, Mapping, MutableMapping, Optional

import orjson
from airbyte_cdk.destinations import Destination
from airbyte_cdk.exception_handler import init_uncaught_exception_handler
from airbyte_cdk.models import (
    AirbyteConnectionStatus,
    AirbyteMessage,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    Status,
    Type,
)
from airbyte_cdk.sources.utils.schema_helpers import check_config_against_spec_or_exit
from airbyte_cdk.utils.airbyte_secrets_utils import get_secrets, update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common.errors import config_error

logger = logging.getLogger("airbyte")


@functools.lru_cache(maxsize=1)
def _message_serializer() -> Any:
    """Built on first use: building it costs ~0.2 s, which `spec`/`check`/`write` never need."""
    from airbyte_protocol_dataclasses.models import airbyte_protocol as protocol
    from serpyco_rs import Serializer

    return Serializer(protocol.AirbyteMessage, omit_none=True)


def _protocol() -> Any:
    from airbyte_protocol_dataclasses.models import airbyte_protocol as protocol

    return protocol


@dataclass(frozen=True)
class Operation:
    """One thing the destination can do: write `object_name` in `sync_mode`
    (`append`, `overwrite`, `append_dedup`, `update`, `soft_delete`), matched on
    `matching_keys` (e.g. [["email"]]), fields described by `json_schema`."""

    object_name: str
    sync_mode: str
    json_schema: Mapping[str, Any]
    matching_keys: Optional[List[List[str]]] = None

    def to_protocol(self) -> Any:
        protocol = _protocol()
        return protocol.DestinationOperation(
            object_name=self.object_name,
            sync_mode=protocol.DestinationSyncMode(self.sync_mode),
            json_schema=dict(self.json_schema),
            matching_keys=self.matching_keys,
        )


def destination_catalog_message(operations: Iterable[Operation]) -> dict[str, Any]:
    """The DESTINATION_CATALOG AirbyteMessage as a JSON-ready dict (protocol dataclasses)."""
    protocol = _protocol()
    message = protocol.AirbyteMessage(
        type=protocol.Type.DESTINATION_CATALOG,
        destination_catalog=protocol.DestinationCatalog(operations=[op.to_protocol() for op in operations]),
    )
    return _message_serializer().dump(message)


@dataclass(frozen=True)
class ResolvedStream:
    stream: str  # the configured stream's name (records carry it)
    object_name: str
    sync_mode: str
    operation: Operation


def resolve_streams(
    catalog: ConfiguredAirbyteCatalog, operations: Iterable[Operation], default_object: Optional[str] = None
) -> dict[str, ResolvedStream]:
    """Match each configured stream to an operation.

    The object is the stream's `destination_object_name`; without it, the stream's name if an
    object has that name, else the only object when there is exactly one, else
    `default_object` (logged: PyAirbyte cannot set destination_object_name). The stream's
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
            if target is None and default_object in objects:
                target = default_object
                logger.info(
                    f"Stream '{name}' -> object '{target}' (the default; set destination_object_name to choose "
                    f"one of: {', '.join(objects)})"
                )
        if target not in objects:
            raise config_error(
                f"Stream '{name}' is mapped to object '{target}', which this destination does not have. "
                f"Set destination_object_name to one of: {', '.join(objects)}."
            )
        mode = configured.destination_sync_mode
        mode_value = getattr(mode, "value", mode)
        match = [op for op in ops if op.object_name == target and op.sync_mode == mode_value]
        if not match:
            supported = sorted(op.sync_mode for op in ops if op.object_name == target)
            raise config_error(
                f"Stream '{name}' asks for destination sync mode '{mode_value}' on object '{target}', "
                f"which supports only: {', '.join(supported)}. Change the sync mode of this stream."
            )
        out[name] = ResolvedStream(stream=name, object_name=target, sync_mode=mode_value, operation=match[0])
    if not out:
        names = ", ".join(f"'{c.stream.name}'" for c in catalog.streams) or "none"
        raise config_error(
            f"The configured catalog has no stream this destination can write (streams in the catalog: {names}). "
            f"This destination writes the objects: {', '.join(objects) or 'none'}. "
            "Select at least one stream and map it to one of these objects (destination_object_name)."
        )
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


def _file_error(path: str, what: str, problem: str, hint: str) -> AirbyteTracedException:
    return config_error(f"The {what} file {path} {problem}. {hint}")


def _read_json(path: str, what: str, hint: str) -> Any:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise _file_error(path, what, f"cannot be read ({exc.strerror or type(exc).__name__})", hint) from None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        where = f" (line {exc.lineno}, column {exc.colno}: {exc.msg})" if isinstance(exc, json.JSONDecodeError) else ""
        raise _file_error(path, what, f"is not valid JSON{where}", hint) from None


def read_config_file(config_path: str) -> MutableMapping[str, Any]:
    """The config file as a dict; config_error naming the file when it cannot be read, is not
    JSON or not a JSON object."""
    hint = "Pass the connector's configuration as a JSON object (see `spec`)."
    config = _read_json(config_path, "config", hint)
    if not isinstance(config, MutableMapping):
        kind = "an array" if isinstance(config, list) else f"a JSON {type(config).__name__}"
        raise _file_error(config_path, "config", f"holds {kind}, not a JSON object", hint)
    return _without_userinfo(config)


_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)@")


def _without_userinfo(value: Any) -> Any:
    """Config values with the user-info of a URL (`https://name:password@host`) replaced by
    `***`: the CDK's spec validation quotes a value that fails a pattern, and it runs before
    any secret of ours is registered (its run_cmd replaces the secret list). The URL is still
    refused afterwards (check_url: "contains user-info"), so nothing connects with it."""
    if isinstance(value, str):
        return _USERINFO.sub(lambda m: f"{m.group('scheme')}***@", value)
    if isinstance(value, MutableMapping):
        for key in list(value):
            value[key] = _without_userinfo(value[key])
        return value
    if isinstance(value, list):
        return [_without_userinfo(v) for v in value]
    return value


def read_catalog_file(catalog_path: str) -> ConfiguredAirbyteCatalog:
    """The configured catalog; config_error naming the file and the field that is wrong."""
    hint = 'Pass a configured catalog: {"streams": [{"stream": {...}, "sync_mode": ..., "destination_sync_mode": ...}]}.'
    data = _read_json(catalog_path, "configured catalog", hint)
    if not isinstance(data, Mapping):
        kind = "an array" if isinstance(data, list) else f"a JSON {type(data).__name__}"
        raise _file_error(catalog_path, "configured catalog", f"holds {kind}, not a JSON object", hint)
    if not isinstance(data.get("streams"), list):
        raise _file_error(catalog_path, "configured catalog", "has no 'streams' array", hint)
    try:
        return ConfiguredAirbyteCatalogSerializer.load(data)
    except Exception as exc:  # noqa: BLE001 - serpyco's validation errors
        from destination_common.input import _describe

        raise _file_error(catalog_path, "configured catalog", f"is not valid: {_describe(exc)}", hint) from None


def _with_shared_check(check: Any) -> Any:
    @functools.wraps(check)
    def wrapped(self: "DiscoverableDestination", logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            self.check_shared(config)
        except Exception as exc:  # noqa: BLE001 - check reports, never crashes
            return connection_failed(exc)
        return check(self, logger, config)

    wrapped._dc_shared_check = True  # type: ignore[attr-defined]
    return wrapped


class DiscoverableDestination(Destination):
    """A CDK Destination with the `discover --config` command.

    Implement `operations(config) -> list[Operation]`; `discover` prints one AirbyteMessage of
    type DESTINATION_CATALOG. In `write`, call `self.resolve(config, configured_catalog)` to
    apply destination_object_name and the configured sync mode (config error when
    unsupported).
    """

    VALID_CMDS = {"spec", "check", "write", "discover"}
    # the object a stream without destination_object_name goes to when its name matches none
    default_object: Optional[str] = None

    def operations(self, config: Mapping[str, Any]) -> List[Operation]:
        raise NotImplementedError

    def resolve(self, config: Mapping[str, Any], catalog: ConfiguredAirbyteCatalog) -> dict[str, ResolvedStream]:
        return resolve_streams(catalog, self.operations(config), self.default_object)

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

    # ---- shared behaviour of every destination's commands --------------------------------
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("check")
        if own is not None and not getattr(own, "_dc_shared_check", False):
            cls.check = _with_shared_check(own)  # type: ignore[method-assign]

    def check_shared(self, config: Mapping[str, Any]) -> None:
        """What every destination's `check` verifies before its own checks (raises a
        config_error): the rejected-records file can be appended to."""
        from destination_common.rejects import RejectLog

        verify = getattr(RejectLog, "verify_path", None)
        if verify is not None:
            verify(config.get("rejected_records_path") or None, "rejected_records_path")

    @staticmethod
    def read_config(config_path: str) -> MutableMapping[str, Any]:
        return read_config_file(config_path)

    def read_catalog(self, catalog_path: str) -> ConfiguredAirbyteCatalog:
        return read_catalog_file(catalog_path)

    def _run_write(
        self, config: Mapping[str, Any], configured_catalog_path: str, input_stream: Any
    ) -> Iterable[AirbyteMessage]:
        """As the CDK's, but the catalog errors are config errors naming the file, the
        rejected-records path is verified before any input is read, and stdin is parsed by
        destination_common.input (nothing dropped silently; see `read_messages`)."""
        from destination_common.input import read_messages

        catalog = self.read_catalog(configured_catalog_path)
        self.check_shared(config)
        logger.info("Begin writing to the destination...")
        yield from self.write(config=config, configured_catalog=catalog, input_messages=read_messages(input_stream))
        logger.info("Writing complete.")

    def run(self, args: List[str]) -> None:
        parsed = self.parse_args(args)
        init_uncaught_exception_handler(logger)
        if parsed.command == "discover":
            sys.stdout.write(orjson.dumps(self.run_discover(parsed)).decode() + "\n")
            sys.stdout.flush()
            return
        from destination_common.input import message_json

        for message in self.run_cmd(parsed):
            sys.stdout.write(message_json(message) + "\n")
            if message.type == Type.STATE:
                sys.stdout.flush()
        sys.stdout.flush()
