"""The dry run's budget of read-only customer_search look-ups (LoyaltyHandler.plan)."""

from __future__ import annotations

import logging
import threading
from typing import Optional

logger = logging.getLogger("airbyte")

# dry run: at most this many customer_search look-ups per run (one request per customer); the
# platform documents no rate limit, and a look-up per record is affordable for an hourly sync of
# new sign-ups, not for a first import of a whole customer base.
DRY_RUN_LOOKUPS = 1000


class LookupBudget:
    """The dry run's customer_search budget, shared by every stream of a run (thread-safe); it
    also remembers the keys already looked up or planned as created."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.failed = False
        self._known: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._warned = False

    def take(self) -> bool:
        with self._lock:
            if self.failed or self.used >= self.limit:
                if not self._warned:
                    self._warned = True
                    if not self.failed:
                        logger.info(
                            f"Dry run: the budget of {self.limit} customer_search look-ups is spent; further customers "
                            "with a code are counted as 'create or update'."
                        )
                return False
            self.used += 1
            return True

    def fail(self) -> bool:
        with self._lock:
            first = not self.failed
            self.failed = True
            return first

    def seen(self, field: str, value: str) -> Optional[bool]:
        with self._lock:
            return True if (field, value) in self._known else None

    def remember(self, field: str, value: str) -> None:
        with self._lock:
            if len(self._known) < 100_000:
                self._known.add((field, value))
