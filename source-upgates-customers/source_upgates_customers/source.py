"""The declarative source of `manifest.yaml`, with what YAML cannot say:

- the `customers` stream reads one pass of the list as page partitions and checkpoints after
  every page (`components.CustomersPassCursor`), built around the manifest's own retriever;
- `check` asks `GET /status` (one request, never counted against the quota) and reads this API
  user's right to `customers` from it;
- every HTTP client of the source never follows a redirect and has connect and read timeouts
  from the config (`harden_http_clients`); the `Authorization: Basic` value is a registered
  secret (`register_secrets`); the API URL is checked with the parser requests connects with.
"""

from __future__ import annotations

import base64
import logging
import re
from typing import Any, List, Mapping, Optional
from urllib.parse import quote, quote_plus

from airbyte_cdk.models import AirbyteConnectionStatus, ConfiguredAirbyteCatalog, FailureType, Status, SyncMode
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource
from airbyte_cdk.sources.source import TState
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.cursor import CursorField, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.utils import AirbyteTracedException
from airbyte_cdk.utils import airbyte_secrets_utils
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets

from source_upgates_customers.components import (
    CURSOR_FIELD,
    STREAM,
    CustomersExtractor,
    CustomersPageGenerator,
    CustomersPass,
    CustomersPassCursor,
    _time_problem,
    pass_start,
    state_problem,
    without_userinfo,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_READ_TIMEOUT = 30
ENUMS = {
    "active": ("any", "active", "inactive"),
    "blocked": ("any", "blocked", "not_blocked"),
    "newsletter_accept": ("any", "notset", "no", "yes", "excluded"),
}


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
        check_config(self._config)
        register_secrets(self._config)
        streams = [self._customers(s) if s.name == STREAM else s for s in super().streams(config)]
        harden_http_clients(streams, self._config)
        return streams

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
            problem = state_problem(state)
            if problem:
                raise AirbyteTracedException(
                    message=f"The saved state cannot be read: {problem}. Fix or remove the state of the customers stream.",
                    failure_type=FailureType.config_error,
                )
            cursor = CustomersPassCursor.from_state(state, self._config, repository, self._connector_state_manager, logger)
            pass_ = cursor.pass_
        else:  # full refresh: every customer from start_date, a final state as the CDK gives full refresh
            pass_ = CustomersPass(from_=pass_start(self._config, None), message_repository=repository, logger=logger)
            pass_.settle_on_answer = True  # no STATE per page to wait for (and nothing to resume)
            cursor = FinalStateCursor(STREAM, None, repository)
        extractor.tracker = pass_
        self._customers_pass = pass_
        pass_.set_workers(max(1, min(3, int(self._config.get("num_workers", 2) or 2))))
        return DefaultStream(
            partition_generator=CustomersPageGenerator(
                pass_, retriever, schema_loader, repository, restart_from=pass_start(self._config, None)
            ),
            name=STREAM,
            json_schema=schema_loader.get_json_schema,
            primary_key=["customer_id"],
            cursor_field=CursorField(CURSOR_FIELD),
            logger=logger,
            cursor=cursor,
        )

    # ---- read: settle pages for the back-pressure (see CustomersPass.wait_for_room) ---------
    settle_after_flush = False  # run.py settles once a STATE is flushed to stdout
    _customers_pass: Optional[CustomersPass] = None

    def read(self, logger, config, catalog, state=None):  # type: ignore[no-untyped-def,override]
        for message in super().read(logger, config, catalog, state):
            if not self.settle_after_flush and is_customers_state(message):
                self.state_flushed()
            yield message

    def state_flushed(self) -> None:
        """A customers STATE reached the reader: its page is settled."""
        if self._customers_pass is not None:
            self._customers_pass.settle()

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        try:
            check_config(self._config)
            stream = next(s for s in self.streams(self._config) if s.name == STREAM)
            requester = stream._stream_partition_generator._kwargs["retriever"].requester  # type: ignore[attr-defined]
            response = requester.send_request(path="status")
            body = response.json() if response is not None else None
        except AirbyteTracedException as error:
            return failed(error.message or error.internal_message or "check failed")
        except Exception as error:  # a refused connection, an unreadable answer
            return failed(f"Could not reach UPgates at {without_userinfo(str(self._config.get('api_url')))}: {error}")
        right = customers_right(body)
        if right is False:
            return failed(
                "The API user has no right to read customers (GET /status lists it without read access). "
                "Give the API access the Customers right in the shop admin under Add-ons > API."
            )
        if right is None:
            logger.warning("GET /status did not list the customers endpoint; its right could not be checked.")
        return AirbyteConnectionStatus(status=Status.SUCCEEDED)


def is_customers_state(message: Any) -> bool:
    state = getattr(message, "state", None)
    stream = getattr(state, "stream", None)
    descriptor = getattr(stream, "stream_descriptor", None)
    return getattr(descriptor, "name", None) == STREAM


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
    """https only; http only for a loopback address (a local emulator or tunnel). Checked with
    urllib3's `parse_url`, the parser requests connects with (`urllib.parse` reads
    `http://a\\@127.0.0.1` as loopback, urllib3 connects to `a`). No user-info, backslash or
    whitespace anywhere: credentials go in `login`/`api_key`, never into the URL. The message
    never quotes a URL's user-info."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    url = str(config.get("api_url") or "")
    shown = without_userinfo(url)
    problem = None
    if not url:
        problem = "it is empty"
    elif any(ch.isspace() for ch in url):
        problem = "it contains whitespace"
    elif "\\" in url:
        problem = "it contains a backslash"
    else:
        try:
            parsed = parse_url(url)
        except LocationParseError:
            parsed = None
            problem = "it cannot be parsed as a URL"
        if parsed is not None:
            host = (parsed.host or "").lower()
            scheme = (parsed.scheme or "").lower()
            if parsed.auth is not None or "@" in url.split("://", 1)[-1].split("/", 1)[0]:
                problem = "it contains user-info (user:password@); put the login and key in their own fields"
            elif not host:
                problem = "it has no host"
            elif scheme == "https":
                return
            elif scheme == "http" and host in LOOPBACK_HOSTS:
                return
            else:
                problem = "it is not https (plain http is accepted only for a loopback address)"
    raise AirbyteTracedException(
        message=(
            f"The API URL {shown!r} is not allowed: {problem}. Use the shop's https address from the shop admin "
            "(Add-ons > API), e.g. https://mystore.admin.s10.upgates.com/api/v2."
        ),
        failure_type=FailureType.config_error,
    )


def config_error(field: str, problem: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=f"The config field {field} is not valid: {problem}.", failure_type=FailureType.config_error
    )


def check_config(config: Mapping[str, Any]) -> None:
    """Every value UPgates would refuse (or this source could not use), as a config_error naming
    the field; run by `check` and before every read."""
    check_api_url(config)
    for field in ("start_date", "creation_time_from"):
        value = config.get(field)
        if value not in (None, ""):
            problem = _time_problem(value)
            if problem:
                raise config_error(field, problem)
    language = config.get("language")
    if language not in (None, "") and not re.fullmatch(r"[a-z]{2}", str(language)):
        raise config_error("language", f"{language!r} is not a two-letter shop language code such as cs or sk")
    for field, allowed in ENUMS.items():
        value = config.get(field)
        if value not in (None, "") and value not in allowed:
            raise config_error(field, f"{value!r} is not one of {', '.join(allowed)}")
    ids = config.get("customer_ids")
    if ids not in (None, ""):
        if not isinstance(ids, list) or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in ids):
            raise config_error("customer_ids", f"{ids!r} is not a list of customer ids (whole numbers of 1 or more)")
    for field in ("code", "email", "phone", "company_name", "company_number", "company_vat_number", "pricelist"):
        value = config.get(field)
        if value not in (None, "") and not isinstance(value, str):
            raise config_error(field, f"{value!r} is not text")
    for field in ("connect_timeout_seconds", "read_timeout_seconds"):
        value = config.get(field)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise config_error(field, f"{value!r} is not a number of seconds above 0")


def timeouts(config: Mapping[str, Any]) -> tuple[float, float]:
    return (
        float(config.get("connect_timeout_seconds") or DEFAULT_CONNECT_TIMEOUT),
        float(config.get("read_timeout_seconds") or DEFAULT_READ_TIMEOUT),
    )


def register_secrets(config: Mapping[str, Any]) -> None:
    """Add to the CDK's secret filter (never replacing it) every form in which the API key can
    reach a log: the `Authorization: Basic` value (base64 of login:key, which the CDK logs with
    the request headers under --debug), and the key URL-encoded. The CDK registers the raw key
    itself. Call it after the entrypoint has set up its filter (it replaces the list)."""
    key = config.get("api_key")
    if not key:
        return
    key, login = str(key), str(config.get("login") or "")
    forms = {key, quote(key, safe=""), quote_plus(key), base64.b64encode(f"{login}:{key}".encode("utf8")).decode()}
    try:
        forms.add(base64.b64encode(f"{login}:{key}".encode("latin1")).decode())
    except UnicodeEncodeError:
        pass
    known = getattr(airbyte_secrets_utils, "__SECRETS_FROM_CONFIG", [])
    for form in sorted(forms, key=len, reverse=True):
        if form and form not in known:
            add_to_secrets(form)


def _http_clients(streams: List[AbstractStream]) -> List[Any]:
    clients = []
    for stream in streams:
        generator = getattr(stream, "_stream_partition_generator", None)
        factory = getattr(generator, "_partition_factory", None)
        retriever = getattr(factory, "_retriever", None) or getattr(generator, "_kwargs", {}).get("retriever")
        client = getattr(getattr(retriever, "requester", None), "_http_client", None)
        if client is not None:
            clients.append(client)
    return clients


def _no_redirect_target(response: Any) -> None:
    return None


def harden_http_clients(streams: List[AbstractStream], config: Mapping[str, Any]) -> None:
    """On every stream's HTTP client: connect and read timeouts from the config (the manifest's
    timeout fields take no config value), and redirects never followed. requests follows them by
    default, re-sending `Authorization` to the same host and POST bodies on 307/308; the
    unfollowed 3xx then reaches `UpgatesErrorHandler`, which fails with the new location."""
    clients = _http_clients(streams)
    if len(clients) != len(streams):
        raise AirbyteTracedException(
            message="source-upgates-customers is broken: a stream's HTTP client could not be found to set its timeouts.",
            failure_type=FailureType.system_error,
        )
    for client in clients:
        client._request_timeout = timeouts(config)
        session = client._session
        session.get_redirect_target = _no_redirect_target
        session.max_redirects = 0
