"""The customers pass of source-upgates-customers, and the one place where the connector touches
airbyte-cdk internals.

**The pass.** UPgates has no `*_to` filter, so the CDK's declarative cursor (which checkpoints per
date window) can only save the customers state when a whole pass ends. Here a pass is a fixed
`last_update_time_from` (F) and the list's pages are the partitions: the CDK's worker pool
fetches them concurrently through the manifest's own retriever (auth, error handler,
Retry-After, selector and schema stay declarative) and `CustomersPassCursor` saves, after every
page, which pages are done. A run that starts from such a state reads the same pass (same F)
from the first page not done. `customers_stream` assembles it around the manifest's stream.

**The seam.** The CDK offers no public way to take a declarative stream's retriever, to set its
HTTP client's timeouts and redirect policy, or to reach the source's config, state manager and
message repository; `DeclarativePartition`'s constructor is not a documented API either. Every
such use is a function below, listed in `INTERNALS`, and reads the attribute through `internal()`:
when a CDK release moves one, the source stops with a system_error naming the installed
airbyte-cdk version and the attribute (never an AttributeError deep in a sync), and the canary
test `unit_tests/test_cdk_seam.py` fails the same way before a release. Nothing else in the
package reads a private CDK attribute.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Mapping, MutableMapping, Optional, Tuple

import orjson

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
from airbyte_cdk.sources.declarative.stream_slicers.declarative_partition_generator import (
    DeclarativePartition,
    RecordCounter,
)
from airbyte_cdk.sources.message import MessageRepository
from airbyte_cdk.sources.streams.concurrent.abstract_stream import AbstractStream
from airbyte_cdk.sources.streams.concurrent.cursor import Cursor, CursorField, FinalStateCursor
from airbyte_cdk.sources.streams.concurrent.default_stream import DefaultStream
from airbyte_cdk.sources.streams.concurrent.partitions.partition import Partition
from airbyte_cdk.sources.streams.concurrent.partitions.partition_generator import PartitionGenerator
from airbyte_cdk.sources.types import Record, StreamSlice
from airbyte_cdk.utils import AirbyteTracedException
from airbyte_cdk.utils import airbyte_secrets_utils

from source_upgates_customers.components import (
    CURSOR_FIELD,
    FUTURE_TOLERANCE,
    MAX_FUTURE_WARNINGS,
    PROGRESS_EVERY_PAGES,
    STREAM,
    CustomersExtractor,
    answer_time,
    parse_time,
    state_problem,
)

# ---- the seam: every airbyte-cdk internal this connector uses ---------------------------------

CDK_DISTRIBUTION = "airbyte-cdk"

# What is used, where it is read (the canary test reads every one of them on a built source).
INTERNALS: Tuple[str, ...] = (
    "ConcurrentDeclarativeSource._config",  # source_config(): the config the streams were built with
    "ConcurrentDeclarativeSource._connector_state_manager",  # state_manager(): the incoming state, STATE messages
    "ConcurrentDeclarativeSource._message_repository",  # message_repository(): the ConcurrentMessageRepository of the read
    "DefaultStream._stream_partition_generator",  # declarative_parts()
    "StreamSlicerPartitionGenerator._partition_factory",  # declarative_parts()
    "DeclarativePartitionFactory._retriever",  # declarative_parts(): the manifest's retriever
    "DeclarativePartitionFactory._schema_loader",  # declarative_parts(): the manifest's schema loader
    "HttpRequester._http_client",  # harden_http_client()
    "HttpClient._request_timeout",  # harden_http_client(): (connect, read) timeouts from the config
    "HttpClient._session",  # harden_http_client(): redirects never followed
    "airbyte_secrets_utils.__SECRETS_FROM_CONFIG",  # registered_secrets(): add each form once
    "DeclarativePartition(stream_name, schema_loader, retriever, message_repository, max_records_limit, "
    "stream_slice, record_counter)",  # PagePartition's constructor
)


def cdk_version() -> str:
    try:
        return importlib.metadata.version(CDK_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - the CDK is a dependency
        return "(not installed as a distribution)"


def cdk_moved(what: str) -> AirbyteTracedException:
    """The system_error of an internal that is not where this connector reads it."""
    return AirbyteTracedException(
        message=(
            f"source-upgates-customers does not work with the installed airbyte-cdk {cdk_version()}: "
            f"{what} is gone (moved or renamed in this CDK version). Run the connector with the "
            "airbyte-cdk version it pins (its lock file), or adapt source_upgates_customers/customers_pass.py."
        ),
        internal_message=f"airbyte-cdk {cdk_version()}: missing internal {what}",
        failure_type=FailureType.system_error,
    )


def internal(obj: Any, attribute: str, owner: str) -> Any:
    """`obj.attribute`, a private CDK attribute of class `owner`; `cdk_moved` when it is not there."""
    try:
        return getattr(obj, attribute)
    except AttributeError:
        raise cdk_moved(f"{owner}.{attribute}") from None


def source_config(source: Any) -> Mapping[str, Any]:
    return internal(source, "_config", "ConcurrentDeclarativeSource")  # type: ignore[no-any-return]


def state_manager(source: Any) -> ConnectorStateManager:
    return internal(source, "_connector_state_manager", "ConcurrentDeclarativeSource")  # type: ignore[no-any-return]


def message_repository(source: Any) -> MessageRepository:
    return internal(source, "_message_repository", "ConcurrentDeclarativeSource")  # type: ignore[no-any-return]


def declarative_parts(stream: AbstractStream) -> Tuple[Any, Any]:
    """The retriever and schema loader of a stream (the manifest's, or the customers pass's)."""
    generator = internal(stream, "_stream_partition_generator", "DefaultStream")
    if isinstance(generator, CustomersPageGenerator):
        return generator.retriever, generator.schema_loader
    factory = internal(generator, "_partition_factory", "StreamSlicerPartitionGenerator")
    return (
        internal(factory, "_retriever", "DeclarativePartitionFactory"),
        internal(factory, "_schema_loader", "DeclarativePartitionFactory"),
    )


def _no_redirect_target(response: Any) -> None:
    return None


def harden_http_client(stream: AbstractStream, timeouts: Tuple[float, float]) -> None:
    """The stream's HTTP client gets (connect, read) timeouts and never follows a redirect."""
    retriever, _ = declarative_parts(stream)
    requester = getattr(retriever, "requester", None)
    if requester is None:
        raise cdk_moved(f"{type(retriever).__name__}.requester")
    client = internal(requester, "_http_client", "HttpRequester")
    internal(client, "_request_timeout", "HttpClient")  # present before it is replaced
    client._request_timeout = timeouts
    session = internal(client, "_session", "HttpClient")
    session.get_redirect_target = _no_redirect_target
    session.max_redirects = 0


