"""What the manifest cannot say in YAML: UPgates' `Retry-After` is an HTTP date; a moved shop
answers a redirect, which is never followed (the credentials would go along); timeouts name the
host; customer records get one JSON type per field; the customers list is read as checkpointed
page partitions whose cursor never passes the API's own clock."""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union

import requests

from airbyte_cdk.models import (
    AirbyteEstimateTraceMessage,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteTraceMessage,
    EstimateType,
    FailureType,
    Level,
    TraceType,
    Type,
)
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.declarative.extractors.dpath_extractor import DpathExtractor
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategies.wait_until_time_from_header_backoff_strategy import (
    WaitUntilTimeFromHeaderBackoffStrategy,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.declarative.stream_slicers.declarative_partition_generator import (
    DeclarativePartition,
    RecordCounter,
)
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import PartitionGenerator
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.sources.types import Record, StreamSlice
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
    header it returns None and the CDK's exponential backoff applies."""

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response):
            return None
        header = self.header.eval(self.config)  # type: ignore[union-attr]
        raw = response_or_exception.headers.get(header)
        wait = seconds_until_retry(raw, time.time())
        if wait is None:
            return None
        min_wait = self.min_wait.eval(self.config)  # type: ignore[union-attr]
        wait = max(wait, float(min_wait) if min_wait else 0.0)
        try:
            return self._capped(wait)
        except AirbyteTracedException as exc:
            raise AirbyteTracedException(
                message=(
                    f"The UPgates request quota is used up until {raw} (HTTP {response_or_exception.status_code}). "
                    "The sync stopped instead of waiting; run it again after that time and it "
                    "continues from the last saved state."
                ),
                internal_message=exc.internal_message,
                failure_type=FailureType.transient_error,
            ) from exc


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
    """

    def interpret_response(self, response_or_exception):  # type: ignore[no-untyped-def]
        response = response_or_exception
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


# ---- customers: one partition per page, checkpointed per page -------------------------------
#
# UPgates has no `*_to` filter, so the CDK's declarative cursor (which checkpoints per date
# window) can only save the customers state when a whole pass ends. Here a pass is a fixed
# `last_update_time_from` (F) and the list's pages are the partitions: the CDK's worker pool
# fetches them concurrently through the manifest's own retriever (auth, error handler,
# Retry-After, selector and schema stay declarative) and `CustomersPassCursor` saves, after every
# page, which pages are done. A run that starts from such a state reads the same pass (same F)
# from the first page not done.

STREAM = "customers"
CURSOR_FIELD = "last_update_time"
PROGRESS_EVERY_PAGES = 10
PAGE_SIZE = 100  # fixed by UPgates; there is no page-size parameter
FUTURE_TOLERANCE = timedelta(seconds=1)  # `Date` and record times are both whole seconds
MAX_FUTURE_WARNINGS = 20


def parse_time(value: str) -> datetime:
    """An UPgates time (ISO 8601, normally with offset); a value without offset is read as UTC."""
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
    if isinstance(value, Mapping):
        items: Iterable[Any] = [{"id": k, "name": v} for k, v in value.items()]
    elif isinstance(value, list):
        items = value
    else:
        items = [value]
    out = []
    for item in items:
        if isinstance(item, Mapping):
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
    if isinstance(login, MutableMapping):
        for key in LOGIN_YN_FIELDS:
            if key in login:
                login[key] = as_bool(login[key])
    metas = record.get("metas")
    if isinstance(metas, list):
        for meta in metas:
            if not isinstance(meta, MutableMapping):
                continue
            if "value" in meta:
                meta["value"] = as_text(meta["value"])
            values = meta.get("values")
            if isinstance(values, list):
                for entry in values:
                    if isinstance(entry, MutableMapping) and "value" in entry:
                        entry["value"] = as_text(entry["value"])
    return record


@dataclass
class CustomersExtractor(DpathExtractor):
    """The manifest's record extractor for `customers`: the records under `field_path` (plain
    dict lookups, no dpath walk over every field), each normalised to the schema's one type per
    field, and, once per answer, the list's totals, the quota headers and the answer's time for
    the pass that asked (`tracker`, set by the source)."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self.tracker: Optional["CustomersPass"] = None
        self._keys = [p.eval(self.config) for p in self._field_path]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for body in self.decoder.decode(response):
            if not isinstance(body, Mapping):
                continue
            when = None
            if self.tracker is not None:
                when = self.tracker.on_answer(body, response.headers)
            records: Any = body
            for key in self._keys:
                records = records.get(key) if isinstance(records, Mapping) else None
            if isinstance(records, list):
                for record in records:
                    if isinstance(record, MutableMapping):
                        normalise_customer(record)
                        if self.tracker is not None:
                            self.tracker.check_future(record, when)
                    yield record


