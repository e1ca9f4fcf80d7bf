"""Rejected records and field-level corrections: logged by key only, kept as JSON lines
(redacted like the log), counted by reason."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
from collections import Counter
from pathlib import Path
from typing import IO, Any, Mapping, Optional

from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common.errors import config_error
from destination_common.http import redact
from destination_common.outcomes import Code

logger = logging.getLogger("airbyte")


def redact_value(value: Any, mask_fields: frozenset = frozenset()) -> Any:
    """`value` with every string in it (dict keys included, at any depth) passed through
    `redact()`: what the rejected-records file keeps is masked like a log line. Values of
    keys in `mask_fields` (compared case-insensitively) become `****` whatever they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {
            redact(str(k)): ("****" if str(k).lower() in mask_fields and v not in (None, "") else redact_value(v, mask_fields))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [redact_value(v, mask_fields) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact(str(value))


def _drop_torn_tail(path: str) -> None:
    """A run killed while writing leaves the file's last line cut off (no newline). Those bytes
    are dropped before this run appends, so the file stays one JSON object per line: the record
    whose line was cut was never settled (its STATE was not echoed), so the platform sends it
    again and this run writes its line whole."""
    if not os.path.isfile(path):  # a pipe or device: nothing to repair (and opening may block)
        return
    try:
        with open(path, "rb+") as f:
            size = f.seek(0, os.SEEK_END)
            if size == 0:
                return
            f.seek(size - 1)
            if f.read(1) == b"\n":
                return
            keep = 0
            step = 65536
            pos = size
            while pos > 0:  # find the last newline, reading backwards
                start = max(0, pos - step)
                f.seek(start)
                chunk = f.read(pos - start)
                at = chunk.rfind(b"\n")
                if at >= 0:
                    keep = start + at + 1
                    break
                pos = start
            f.truncate(keep)
            logger.warning(
                f"The rejected-records file ended in a cut-off line (a run was killed while writing it): "
                f"dropped its last {size - keep} bytes; that record is sent again and written whole."
            )
    except OSError:
        return  # cannot be read back: appending proceeds (and reports its own error)


def _path_error(path: str, field: str, why: str) -> AirbyteTracedException:
    return config_error(
        f"The {field} '{path}' cannot be used for the rejected-records file: {why}. "
        "Give the path of a file in a writable folder, or leave the field empty to keep no file."
    )


class RejectLog:
    """Where rejected records (and field-level corrections) go.

    - every rejection is counted by `(code)`: `counts` maps a reason label such as
      `code 2` or `mapping` to a number;
    - the first `log_limit` rejections are logged one line each, by stream and key only
      (never the record), with code and reason; later ones are only counted and kept;
    - with `path`, each rejection is appended to that file as one JSON line
      `{"kind": "rejected", "stream", "key", "code", "reason", "record"}` and each correction
      (`note()`) as `{"kind": "correction", "stream", "key", "field", "reason", "record"}`
      (the file is opened on the first line, in append mode, and flushed by `flush()`, which
      the write loop calls before it emits a STATE). Every string of a line (key, reason, the
      record's keys and values) goes through `redact()`, so registered secrets, also those
      added at runtime, are masked in the file as in the log.
    - `mask_fields` (settable after construction, e.g. `loop.rejects.mask_fields =
      {"customer_password", "customer_PIN"}`): record fields, at any depth, whose values are
      written as `****` (secrets that are data, not config);
    - corrections never count as rejections (`total`, `counts` and the threshold ignore them):
      `notes_total`, `notes_counts`, `notes_by_reason()`.
    """

    def __init__(self, path: Optional[str] = None, *, log_limit: int = 100, mask_fields: Any = ()) -> None:
        self.path = str(Path(path).expanduser()) if path else None
        self.mask_fields = mask_fields
        self.log_limit = log_limit
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.notes_counts: Counter[str] = Counter()
        self.notes_total = 0
        self._file: Optional[IO[str]] = None
        self._lock = threading.RLock()

    # ---- check -------------------------------------------------------------------------
    @staticmethod
    def verify_path(path: Optional[str], field: str = "rejected_records_path") -> Optional[str]:
        """Make sure `path` can be appended to (for `check`): missing parent folders are
        created; a folder, a special file (/proc/version), a path under a file, or an
        unwritable place raise a config_error AirbyteTracedException naming the field and the
        path. Returns the expanded path (None for an empty one). A file that did not exist is
        not left behind."""
        if not path or not str(path).strip():
            return None
        text = str(Path(str(path)).expanduser())
        target = Path(text)
        try:
            if target.exists() or target.is_symlink():
                mode = target.stat().st_mode
                if stat.S_ISDIR(mode):
                    raise _path_error(text, field, "it is a folder")
                if not (stat.S_ISREG(mode) or text == os.devnull):
                    raise _path_error(text, field, "it is not a regular file")
                existed = True
            else:
                existed = False
            target.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(text, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0), 0o644)
            try:
                os.lseek(fd, 0, os.SEEK_END)  # what open(path, "a") does; /proc files refuse it
            finally:
                os.close(fd)
            if not existed:
                try:
                    if target.stat().st_size == 0:
                        target.unlink()
                except OSError:
                    pass
        except AirbyteTracedException:
            raise
        except OSError as exc:
            raise _path_error(text, field, exc.strerror or type(exc).__name__) from None
        return text

    # ---- counting ----------------------------------------------------------------------
    @staticmethod
    def label(code: Code) -> str:
        if code is None:
            return "unknown"
        if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
            return f"code {code}"
        return str(code)

    def reject(self, stream: str, key: Optional[str], code: Code, reason: str, record: Mapping[str, Any]) -> None:
        with self._lock:
            self.total += 1
            self.counts[self.label(code)] += 1
            if self.total <= self.log_limit:
                logger.warning(redact(f"Rejected record {key or '(no key)'} of stream {stream}: {self.label(code)}: {reason}"))
            elif self.total == self.log_limit + 1:
                logger.warning(
                    redact(
                        f"More than {self.log_limit} rejected records: further rejections are counted"
                        + (f" and written to {self.path}" if self.path else "")
                        + " but not logged one by one."
                    )
                )
            self._write({"kind": "rejected", "stream": stream, "key": key, "code": code, "reason": reason, "record": record})

    def note(self, stream: str, key: Optional[str], field: str, reason: str, record: Mapping[str, Any]) -> None:
        """A field-level correction of a record that is still written (a phone normalised, a
        field dropped): counted under `<field>: <reason>`, the first `log_limit` logged by key
        at INFO, kept in the file as a `"kind": "correction"` line. Never a rejection."""
        with self._lock:
            self.notes_total += 1
            self.notes_counts[f"{field}: {reason}"] += 1
            if self.notes_total <= self.log_limit:
                logger.info(redact(f"Corrected record {key or '(no key)'} of stream {stream}: {field}: {reason}"))
            elif self.notes_total == self.log_limit + 1:
                logger.info(
                    f"More than {self.log_limit} corrected records: further corrections are counted"
                    + (" and written to the rejected-records file" if self.path else "")
                    + " but not logged one by one."
                )
            self._write({"kind": "correction", "stream": stream, "key": key, "field": field, "reason": reason, "record": record})

    def _write(self, line: dict) -> None:
        if not self.path:
            return
        if self._file is None:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                _drop_torn_tail(self.path)
                self._file = open(self.path, "a", encoding="utf-8")
            except OSError as exc:
                raise _path_error(self.path, "rejected_records_path", exc.strerror or type(exc).__name__) from None
        mask = frozenset(str(f).lower() for f in (self.mask_fields or ()))
        self._file.write(json.dumps(redact_value(line, mask), ensure_ascii=False, default=str) + "\n")

    def by_reason(self) -> str:
        """`code 2: 3, mapping: 1` (most frequent first), or `none`."""
        return ", ".join(f"{label}: {n}" for label, n in self.counts.most_common()) or "none"

    def notes_by_reason(self) -> str:
        """`phone: normalised to E.164: 12, phone: dropped (too short for CZ): 1` (most frequent
        first), or `none`."""
        return ", ".join(f"{label}: {n}" for label, n in self.notes_counts.most_common()) or "none"

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
