"""The declarative source of `manifest.yaml`, with what YAML cannot say:

- the `customers` stream reads one pass of the list as page partitions and checkpoints after
  every page (`customers_pass.customers_stream`), built around the manifest's own retriever;
- the customers filters this config leaves unset are left out of the manifest the source is
  built from (`without_unset_filters`: the same requests, fewer templates per request);
- `check` asks `GET /status` (one request, never counted against the quota) and reads this API
  user's right to `customers` from it;
- every HTTP client of the source never follows a redirect and has connect and read timeouts
  from the config (`harden_http_clients`); the `Authorization: Basic` value is a registered
  secret (`register_secrets`); the API URL is checked with the parser requests connects with.

Every use of a CDK internal is in `customers_pass.py` (the seam); this module uses the CDK's
public API only. The manifest names its custom components as the manifest-only runtime does
(`source_declarative_manifest.components.X`); here they are this package's `components` module.
"""

from __future__ import annotations

import base64
import logging
import re
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import quote, quote_plus

import yaml

from airbyte_cdk.models import (
    AirbyteCatalog,
    AirbyteConnectionStatus,
    ConfiguredAirbyteCatalog,
    FailureType,
    Status,
    SyncMode,
)
from airbyte_cdk.sources.declarative.concurrent_declarative_source import ConcurrentDeclarativeSource
from airbyte_cdk.sources.declarative.interpolation.interpolated_mapping import InterpolatedMapping
from airbyte_cdk.sources.source import TState
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.utils import AirbyteTracedException
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets

from source_upgates_customers import customers_pass
from source_upgates_customers.components import STREAM, time_problem, without_userinfo
from source_upgates_customers.customers_pass import CustomersPass, pass_start

MANIFEST = Path(__file__).with_name("manifest.yaml")
INJECTED_PREFIX = "source_declarative_manifest.components."  # how the manifest names its components
PACKAGE_PREFIX = "source_upgates_customers.components."
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")
DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_READ_TIMEOUT = 30
ENUMS = {
    "active": ("any", "active", "inactive"),
    "blocked": ("any", "blocked", "not_blocked"),
    "newsletter_accept": ("any", "notset", "no", "yes", "excluded"),
}


