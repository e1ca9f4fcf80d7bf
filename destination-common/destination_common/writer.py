"""The write loop with Airbyte semantics: map → validate → buffer → batch → send → outcome,
STATE echoed only after every record before it is settled, bounded memory, bisection of
refused batches, retry-once, rejected-share threshold, progress and summary lines.

Requests overlap the work: `send()` runs in worker threads (up to `max_concurrent_requests`
in flight) while the main thread maps, validates and buffers the next records. See README.md
("The write loop") for the invariants."""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections import Counter, deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from airbyte_cdk.models import AirbyteMessage, AirbyteStateType, FailureType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common.http import redact
from destination_common.input import DestinationStats, InputReject, repaired_reason
from destination_common.outcomes import ACCEPTED, PLANNED, REFUSED, REJECTED, RETRY, BatchRefused, Item, Outcome, Reject
from destination_common.rejects import RejectLog

logger = logging.getLogger("airbyte")


class StreamHandler(ABC):
    """What a connector implements per configured stream (one object may serve several).

    map(data)        → payload for the API; raise Reject/MappingError to reject the record.
    validate(payload)→ None; raise Reject(code, reason) for what the API would refuse.
    key(payload, data) → the record's key for logs and de-duplication (e-mail, id) or None.
                       The loop never has two items with the same key in requests in flight
                       at the same time.
    send(items)      → one Outcome per item, aligned; raise BatchRefused when the whole request
                       is refused for a non-transient cause, or answer Outcome.refused for the
                       items of a part so refused (one of several requests made for a batch);
                       raise AirbyteTracedException for what must stop the sync (transient
                       outage after retries, bad creds). Runs in a worker thread, up to
                       `max_concurrent_requests` at once: it must be thread-safe.
    plan(items)      → dry run only, instead of send(): one Outcome per item,
                       Outcome.planned("create" | "update" | "create or update") or
                       Outcome.rejected(code, reason), using read-only API calls only. Default:
                       every item "create or update".
    batch_group(payload) → None, or a hashable: items of different groups never share a batch
                       (e.g. the set of filled-in fields); memory: one partial batch per group.
    note(field, reason) → call from map()/validate() for a field-level correction (phone
                       normalised, field dropped); the loop keeps it (RejectLog.note) and counts
                       the record as corrected.
    dedupe           → True: within one batch, a later record with the same key replaces the
                       earlier one (last wins; the earlier one is counted as `collapsed`).
    summary()        → None, or a connector-specific summary line (what the API reported, what
                       cleaning changed); the loop logs it after its "Write summary" line.
    max_batch        → None, or the most items one send() may carry. The core slices batches
                       (and bisection halves) to it. A handler that learns the API's limit (a
                       "too many items" refusal) calls `self.learn_limit(n, reason)` before
                       raising BatchRefused, so later batches are not refused again.
    """

    dedupe: bool = False
    max_batch: Optional[int] = None

    def map(self, data: Mapping[str, Any]) -> Any:
        return dict(data)

    def validate(self, payload: Any) -> None:
        return None

    def key(self, payload: Any, data: Mapping[str, Any]) -> Optional[str]:
        return None

    def summary(self) -> Optional[str]:
        return None

    def plan(self, items: Sequence[Item]) -> Sequence[Outcome]:
        return [Outcome.planned("create or update") for _ in items]

    def batch_group(self, payload: Any) -> Any:
        """None (default), or a hashable group: the loop then batches the stream's items per
        group (each group flushed at batch_size, all where a batch would be flushed)."""
        return None

    def prepare(self, items: Sequence[Item]) -> None:
        """Called in the main thread when a batch is handed to the workers (not in a dry run),
        while the request before it may still be in flight: work that depends only on these
        items (encoding the request body) can be done here and kept for `send()` of the same
        items, so it is not on the path between one answer and the next request. It must not
        write anything; `send()` must still work without it (halves of a refused batch are
        never prepared). Default: nothing."""
        return None

    def learn_limit(self, size: int, reason: str) -> bool:
        """The one mechanism for a learnt request-size limit: the API refused a request as too
        large and named (or implied) that at most `size` items fit. Lowers `self.max_batch` to
        `size` when that is lower (thread-safe: `send()` runs in worker threads), logs one
        warning — `<reason>; sending at most N per request from now on. Set batch_size to N to
        save the refused requests.` — and returns True; returns False (nothing logged) when
        the limit already was that low or `size` < 1. The loop slices batches, bisection halves
        and the refused items to `max_batch`, and fills later batches only to it. `reason`
        says what was refused (e.g. `The shop refused 100 users in one users/import request
        (too many)`); it is redacted."""
        size = int(size)
        if size < 1:
            return False
        with self._limit_lock():
            if self.max_batch is not None and size >= self.max_batch:
                return False
            self.max_batch = size
        logger.warning(
            redact(
                f"{reason}; sending at most {size} per request from now on. "
                f"Set batch_size to {size} to save the refused requests."
            )
        )
        return True

    def _limit_lock(self) -> threading.Lock:
        lock = self.__dict__.get("_dc_limit_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_dc_limit_lock", threading.Lock())  # setdefault: one lock even if raced
        return lock

    def note(self, field: str, reason: str) -> None:
        """Record a field-level correction of the record being mapped (from map/validate)."""
        self._note_list().append((str(field), str(reason)))

    def take_notes(self) -> list[tuple[str, str]]:
        """The notes made in this thread since the last call (the loop calls it)."""
        notes = self._note_list()
        taken = list(notes)
        notes.clear()
        return taken

    def _note_list(self) -> list[tuple[str, str]]:
        local = self.__dict__.get("_dc_notes")
        if local is None:
            local = self.__dict__.setdefault("_dc_notes", threading.local())
        if not hasattr(local, "items"):
            local.items = []
        return local.items

    @abstractmethod
    def send(self, items: Sequence[Item]) -> Sequence[Outcome]:
        ...


