"""The declarative source of `manifest.yaml`, with two things YAML cannot say:

- the `customers` stream reads one pass of the list as page partitions and checkpoints after
  every page (`components.CustomersPassCursor`), built around the manifest's own retriever;
- `check` asks `GET /status` (one request, never counted against the quota) and reads this API
  user's right to `customers` from it.
"""

from __future__ import annotations

import logging
from typing import Any, List, Mapping, Optional

from airbyte_cdk.models import AirbyteConnectionStatus, ConfiguredAirbyteCatalog, FailureType, Status, SyncMode
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.source import TState
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.utils import AirbyteTracedException
from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

from source_upgates_customers.components import (
    CURSOR_FIELD,
    STREAM,
    CustomersExtractor,
    CustomersPageGenerator,
    CustomersPass,
    CustomersPassCursor,
    pass_start,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


class SourceUpgatesCustomers(YamlDeclarativeSource):
    """The declarative source of `manifest.yaml` (streams are built from the constructor's
    config, catalog and state, as the CDK's declarative sources require)."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: TState = None,
    ) -> None:
        super().__init__(catalog=catalog, config=config, state=state, path_to_yaml="manifest.yaml")
        self._catalog = catalog

    # ---- streams ------------------------------------------------------------------------
    def streams(self, config: Mapping[str, Any]) -> List[AbstractStream]:  # type: ignore[override]
        check_api_url(self._config)
        return [self._customers(s) if s.name == STREAM else s for s in super().streams(config)]

    def _incremental(self) -> bool:
        if self._catalog is None:
            return True
        for configured in self._catalog.streams:
            if configured.stream.name == STREAM:
                return configured.sync_mode == SyncMode.incremental
        return True

    def _customers(self, declarative: AbstractStream) -> AbstractStream:
        """The manifest's customers stream, read as page partitions of one pass."""
        factory = declarative._stream_partition_generator._partition_factory  # type: ignore[attr-defined]
        retriever, schema_loader = factory._retriever, factory._schema_loader
        extractor = retriever.record_selector.extractor
        if not isinstance(extractor, CustomersExtractor):
            raise AirbyteTracedException(
                message="source-upgates-customers is broken: the customers extractor is not CustomersExtractor.",
                failure_type=FailureType.system_error,
            )
        repository, logger = self._message_repository, self.logger
        if self._incremental():
            state = self._connector_state_manager.get_stream_state(STREAM, None) or {}
            cursor = CustomersPassCursor.from_state(state, self._config, repository, self._connector_state_manager, logger)
            pass_ = cursor.pass_
        else:  # full refresh: every customer from start_date, a final state as the CDK gives full refresh
            pass_ = CustomersPass(from_=pass_start(self._config, None), message_repository=repository, logger=logger)
            cursor = FinalStateCursor(STREAM, None, repository)
        extractor.tracker = pass_
        pass_.set_workers(max(1, min(3, int(self._config.get("num_workers", 2) or 2))))
        return DefaultStream(
            partition_generator=CustomersPageGenerator(pass_, retriever, schema_loader, repository),
            name=STREAM,
            json_schema=schema_loader.get_json_schema,
            primary_key=["customer_id"],
            cursor_field=CursorField(CURSOR_FIELD),
            logger=logger,
            cursor=cursor,
        )

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            stream = next(s for s in self.streams(self._config) if s.name == STREAM)
            requester = stream._stream_partition_generator._kwargs["retriever"].requester  # type: ignore[attr-defined]
            response = requester.send_request(path="status")
            body = response.json() if response is not None else None
        except AirbyteTracedException as error:
            return failed(error.message or error.internal_message or "check failed")
        except Exception as error:  # a refused connection, an unreadable answer
            return failed(f"Could not reach UPgates at {self._config.get('api_url')}: {error}")
        right = customers_right(body)
        if right is False:
            return failed(
                "The API user has no right to read customers (GET /status lists it without read access). "
                "Give the API access the Customers right in the shop admin under Add-ons > API."
            )
        if right is None:
            logger.warning("GET /status did not list the customers endpoint; its right could not be checked.")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)


def failed(message: str) -> AirbyteConnectionStatus:
    return AirbyteConnectionStatus(status=Status.FAILED, message=filter_secrets(message))


def customers_right(body: Any) -> Optional[bool]:
    """This user's read right to `customers` from a `/status` answer (`endpoints: [{endpoint,
    read_yn, write_yn}]`); None when the answer does not say."""
    endpoints = body.get("endpoints") if isinstance(body, Mapping) else None
    if not isinstance(endpoints, list):
        return None
    for entry in endpoints:
        if isinstance(entry, Mapping) and str(entry.get("endpoint", "")).strip("/") == STREAM:
            return bool(entry.get("read_yn"))
    return None


def check_api_url(config: Mapping[str, Any]) -> None:
    """https only; http only for a loopback address (a local emulator or tunnel)."""
    url = str(config.get("api_url") or "")
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    host = host if host.startswith("[") else host.split(":", 1)[0]
    if scheme.lower() == "https" and host:
        return
    if scheme.lower() == "http" and host.lower() in LOOPBACK_HOSTS:
        return
    raise AirbyteTracedException(
        message=(
            f"The API URL {url!r} is not allowed: use the shop's https address from the shop admin "
            "(Add-ons > API), e.g. https://mystore.admin.s10.upgates.com/api/v2. Plain http is accepted "
            "only for a loopback address."
        ),
        failure_type=FailureType.config_error,
    )
