"""The custom components `manifest.yaml` names, and what they share with the packaged source.

What the manifest cannot say in YAML: UPgates' `Retry-After` is an HTTP date; a moved shop
answers a redirect, which is never followed (the credentials would go along); timeouts name the
host; customer records get one JSON type per field. `CustomersNeedTheConnector` makes the
manifest refuse to read `customers` when it is run without `source.py` (see its docstring).

This module is the manifest's `components.py`: it imports only the CDK's public modules and
`requests` (never `source_upgates_customers`), and uses no private CDK attribute, so it loads
both from the package and as the code the Connector Builder or the manifest-only image inject
(`source_declarative_manifest.components`). The customers pass (page partitions, per-page
state) and every use of a CDK internal are in `customers_pass.py`.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union

import orjson
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.decoders.json_decoder import JsonDecoder
from airbyte_cdk.sources.declarative.extractors.dpath_extractor import DpathExtractor
from airbyte_cdk.sources.declarative.interpolation.interpolated_string import InterpolatedString
from airbyte_cdk.sources.declarative.partition_routers.single_partition_router import SinglePartitionRouter
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategies.max_waiting_time_helper import (
    evaluate_max_waiting_time,
    interpolated_max_waiting_time,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategies.wait_until_time_from_header_backoff_strategy import (
    WaitUntilTimeFromHeaderBackoffStrategy,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import (
    SUCCESS_RESOLUTION,
    ErrorResolution,
    ResponseAction,
)
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils import AirbyteTracedException


def seconds_until_retry(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: an HTTP date (what UPgates sends) or a number
    of seconds (what RFC 9110 also allows). None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.timestamp() - now


@dataclass
class RetryAfterHttpDate(WaitUntilTimeFromHeaderBackoffStrategy):
    """Wait until the time in `Retry-After`, at least `min_wait`; when that is
    `max_waiting_time_in_seconds` or longer (an hourly or daily quota used up), stop the stream
    with a transient error instead, so the sync ends with the state it has saved. Without the
    header it returns None and the CDK's exponential backoff applies.

    A `Retry-After` date is the API's clock: the wait is counted from the answer's own `Date`
    when it has one, this machine's clock otherwise. A machine clock minutes off (or a quota
    window that ends in a few seconds by one clock and in an hour by the other) would
    otherwise wait through a used-up quota, or stop for a short one."""

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response):
            return None
        header = self.header.eval(self.config)  # type: ignore[union-attr]
        raw = response_or_exception.headers.get(header)
        answered = answer_time(response_or_exception.headers)  # the API's clock, when it says
        wait = seconds_until_retry(raw, answered.timestamp() if answered is not None else time.time())
        if wait is None:
            return None
        min_wait = self.min_wait.eval(self.config)  # type: ignore[union-attr]
        wait = max(wait, float(min_wait) if min_wait else 0.0)
        # The CDK's own cap rule (`>=`, after the min_wait floor), read with its public helpers.
        limit = evaluate_max_waiting_time(
            interpolated_max_waiting_time(self.max_waiting_time_in_seconds, {}), self.config
        )
        if limit is not None and wait >= limit:
            raise AirbyteTracedException(
                message=(
                    f"The UPgates request quota is used up until {raw} (HTTP {response_or_exception.status_code}). "
                    "The sync stopped instead of waiting; run it again after that time and it "
                    "continues from the last saved state."
                ),
                internal_message=(
                    f"Rate limit wait time {wait}s is greater than or equal to the maximum of {limit}s "
                    "this stream is allowed to wait. Stopping the stream..."
                ),
                failure_type=FailureType.transient_error,
            )
        return wait


def without_userinfo(url: str) -> str:
    """`url` with anything between `//` and `@` in its authority replaced, so an error message
    never quotes a password written into a URL."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}://{authority}{slash}{path}"


def host_of(url: str) -> str:
    """The host[:port] of `url` as urllib3 (what requests connects with) reads it."""
    try:
        from urllib3.util import parse_url

        parsed = parse_url(url)
        return f"{parsed.host}:{parsed.port}" if parsed.port else str(parsed.host)
    except Exception:
        return "the configured host"


