"""Rejected records: logged by key only, kept as JSON lines, counted by reason."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path
from typing import IO, Any, Mapping, Optional

from destination_common.outcomes import Code
from destination_common.http import redact

logger = logging.getLogger("airbyte")


class RejectLog:
    """Where rejected records go.

    - every rejection is counted by `(code)`: `counts` maps a reason label such as
      `code 2` or `mapping` to a number;
    - the first `log_limit` rejections are logged one line each, by stream and key only
      (never the record), with code and reason; later ones are only counted and kept;
    - with `path`, each rejection is appended to that file as one JSON line
      `{"stream", "key", "code", "reason", "record"}` (the file is opened on the first
      rejection, in append mode, and flushed by `flush()`, which the write loop calls
      before it emits a STATE).
    """

    def __init__(self, path: Optional[str] = None, *, log_limit: int = 100) -> None:
        self.path = str(Path(path).expanduser()) if path else None
        self.log_limit = log_limit
        self.counts: Counter[str] = Counter()
        self.total = 0
        self._file: Optional[IO[str]] = None

    @staticmethod
    def label(code: Code) -> str:
        if code is None:
            return "unknown"
        if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
            return f"code {code}"
        return str(code)

    def reject(self, stream: str, key: Optional[str], code: Code, reason: str, record: Mapping[str, Any]) -> None:
        self.total += 1
        self.counts[self.label(code)] += 1
        if self.total <= self.log_limit:
            logger.warning(redact(f"Rejected record {key or '(no key)'} of stream {stream}: {self.label(code)}: {reason}"))
        elif self.total == self.log_limit + 1:
            logger.warning(
                f"More than {self.log_limit} rejected records: further rejections are counted"
                + (f" and written to {self.path}" if self.path else "")
                + " but not logged one by one."
            )
        if self.path:
            if self._file is None:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            line = {"stream": stream, "key": key, "code": code, "reason": reason, "record": record}
            self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")

    def by_reason(self) -> str:
        """`code 2: 3, mapping: 1` (most frequent first), or `none`."""
        return ", ".join(f"{label}: {n}" for label, n in self.counts.most_common()) or "none"

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