class CustomersPass:
    """One pass over `GET /customers?last_update_time_from=F`: what the page generator, the
    extractor, the page partitions and the cursor share. Page numbers are 1-based; `pages_done`
    is the contiguous low-water mark (pages 1..pages_done delivered), `done_after` the pages
    above it already delivered (pages finish out of order)."""

    def __init__(
        self,
        *,
        from_: Optional[str],
        pages_done: int = 0,
        done_after: Iterable[int] = (),
        items: Optional[int] = None,
        resumed: bool = False,
        message_repository: MessageRepository,
        logger: logging.Logger,
    ) -> None:
        self.from_ = from_
        self.pages_done = pages_done
        self.done_after = set(done_after)
        self.items_at_start = items
        self.resumed = resumed
        self.number_of_pages: Optional[int] = None
        self.number_of_items: Optional[int] = None
        self.total_pages: Optional[int] = None  # the pages this pass reads (fixed by its first answer)
        self.rate_headers: Dict[str, str] = {}
        self.stopped = False  # a page failed: no further page is requested
        self.pages_read = 0
        self.pages_to_read: Optional[int] = None
        self._lock = threading.Lock()
        self._message_repository = message_repository
        self._logger = logger
        # Back-pressure: a page is bought only while fewer than `limit` (= num_workers) pages are
        # bought and not yet settled, a page being settled once its STATE has been written and
        # flushed to stdout (run.py), or has left the source (`read`) when no one flushes. So a
        # kill re-buys at most `limit` pages, whatever the machine's load, and up to `limit`
        # requests overlap. Workers wait on a condition, never poll.
        self.limit = 1
        self.settle_on_answer = False  # full refresh: no STATE per page, a page settles on its answer
        self.bought = 0
        self.settled = 0
        self._room = threading.Condition()
        # the API's clock: the latest `Date` of an answer in this run (the pass start on this
        # machine's clock until an answer carries one). The cursor never passes it.
        self.started_at = datetime.now(timezone.utc).replace(microsecond=0)
        self.answer_at: Optional[datetime] = None
        self.future_records = 0
        self.on_restart: List[Any] = []

    # ---- the API's clock and records stamped in the future ------------------------------
    def ceiling(self) -> datetime:
        return self.answer_at or self.started_at

    def check_future(self, record: Mapping[str, Any], when: Optional[datetime]) -> None:
        """A record stamped after the answer that carried it is still emitted; a warning names
        it (the first few), and the cursor stops at the answer's time (see the cursor)."""
        value = record.get(CURSOR_FIELD)
        if not value or when is None:
            return
        try:
            moment = parse_time(str(value))
        except ValueError:
            return
        if moment <= when + FUTURE_TOLERANCE:
            return
        with self._lock:
            self.future_records += 1
            count = self.future_records
        if count <= MAX_FUTURE_WARNINGS:
            self.log(
                f"customers: customer {record.get('customer_id')} has {CURSOR_FIELD} {value}, after the time of "
                f"UPgates' answer ({when.isoformat()}). It is emitted; the cursor stops at the answer's time so "
                "later edits are still read (this customer is read again by every sync until its time passes).",
                Level.WARN,
            )
        elif count == MAX_FUTURE_WARNINGS + 1:
            self.log("customers: more customers are stamped in the future; they are emitted but not named here.", Level.WARN)

    def restart(self, from_: Optional[str], reason: str, discard_cursor: bool = False) -> None:
        """Repair a pass that cannot be right: read it again from page 1 (from `from_`);
        `discard_cursor` also drops the saved cursor (it was in the future)."""
        self.log(f"customers: {reason}", Level.WARN)
        self.from_ = from_
        self.pages_done = 0
        self.done_after.clear()
        self.items_at_start = None
        self.resumed = False
        self.settle()  # the page that showed the problem is discarded: it will emit no STATE
        for callback in self.on_restart:
            callback(discard_cursor)

    def set_workers(self, workers: int) -> None:
        self.limit = max(1, workers)

    def wait_for_room(self) -> None:
        """Called once per page, before its request (in a worker thread, or the generator's)."""
        with self._room:
            while self.bought - self.settled >= self.limit and not self.stopped:
                self._room.wait(1.0)
            self.bought += 1

    def settle(self, pages: int = 1) -> None:
        """`pages` pages' STATE reached the reader (or will never come: a discarded page)."""
        with self._room:
            self.settled += pages
            self._room.notify_all()

    def stop(self) -> None:
        """A page failed: no further page is requested; waiting workers wake up and skip."""
        with self._room:
            self.stopped = True
            self._room.notify_all()

    # called once per answer, from worker threads
    def on_answer(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> datetime:
        """Totals and quota headers of an answer; returns the answer's time (its `Date`, else
        this machine's clock)."""
        if self.settle_on_answer:  # its request is over: the next may start while this one is parsed
            self.settle()
        when = answer_time(headers)
        if when is not None:
            with self._lock:
                if self.answer_at is None or when > self.answer_at:
                    self.answer_at = when
        pages, items = body.get("number_of_pages"), body.get("number_of_items")
        if isinstance(pages, int):
            self.number_of_pages = pages
        if isinstance(items, int):
            self.number_of_items = items
        self.rate_headers = {k: v for k, v in headers.items() if k.lower().startswith("x-rate-limit-") and k.lower().endswith("-remaining")}
        return when or datetime.now(timezone.utc)

    def slice_for(self, page: int) -> StreamSlice:
        partition: Dict[str, Any] = {"page": page}
        if self.from_:
            partition["from"] = self.from_
        return StreamSlice(partition=partition, cursor_slice={})

    def page_read(self, page: int) -> None:
        """A page's records are all handed over; log progress every few pages."""
        with self._lock:
            self.pages_read += 1
            count, left = self.pages_read, (self.pages_to_read or 0) - self.pages_read
        if count % PROGRESS_EVERY_PAGES == 0 or left <= 0:
            quota = ", ".join(f"{k}: {v}" for k, v in sorted(self.rate_headers.items())) or "not reported"
            self.log(
                f"customers: {count} pages read in this run, {max(left, 0)} left "
                f"(pass from {self.from_ or 'the beginning'}, {self.number_of_items} customers); quota left: {quota}"
            )

    def log(self, text: str, level: Level = Level.INFO) -> None:
        self._message_repository.emit_message(AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=text)))

    def emit_estimate(self) -> None:
        if self.number_of_items is None:
            return
        self._message_repository.emit_message(
            AirbyteMessage(
                type=Type.TRACE,
                trace=AirbyteTraceMessage(
                    type=TraceType.ESTIMATE,
                    emitted_at=time.time() * 1000,
                    estimate=AirbyteEstimateTraceMessage(name=STREAM, type=EstimateType.STREAM, row_estimate=self.number_of_items),
                ),
            )
        )