@dataclass
class UpgatesErrorHandler(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler plus what it cannot say:

    - any redirect (301, 302, 303, 307, 308) fails with a config error that names the new
      location (without user-info). Redirects are never followed (the source switches it off on
      every session, see `source.harden_http_clients`): a redirect to the same host would carry
      the `Authorization` header along, one to another host would read as a bad key. A moved
      shop must be re-configured by its owner;
    - a timeout or a dropped connection is retried as transient, and the message names the host.

    A page as it should be (HTTP 200, a body that parses to a non-empty JSON value) is a success
    at once: the manifest's filters match only 400/401/403/404 or a body that is not a JSON
    object (`{{ not response }}`), so none matches it, and their check would parse every page
    a second time with the standard library's `json` (1-2 ms of the worker's CPU per page, on
    every page's critical path). Anything else goes through the filters as before. A body that
    parsed to an object is left on the response for `CustomersExtractor` (once), which would
    otherwise parse it again.
    """

    def interpret_response(self, response_or_exception):  # type: ignore[no-untyped-def]
        response = response_or_exception
        if isinstance(response, requests.Response) and response.status_code == 200 and not response.history:
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                body = None  # the filters decide (they read the body as requests does)
            if body:
                if isinstance(body, dict):
                    response.upgates_body = body
                return SUCCESS_RESOLUTION
        if isinstance(response_or_exception, requests.exceptions.TooManyRedirects):
            response = response_or_exception.response
        if isinstance(response, requests.Response) and (300 <= response.status_code < 400 or response.history):
            first = response.history[0] if response.history else response
            return moved_resolution(first)
        if isinstance(response_or_exception, requests.exceptions.Timeout):
            url = getattr(response_or_exception.request, "url", None) or ""
            kind = "connect" if isinstance(response_or_exception, requests.exceptions.ConnectTimeout) else "read"
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=(
                    f"UPgates at {host_of(url)} did not answer in time ({kind} timeout). The request was retried "
                    "with backoff; if this persists the shop or the network is down, or the timeouts "
                    "(connect_timeout_seconds, read_timeout_seconds) are too short. Run the sync again later: "
                    "it continues from the last saved state."
                ),
            )
        if isinstance(response_or_exception, requests.exceptions.ConnectionError):
            url = getattr(response_or_exception.request, "url", None) or ""
            return ErrorResolution(
                response_action=ResponseAction.RETRY,
                failure_type=FailureType.transient_error,
                error_message=(
                    f"The connection to UPgates at {host_of(url)} failed or was cut. The request was retried "
                    "with backoff; run the sync again later: it continues from the last saved state."
                ),
            )
        return super().interpret_response(response_or_exception)


def userinfo_of(url: str) -> Optional[str]:
    authority = url.partition("://")[2].partition("/")[0]
    return authority.rsplit("@", 1)[0] if "@" in authority else None


def moved_resolution(response: requests.Response) -> ErrorResolution:
    raw = response.headers.get("Location") or "(no Location header)"
    userinfo = userinfo_of(raw)
    if userinfo:
        # The CDK logs the answer's headers with a failed request: mask the location's user-info
        # there too (add to the secret filter, never replace it).
        from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets

        for part in {userinfo, userinfo.partition(":")[2]}:
            if part:
                add_to_secrets(part)
    location = without_userinfo(raw)
    new_base = location.split("/api/v2")[0] + "/api/v2" if "/api/v2" in location else location
    return ErrorResolution(
        response_action=ResponseAction.FAIL,
        failure_type=FailureType.config_error,
        error_message=(
            f"The UPgates shop moved: {host_of(response.url or '')} answers HTTP {response.status_code} "
            f"with the location {location}. The connector does not follow redirects (the credentials "
            f"would go along); update the API URL to {new_base} (shown in the shop admin under Add-ons > API)."
        ),
    )


# ---- customers: shared by the extractor and customers_pass.py ------------------------------
#
# UPgates has no `*_to` filter, so the CDK's declarative cursor can only save the customers state
# when a whole pass ends. The packaged source reads the list as page partitions of one pass and
# saves which pages are done after every page: see `customers_pass.py`.

STREAM = "customers"
CURSOR_FIELD = "last_update_time"
PROGRESS_EVERY_PAGES = 10
PAGE_SIZE = 100  # fixed by UPgates; there is no page-size parameter
FUTURE_TOLERANCE = timedelta(seconds=1)  # `Date` and record times are both whole seconds
MAX_FUTURE_WARNINGS = 20


@functools.lru_cache(maxsize=1024)
def parse_time(value: str) -> datetime:
    """An UPgates time (ISO 8601, normally with offset); a value without offset is read as UTC.
    Cached (a datetime is immutable): a record's time is read by the extractor's future check
    and again by the cursor."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def answer_time(headers: Mapping[str, str]) -> Optional[datetime]:
    """The time of an answer by the API's own clock (`Date` header); None when absent."""
    raw = headers.get("Date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)`, a dict first (the typing ABC check costs ~3 us, a few per
    field of every record: most of normalising a page)."""
    return type(value) is dict or isinstance(value, Mapping)


def _is_mutable_mapping(value: Any) -> bool:
    return type(value) is dict or isinstance(value, MutableMapping)


YN_FIELDS = ("newsletter_yn",)
LOGIN_YN_FIELDS = ("active_yn", "blocked_yn")


def as_bool(value: Any) -> Any:
    """UPgates booleans as JSON booleans (`1`, `"1"`, `"true"`, `0`, `"0"`...); None stays None."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y"):
        return True
    if text in ("0", "false", "no", "n", ""):
        return False
    return value


