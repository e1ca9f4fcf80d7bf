"""Settlement of a batch in a worker thread: `send()` (dry run: `plan()`), each item's outcome
recorded, bisection of what was refused as a whole (`BatchRefused`, `Outcome.refused`),
retry-once of `Outcome.retry`, slicing to the handler's `max_batch` (the learnt request-size
limit, `StreamHandler.learn_limit`).

`Settlement` is one of the three parts `WriteLoop` is made of (with `Routing` and
`Reporting`); `_run_batch` is the task the routing part hands to the worker pool."""

from __future__ import annotations

import logging
import threading
from typing import Any, Optional, Sequence

from destination_common.errors import system_error
from destination_common.http import RequestSlots, redact
from destination_common.outcomes import BatchRefused, Item, NotSent, Outcome, SlotWithdrawn, Status
from destination_common.reporting import WriteStats
from destination_common.stream_handler import StreamHandler

logger = logging.getLogger("airbyte")


_ticket = threading.local()  # .value: the RequestSlots ticket of the batch this worker settles


class Settlement:
    """Send, bisect, retry (a part of `WriteLoop`; runs in the worker threads, counters under
    `self._lock`; rejects and plans are recorded through `Reporting.reject` / `_plan`)."""

    name: str
    dry_run: bool
    stats: WriteStats
    _lock: threading.RLock
    _stop_sending: threading.Event
    _slots: RequestSlots

    def _run_batch(self, handler: StreamHandler, items: Sequence[Item], ticket: Optional[int] = None) -> None:
        """A worker's task: settle one batch, unless an earlier batch's send() already raised
        (then it is not sent at all: the sync stops after the requests in flight; a request
        waiting for a slot is not sent either). `ticket`: the batch's turn for its first
        request slot (`RequestSlots.enlist`)."""
        _ticket.value = ticket
        try:
            if self._stop_sending.is_set():
                raise NotSent()
            self.settle(handler, items)
        except NotSent:
            raise
        except BaseException:
            self._stop_sending.set()
            self._slots.stop()
            raise
        finally:
            _ticket.value = None
            self._slots.delist(ticket)

    def _request_slot(self, handler: StreamHandler, size: int) -> Any:
        """The request slot of one send()/plan() (`RequestSlots.hold`): taken before the call,
        or, for a handler whose requests all go through HttpClient
        (`requests_through_http_client`), by its first exchange once the request is built;
        freed when the call returns, so the next batch's request leaves while this one is
        settled. Once the slot is taken, a batch larger than a limit learnt meanwhile is not
        sent (`SlotWithdrawn`: settle() slices it). A call that raises anything but
        BatchRefused stops the slots before its own is freed: no waiting batch is sent after
        an error."""
        def fits() -> bool:
            limit = self.handler_limit(handler)
            return not limit or size <= limit

        return self._slots.hold(
            lazy=bool(getattr(handler, "requests_through_http_client", False)),
            ticket=getattr(_ticket, "value", None),
            check=fits,
            on_error=self._stop_on,
        )

    def _stop_on(self, exc: BaseException) -> None:
        if not isinstance(exc, (BatchRefused, NotSent, SlotWithdrawn)):
            self._stop_sending.set()
            self._slots.stop()

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
        # nothing on the way to the request takes self._lock: the worker settling the batch
        # before holds it while it writes rejects and notes
        try:
            with self._request_slot(handler, len(items)):
                outcomes = list(handler.plan(items) if self.dry_run else handler.send(items))
        except SlotWithdrawn:
            self.settle(handler, items, retried)  # never sent: a limit learnt meanwhile slices it
            return
        except BatchRefused as refused:
            self._count_batch()
            learned = self.handler_limit(handler)
            if learned and len(items) > learned:
                # the handler learned the API's size limit from this refusal: slice to it
                logger.info(f"Request of {len(items)} items refused as too large; sending at most {learned} per request")
                self.settle(handler, items, retried)
                return
            self._bisect(handler, items, refused.code, refused.reason, retried)
            return
        except NotSent:
            raise
        except BaseException:
            self._count_batch()
            raise
        self._count_batch()
        if len(outcomes) != len(items):
            raise system_error(
                f"{self.name}: the API answered {len(outcomes)} outcomes for {len(items)} items sent; "
                "cannot tell which records were written. This is a bug or an API change: report it."
            )
        again: list[Item] = []
        refused_items: list[Item] = []
        refused_outcome: Optional[Outcome] = None
        for item, outcome in zip(items, outcomes):
            if outcome.status == Status.ACCEPTED and not self.dry_run:
                with self._lock:
                    self.stats.accepted += 1
            elif outcome.status in (Status.PLANNED, Status.ACCEPTED) and self.dry_run:
                self._plan(item, str(outcome.code or "create or update"))
            elif outcome.status == Status.REFUSED:
                refused_items.append(item)
                refused_outcome = refused_outcome or outcome
            elif outcome.status == Status.RETRY and not retried:
                again.append(item)
            elif outcome.status in (Status.RETRY, Status.REJECTED):
                reason = outcome.reason or "rejected by the API"
                if outcome.status == Status.RETRY:
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

    def _count_batch(self) -> None:
        with self._lock:
            self.stats.batches += 1

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