class PagePartition(DeclarativePartition):
    """One page of the customers list. Once a page of the pass has failed (an exhausted quota,
    a 403) the pages still queued are skipped without a request; the cursor does not count a
    skipped page as done."""

    def __init__(self, pass_: CustomersPass, page: int, prefetched: Optional[List[Record]] = None, **kwargs: Any) -> None:
        super().__init__(stream_slice=pass_.slice_for(page), **kwargs)
        self.page = page
        self.skipped = False
        self._pass = pass_
        self._prefetched = prefetched

    def read(self) -> Iterable[Record]:
        if self._prefetched is not None:
            records, self._prefetched = self._prefetched, None
            yield from records
        else:
            self._pass.wait_for_room()
            if self._pass.stopped:
                self.skipped = True
                return
            try:
                yield from super().read()
            except Exception:
                self._pass.stop()
                raise
        self._pass.page_read(self.page)

    def fetch(self) -> List[Record]:
        self._pass.wait_for_room()
        try:
            return list(super().read())
        except Exception:
            self._pass.stop()
            raise


class CustomersPageGenerator(PartitionGenerator):
    """Partitions of one pass: the first page still to read is fetched here (its answer gives
    `number_of_pages`), then every other page still to read is yielded at once, so the worker
    pool fetches them concurrently. Fetching that first page in the generator (instead of
    yielding it and waiting for its answer) keeps no worker blocked, so one worker is enough."""

    def __init__(
        self,
        pass_: CustomersPass,
        retriever: Any,
        schema_loader: Any,
        message_repository: MessageRepository,
        restart_from: Optional[str] = None,
    ) -> None:
        self._pass = pass_
        self._restart_from = restart_from  # F of a pass read again from scratch (start_date or none)
        self._kwargs = dict(
            stream_name=STREAM,
            schema_loader=schema_loader,
            retriever=retriever,
            message_repository=message_repository,
            max_records_limit=None,
            record_counter=RecordCounter(),
        )

    def _partition(self, page: int, prefetched: Optional[List[Record]] = None) -> PagePartition:
        return PagePartition(self._pass, page, prefetched, **self._kwargs)

    def _first_page(self) -> int:
        p = self._pass
        first = p.pages_done + 1
        while first in p.done_after:
            first += 1
        return first

    def generate(self) -> Iterable[Partition]:
        p = self._pass
        first = self._first_page()
        records = self._partition(first).fetch()
        # A pass that starts after the API's own time would skip every edit made since the real
        # last sync (the old cursor was pushed forward by a customer stamped in the future, or
        # the state was edited): it is not trusted, the pass is read again from scratch.
        if p.from_ and p.answer_at is not None and parse_time(p.from_) > p.answer_at + FUTURE_TOLERANCE:
            p.restart(
                self._restart_from,
                f"the saved cursor asks for customers changed since {p.from_}, after UPgates' current time "
                f"({p.answer_at.isoformat()}); a cursor in the future cannot be right and would skip edits, so "
                f"the pass is read again from {self._restart_from or 'the beginning'}.",
                discard_cursor=True,
            )
            first = 1
            records = self._partition(first).fetch()
        n = max(p.number_of_pages or 0, 1)
        beyond = [page for page in p.done_after if page > n]
        if p.resumed and (first > n or beyond):
            # The saved pass says pages are done that the list does not have: it cannot be right.
            p.restart(
                p.from_,
                f"the saved pass says {p.pages_done} pages are done (and {sorted(p.done_after)} after them), but "
                f"the list has {p.number_of_pages} pages; the pass is read again from page 1.",
            )
            if first != 1:
                first = 1
                records = self._partition(first).fetch()
                n = max(p.number_of_pages or 0, 1)
        rest = [page for page in range(first + 1, n + 1) if page not in p.done_after]
        if p.resumed and p.pages_done and p.items_at_start is not None and (p.number_of_items or 0) < p.items_at_start:
            # The list shrank since the pass began (customers deleted or no longer matching):
            # customers may have moved to earlier pages, so read again from the last page done.
            p.log(
                f"customers: the list shrank from {p.items_at_start} to {p.number_of_items} customers since this "
                f"pass began; reading again from page {p.pages_done}", Level.WARN,
            )
            rest = sorted(set(rest) | {page for page in range(p.pages_done, n + 1) if page != first})
            p.done_after.clear()
        if p.items_at_start is None:
            p.items_at_start = p.number_of_items
        p.total_pages = max(n, first)
        p.pages_to_read = 1 + len(rest)
        p.emit_estimate()
        if p.resumed:
            p.log(f"customers: resuming the pass from {p.from_ or 'the beginning'} at page {first} of {n}")
        yield self._partition(first, records)
        for page in rest:
            if p.stopped:
                break
            yield self._partition(page)