def as_text(value: Any) -> Optional[str]:
    """A value documented as a string: numbers and booleans as text, lists and objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def as_int(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return value


def normalise_groups(value: Any) -> List[Dict[str, Any]]:
    """`groups` always as an array of `{id, name}`: UPgates sends an object `{id: name}` (API
    Blueprint), an array of objects (seed documentation), an array of ids, or null."""
    if value is None or value == "":
        return []
    if _is_mapping(value):
        items: Iterable[Any] = [{"id": k, "name": v} for k, v in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    out = []
    for item in items:
        if _is_mapping(item):
            gid = item.get("id", item.get("group_id"))
            name = item.get("name")
        else:
            gid, name = item, None
        out.append({"id": as_int(gid), "name": as_text(name) if name is not None else None})
    return out


def normalise_customer(record: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """One JSON type per field, whatever shape this answer used (see the schema)."""
    if "customer_id" in record:
        record["customer_id"] = as_int(record["customer_id"])
    record["groups"] = normalise_groups(record.get("groups"))
    for key in YN_FIELDS:
        if key in record:
            record[key] = as_bool(record[key])
    if "turnover" in record:
        record["turnover"] = as_text(record["turnover"])
    login = record.get("login")
    if _is_mutable_mapping(login):
        for key in LOGIN_YN_FIELDS:
            if key in login:
                login[key] = as_bool(login[key])
    metas = record.get("metas")
    if isinstance(metas, list):
        for meta in metas:
            if not _is_mutable_mapping(meta):
                continue
            if "value" in meta:
                meta["value"] = as_text(meta["value"])
            values = meta.get("values")
            if isinstance(values, list):
                for entry in values:
                    if _is_mutable_mapping(entry) and "value" in entry:
                        entry["value"] = as_text(entry["value"])
    return record


@dataclass
class CustomersExtractor(DpathExtractor):
    """The manifest's record extractor for `customers`: the records under `field_path` (plain
    dict lookups, no dpath walk over every field), each normalised to the schema's one type per
    field, and, once per answer, the list's totals, the quota headers and the answer's time for
    the pass that asked (`tracker`, set by the source; None when the manifest runs alone)."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self.tracker: Any = None  # the customers_pass.CustomersPass reading, set by the source
        self._keys = [
            (p if isinstance(p, InterpolatedString) else InterpolatedString.create(p, parameters=parameters)).eval(self.config)
            for p in self.field_path
        ]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        # The body the error handler parsed (an object: what the JSON decoder would yield, once)
        parsed = response.__dict__.pop("upgates_body", None)
        bodies = (parsed,) if parsed is not None and isinstance(self.decoder, JsonDecoder) else self.decoder.decode(response)
        for body in bodies:
            if not _is_mapping(body):
                continue
            when = None
            if self.tracker is not None:
                when = self.tracker.on_answer(body, response.headers)
            records: Any = body
            for key in self._keys:
                records = records.get(key) if _is_mapping(records) else None
            if isinstance(records, list):
                for record in records:
                    if _is_mutable_mapping(record):
                        normalise_customer(record)
                        if self.tracker is not None:
                            self.tracker.check_future(record, when)
                    yield record