@dataclass
class WriteStats:
    records_in: int = 0
    accepted: int = 0
    collapsed: int = 0
    unknown_stream: int = 0
    batches: int = 0  # send() calls, bisection halves and retries included
    bisections: int = 0
    item_retries: int = 0
    states: int = 0
    corrected: int = 0  # records written with at least one field-level note
    unreadable_input: int = 0  # input lines that were not a usable message (rejected)
    repaired_input: int = 0  # input lines repaired on the way in (lone surrogates, ...)
    planned: int = 0  # dry run: items planned
    states_withheld: int = 0  # dry run: states not echoed
    max_in_flight: int = 0  # most send() batches in flight at once
    delayed_flushes: int = 0  # partial batches sent because a state waited max_state_delay_seconds

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class _Segment:
    """The records a STATE covers (per stream, or all for a global state)."""

    __slots__ = ("records", "rejected")

    def __init__(self) -> None:
        self.records = 0
        self.rejected = 0


@dataclass
class _Held:
    message: AirbyteMessage
    point: int  # records 1..point came before this state
    arrived: float
    segments: list[_Segment]


@dataclass
class _Batch:
    handler: StreamHandler
    items: list[Item]
    keys: set[tuple[int, Any]]
    floor: int
    future: Optional[Future] = None


_NEVER = float("inf")


class _NotSent(Exception):
    """A batch that was not sent because an earlier send() raised."""
_QUEUED_AHEAD = 1  # batches submitted beyond max_concurrent_requests (waiting for a worker)
# While run() works at max_concurrent_requests 1, threads hand the GIL over after at most this
# long (CPython's default: 5 ms).
# The main thread maps records without pause; a worker that wakes up because its answer arrived
# (or that releases the GIL for a socket write, a file check) waits for the GIL up to the switch
# interval each time, and that wait lies between one request's answer and the next request's
# departure (measured: 14.7 ms -> 8.6 ms per request at 0.5 ms, destination-cartum-users at 50 ms).
SWITCH_INTERVAL = 0.0005


