"""The write loop with Airbyte semantics: map → validate → buffer → batch → send → outcome,
STATE echoed only after every record before it is settled, bounded memory, bisection of
refused batches, retry-once, rejected-share threshold, progress and summary lines.

Requests overlap the work: `send()` runs in worker threads while the main thread maps,
validates and buffers the next records; at most `max_concurrent_requests` requests are in
flight (`http.RequestSlots`), and one more worker settles the last answer meanwhile, so the
next request leaves the moment an answer has arrived. See README.md ("The write loop") for
the invariants.

The loop is made of three parts, each in its module: `routing` (records to buffers to the
worker pool), `settlement` (send, bisect, retry, in the workers) and `reporting` (counts,
summary, threshold); this module holds the loop itself (`run`, configuration) and the STATE
bookkeeping that ties them together. `StreamHandler` (stream_handler.py) and `WriteStats`
(reporting.py) are importable from here as before."""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections import Counter, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteStateType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common.http import RequestSlots
from destination_common.input import DestinationStats
from destination_common.outcomes import Item
from destination_common.rejects import RejectLog
from destination_common.reporting import Reporting, Segment, WriteStats
from destination_common.routing import NEVER, Batch, Routing
from destination_common.settlement import Settlement
from destination_common.stream_handler import StreamHandler

__all__ = ["INPUT_CHUNK", "SWITCH_INTERVAL", "StreamHandler", "WriteLoop", "WriteStats"]

logger = logging.getLogger("airbyte")


@dataclass
class _Held:
    message: AirbyteMessage
    point: int  # records 1..point came before this state
    arrived: float
    segments: list[Segment]


# While run() works at max_concurrent_requests 1, threads hand the GIL over after at most this
# long (CPython's default: 5 ms).
# The main thread maps records without pause; a worker that wakes up because its answer arrived
# (or that releases the GIL for a socket write, a file check) waits for the GIL up to the switch
# interval each time, and that wait lies between one request's answer and the next request's
# departure (measured: 14.7 ms -> 8.6 ms per request at 0.5 ms, destination-cartum-users at 50 ms).
SWITCH_INTERVAL = 0.0005
INPUT_CHUNK = 64  # input messages per read-ahead slot (the reader's semaphore)


class WriteLoop(Routing, Settlement, Reporting):
    """Drive a destination's `write()`:

        loop = WriteLoop({"users": handler}, batch_size=100, rejects=RejectLog(path),
                         max_rejected_share=0.1, request_stats=client.stats,
                         max_concurrent_requests=1, max_state_delay_seconds=60, dry_run=False)
        yield from loop.run(input_messages)

    Records go to the handler of their stream (`handlers` keyed by stream name; records of
    other streams are counted and skipped). A batch is sent when it reaches `batch_size`, in a
    worker thread (at most `max_concurrent_requests` requests in flight, one more batch being
    settled; never two batches holding the same key from submission until settled); at the
    end of input the rest is sent. A STATE is held until every record before
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
        self._inflight: list[Batch] = []
        self._held: deque[_Held] = deque()
        self._segments: dict[tuple[Optional[str], str], Segment] = {}
        self._loose = Segment()
        self._failed_floor = NEVER
        self._error: Optional[BaseException] = None
        self._stop_sending = threading.Event()
        self._slots = RequestSlots(self.max_concurrent_requests)  # bound to the workers (routing)
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

        # bounded read-ahead: the reader takes a slot per INPUT_CHUNK messages it puts, the main
        # thread gives it back when it has taken as many (a blocking wait: no polling that
        # competes for the GIL). Messages still travel one by one, so none waits in the reader
        # for input that has not come yet; the slot's acquire/release per message was a tenth
        # of the main thread's time per record (issue 16).
        slots = threading.Semaphore(max(1, -(-limit // INPUT_CHUNK)))

        def pump() -> None:
            try:
                count = 0
                for message in messages:
                    if count == 0:
                        while not slots.acquire(timeout=0.1):
                            if stop.is_set():
                                return
                    if stop.is_set():
                        return
                    count = (count + 1) % INPUT_CHUNK
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
        taken = 0
        try:
            while self._error is None:
                try:
                    kind, payload = events.get(timeout=self._next_timeout())
                except queue.Empty:
                    kind, payload = "tick", None
                if kind == "msg":
                    taken += 1
                    if taken == INPUT_CHUNK:
                        taken = 0
                        slots.release()
                    self._on_message(payload)
                    if not self._held:
                        # no state waits: nothing to release or flush; finished batches are reaped
                        # by the next dispatch and by their own "done" event
                        continue
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
        self._loose = Segment()
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
