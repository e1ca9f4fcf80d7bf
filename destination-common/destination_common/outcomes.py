"""What can happen to one item of a batch, and the exceptions connectors raise to say so."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Mapping, Optional, Union

Code = Union[str, int, None]


class Status(str, Enum):
    """What became of one item (`Outcome.status`). A `str` Enum: `Status.ACCEPTED ==
    "accepted"`, so code and tests that compare with the plain texts keep working; new code
    compares with the members."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    RETRY = "retry"
    REFUSED = "refused"
    PLANNED = "planned"  # dry run: what a real write would do (Outcome.planned(action))

    def __str__(self) -> str:
        return self.value



PLAN_ACTIONS = ("create", "update", "create or update", "skip")


@dataclass(frozen=True)
class Outcome:
    """The API's verdict on one item of a request, aligned with the items sent.

    status (`Status`): `accepted`, `rejected` (final: code + reason are recorded), `retry` (the core
    resends the item once; a second `retry` makes it rejected with that code and reason) or
    `refused` (the item was in a request refused as a whole for a non-transient cause, e.g.
    one of several requests a connector made for one batch: the core settles all `refused`
    items of a send by the same halving bisection as `BatchRefused`; a lone refused item is
    rejected with that code and reason), or, in a dry run, `planned` (what a real write would
    do: `code` holds the action `create`, `update`, `create or update` or `skip` (left as it
    is, e.g. already there in an append that ignores duplicates); answered by
    `StreamHandler.plan`).
    """

    status: Status
    code: Code = None
    reason: Optional[str] = None

    def __post_init__(self) -> None:
        # Outcome("accepted") (a plain text) still works: it becomes Status.ACCEPTED; an unknown
        # text stays as it is and the write loop refuses it as before ("unknown outcome status")
        if not isinstance(self.status, Status):
            try:
                object.__setattr__(self, "status", Status(self.status))
            except ValueError:
                pass

    @classmethod
    def accepted(cls) -> "Outcome":
        return cls(Status.ACCEPTED)

    @classmethod
    def rejected(cls, code: Code, reason: str) -> "Outcome":
        return cls(Status.REJECTED, code, reason)

    @classmethod
    def retry(cls, code: Code, reason: str) -> "Outcome":
        return cls(Status.RETRY, code, reason)

    @classmethod
    def refused(cls, code: Code, reason: str) -> "Outcome":
        return cls(Status.REFUSED, code, reason)

    @classmethod
    def planned(cls, action: str = "create or update") -> "Outcome":
        """Dry run: a real write would `create`, `update`, `create or update` or `skip` this item."""
        if action not in PLAN_ACTIONS:
            raise ValueError(f"planned action must be one of {PLAN_ACTIONS}, not {action!r}")
        return cls(Status.PLANNED, action)


@dataclass
class Item:
    """One record on its way: `payload` is what the API gets, `record` the record's data as
    received (kept only for the rejected-records file), `key` what logs may show (e-mail, id)."""

    stream: str
    key: Optional[str]
    payload: Any
    record: Mapping[str, Any] = field(repr=False)
    # kept by the write loop (not for handlers): the input position of the earliest record this
    # item stands for (a de-duplicated record inherits the replaced one's) and its state segment
    seq: int = field(default=0, repr=False, compare=False)
    segment: Any = field(default=None, repr=False, compare=False)


class Reject(Exception):
    """Raise from `map`/`validate` to reject one record without spending a request."""

    def __init__(self, code: Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class MappingError(Reject):
    """The record cannot be mapped to the target object (code `mapping`)."""

    def __init__(self, reason: str, code: Code = "mapping") -> None:
        super().__init__(code, reason)


class BatchRefused(Exception):
    """The whole request was refused for a cause that is not transient (e.g. a batch-level
    validation error, a too-large batch). The core splits the batch in halves until the
    offending items are isolated; a single refused item is rejected with this code/reason."""

    def __init__(self, reason: str, code: Code = "refused") -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class NotSent(Exception):
    """A batch (or a request of it) that was not sent because an earlier batch's send() raised:
    the sync stops after the requests already in flight. Raised by the write loop's workers and
    by `HttpClient` when the loop's request slots are stopped; never a batch's own failure."""


class SlotWithdrawn(Exception):
    """A request not sent: while it waited for a request slot, the handler learnt a lower
    `max_batch` than its batch's size (another batch's refusal). The write loop slices the
    batch to the new limit and sends it again; a handler's send() lets it pass, like NotSent."""