class WriteLoop:
    """Drive a destination's `write()`:

        loop = WriteLoop({"users": handler}, batch_size=100, rejects=RejectLog(path),
                         max_rejected_share=0.1, request_stats=client.stats,
                         max_concurrent_requests=1, max_state_delay_seconds=60, dry_run=False)
        yield from loop.run(input_messages)

    Records go to the handler of their stream (`handlers` keyed by stream name; records of
    other streams are counted and skipped). A batch is sent when it reaches `batch_size`, in a
    worker thread (up to `max_concurrent_requests` batches in flight; never two holding the
    same key); at the end of input the rest is sent. A STATE is held until every record before
    it is settled, then echoed with `destinationStats`; when the oldest held state has waited
    `max_state_delay_seconds` (None: no limit; 0: at once, one short batch per state), the
    partial batches before it are sent. Only the current batch of each stream and the batches
    in flight are kept in memory.

    At the end a summary line is logged; if rejected / records_in > `max_rejected_share`
    (None: no limit), a config_error AirbyteTracedException is raised after everything
    accepted was flushed and its states emitted. With `dry_run`, `handler.plan()` replaces
    `send()`, no state is echoed and a "Dry run" line per stream says what would be done.
    """

    def __init__(
        self,
        handlers: Mapping[str, StreamHandler],
        *,
        batch_size: int,
        rejects: Optional[RejectLog] = None,
        max_rejected_share: Optional[float] = None,
        request_stats: Optional[Callable[[], Mapping[str, int]]] = None,
        progress_every: int = 10_000,
        name: str = "destination",
        max_concurrent_requests: int = 1,
        max_state_delay_seconds: Optional[float] = 60,
        dry_run: bool = False,
        input_buffer: int = 1000,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if int(max_concurrent_requests) < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        self.handlers = dict(handlers)
        self.batch_size = int(batch_size)
        self.rejects = rejects or RejectLog()
        self.max_rejected_share = max_rejected_share
        self.request_stats = request_stats or (lambda: {})
        self.progress_every = max(1, int(progress_every))
        self.name = name
        self.max_concurrent_requests = int(max_concurrent_requests)
        self.max_state_delay_seconds = None if max_state_delay_seconds is None else max(0.0, float(max_state_delay_seconds))
        self.dry_run = bool(dry_run)
        self.input_buffer = max(1, int(input_buffer))
        self.stats = WriteStats()
        # buffers by bucket: the stream's name, or (stream, group) for StreamHandler.batch_group
        self._buffers: dict[Any, dict[Any, Item]] = {s: {} for s in self.handlers}
        self._bucket_stream: dict[Any, str] = {s: s for s in self.handlers}
        self._key_bucket: dict[tuple[str, Any], Any] = {}
        # lowest input position in each non-empty buffer (a lower bound after a cross-group dedupe)
        self._bucket_floor: dict[Any, int] = {}
        self._seq = 0
        self._warned_streams: set[str] = set()
        self._lock = threading.RLock()
        self._inflight: list[_Batch] = []
        self._held: deque[_Held] = deque()
        self._segments: dict[tuple[Optional[str], str], _Segment] = {}
        self._loose = _Segment()
        self._failed_floor = _NEVER
        self._error: Optional[BaseException] = None
        self._stop_sending = threading.Event()
        self._executor: Optional[ThreadPoolExecutor] = None
        self._wake: Callable[[], None] = lambda: None
        self._stream_rejects: dict[str, Counter[str]] = {}
        self._planned: dict[str, Counter[str]] = {}
        self._notes: Counter[str] = Counter()
        self.dry_run_path: Optional[str] = None

    @classmethod
    def from_config(
        cls,
        handlers: Mapping[str, StreamHandler],
        config: Mapping[str, Any],
        *,
        default_batch_size: int,
        request_stats: Optional[Callable[[], Mapping[str, int]]] = None,
        name: str = "destination",
        **kwargs: Any,
    ) -> "WriteLoop":
        """A loop set from the configuration fields the destinations share: `batch_size`
        (absent/0: `default_batch_size`), `rejected_records_path` (absent/empty: no file),
        `max_rejected_percent` (absent: 10; null or 100 and more: no threshold),
        `max_concurrent_requests` (absent/0: 1), `max_state_delay_seconds` (absent: 60; null:
        no limit) and `dry_run` (absent: false). Keyword arguments win over the config."""
        percent = config.get("max_rejected_percent", 10)
        options: dict[str, Any] = {
            "max_concurrent_requests": int(config.get("max_concurrent_requests") or 1),
            "max_state_delay_seconds": config.get("max_state_delay_seconds", 60),
            "dry_run": bool(config.get("dry_run", False)),
        }
        options.update(kwargs)
        return cls(
            handlers,
            batch_size=int(config.get("batch_size") or default_batch_size),
            rejects=RejectLog(config.get("rejected_records_path") or None),
            max_rejected_share=None if percent is None or float(percent) >= 100 else float(percent) / 100,
            request_stats=request_stats,
            name=name,
            **options,
        )

    # ---- entry --------------------------------------------------------------------------
    def run(self, messages: Iterable[Any]) -> Iterator[AirbyteMessage]:
        """The messages to emit (the STATE messages received, each once all records before it
        are settled). `messages` may also hold `InputReject`s (from destination_common.input)."""
        events: queue.SimpleQueue = queue.SimpleQueue()
        stop = threading.Event()
        limit = self.input_buffer
        self._wake = lambda: events.put(("done", None))
        self._ensure_executor()
        if self.dry_run:
            if self.rejects.path:
                # a dry run writes nothing: not even the rejected-records file a real sync appends to
                # (read here, not in __init__: a connector may replace `loop.rejects` after from_config)
                self.dry_run_path, self.rejects.path = self.rejects.path, None
            where = f" (not written to {self.dry_run_path})" if self.dry_run_path else ""
            logger.info(f"Dry run ({self.name}): nothing is written, no state is echoed; rejected records are counted{where}.")

        # bounded read-ahead: the reader takes a slot per message, the main thread gives it back
        # when it takes the message (a blocking wait: no polling that competes for the GIL)
        slots = threading.Semaphore(limit)

        def pump() -> None:
            try:
                for message in messages:
                    while not slots.acquire(timeout=0.1):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    events.put(("msg", message))
                events.put(("end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                events.put(("error", exc))

        reader = threading.Thread(target=pump, name=f"{self.name}-input", daemon=True)
        switch_interval = sys.getswitchinterval()
        if self.max_concurrent_requests == 1:
            # only one request in flight: the worker's waits for the GIL are the critical path. With
            # more in flight the main thread's mapping is, and the default interval wastes less of
            # it on switches (measured: loyalty at N=4 ~5% faster with the default)
            sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL))
        reader.start()
        try:
            while self._error is None:
                try:
                    kind, payload = events.get(timeout=self._next_timeout())
                except queue.Empty:
                    kind, payload = "tick", None
                if kind == "msg":
                    slots.release()
                    self._on_message(payload)
                elif kind == "end":
                    break
                elif kind == "error":
                    raise payload
                self._reap()
                self._flush_delayed()
                yield from self._release_states()
            if self._error is None:
                for bucket in list(self._buffers):
                    self._dispatch(bucket)
            self._drain()
            yield from self._release_states()
            if self._error is not None:
                raise self._error
        finally:
            stop.set()
            self._drain()
            self._shutdown()
            sys.setswitchinterval(switch_interval)
            self.rejects.close()
            logger.info(self.summary())
            for line in self.handler_summaries():
                logger.info(line)
            for line in self.dry_run_lines():
                logger.info(line)
        if self.dry_run:
            try:
                self.check_threshold()
            except AirbyteTracedException as exc:
                logger.warning(f"Dry run ({self.name}): a real sync would fail: {exc.message}")
            return
        self.check_threshold()

    def _on_message(self, message: Any) -> None:
        if isinstance(message, InputReject):
            self._on_input_reject(message)
        elif message.type == Type.RECORD:
            self._on_record(message)
        elif message.type == Type.STATE:
            self._on_state(message)

    # ---- records ------------------------------------------------------------------------
    def _segment_for(self, namespace: Optional[str], stream: str) -> _Segment:
        seg = self._segments.get((namespace, stream))
        if seg is None:
            seg = self._segments[(namespace, stream)] = _Segment()
        return seg

    def _on_input_reject(self, bad: InputReject) -> None:
        self._seq += 1
        self.stats.records_in += 1
        self.stats.unreadable_input += 1
        seg = self._segment_for(None, bad.stream) if bad.stream else self._loose
        seg.records += 1
        self.reject(bad.stream or "(input)", f"line {bad.line}", "input", f"line {bad.line}: {bad.reason}", bad.record(), segment=seg)
        self._progress()

    def _on_record(self, message: AirbyteMessage) -> None:
        record = message.record
        stream = record.stream
        self._seq += 1
        seg = self._segment_for(getattr(record, "namespace", None), stream)
        seg.records += 1
        handler = self.handlers.get(stream)
        if handler is None:
            self.stats.unknown_stream += 1
            if stream not in self._warned_streams:
                self._warned_streams.add(stream)
                logger.warning(f"Records of stream '{stream}' are not in the configured catalog: skipped.")
            return
        self.stats.records_in += 1
        data = record.data or {}
        key: Optional[str] = None
        _take_notes(handler)  # stale notes (made outside map/validate) belong to no record
        try:
            payload = handler.map(data)
            key = handler.key(payload, data)
            handler.validate(payload)
        except Reject as rej:
            _take_notes(handler)
            self.reject(stream, key if key is not None else _safe_key(handler, data), rej.code, rej.reason, data, segment=seg)
            self._progress()
            return
        except Exception as exc:  # noqa: BLE001 - a mapping bug must not crash the sync
            _take_notes(handler)
            self.reject(stream, key, "mapping", f"mapping failed: {type(exc).__name__}: {str(exc)[:200]}", data, segment=seg)
            self._progress()
            return
        notes = _take_notes(handler)
        repaired = repaired_reason(message)
        if repaired:
            self.stats.repaired_input += 1
            notes.append(("(input)", repaired))
        if notes:
            self.stats.corrected += 1
            for note_field, reason in notes:
                self.note(stream, key, note_field, reason, data)
        item = Item(stream=stream, key=key, payload=payload, record=data, seq=self._seq, segment=seg)
        bucket: Any = stream
        group_of = getattr(handler, "batch_group", None)
        if group_of is not None:
            try:
                group = group_of(payload)
            except Exception:  # noqa: BLE001 - grouping is an optimisation, never a failure
                group = None
            if group is not None:
                bucket = (stream, group)
        buffer = self._buffers.get(bucket)
        if buffer is None:
            buffer = self._buffers[bucket] = {}
            self._bucket_stream[bucket] = stream
        if not buffer:
            self._bucket_floor[bucket] = item.seq
        if handler.dedupe and key is not None:
            previous = self._key_bucket.get((stream, key))
            if previous is not None and key in self._buffers.get(previous, {}):
                replaced = self._buffers[previous].pop(key)
                item.seq = min(item.seq, replaced.seq)  # a state after the replaced record waits for this one
                self.stats.collapsed += 1
                if item.seq < self._bucket_floor.get(bucket, _NEVER):
                    self._bucket_floor[bucket] = item.seq
            buffer[key] = item
            self._key_bucket[(stream, key)] = bucket
        else:
            buffer[("#", self._seq)] = item
        limit = self._batch_limit(handler)
        if len(buffer) >= limit:
            # a limit learnt (lowered) while this buffer filled: send whole requests of it and
            # keep the rest buffered, so no short request is cut (ceil(N/limit) requests)
            self._dispatch(bucket, len(buffer) // limit * limit if len(buffer) > limit else None)
        self._progress()

    def _batch_limit(self, handler: StreamHandler) -> int:
        """batch_size, or the handler's learnt max_batch when lower (batches then fit one request)."""
        limit = self.handler_limit(handler)
        return min(self.batch_size, limit) if limit else self.batch_size

    def _progress(self) -> None:
        if self.stats.records_in % self.progress_every == 0:
            logger.info(f"Progress: {self.counts_line()}")

    # ---- states -------------------------------------------------------------------------
    def _on_state(self, message: AirbyteMessage) -> None:
        state = message.state
        descriptor = getattr(getattr(state, "stream", None), "stream_descriptor", None)
        if state is not None and state.type == AirbyteStateType.STREAM and descriptor is not None:
            seg = self._segments.pop((descriptor.namespace, descriptor.name), None)
            segments = [seg] if seg is not None else []
        else:  # GLOBAL / LEGACY: covers every stream
            segments = list(self._segments.values())
            self._segments = {}
        segments.append(self._loose)
        self._loose = _Segment()
        self._held.append(_Held(message, self._seq, time.monotonic(), segments))

    def _unsettled_floor(self) -> float:
        """The input position of the earliest record not yet settled (inf: none)."""
        floor = self._failed_floor
        for bucket_floor in self._bucket_floor.values():
            floor = min(floor, bucket_floor)
        for batch in self._inflight:
            floor = min(floor, batch.floor)
        return floor

    def _release_states(self) -> list[AirbyteMessage]:
        if not self._held:
            return []
        floor = self._unsettled_floor()
        out: list[AirbyteMessage] = []
        with self._lock:
            while self._held and self._held[0].point < floor:
                held = self._held.popleft()
                records = sum(s.records for s in held.segments)
                rejected = sum(s.rejected for s in held.segments)
                if held.message.state is not None:
                    held.message.state.destinationStats = DestinationStats(
                        recordCount=float(records), rejectedRecordCount=float(rejected)
                    )
                out.append(held.message)
        if not out:
            return []
        self.rejects.flush()
        if self.dry_run:
            self.stats.states_withheld += len(out)
            return []
        self.stats.states += len(out)
        return out

    def _next_timeout(self) -> Optional[float]:
        """How long the main thread may wait for input: until the oldest held state's delay
        ends, if records before it are still in a partial batch; else until something happens."""
        if self.max_state_delay_seconds is None or not self._held:
            return None
        oldest = self._held[0]
        if not any(f <= oldest.point for f in self._bucket_floor.values()):
            return None
        return max(0.0, oldest.arrived + self.max_state_delay_seconds - time.monotonic())

    def _flush_delayed(self) -> None:
        if self.max_state_delay_seconds is None or not self._held:
            return
        oldest = self._held[0]
        if time.monotonic() - oldest.arrived < self.max_state_delay_seconds:
            return
        for bucket, bucket_floor in list(self._bucket_floor.items()):
            if bucket_floor <= oldest.point:
                handler = self.handlers[self._bucket_stream[bucket]]
                if len(self._buffers.get(bucket) or ()) < self._batch_limit(handler):
                    self.stats.delayed_flushes += 1
                self._dispatch(bucket)

    # ---- dispatching --------------------------------------------------------------------
    def _ensure_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=self.max_concurrent_requests, thread_name_prefix=f"{self.name}-send")
        return self._executor

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def _dispatch(self, bucket: Any, count: Optional[int] = None) -> None:
        """Send a buffer (a stream's, or a stream's group's) as one batch in a worker thread,
        once a slot is free and no batch in flight holds one of its keys. With `count`, only
        the first `count` items go; the rest stay buffered."""
        buffer = self._buffers.get(bucket)
        if buffer and count is not None and 0 < count < len(buffer):
            taken = list(buffer)[:count]
            items = [buffer.pop(k) for k in taken]
            self._bucket_floor[bucket] = min(item.seq for item in buffer.values())
            stream = self._bucket_stream[bucket]
        else:
            self._bucket_floor.pop(bucket, None)
            if not buffer:
                return
            items = list(buffer.values())
            buffer.clear()
            stream = self._bucket_stream[bucket]
            if bucket != stream:
                del self._buffers[bucket], self._bucket_stream[bucket]
        for item in items:
            if item.key is not None and self._key_bucket.get((stream, item.key)) == bucket:
                del self._key_bucket[(stream, item.key)]
        handler = self.handlers[stream]
        scope = id(handler)
        keys = {(scope, item.key) for item in items if item.key is not None}
        floor = min(item.seq for item in items)
        if not self.dry_run:
            try:
                prepare = getattr(handler, "prepare", None)
                if prepare is not None:
                    prepare(items)
            except Exception:  # noqa: BLE001 - an optimisation: send() does the work itself
                logger.debug("prepare() failed; send() encodes the batch itself", exc_info=True)
        while True:
            self._reap()
            if self._error is not None:
                self._failed_floor = min(self._failed_floor, floor)  # never sent: states after it stay held
                return
            blockers = [b for b in self._inflight if keys and b.keys & keys]
            # one batch more than the workers may wait in the executor's queue, so a worker starts
            # it the moment it is free (no hand-off through the main thread); it shares no key
            # with any batch submitted before it, so it can never run beside one that has its key
            if not blockers and len(self._inflight) < self.max_concurrent_requests + _QUEUED_AHEAD:
                break
            wait([b.future for b in (blockers or self._inflight) if b.future is not None], return_when=FIRST_COMPLETED)
        batch = _Batch(handler, items, keys, floor)
        batch.future = self._ensure_executor().submit(self._run_batch, handler, items)
        batch.future.add_done_callback(lambda _f: self._wake())
        self._inflight.append(batch)
        self.stats.max_in_flight = max(self.stats.max_in_flight, min(len(self._inflight), self.max_concurrent_requests))

    def _run_batch(self, handler: StreamHandler, items: Sequence[Item]) -> None:
        """A worker's task: settle one batch, unless an earlier batch's send() already raised
        (then it is not sent at all: the sync stops after the requests in flight)."""
        if self._stop_sending.is_set():
            raise _NotSent()
        try:
            self.settle(handler, items)
        except BaseException:
            self._stop_sending.set()
            raise

    def _reap(self) -> None:
        """Forget finished batches; keep the first error (its records stay unsettled)."""
        still: list[_Batch] = []
        for batch in self._inflight:
            future = batch.future
            if future is not None and not future.done():
                still.append(batch)
                continue
            if future is None:
                continue
            exc = _NotSent() if future.cancelled() else future.exception()
            if exc is not None:
                self._failed_floor = min(self._failed_floor, batch.floor)
                if self._error is None and not isinstance(exc, _NotSent):
                    self._error = exc
        self._inflight = still
        if self._error is not None:
            for batch in still:
                if batch.future is not None:
                    batch.future.cancel()  # queued, not started: never sent

    def _drain(self) -> None:
        """Wait for every batch in flight to finish."""
        while self._inflight:
            wait([b.future for b in self._inflight if b.future is not None])
            self._reap()

    # ---- flushing (synchronous, for callers outside run()) ------------------------------
    def flush_all(self) -> None:
        for bucket in list(self._buffers):
            self._dispatch(bucket)
        self._drain()
        self.rejects.flush()
        if self._error is not None:
            raise self._error

    def flush(self, stream: str) -> None:
        for bucket in [b for b, s in self._bucket_stream.items() if s == stream]:
            self._dispatch(bucket)
        self._drain()
        self.rejects.flush()
        if self._error is not None:
            raise self._error

    # ---- settling (in worker threads) ---------------------------------------------------
    def settle(self, handler: StreamHandler, items: Sequence[Item], retried: bool = False) -> None:
        """Send `items` (dry run: plan them) and record each item's outcome; bisect on
        BatchRefused and the items answered `refused`; resend `retry` items once."""
        if not items:
            return
        limit = self.handler_limit(handler)
        if limit and len(items) > limit:
            for start in range(0, len(items), limit):
                self.settle(handler, items[start : start + limit], retried)
            return
        with self._lock:
            self.stats.batches += 1
        try:
            outcomes = list(handler.plan(items) if self.dry_run else handler.send(items))
        except BatchRefused as refused:
            learned = self.handler_limit(handler)
            if learned and len(items) > learned:
                # the handler learned the API's size limit from this refusal: slice to it
                logger.info(f"Request of {len(items)} items refused as too large; sending at most {learned} per request")
                self.settle(handler, items, retried)
                return
            self._bisect(handler, items, refused.code, refused.reason, retried)
            return
        if len(outcomes) != len(items):
            msg = (
                f"{self.name}: the API answered {len(outcomes)} outcomes for {len(items)} items sent; "
                "cannot tell which records were written. This is a bug or an API change: report it."
            )
            raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.system_error)
        again: list[Item] = []
        refused_items: list[Item] = []
        refused_outcome: Optional[Outcome] = None
        for item, outcome in zip(items, outcomes):
            if outcome.status == ACCEPTED and not self.dry_run:
                with self._lock:
                    self.stats.accepted += 1
            elif outcome.status in (PLANNED, ACCEPTED) and self.dry_run:
                self._plan(item, str(outcome.code or "create or update"))
            elif outcome.status == REFUSED:
                refused_items.append(item)
                refused_outcome = refused_outcome or outcome
            elif outcome.status == RETRY and not retried:
                again.append(item)
            elif outcome.status in (RETRY, REJECTED):
                reason = outcome.reason or "rejected by the API"
                if outcome.status == RETRY:
                    reason = f"{reason} (still failing after one retry)"
                self.reject(item.stream, item.key, outcome.code, reason, item.record, segment=item.segment)
            else:
                raise ValueError(f"unknown outcome status {outcome.status!r}")
        if refused_items and refused_outcome is not None:
            # The handler says these were refused together (e.g. one of several requests it made
            # for this batch): settle them like a BatchRefused batch. Each level sends fewer
            # items than the one before, so this ends.
            reason = refused_outcome.reason or "refused by the API"
            self._bisect(handler, refused_items, refused_outcome.code, reason, retried)
        if again:
            with self._lock:
                self.stats.item_retries += len(again)
            logger.info(f"Retrying {len(again)} item(s) once after an unhandled error")
            self.settle(handler, again, retried=True)

    def _bisect(self, handler: StreamHandler, items: Sequence[Item], code: Any, reason: str, retried: bool) -> None:
        """Items refused together for a non-transient cause: a lone one is rejected with that
        code and reason; more are split in halves (first half `items[:n//2]`), each settled."""
        if len(items) == 1:
            item = items[0]
            self.reject(item.stream, item.key, code, reason, item.record, segment=item.segment)
            return
        with self._lock:
            self.stats.bisections += 1
        half = len(items) // 2
        logger.info(redact(f"Request of {len(items)} items refused ({reason}); splitting into {half} + {len(items) - half}"))
        self.settle(handler, items[:half], retried)
        self.settle(handler, items[half:], retried)

    @staticmethod
    def handler_limit(handler: StreamHandler) -> Optional[int]:
        limit = getattr(handler, "max_batch", None)
        return int(limit) if limit and int(limit) >= 1 else None

    def reject(
        self,
        stream: str,
        key: Optional[str],
        code: Any,
        reason: str,
        record: Mapping[str, Any],
        *,
        segment: Optional[_Segment] = None,
    ) -> None:
        with self._lock:
            self.rejects.reject(stream, key, code, reason, record)
            self._stream_rejects.setdefault(stream, Counter())[RejectLog.label(code)] += 1
            if segment is not None:
                segment.rejected += 1

    def note(self, stream: str, key: Optional[str], field: str, reason: str, record: Mapping[str, Any]) -> None:
        """Keep one field-level correction (RejectLog.note: counted, in the rejected-records file)."""
        with self._lock:
            self._notes[f"{field}: {reason}"] += 1
            self.rejects.note(stream, key, field, reason, record)

    def _plan(self, item: Item, action: str) -> None:
        with self._lock:
            self.stats.planned += 1
            self._planned.setdefault(item.stream, Counter())[action] += 1

    # ---- reporting ----------------------------------------------------------------------
    def counts_line(self) -> str:
        req = self.request_stats()
        parts = [
            f"records in {self.stats.records_in}",
            f"accepted {self.stats.accepted}",
            f"rejected {self.rejects.total}",
        ]
        if "requests" in req:
            parts.append(f"requests {req['requests']}")
        return ", ".join(parts)

    def summary(self) -> str:
        req = self.request_stats()
        s = self.stats
        text = (
            f"Write summary ({self.name}): records in {s.records_in}, accepted {s.accepted}, "
            f"rejected {self.rejects.total} ({self.rejects.by_reason()}), collapsed duplicates {s.collapsed}, "
            f"requests {req.get('requests', s.batches)}, retries {req.get('retries', 0)} "
            f"(items retried once {s.item_retries}), batches {s.batches}, bisections {s.bisections}, states {s.states}"
        )
        if s.unknown_stream:
            text += f", records of unconfigured streams skipped {s.unknown_stream}"
        if s.corrected:
            text += f", corrected {s.corrected} ({self.notes_by_reason()})"
        if s.unreadable_input:
            text += f", unreadable input lines {s.unreadable_input}"
        if s.repaired_input:
            text += f", repaired input lines {s.repaired_input}"
        if self.max_concurrent_requests > 1:
            text += f", most requests in flight {s.max_in_flight} of {self.max_concurrent_requests}"
        if s.delayed_flushes:
            text += f", partial batches sent for a waiting state {s.delayed_flushes}"
        if self.dry_run:
            text += f", dry run: states withheld {s.states_withheld}"
        if self.rejects.path and (self.rejects.total or s.corrected):
            text += f"; rejected records written to {self.rejects.path}"
        return redact(text)

    def notes_by_reason(self) -> str:
        """`phone: normalised: 3, (input): lone surrogates replaced (U+FFFD / null): 1` or `none`."""
        return ", ".join(f"{label}: {n}" for label, n in self._notes.most_common()) or "none"

    def dry_run_lines(self) -> list[str]:
        """In a dry run, one line per stream: `Dry run (<name>) stream X: would create a,
        update b, create or update c, reject d (reasons)`."""
        if not self.dry_run:
            return []
        lines = []
        streams = list(dict.fromkeys([*self.handlers, *self._planned, *self._stream_rejects]))
        for stream in streams:
            planned = self._planned.get(stream, Counter())
            rejected = self._stream_rejects.get(stream, Counter())
            if stream not in self.handlers and not planned and not rejected:
                continue
            reasons = ", ".join(f"{label}: {n}" for label, n in rejected.most_common()) or "none"
            lines.append(
                redact(
                    f"Dry run ({self.name}) stream {stream}: would create {planned['create']}, "
                    f"update {planned['update']}, create or update {planned['create or update']}, "
                    + (f"skip {planned['skip']} (left as they are), " if planned["skip"] else "")
                    + f"reject {sum(rejected.values())} ({reasons})"
                )
            )
        return lines

    def handler_summaries(self) -> list[str]:
        """The handlers' own summary lines (`StreamHandler.summary()`), each once (one handler
        may serve several streams, or several handlers share one line), redacted. A failing
        summary() is logged as such: it never hides the run's outcome."""
        lines: list[str] = []
        seen: set[int] = set()
        for handler in self.handlers.values():
            if id(handler) in seen:
                continue
            seen.add(id(handler))
            try:
                line = handler.summary()
            except Exception as exc:  # noqa: BLE001 - a reporting bug must not mask the result
                line = f"{type(handler).__name__}.summary() failed: {type(exc).__name__}: {str(exc)[:200]}"
            if line and line not in lines:
                lines.append(line)
        return [redact(line) for line in lines]

    def rejected_share(self) -> float:
        return self.rejects.total / self.stats.records_in if self.stats.records_in else 0.0

    def check_threshold(self) -> None:
        if self.max_rejected_share is None or not self.stats.records_in:
            return
        share = self.rejected_share()
        if share <= self.max_rejected_share:
            return
        where = (
            f"The rejected records and their reasons are in {self.rejects.path}."
            if self.rejects.path
            else "Set a rejected-records file in the configuration to keep them; the log lists the first ones by key."
        )
        msg = redact(
            f"{self.name}: {self.rejects.total} of {self.stats.records_in} records were rejected "
            f"({share:.1%}), more than the allowed {self.max_rejected_share:.1%} ({self.rejects.by_reason()}). "
            f"The {self.stats.accepted} accepted records were written and their states emitted. {where} "
            "Fix the data or the record mapping, or raise the allowed share of rejected records."
        )
        raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)


def _take_notes(handler: StreamHandler) -> list[tuple[str, str]]:
    local = getattr(handler, "__dict__", {}).get("_dc_notes")
    if local is None or not getattr(local, "items", None):
        return []  # the common case, kept cheap: no note made in this thread
    return handler.take_notes()


def _safe_key(handler: StreamHandler, data: Mapping[str, Any]) -> Optional[str]:
    try:
        return handler.key(None, data)
    except Exception:  # noqa: BLE001
        return None
