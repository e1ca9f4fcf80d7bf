"""The write loop with Airbyte semantics: map → validate → buffer → batch → send → outcome,
STATE echoed only after every record before it is settled, bounded memory, bisection of
refused batches, retry-once, rejected-share threshold, progress and summary lines."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from airbyte_cdk.models import AirbyteMessage, FailureType, Type
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common.http import redact
from destination_common.outcomes import ACCEPTED, REFUSED, REJECTED, RETRY, BatchRefused, Item, Outcome, Reject
from destination_common.rejects import RejectLog

logger = logging.getLogger("airbyte")


class StreamHandler(ABC):
    """What a connector implements per configured stream (one object may serve several).

    map(data)        → payload for the API; raise Reject/MappingError to reject the record.
    validate(payload)→ None; raise Reject(code, reason) for what the API would refuse.
    key(payload, data) → the record's key for logs and de-duplication (e-mail, id) or None.
    send(items)      → one Outcome per item, aligned; raise BatchRefused when the whole request
                       is refused for a non-transient cause, or answer Outcome.refused for the
                       items of a part so refused (one of several requests made for a batch);
                       raise AirbyteTracedException for what must stop the sync (transient
                       outage after retries, bad creds).
    dedupe           → True: within one batch, a later record with the same key replaces the
                       earlier one (last wins; the earlier one is counted as `collapsed`).
    summary()        → None, or a connector-specific summary line (what the API reported, what
                       cleaning changed); the loop logs it after its "Write summary" line.
    max_batch        → None, or the most items one send() may carry. The core slices batches
                       (and bisection halves) to it. A handler that learns the API's limit (a
                       "too many items" refusal) lowers it before raising BatchRefused, so later
                       batches are not refused again.
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

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class WriteLoop:
    """Drive a destination's `write()`:

        loop = WriteLoop({"users": handler}, batch_size=100, rejects=RejectLog(path),
                         max_rejected_share=0.1, request_stats=client.stats)
        yield from loop.run(input_messages)

    Records go to the handler of their stream (`handlers` keyed by stream name; records of
    other streams are counted and skipped). A batch is sent when it reaches `batch_size`
    and, for every stream, on each STATE, which is then echoed; at the end of input the rest
    is flushed. Only the current batch of each stream is kept in memory.

    At the end a summary line is logged; if rejected / records_in > `max_rejected_share`
    (None: no limit), a config_error AirbyteTracedException is raised after everything
    accepted was flushed and its states emitted.
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
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.handlers = dict(handlers)
        self.batch_size = int(batch_size)
        self.rejects = rejects or RejectLog()
        self.max_rejected_share = max_rejected_share
        self.request_stats = request_stats or (lambda: {})
        self.progress_every = max(1, int(progress_every))
        self.name = name
        self.stats = WriteStats()
        self._buffers: dict[str, dict[Any, Item]] = {s: {} for s in self.handlers}
        self._seq = 0
        self._warned_streams: set[str] = set()

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
        (absent/0: `default_batch_size`), `rejected_records_path` (absent/empty: no file) and
        `max_rejected_percent` (absent: 10; null or 100 and more: no threshold)."""
        percent = config.get("max_rejected_percent", 10)
        return cls(
            handlers,
            batch_size=int(config.get("batch_size") or default_batch_size),
            rejects=RejectLog(config.get("rejected_records_path") or None),
            max_rejected_share=None if percent is None or float(percent) >= 100 else float(percent) / 100,
            request_stats=request_stats,
            name=name,
            **kwargs,
        )

    # ---- entry --------------------------------------------------------------------------
    def run(self, messages: Iterable[AirbyteMessage]) -> Iterator[AirbyteMessage]:
        try:
            for message in messages:
                if message.type == Type.RECORD:
                    self._on_record(message)
                elif message.type == Type.STATE:
                    self.flush_all()
                    self.stats.states += 1
                    yield message
            self.flush_all()
        finally:
            self.rejects.close()
            logger.info(self.summary())
            for line in self.handler_summaries():
                logger.info(line)
        self.check_threshold()

    # ---- records ------------------------------------------------------------------------
    def _on_record(self, message: AirbyteMessage) -> None:
        record = message.record
        stream = record.stream
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
        try:
            payload = handler.map(data)
            key = handler.key(payload, data)
            handler.validate(payload)
        except Reject as rej:
            self.reject(stream, key if key is not None else _safe_key(handler, data), rej.code, rej.reason, data)
            self._progress()
            return
        except Exception as exc:  # noqa: BLE001 - a mapping bug must not crash the sync
            self.reject(stream, key, "mapping", f"mapping failed: {type(exc).__name__}: {str(exc)[:200]}", data)
            self._progress()
            return
        item = Item(stream=stream, key=key, payload=payload, record=data)
        buffer = self._buffers[stream]
        if handler.dedupe and key is not None:
            if key in buffer:
                del buffer[key]
                self.stats.collapsed += 1
            buffer[key] = item
        else:
            self._seq += 1
            buffer[("#", self._seq)] = item
        if len(buffer) >= self.batch_size:
            self.flush(stream)
        self._progress()

    def _progress(self) -> None:
        if self.stats.records_in % self.progress_every == 0:
            logger.info(f"Progress: {self.counts_line()}")

    # ---- flushing -----------------------------------------------------------------------
    def flush_all(self) -> None:
        for stream in self._buffers:
            self.flush(stream)
        self.rejects.flush()

    def flush(self, stream: str) -> None:
        buffer = self._buffers[stream]
        if not buffer:
            return
        items = list(buffer.values())
        buffer.clear()
        self.settle(self.handlers[stream], items)
        self.rejects.flush()

    def settle(self, handler: StreamHandler, items: Sequence[Item], retried: bool = False) -> None:
        """Send `items` and record each item's outcome; bisect on BatchRefused and the items
        answered `refused`; resend `retry` items once."""
        if not items:
            return
        limit = self.handler_limit(handler)
        if limit and len(items) > limit:
            for start in range(0, len(items), limit):
                self.settle(handler, items[start : start + limit], retried)
            return
        self.stats.batches += 1
        try:
            outcomes = list(handler.send(items))
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
            if outcome.status == ACCEPTED:
                self.stats.accepted += 1
            elif outcome.status == REFUSED:
                refused_items.append(item)
                refused_outcome = refused_outcome or outcome
            elif outcome.status == RETRY and not retried:
                again.append(item)
            elif outcome.status in (RETRY, REJECTED):
                reason = outcome.reason or "rejected by the API"
                if outcome.status == RETRY:
                    reason = f"{reason} (still failing after one retry)"
                self.reject(item.stream, item.key, outcome.code, reason, item.record)
            else:
                raise ValueError(f"unknown outcome status {outcome.status!r}")
        if refused_items and refused_outcome is not None:
            # The handler says these were refused together (e.g. one of several requests it made
            # for this batch): settle them like a BatchRefused batch. Each level sends fewer
            # items than the one before, so this ends.
            reason = refused_outcome.reason or "refused by the API"
            self._bisect(handler, refused_items, refused_outcome.code, reason, retried)
        if again:
            self.stats.item_retries += len(again)
            logger.info(f"Retrying {len(again)} item(s) once after an unhandled error")
            self.settle(handler, again, retried=True)

    def _bisect(self, handler: StreamHandler, items: Sequence[Item], code: Any, reason: str, retried: bool) -> None:
        """Items refused together for a non-transient cause: a lone one is rejected with that
        code and reason; more are split in halves (first half `items[:n//2]`), each settled."""
        if len(items) == 1:
            item = items[0]
            self.reject(item.stream, item.key, code, reason, item.record)
            return
        self.stats.bisections += 1
        half = len(items) // 2
        logger.info(redact(f"Request of {len(items)} items refused ({reason}); splitting into {half} + {len(items) - half}"))
        self.settle(handler, items[:half], retried)
        self.settle(handler, items[half:], retried)

    @staticmethod
    def handler_limit(handler: StreamHandler) -> Optional[int]:
        limit = getattr(handler, "max_batch", None)
        return int(limit) if limit and int(limit) >= 1 else None

    def reject(self, stream: str, key: Optional[str], code: Any, reason: str, record: Mapping[str, Any]) -> None:
        self.rejects.reject(stream, key, code, reason, record)

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
        if self.rejects.path and self.rejects.total:
            text += f"; rejected records written to {self.rejects.path}"
        return redact(text)

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


def _safe_key(handler: StreamHandler, data: Mapping[str, Any]) -> Optional[str]:
    try:
        return handler.key(None, data)
    except Exception:  # noqa: BLE001
        return None
