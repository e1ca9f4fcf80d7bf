from __future__ import annotations

import json
from typing import Any, Sequence

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteRecordMessage,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    AirbyteStateBlob,
    StreamDescriptor,
    Type,
)

from destination_common import BatchRefused, Item, Outcome, Reject, StreamHandler


def record(data: dict[str, Any], stream: str = "users") -> AirbyteMessage:
    return AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream=stream, data=data, emitted_at=0))


def state(n: int, stream: str = "users") -> AirbyteMessage:
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(stream_descriptor=StreamDescriptor(name=stream), stream_state=AirbyteStateBlob(n=n)),
        ),
    )


class FakeHandler(StreamHandler):
    """Accepts everything except e-mails listed in `reject` (code 2), `retry` (code 3, every
    time), `retry_once` (code 3 the first time); refuses a whole request containing any
    e-mail in `poison`. Records every call (a list of keys) in `calls`."""

    def __init__(self, *, dedupe=False, reject=(), retry=(), retry_once=(), poison=(), events=None):
        self.dedupe = dedupe
        self.reject, self.retry, self.poison = set(reject), set(retry), set(poison)
        self.retry_once = set(retry_once)
        self.calls: list[list[str]] = []
        self.events = events if events is not None else []

    def map(self, data):
        if "email" not in data:
            raise Reject(1, "email is missing")
        return {"email": data["email"], "n": data.get("n")}

    def key(self, payload, data):
        return (payload or data).get("email")

    def validate(self, payload):
        if "@" not in payload["email"]:
            raise Reject(2, "email is not valid")

    def send(self, items: Sequence[Item]):
        keys = [i.key for i in items]
        self.calls.append(keys)
        self.events.append(("send", keys))
        if self.poison & set(keys):
            raise BatchRefused("The request contains an invalid user", code="refused")
        out = []
        for i in items:
            if i.key in self.reject:
                out.append(Outcome.rejected(2, f"field error for {i.key}"))
            elif i.key in self.retry:
                out.append(Outcome.retry(3, "unhandled error"))
            elif i.key in self.retry_once:
                self.retry_once.discard(i.key)
                out.append(Outcome.retry(3, "unhandled error"))
            else:
                out.append(Outcome.accepted())
        return out


def reply_json(handler: Any, status: int, body: Any) -> None:
    """Answer from a test server's BaseHTTPRequestHandler: `body` (bytes as they are, else
    JSON) with its status, content type and length."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)