def registered_secrets() -> List[str]:
    """The CDK's secret filter list (read only: the connector adds with `add_to_secrets`)."""
    return internal(airbyte_secrets_utils, "__SECRETS_FROM_CONFIG", "airbyte_cdk.utils.airbyte_secrets_utils")  # type: ignore[no-any-return]


def customers_stream(
    source: Any, declarative: AbstractStream, *, incremental: bool, workers: int, restart_from: Optional[str],
    config: Mapping[str, Any],
) -> Tuple[AbstractStream, "CustomersPass"]:
    """The manifest's customers stream, read as page partitions of one pass: its retriever and
    schema loader, a `CustomersPassCursor` (incremental) or the CDK's final state (full refresh)."""
    retriever, schema_loader = declarative_parts(declarative)
    extractor = getattr(getattr(retriever, "record_selector", None), "extractor", None)
    if not isinstance(extractor, CustomersExtractor):
        raise AirbyteTracedException(
            message="source-upgates-customers is broken: the customers extractor is not CustomersExtractor.",
            failure_type=FailureType.system_error,
        )
    repository, logger = message_repository(source), source.logger
    cursor: Cursor
    if incremental:
        states = state_manager(source)
        state = states.get_stream_state(STREAM, None) or {}
        problem = state_problem(state)
        if problem:
            raise AirbyteTracedException(
                message=f"The saved state cannot be read: {problem}. Fix or remove the state of the customers stream.",
                failure_type=FailureType.config_error,
            )
        cursor = CustomersPassCursor.from_state(state, config, repository, states, logger)
        pass_ = cursor.pass_
    else:  # full refresh: every customer from start_date, a final state as the CDK gives full refresh
        pass_ = CustomersPass(from_=restart_from, message_repository=repository, logger=logger)
        pass_.settle_on_answer = True  # no STATE per page to wait for (and nothing to resume)
        cursor = FinalStateCursor(STREAM, None, repository)
    extractor.tracker = pass_
    pass_.set_workers(workers)
    stream = DefaultStream(
        partition_generator=CustomersPageGenerator(pass_, retriever, schema_loader, repository, restart_from=restart_from),
        name=STREAM,
        json_schema=schema_loader.get_json_schema,
        primary_key=["customer_id"],
        cursor_field=CursorField(CURSOR_FIELD),
        logger=logger,
        cursor=cursor,
    )
    return stream, pass_


