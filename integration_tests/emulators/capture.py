"""A capture server: an HTTP server on 127.0.0.1 that records every request (method, path,
query, headers, body) and answers 200 `{}` (or what you set). Point a redirect at it to see
whether a connector followed it and what it sent along:

    with CaptureServer() as trap, UpgatesEmulator() as api:
        api.inject("redirect", status=307, location=trap.url + "/stolen", times=99)
        run_connector(...)
        assert trap.requests == []                       # nothing followed the redirect
        assert_no_secrets(secrets, texts=trap.texts())   # or: nothing secret reached it

Test equipment: connectors never import it.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class CapturedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # the raw request target (path and query as sent)

    def text(self) -> str:
        """The whole request as text (request line, headers, body) for secret scans."""
        head = "\n".join(f"{k}: {v}" for k, v in self.headers.items())
        return f"{self.method} {self.target}\n{head}\n\n" + self.body.decode("utf-8", "replace")


@dataclass
class CaptureServer:
    """Records requests; answers `status` with `body` (JSON-encoded unless bytes/str) and
    `headers`. `host` is 127.0.0.1; `port` 0 picks a free one."""

    status: int = 200
    body: Any = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    port: int = 0
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self._requests: list[CapturedRequest] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("capture server is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[CapturedRequest]:
        with self._lock:
            return list(self._requests)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def texts(self) -> list[str]:
        return [r.text() for r in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        capture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length > 0 else b""
                parts = urlsplit(self.path)
                item = CapturedRequest(
                    method=self.command,
                    path=parts.path,
                    query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    headers={k: v for k, v in self.headers.items()},
                    body=body,
                    target=self.path,
                )
                with capture._lock:
                    capture._requests.append(item)
                payload = capture.body
                if not isinstance(payload, (bytes, str)):
                    payload = json.dumps(payload)
                data = payload.encode() if isinstance(payload, str) else payload
                self.send_response(capture.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in capture.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any

        return Handler

    def start(self) -> "CaptureServer":
        self._server = ThreadingHTTPServer((self.host, self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="capture-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
        self._server = None
        self._thread = None

    def __enter__(self) -> "CaptureServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
