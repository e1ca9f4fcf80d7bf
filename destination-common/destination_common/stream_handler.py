"""`StreamHandler`: what a connector implements per configured stream for the write loop
(the protocol between `WriteLoop` and a destination's API code). See README.md, section 1."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import Any, Mapping, Optional, Sequence

from destination_common.http import redact
from destination_common.outcomes import Item, Outcome

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
                       `max_concurrent_requests` at once (one more with
                       `requests_through_http_client`: building its request while the others'
                       are out), beside another worker settling an earlier batch's outcomes:
                       it must be thread-safe.
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
    requests_through_http_client → False (default): the loop takes one of its
                       `max_concurrent_requests` request slots before each send()/plan() call
                       and frees it when the call returns (the items are settled after). True:
                       every request send()/plan() makes goes through
                       `destination_common.HttpClient`, from the thread that calls it; the slot
                       is then taken by the call's first HttpClient exchange, once its request
                       is built, so a waiting batch's request leaves the moment a slot frees.
                       Whatever send() read before that exchange (a session token) may be one
                       the previous send() just replaced: send() must cope (e.g. log in again).
                       Exceptions HttpClient raises that are not requests' (NotSent,
                       SlotWithdrawn) must pass through send() unchanged.
    max_batch        → None, or the most items one send() may carry. The core slices batches
                       (and bisection halves) to it. A handler that learns the API's limit (a
                       "too many items" refusal) calls `self.learn_limit(n, reason)` before
                       raising BatchRefused, so later batches are not refused again.
    """

    dedupe: bool = False
    max_batch: Optional[int] = None
    requests_through_http_client: bool = False

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
