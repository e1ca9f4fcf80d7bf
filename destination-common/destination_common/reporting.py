"""Reporting of the write loop: what it counts (`WriteStats`, the per-state `Segment`s, rejects
per stream, dry-run plans, field notes), the progress and summary lines, the handlers' own
lines, the dry-run lines and the rejected-share threshold.

`Reporting` is one of the three parts `WriteLoop` is made of (with `Routing` and `Settlement`);
its methods are called from the main thread (records, summary) and from the workers (rejects,
plans), so every counter a worker changes is changed under `self._lock`."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

from destination_common.errors import config_error
from destination_common.http import redact
from destination_common.outcomes import Item
from destination_common.rejects import RejectLog
from destination_common.stream_handler import StreamHandler

logger = logging.getLogger("airbyte")


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
    max_in_flight: int = 0  # most requests in flight at once (RequestSlots.peak; a whole send() for a handler whose requests do not all go through HttpClient)
    delayed_flushes: int = 0  # partial batches sent because a state waited max_state_delay_seconds

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


class Segment:
    """The records a STATE covers (per stream, or all for a global state): counted into its
    `destinationStats` (recordCount, rejectedRecordCount)."""

    __slots__ = ("records", "rejected")

    def __init__(self) -> None:
        self.records = 0
        self.rejected = 0


class Reporting:
    """Counting and reporting (a part of `WriteLoop`; the state lives on the loop, set in
    `WriteLoop.__init__`)."""

    name: str
    handlers: dict[str, StreamHandler]
    stats: WriteStats
    rejects: RejectLog
    max_rejected_share: Optional[float]
    request_stats: Callable[[], Mapping[str, int]]
    progress_every: int
    max_concurrent_requests: int
    dry_run: bool
    _lock: threading.RLock
    _stream_rejects: dict[str, Counter[str]]
    _planned: dict[str, Counter[str]]
    _notes: Counter[str]

    # ---- counting (main thread and workers) ---------------------------------------------
    def reject(
        self,
        stream: str,
        key: Optional[str],
        code: Any,
        reason: str,
        record: Mapping[str, Any],
        *,
        segment: Optional[Segment] = None,
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

    def _progress(self) -> None:
        if self.stats.records_in % self.progress_every == 0:
            logger.info(f"Progress: {self.counts_line()}")

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
        raise config_error(
            f"{self.name}: {self.rejects.total} of {self.stats.records_in} records were rejected "
            f"({share:.1%}), more than the allowed {self.max_rejected_share:.1%} ({self.rejects.by_reason()}). "
            f"The {self.stats.accepted} accepted records were written and their states emitted. {where} "
            "Fix the data or the record mapping, or raise the allowed share of rejected records."
        )