class CustomersPassCursor(Cursor):
    """Incremental state of `customers`, saved after every page:

        {"last_update_time": <cursor of the last completed pass>,
         "pass": {"from": F, "pages_done": k, "done_after": [...], "items": n, "max_seen": M}}

    and, when the pass completes, `{"last_update_time": max(M, previous)}`. The next pass asks for
    `last_update_time_from` = that value minus the lookback (inclusive, so customers sharing the
    cursor's second are read again, never lost)."""

    def __init__(
        self,
        pass_: CustomersPass,
        previous: Optional[str],
        max_seen: Optional[str],
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
    ) -> None:
        self._pass = pass_
        self._previous = previous
        self._max_str = max_seen
        self._max_dt = parse_time(max_seen) if max_seen else None
        self._message_repository = message_repository
        self._state_manager = state_manager
        self._lock = threading.Lock()
        self._complete = False
        self._emitted_final = False
        pass_.on_restart.append(self._on_restart)

    def _on_restart(self, discard_cursor: bool) -> None:
        with self._lock:
            if discard_cursor:
                self._previous, self._max_str, self._max_dt = None, None, None

    @classmethod
    def from_state(
        cls,
        stream_state: Mapping[str, Any],
        config: Mapping[str, Any],
        message_repository: MessageRepository,
        state_manager: ConnectorStateManager,
        logger: logging.Logger,
    ) -> "CustomersPassCursor":
        previous = stream_state.get(CURSOR_FIELD) or None
        resumed = stream_state.get("pass")
        if isinstance(resumed, Mapping):
            pass_ = CustomersPass(
                from_=resumed.get("from"),
                pages_done=int(resumed.get("pages_done") or 0),
                done_after=[int(x) for x in resumed.get("done_after") or ()],
                items=resumed.get("items"),
                resumed=True,
                message_repository=message_repository,
                logger=logger,
            )
            return cls(pass_, previous, resumed.get("max_seen"), message_repository, state_manager)
        pass_ = CustomersPass(from_=pass_start(config, previous), message_repository=message_repository, logger=logger)
        return cls(pass_, previous, None, message_repository, state_manager)

    @property
    def pass_(self) -> CustomersPass:
        return self._pass

    @property
    def state(self) -> MutableMapping[str, Any]:
        state: Dict[str, Any] = {}
        newest = self._newest()
        if self._complete:
            if newest:
                state[CURSOR_FIELD] = newest
            return state
        if self._previous:
            state[CURSOR_FIELD] = self._previous
        p = self._pass
        if p.pages_done or p.done_after or p.resumed:
            state["pass"] = {
                "from": p.from_,
                "pages_done": p.pages_done,
                "done_after": sorted(p.done_after),
                "items": p.items_at_start,
                "max_seen": self._max_str,
            }
        return state

    def _newest(self) -> Optional[str]:
        if self._previous and self._max_dt is not None:
            newest = self._max_str if self._max_dt >= parse_time(self._previous) else self._previous
        else:
            newest = self._max_str or self._previous
        if newest:
            # never past the API's own clock (a saved value from before this repair, too)
            ceiling = self._pass.ceiling()
            if parse_time(newest) > ceiling:
                return ceiling.isoformat()
        return newest

    def observe(self, record: Record) -> None:
        value = record.data.get(CURSOR_FIELD)
        if not value or value == self._max_str:
            return
        try:
            moment = parse_time(value)
        except ValueError:
            return  # an unreadable time moves no cursor (the record is emitted as it is)
        ceiling = self._pass.ceiling()
        if moment > ceiling:  # stamped in the future: the cursor stops at the answer's time
            moment, value = ceiling, ceiling.isoformat()
        if self._max_dt is None or moment > self._max_dt:
            with self._lock:
                if self._max_dt is None or moment > self._max_dt:
                    self._max_dt, self._max_str = moment, value

    def close_partition(self, partition: Partition) -> None:
        page = getattr(partition, "page", None)
        if page is None or getattr(partition, "skipped", False):
            return
        p = self._pass
        with self._lock:
            if page > p.pages_done:
                p.done_after.add(page)
                while p.pages_done + 1 in p.done_after:
                    p.done_after.discard(p.pages_done + 1)
                    p.pages_done += 1
            if p.total_pages is not None and p.pages_done >= p.total_pages:
                self._complete = True
            self._emit()

    def _emit(self) -> None:
        self._state_manager.update_state_for_stream(STREAM, None, self.state)
        self._message_repository.emit_message(self._state_manager.create_state_message(STREAM, None))
        if self._complete:
            self._emitted_final = True

    def ensure_at_least_one_state_emitted(self) -> None:
        with self._lock:
            if not self._emitted_final:
                self._emit()

    def should_be_synced(self, record: Record) -> bool:
        return True

    def stream_slices(self) -> Iterable[StreamSlice]:
        yield from ()


def pass_start(config: Mapping[str, Any], previous: Optional[str]) -> Optional[str]:
    """F of a new pass: the saved cursor less the lookback, not before `start_date`; no filter
    when there is neither (every customer)."""
    candidates = []
    start = (config.get("start_date") or "").strip()
    if start:
        candidates.append(parse_time(start))
    if previous:
        lookback = timedelta(minutes=int(config.get("lookback_minutes", 10) or 0))
        candidates.append(parse_time(previous) - lookback)
    if not candidates:
        return None
    return max(candidates).isoformat()


# ---- what a saved state and a config must hold (a config_error naming the field otherwise) ---

def _time_problem(value: Any) -> Optional[str]:
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
        problem = _time_problem(stream_state.get(CURSOR_FIELD))
        if problem:
            return f"customers.{CURSOR_FIELD}: {problem}"
    saved = stream_state.get("pass")
    if saved is None:
        return None
    if not isinstance(saved, Mapping):
        return f"customers.pass must be an object, not {type(saved).__name__}"
    for key in ("from", "max_seen"):
        if saved.get(key) is not None:
            problem = _time_problem(saved.get(key))
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