def _packaged(node: Any) -> Any:
    """The manifest with each `class_name: source_declarative_manifest.components.X` read as this
    package's `source_upgates_customers.components.X` (the same file, imported as a module)."""
    if isinstance(node, dict):
        return {
            k: (PACKAGE_PREFIX + v[len(INJECTED_PREFIX):] if k == "class_name" and isinstance(v, str) and v.startswith(INJECTED_PREFIX) else _packaged(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_packaged(v) for v in node]
    return node


def load_manifest(config: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """manifest.yaml of this package (never a manifest.yaml of the working directory); with a
    config, without the customers filters that config leaves unset (`without_unset_filters`)."""
    manifest = _packaged(yaml.safe_load(MANIFEST.read_text(encoding="utf-8")))
    return without_unset_filters(manifest, config) if config else manifest


PER_REQUEST = ("stream_slice", "next_page_token", "stream_state", "stream_interval")


def without_unset_filters(manifest: Dict[str, Any], config: Mapping[str, Any]) -> Dict[str, Any]:
    """The customers requester's request parameters that depend on the config alone and give
    nothing for this one (an unset filter: the CDK drops a parameter whose value is empty from
    every request) are removed before the source is built: the same requests, without
    interpolating a dozen empty templates per page (~1 ms of a worker's CPU). A parameter that
    depends on the request (`page`, `last_update_time_from`) or gives a value is kept as written."""
    requester = manifest.get("definitions", {}).get("customers_stream", {}).get("retriever", {}).get("requester", {})
    params = requester.get("request_parameters") if isinstance(requester, dict) else None
    if not isinstance(params, dict):
        return manifest
    kept = {}
    for key, template in params.items():
        if isinstance(template, str) and not any(word in template for word in PER_REQUEST):
            try:
                value = InterpolatedMapping({key: template}, parameters={}).eval(config).get(key)
            except Exception:  # the CDK raises it again at the request, as before
                value = template
            if value is None:
                continue
        kept[key] = template
    requester["request_parameters"] = kept
    return manifest


class SourceUpgatesCustomers(ConcurrentDeclarativeSource):
    """The declarative source of `manifest.yaml` (streams are built from the constructor's
    config, catalog and state, as the CDK's declarative sources require).

    Built without a config (`SourceUpgatesCustomers()`, as `airbyte-cdk connector test` and the
    CDK's standard tests build a Python source), `check`, `discover` and `read` build the source
    again from the config, catalog and state the entrypoint read, as run.py does, and hand over
    to it."""

    def __init__(
        self,
        catalog: Optional[ConfiguredAirbyteCatalog] = None,
        config: Optional[Mapping[str, Any]] = None,
        state: TState = None,
    ) -> None:
        super().__init__(
            catalog=catalog or ConfiguredAirbyteCatalog(streams=[]),
            config=config or {},
            state=state or [],
            source_config=load_manifest(config),
        )
        self._catalog = catalog
        self._built_with_config = config is not None

    def _for(self, config: Mapping[str, Any], catalog: Any = None, state: Any = None) -> "SourceUpgatesCustomers":
        """This source, or when it was built without a config one built from `config`."""
        if self._built_with_config:
            return self
        return type(self)(catalog=catalog, config=config, state=state)

    @property
    def _upgates_config(self) -> Mapping[str, Any]:
        return customers_pass.source_config(self)

    # ---- streams ------------------------------------------------------------------------
    def streams(self, config: Mapping[str, Any]) -> List[AbstractStream]:  # type: ignore[override]
        own = self._upgates_config
        check_config(own)
        register_secrets(own)
        streams = [self._customers(s) if s.name == STREAM else s for s in super().streams(config)]
        harden_http_clients(streams, own)
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
        config = self._upgates_config
        stream, self._customers_pass = customers_pass.customers_stream(
            self,
            declarative,
            incremental=self._incremental(),
            workers=max(1, min(3, int(config.get("num_workers", 2) or 2))),
            restart_from=pass_start(config, None),
            config=config,
        )
        self._customers_pass.prepare_lines = self.prepare_output
        return stream

    # ---- read: settle pages for the back-pressure (see CustomersPass.wait_for_room) ---------
    settle_after_flush = False  # run.py settles once a STATE is flushed to stdout
    prepare_output = False  # run.py writes prepared pages (customers_pass.PreparedPage)
    _customers_pass: Optional[CustomersPass] = None

    def prepare_pages(self) -> None:
        """run.py's launch: customers pages reach the CDK's main loop as one PreparedPage each,
        their RECORD lines serialized in the worker; launch writes them (`take_prepared`)."""
        self.prepare_output = True
        if self._customers_pass is not None:
            self._customers_pass.prepare_lines = True

    def prepared_count(self, key: str) -> int:
        return self._customers_pass.prepared_count(key) if self._customers_pass is not None else 0

    def take_prepared(self, key: str) -> str:
        if self._customers_pass is None:
            raise RuntimeError("customers: a prepared page without a customers pass")
        return self._customers_pass.take_prepared(key)

    def prepared_totals(self) -> tuple[int, int]:
        """(prepared pages, their records) of this read."""
        p = self._customers_pass
        return (p.prepared_pages, p.prepared_records) if p is not None else (0, 0)

    def read(self, logger, config, catalog, state=None):  # type: ignore[no-untyped-def,override]
        source = self._for(config, catalog, state)
        if source is not self:
            yield from source.read(logger, config, catalog, state)
            return
        for message in super().read(logger, config, catalog, state):
            if not self.settle_after_flush and is_customers_state(message):
                self.state_flushed()
            yield message

    def state_flushed(self) -> None:
        """A customers STATE reached the reader: its page is settled."""
        if self._customers_pass is not None:
            self._customers_pass.settle()

    def discover(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteCatalog:
        source = self._for(config)
        if source is not self:
            return source.discover(logger, config)
        return super().discover(logger, config)

    # ---- check --------------------------------------------------------------------------
    def check(self, logger: logging.Logger, config: Mapping[str, Any]) -> AirbyteConnectionStatus:
        source = self._for(config)
        if source is not self:
            return source.check(logger, config)
        own = self._upgates_config
        try:
            check_config(own)
            stream = next(s for s in self.streams(own) if s.name == STREAM)
            retriever, _ = customers_pass.declarative_parts(stream)
            response = retriever.requester.send_request(path="status")
            body = response.json() if response is not None else None
        except AirbyteTracedException as error:
            return failed(error.message or error.internal_message or "check failed")
        except Exception as error:  # a refused connection, an unreadable answer
            return failed(f"Could not reach UPgates at {without_userinfo(str(own.get('api_url')))}: {error}")
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
            problem = time_problem(value)
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
    known = customers_pass.registered_secrets()
    for form in sorted(forms, key=len, reverse=True):
        if form and form not in known:
            add_to_secrets(form)


def harden_http_clients(streams: List[AbstractStream], config: Mapping[str, Any]) -> None:
    """On every stream's HTTP client: connect and read timeouts from the config (the manifest's
    timeout fields take no config value), and redirects never followed. requests follows them by
    default, re-sending `Authorization` to the same host and POST bodies on 307/308; the
    unfollowed 3xx then reaches `UpgatesErrorHandler`, which fails with the new location."""
    for stream in streams:
        customers_pass.harden_http_client(stream, timeouts(config))