# ---- the customers pass ----------------------------------------------------------------------

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
        # Prepared output (run.py's launch turns it on): a page reaches the CDK's main loop as one
        # `PreparedPage` whose records are already serialized as RECORD lines, in the worker.
        self.prepare_lines = False
        self._prepared: Dict[str, Tuple[str, int]] = {}
        self._prepared_keys = itertools.count(1)
        self.prepared_pages = 0
        self.prepared_records = 0
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

    # ---- prepared output (see PreparedPage) ----------------------------------------------
    def prepare(self, records: List[Record], stream_slice: Optional[StreamSlice]) -> "PreparedPage":
        """A page's records as RECORD lines, serialized here (in the worker that read the page)
        as the CDK's entrypoint serializes a record message (its `AirbyteMessageSerializer`,
        which leaves out top-level null fields, then `orjson`, `json` when orjson cannot), with
        the time of serialization as `emitted_at`. unit_tests/test_prepared_output.py compares
        the lines with the CDK's, byte for byte."""
        emitted_at = time.time_ns() // 1_000_000
        lines = []
        for record in records:
            # the CDK's serializer leaves out a record's top-level fields whose value is null
            data = {k: v for k, v in record.data.items() if v is not None}
            message = {"type": "RECORD", "record": {"stream": STREAM, "data": data, "emitted_at": emitted_at}}
            try:
                lines.append(orjson.dumps(message).decode())
            except Exception:  # what the CDK's airbyte_message_to_string falls back to
                lines.append(json.dumps(message))
        key = str(next(self._prepared_keys))
        with self._lock:
            self._prepared[key] = ("\n".join(lines) + "\n", len(lines))
            self.prepared_pages += 1
            self.prepared_records += len(lines)
        return PreparedPage(key, [record.data for record in records], stream_slice)

    def prepared_count(self, key: str) -> int:
        """How many records the prepared page `key` holds (the entrypoint counts them for STATE)."""
        with self._lock:
            entry = self._prepared.get(key)
        return entry[1] if entry else 0

    def take_prepared(self, key: str) -> str:
        """The RECORD lines of the prepared page `key` (each ending in a newline), once."""
        with self._lock:
            entry = self._prepared.pop(key, None)
        if entry is None:
            raise RuntimeError(f"customers: prepared page {key} is unknown or was written already")
        return entry[0]

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


PREPARED_KEY = "__upgates_prepared_page__"
# How the CDK's entrypoint serializes a PreparedPage's record message (run.py recognises it).
PREPARED_LINE_PREFIX = '{"type":"RECORD","record":{"stream":"%s","data":{"%s":"' % (STREAM, PREPARED_KEY)


class PreparedPage(Record):
    """One page of customers on its way to stdout as a single item of the CDK's queue (instead of
    one Record per customer): its data is only `{PREPARED_KEY: key}`, the records' lines wait in
    the pass (`CustomersPass.prepare`). The CDK's main loop handles it as one record (the stream
    is marked RUNNING at the first), run.py's entrypoint counts the page's records for the next
    STATE's `sourceStats.recordCount`, and run.py's launch writes the page's lines where the CDK
    would write this record: before the STATE that covers the page (the partition is closed,
    and its STATE emitted, after this item is queued). `records` (the data) is what the cursor
    observes. The main thread thus does per page what it did per record; the per-record work
    (building each record message, serializing it) is done in the worker that read the page."""

    def __init__(self, key: str, records: List[Mapping[str, Any]], stream_slice: Optional[StreamSlice]) -> None:
        super().__init__(data={PREPARED_KEY: key}, stream_name=STREAM, associated_slice=stream_slice)
        self.records = records


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
            yield from self._out(records)
        else:
            self._pass.wait_for_room()
            if self._pass.stopped:
                self.skipped = True
                return
            try:
                if self._pass.prepare_lines:
                    yield from self._out(list(super().read()))
                else:
                    yield from super().read()
            except Exception:
                self._pass.stop()
                raise
        self._pass.page_read(self.page)

    def _out(self, records: List[Record]) -> Iterable[Record]:
        """The page as one PreparedPage when the output is prepared (and the page has records),
        else record by record."""
        if self._pass.prepare_lines and records:
            yield self._pass.prepare(records, self.to_slice())
        else:
            yield from records

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

    @property
    def retriever(self) -> Any:
        """The manifest's retriever (check asks `/status` through its requester)."""
        return self._kwargs["retriever"]

    @property
    def schema_loader(self) -> Any:
        return self._kwargs["schema_loader"]

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
        if isinstance(record, PreparedPage):
            for data in record.records:
                self._observe(data)
            return
        self._observe(record.data)

    def _observe(self, data: Mapping[str, Any]) -> None:
        value = data.get(CURSOR_FIELD)
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