# ---- what a saved state and a config must hold (a config_error naming the field otherwise) ---

def time_problem(value: Any) -> Optional[str]:
    if not isinstance(value, str) or not value.strip():
        return f"{value!r} is not a time (ISO 8601 with offset, e.g. 2024-01-01T00:00:00+01:00)"
    try:
        parse_time(value)
    except ValueError as error:
        return f"{value!r} is not a valid time ({error}); use ISO 8601 with offset, e.g. 2024-01-01T00:00:00+01:00"
    return None


def state_problem(stream_state: Any) -> Optional[str]:
    """What makes a saved customers state unreadable, naming the field; None when it is fine."""
    if not isinstance(stream_state, Mapping):
        return f"the customers state must be an object, not {type(stream_state).__name__}"
    if stream_state.get(CURSOR_FIELD) is not None:
        problem = time_problem(stream_state.get(CURSOR_FIELD))
        if problem:
            return f"customers.{CURSOR_FIELD}: {problem}"
    saved = stream_state.get("pass")
    if saved is None:
        return None
    if not isinstance(saved, Mapping):
        return f"customers.pass must be an object, not {type(saved).__name__}"
    for key in ("from", "max_seen"):
        if saved.get(key) is not None:
            problem = time_problem(saved.get(key))
            if problem:
                return f"customers.pass.{key}: {problem}"
    for key in ("pages_done", "items"):
        value = saved.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            return f"customers.pass.{key}: {value!r} is not a whole number of 0 or more"
    done_after = saved.get("done_after")
    if done_after is not None and (
        not isinstance(done_after, list) or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in done_after)
    ):
        return f"customers.pass.done_after: {done_after!r} is not a list of page numbers"
    return None


# Kept for callers of the name before it became public.
_time_problem = time_problem


# ---- the manifest without source.py ---------------------------------------------------------

MANIFEST_ONLY_REFUSAL = (
    "source-upgates-customers cannot run as a manifest-only connector (Connector Builder, "
    "source-declarative-manifest image): its customers stream is read by the connector's own code "
    "(source.py), as page partitions with a state saved after every page. This manifest alone "
    "would read only the first 100 customers and save no state, so it stops instead. Run the "
    "connector's own image (built from source-upgates-customers/Dockerfile) or its console script "
    "`source-upgates-customers`."
)


class CustomersNeedTheConnector(SinglePartitionRouter):
    """The `partition_router` of the manifest's customers stream. The packaged source never asks
    it for slices (it replaces the stream's partition generator with the pass of
    `customers_pass.py`; as the retriever's request-options provider it adds nothing, like the
    CDK's SinglePartitionRouter). A manifest-only runner does ask, before any request: it gets
    a config_error naming what to run instead, instead of one page of customers, no state and a
    successful exit."""

    def stream_slices(self) -> Iterable[StreamSlice]:
        raise AirbyteTracedException(
            message=MANIFEST_ONLY_REFUSAL,
            internal_message="customers: the manifest was run without source.py (manifest-only runtime)",
            failure_type=FailureType.config_error,
        )
