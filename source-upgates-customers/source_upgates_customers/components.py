"""What the manifest cannot say in YAML: UPgates' `Retry-After` is an HTTP date, and a moved
shop answers `301` to a new host (where `requests` drops the credentials)."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Union
from urllib.parse import urlsplit

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


@dataclass
class UpgatesErrorHandler(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler plus one case: a shop that moved to another server
    answers `301` with a `Location` on another host. `requests` follows it without the
    credentials, which would read as a bad API key (and count as a failed login towards the
    hourly lock-out); say what happened instead."""

    def interpret_response(self, response_or_exception):  # type: ignore[no-untyped-def]
        if isinstance(response_or_exception, requests.Response) and response_or_exception.history:
            first = response_or_exception.history[0]
            if urlsplit(first.url).netloc != urlsplit(response_or_exception.url).netloc:
                location = first.headers.get("Location", response_or_exception.url)
                new_base = location.split("/api/v2")[0] + "/api/v2" if "/api/v2" in location else location
                return ErrorResolution(
                    response_action=ResponseAction.FAIL,
                    failure_type=FailureType.config_error,
                    error_message=(
                        f"The UPgates shop has moved: {urlsplit(first.url).netloc} answers "
                        f"HTTP {first.status_code} to {urlsplit(location).netloc}. "
                        f"Set the API URL to {new_base} (shown in the shop admin under Add-ons > API)."
                    ),
                )
        return super().interpret_response(response_or_exception)


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


def parse_time(value: str) -> datetime:
    """An UPgates time (ISO 8601, normally with offset); a value without offset is read as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass
class CustomersExtractor(DpathExtractor):
    """The manifest's record extractor for `customers`: the records under `field_path` (plain
    dict lookups, no dpath walk over every field), and, once per answer, the list's totals and
    the quota headers for the pass that asked (`tracker`, set by the source)."""

    def __post_init__(self, parameters: Mapping[str, Any]) -> None:
        super().__post_init__(parameters)
        self.tracker: Optional["CustomersPass"] = None
        self._keys = [p.eval(self.config) for p in self._field_path]

    def extract_records(self, response: requests.Response) -> Iterable[MutableMapping[Any, Any]]:
        for body in self.decoder.decode(response):
            if not isinstance(body, Mapping):
                continue
            if self.tracker is not None:
                self.tracker.on_answer(body, response.headers)
            records: Any = body
            for key in self._keys:
                records = records.get(key) if isinstance(records, Mapping) else None
            if isinstance(records, list):
                yield from records


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
        # Back-pressure: a page is requested only when the records waiting for the main thread
        # (the CDK's queue) are fewer than this, so the pages bought but not yet delivered (lost
        # by a kill) stay about one per worker instead of the queue's 10,000 records.
        self.output_queue: Any = getattr(message_repository, "_queue", None)
        self.max_waiting_items = 2

    def set_workers(self, workers: int) -> None:
        # one worker: the next page is bought once the last one has left the queue (a STATE or
        # log line may remain); n workers: up to n-1 pages may wait, so requests overlap
        self.max_waiting_items = PAGE_SIZE * max(workers - 1, 0) + 2

    def wait_for_room(self) -> None:
        """Called once per page, before its request, in a worker thread."""
        q = self.output_queue
        if q is None:
            return
        while q.qsize() > self.max_waiting_items and not self.stopped:
            time.sleep(0.002)

    # called once per answer, from worker threads
    def on_answer(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> None:
        pages, items = body.get("number_of_pages"), body.get("number_of_items")
        if isinstance(pages, int):
            self.number_of_pages = pages
        if isinstance(items, int):
            self.number_of_items = items
        self.rate_headers = {k: v for k, v in headers.items() if k.lower().startswith("x-rate-limit-") and k.lower().endswith("-remaining")}

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
                self._pass.stopped = True
                raise
        self._pass.page_read(self.page)

    def fetch(self) -> List[Record]:
        try:
            return list(super().read())
        except Exception:
            self._pass.stopped = True
            raise


class CustomersPageGenerator(PartitionGenerator):
    """Partitions of one pass: the first page still to read is fetched here (its answer gives
    `number_of_pages`), then every other page still to read is yielded at once, so the worker
    pool fetches them concurrently. Fetching that first page in the generator (instead of
    yielding it and waiting for its answer) keeps no worker blocked, so one worker is enough."""

    def __init__(self, pass_: CustomersPass, retriever: Any, schema_loader: Any, message_repository: MessageRepository) -> None:
        self._pass = pass_
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

    def generate(self) -> Iterable[Partition]:
        p = self._pass
        first = p.pages_done + 1
        while first in p.done_after:
            first += 1
        head = self._partition(first)
        records = head.fetch()
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
            return self._max_str if self._max_dt >= parse_time(self._previous) else self._previous
        return self._max_str or self._previous

    def observe(self, record: Record) -> None:
        value = record.data.get(CURSOR_FIELD)
        if not value or value == self._max_str:
            return
        moment = parse_time(value)
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
