"""The generated-ids file: the codes and card numbers the platform made for customers sent
without them, one JSON line each, beside the rejected-records file."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Any, Optional


def generated_ids_path(rejected_records_path: Optional[str]) -> Optional[str]:
    """The generated-ids file beside the rejected-records file: `x/rejected.jsonl` →
    `x/rejected.generated_ids.jsonl` (None without a rejected-records file)."""
    if not rejected_records_path or not str(rejected_records_path).strip():
        return None
    path = Path(str(rejected_records_path)).expanduser()
    return str(path.with_name(f"{path.stem}.generated_ids.jsonl"))


class GeneratedIds:
    """JSON lines `{"stream", "key", "email", "code", "card_number", "generated"}`, one per customer
    for whom the platform generated a code or a card number, appended and flushed per request (so
    they are on disk before the state that covers them is emitted)."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.written = 0
        self._file: Optional[IO[str]] = None
        self._lock = threading.Lock()

    def write(self, lines: list[dict[str, Any]]) -> None:
        if not self.path or not lines:
            return
        with self._lock:
            if self._file is None:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8")
            for line in lines:
                self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
            self._file.flush()
            self.written += len(lines)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
