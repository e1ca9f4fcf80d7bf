"""A destination's input, read by the destination itself instead of the CDK's
`Destination._parse_input_stream` (which logs undecodable lines verbatim and drops them, and
fails the whole write on valid JSON that is not a message).

`read_messages(stream)` reads stdin's bytes line by line and yields, in input order, either an
`AirbyteMessage` or an `InputReject` for a line that cannot be used. Nothing is dropped silently:

- a line orjson refuses is parsed again with the standard library; lone surrogate escapes
  (`"\\ud800"`), invalid UTF-8 bytes and the non-JSON constants NaN/Infinity are then replaced
  (U+FFFD, null) and the message is marked repaired (`repaired_reason(message)`): the write
  loop counts it and keeps a correction note;
- a line that is not JSON, JSON that is not an object, an object that is not an Airbyte
  message, a RECORD without `data`: an `InputReject(line, reason, stream, text)`; the write loop
  keeps it in the rejected-records file with its line number and reason and counts it. The
  reason never quotes the line's content (logs show only line numbers and reasons).

Also here: `message_json(message)`, the serialised form a destination prints, which adds
`destinationStats.rejectedRecordCount` (the models the CDK ships lack that field).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator, Optional, TextIO, Union

import orjson
from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, AirbyteStateStats, Type

_SURROGATE = re.compile("[\ud800-\udfff]")
_TYPES = {t.value for t in Type}
_REPAIRED_ATTR = "_dc_repaired"


@dataclass
class DestinationStats(AirbyteStateStats):
    """`AirbyteStateStats` with the count of rejected records a STATE covers. The CDK's models
    (protocol dataclasses 0.17) have only `recordCount`; the protocol's AirbyteStateStats allows
    additional properties, and `message_json` writes this one."""

    rejectedRecordCount: Optional[float] = None


@dataclass(frozen=True)
class InputReject:
    """An input line that is not a usable message: `line` (1-based), `reason` (never quotes the
    content), `stream` when it could be read, `text` the line as received (for the
    rejected-records file only)."""

    line: int
    reason: str
    stream: Optional[str] = None
    text: Optional[str] = field(default=None, repr=False)

    def record(self) -> dict[str, Any]:
        return {"line": self.line, "input": self.text}


@dataclass
class InputStats:
    lines: int = 0
    messages: int = 0
    repaired: int = 0
    rejected: int = 0


def repaired_reason(message: Any) -> Optional[str]:
    """Why this message's line was repaired on the way in, or None."""
    return getattr(getattr(message, "record", None), _REPAIRED_ATTR, None) or getattr(message, _REPAIRED_ATTR, None)


def read_messages(
    stream: Union[BinaryIO, TextIO, Iterable[Union[bytes, str]]], stats: Optional[InputStats] = None
) -> Iterator[Union[AirbyteMessage, InputReject]]:
    """Messages (and `InputReject`s) from a binary stream (stdin's buffer), a text stream (its
    buffer is used when it has one) or an iterable of lines."""
    stats = stats if stats is not None else InputStats()
    source = getattr(stream, "buffer", stream)
    for number, line in enumerate(source, start=1):
        stats.lines = number
        raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        result = parse_line(raw, number)
        if result is None:
            continue
        if isinstance(result, InputReject):
            stats.rejected += 1
        else:
            stats.messages += 1
            if repaired_reason(result):
                stats.repaired += 1
        yield result


def parse_line(raw: bytes, number: int = 0) -> Union[AirbyteMessage, InputReject, None]:
    """One input line → a message, an InputReject, or None for a blank line."""
    raw = raw.strip()
    if not raw:
        return None
    repairs: list[str] = []
    try:
        obj = orjson.loads(raw)
        text: Optional[str] = None
    except orjson.JSONDecodeError:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            repairs.append("invalid UTF-8")
        constants: list[str] = []

        def constant(name: str) -> None:
            constants.append(name)
            return None

        try:
            obj = json.loads(text, parse_constant=constant)
        except (ValueError, RecursionError) as exc:
            detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else type(exc).__name__
            return InputReject(number, f"not JSON ({detail})", None, text)
        if constants:
            repairs.append("NaN/Infinity")
        obj, surrogates = _repair(obj)
        if surrogates:
            repairs.append("lone surrogates")
    if not isinstance(obj, dict):
        kind = "an array" if isinstance(obj, list) else type(obj).__name__
        return InputReject(number, f"JSON but not an Airbyte message ({kind}, not an object)", None, _text(raw, text))
    kind = obj.get("type")
    if kind not in _TYPES:
        reason = "no 'type'" if kind is None else "unknown 'type'"
        return InputReject(number, f"not an Airbyte message ({reason})", None, _text(raw, text))
    stream_name: Optional[str] = None
    if kind == "RECORD":
        record = obj.get("record")
        if not isinstance(record, dict):
            return InputReject(number, "RECORD without 'record'", None, _text(raw, text))
        stream_name = record.get("stream") if isinstance(record.get("stream"), str) else None
        if record.get("data") is None:
            return InputReject(number, "RECORD without 'data'", stream_name, _text(raw, text))
        if not isinstance(record["data"], dict):
            return InputReject(number, "RECORD whose 'data' is not an object", stream_name, _text(raw, text))
    try:
        message = AirbyteMessageSerializer.load(obj)
    except Exception as exc:  # noqa: BLE001 - serpyco's errors; described without the content
        return InputReject(number, f"not a valid {kind} message ({_describe(exc)})", stream_name, _text(raw, text))
    if repairs:
        reason = " and ".join(repairs) + " replaced (U+FFFD / null)"
        target = message.record if message.type == Type.RECORD and message.record is not None else message
        setattr(target, _REPAIRED_ATTR, reason)
    return message


def _text(raw: bytes, text: Optional[str]) -> str:
    return text if text is not None else raw.decode("utf-8", errors="replace")


def _repair(value: Any) -> tuple[Any, bool]:
    """`value` with every lone surrogate (what json.loads makes of "\\ud800") replaced by U+FFFD."""
    if isinstance(value, str):
        if value.isascii() or not _SURROGATE.search(value):
            return value, False
        return _SURROGATE.sub("\ufffd", value), True
    if isinstance(value, dict):
        changed = False
        out = {}
        for k, v in value.items():
            k2, c1 = _repair(k)
            v2, c2 = _repair(v)
            out[k2] = v2
            changed = changed or c1 or c2
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        pairs = [_repair(v) for v in value]
        if any(c for _, c in pairs):
            return [v for v, _ in pairs], True
        return value, False
    return value, False


def _describe(exc: Exception) -> str:
    errors = getattr(exc, "errors", None) or []
    if not errors:
        return type(exc).__name__
    first = errors[0]
    path = getattr(first, "instance_path", "") or "(message)"
    msg = getattr(first, "message", "") or ""
    if "required property" in msg:
        return f"'{path}' is missing"
    match = re.search(r"is not of type (.{1,40})$", msg)
    if match:
        return f"'{path}' has the wrong type (expected {match.group(1)})"
    return f"'{path}' is not valid"


def message_json(message: AirbyteMessage) -> str:
    """The message as one JSON line, with `destinationStats.rejectedRecordCount` when set."""
    data = AirbyteMessageSerializer.dump(message)
    state = getattr(message, "state", None)
    stats = getattr(state, "destinationStats", None) if state is not None else None
    rejected = getattr(stats, "rejectedRecordCount", None)
    if rejected is not None and isinstance(data.get("state"), dict):
        data["state"].setdefault("destinationStats", {})["rejectedRecordCount"] = rejected
    return orjson.dumps(data).decode()
