"""Routing and buffering of the write loop (main thread): each input message to its place —
a record mapped, validated and buffered per stream (per group, de-duplicated by key), an
unreadable line rejected, a record of an unconfigured stream skipped — and full buffers
dispatched to the worker pool (max_concurrent_requests + SETTLING_WORKERS threads; the
requests themselves are bounded by `RequestSlots`), never two batches with a shared key in
flight at once (from submission until settled).

`Routing` is one of the three parts `WriteLoop` is made of (with `Settlement` and
`Reporting`)."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, Type

from destination_common.http import RequestSlots, bind_request_slots
from destination_common.input import InputReject, repaired_reason
from destination_common.outcomes import Item, NotSent, Reject
from destination_common.reporting import Segment, WriteStats
from destination_common.stream_handler import StreamHandler

logger = logging.getLogger("airbyte")

NEVER = float("inf")
# Workers beyond max_concurrent_requests: while one worker parses and settles its batch's answer,
# another already has the next batch's request built and sends it the moment a request slot
# frees (RequestSlots: at most max_concurrent_requests requests in flight, whatever the workers)
SETTLING_WORKERS = 1
QUEUED_AHEAD = 1  # batches submitted beyond the workers (waiting in the executor's queue)


@dataclass
class Batch:
    """A batch handed to the workers: its keys (never two batches in flight share one) and the
    input position of its earliest record (no state after it is echoed before it settles)."""

    handler: StreamHandler
    items: list[Item]
    keys: set[tuple[int, Any]]
    floor: int
    future: Optional[Future] = None


class Routing:
    """Records to buffers to workers (a part of `WriteLoop`; the state lives on the loop, set
    in `WriteLoop.__init__`). Uses `reject`, `note`, `_progress` (Reporting), `_run_batch`
    (Settlement, the workers' task) and `_on_state` (WriteLoop, writer.py)."""

    name: str
    handlers: dict[str, StreamHandler]
    batch_size: int
    max_concurrent_requests: int
    dry_run: bool
    stats: WriteStats
    _buffers: dict[Any, dict[Any, Item]]
    _bucket_stream: dict[Any, str]
    _key_bucket: dict[tuple[str, Any], Any]
    _bucket_floor: dict[Any, int]
    _seq: int
    _warned_streams: set[str]
    _inflight: list[Batch]
    _segments: dict[tuple[Optional[str], str], Segment]
    _loose: Segment
    _failed_floor: float
    _error: Optional[BaseException]
    _executor: Optional[ThreadPoolExecutor]
    _slots: RequestSlots
    _wake: Callable[[], None]

    def _on_message(self, message: Any) -> None:
        if isinstance(message, InputReject):
            self._on_input_reject(message)
        elif message.type == Type.RECORD:
            self._on_record(message)
        elif message.type == Type.STATE:
            self._on_state(message)

    # ---- records ------------------------------------------------------------------------
    def _segment_for(self, namespace: Optional[str], stream: str) -> Segment:
        seg = self._segments.get((namespace, stream))
        if seg is None:
            seg = self._segments[(namespace, stream)] = Segment()
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
                if item.seq < self._bucket_floor.get(bucket, NEVER):
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

    # ---- dispatching --------------------------------------------------------------------
    @property
    def _workers(self) -> int:
        return self.max_concurrent_requests + SETTLING_WORKERS

    def _ensure_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._workers,
                thread_name_prefix=f"{self.name}-send",
                initializer=bind_request_slots,
                initargs=(self._slots,),
            )
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
            # a batch is in _inflight from its submission until it is settled (answer parsed,
            # outcomes counted), so no batch that shares a key with it starts before; one batch
            # more than the workers may wait in the executor's queue, so a worker starts it the
            # moment it is free (no hand-off through the main thread)
            if not blockers and len(self._inflight) < self._workers + QUEUED_AHEAD:
                break
            wait([b.future for b in (blockers or self._inflight) if b.future is not None], return_when=FIRST_COMPLETED)
        batch = Batch(handler, items, keys, floor)
        ticket = self._slots.enlist()  # its turn for a request slot: requests leave in input order
        batch.future = self._ensure_executor().submit(self._run_batch, handler, items, ticket)
        batch.future.add_done_callback(lambda f: (self._slots.delist(ticket) if f.cancelled() else None, self._wake()))
        self._inflight.append(batch)

    def _reap(self) -> None:
        """Forget finished batches; keep the first error (its records stay unsettled)."""
        if self._slots.peak > self.stats.max_in_flight:
            self.stats.max_in_flight = self._slots.peak
        still: list[Batch] = []
        for batch in self._inflight:
            future = batch.future
            if future is not None and not future.done():
                still.append(batch)
                continue
            if future is None:
                continue
            exc = NotSent() if future.cancelled() else future.exception()
            if exc is not None:
                self._failed_floor = min(self._failed_floor, batch.floor)
                if self._error is None and not isinstance(exc, NotSent):
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
