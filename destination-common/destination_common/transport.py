"""`DirectTransport`: sends a request that requests prepared over http.client, on kept-alive
connections of its own, and returns a `requests.Response`.

Why: a destination's requests leave one after the other, and the time between an answer and
the next request is time the API is idle. `Session.send` spends about 0.5 ms of CPU per call
on a small POST (adapter lookup, urllib3's pool and retry objects, cookie extraction through
cookiejar's mock objects, hooks, the redirect generator); http.client alone about 0.15 ms. On
the 2-core bench, with the emulator on the same cores, that was 1.5 ms of the 2.7 ms between
an answer and the next request (docs/performance.md).

What stays with requests: building the request (`Session.prepare_request`: headers, auth,
body, URL encoding) and the environment's settings (proxies, CA bundle), so a request is
byte-for-byte the one `Session.send` would send. `HttpClient` uses this transport only where
it behaves the same as requests' own adapter (`usable()`); otherwise (a proxy applies, a
client certificate, a streamed or generator body, response hooks, a mounted adapter of
another type, a replaced `send`) it calls `Session.send` as before.

Behaviour kept from requests/urllib3:
- Redirects: never followed (a 3xx is returned; HttpClient turns it into a config_error).
- Timeouts: `(connect, read)` or one number for both; a timeout raises `ConnectTimeout` or
  `ReadTimeout`; refused, reset or dropped connections `requests.ConnectionError`; a body cut
  short (fewer bytes than Content-Length, a broken chunk) `ChunkedEncodingError`; TLS failures
  `requests.exceptions.SSLError`. HttpClient retries these exactly as before.
- TLS: certificates checked against `verify` (requests' CA bundle: certifi's, or
  REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE), host name checked, SNI sent; `verify=False` as
  requests (no check).
- An idle connection the server closed is noticed before reuse (a socket readable while idle
  is closed or out of step) and replaced, as urllib3 does, instead of failing the request.
- Answers compressed with gzip or deflate (the encodings the request offers) are decoded;
  Set-Cookie goes into the session's cookie jar.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import time
import zlib
from datetime import timedelta
from typing import Any, Optional
from urllib.parse import urlsplit

import requests
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_encoding_from_headers, select_proxy
from urllib3.util.wait import wait_for_read

# idle connections kept per (scheme, host, port, TLS settings): as requests' default pool
MAX_IDLE = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
_OFFERED_ENCODINGS = "gzip, deflate"


class _CookieSource:
    """What `requests.cookies.extract_cookies_to_jar` reads of an answer."""

    __slots__ = ("_original_response",)

    def __init__(self, answer: http.client.HTTPResponse) -> None:
        self._original_response = answer


def usable(session: requests.Session, prepared: requests.PreparedRequest, settings: dict[str, Any]) -> bool:
    """True when sending `prepared` here does what `session.send(prepared, **settings)` does."""
    url = prepared.url or ""
    scheme = url.partition(":")[0].lower()
    if scheme not in _DEFAULT_PORTS or "send" in vars(session):
        return False
    if type(session.get_adapter(url)) is not requests.adapters.HTTPAdapter:
        return False
    if settings.get("stream") or settings.get("cert") or select_proxy(url, settings.get("proxies") or {}):
        return False
    if any(prepared.hooks.get("response") or ()):
        return False
    return prepared.body is None or isinstance(prepared.body, (bytes, str))


class DirectTransport:
    """Kept-alive http.client connections, shared by the threads of one HttpClient (each
    exchange takes a connection for itself and gives it back when the answer is read)."""

    def __init__(self) -> None:
        self._idle: dict[tuple[Any, ...], list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._contexts: dict[Any, ssl.SSLContext] = {}

    # ---- connections ------------------------------------------------------------------------
    def _context(self, verify: bool | str) -> ssl.SSLContext:
        context = self._contexts.get(verify)
        if context is None:
            if verify is False:
                context = ssl._create_unverified_context()  # requests' verify=False: no check at all
            else:
                where = DEFAULT_CA_BUNDLE_PATH if verify is True else verify
                context = ssl.create_default_context(**({"capath": where} if os.path.isdir(where) else {"cafile": where}))
            self._contexts[verify] = context
        return context

    def _take(self, key: tuple[Any, ...]) -> Optional[http.client.HTTPConnection]:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None:
                return None
            if conn.sock is not None and not wait_for_read(conn.sock, timeout=0.0):
                return conn
            conn.close()  # closed by the server while idle (or unexpected bytes): a new one

    def _give_back(self, key: tuple[Any, ...], conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < MAX_IDLE:
                idle.append(conn)
                return
        conn.close()

    def _connect(self, scheme: str, host: str, port: int, verify: bool | str, connect_timeout: Optional[float], request: Any):
        try:
            if scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    host, port, timeout=connect_timeout, context=self._context(verify)
                )
            else:
                conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
            conn.connect()
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise requests.exceptions.SSLError(exc, request=request) from None
        except socket.timeout as exc:
            raise requests.exceptions.ConnectTimeout(exc, request=request) from None
        except OSError as exc:
            raise requests.exceptions.ConnectionError(exc, request=request) from None
        if conn.sock is not None:
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    # ---- one exchange -----------------------------------------------------------------------
    def send(
        self, session: requests.Session, prepared: requests.PreparedRequest, timeout: Any, verify: Any
    ) -> requests.Response:
        parts = urlsplit(prepared.url or "")
        scheme, host = parts.scheme.lower(), parts.hostname or ""
        port = parts.port or _DEFAULT_PORTS[scheme]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        verify = verify if isinstance(verify, (bool, str)) else True  # requests: anything else checks as True
        key = (scheme, host, port, verify)
        headers = dict(prepared.headers)
        if "Accept-Encoding" in prepared.headers:
            headers[next(k for k in headers if k.lower() == "accept-encoding")] = _OFFERED_ENCODINGS
        body = prepared.body.encode("utf-8") if isinstance(prepared.body, str) else prepared.body

        started = time.perf_counter()
        conn = self._take(key) or self._connect(scheme, host, port, verify, connect_timeout, prepared)
        try:
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            conn.request(prepared.method or "GET", target, body=body, headers=headers)
            answer = conn.getresponse()
            content = answer.read()
        except socket.timeout as exc:
            conn.close()
            raise requests.exceptions.ReadTimeout(exc, request=prepared) from None
        except http.client.IncompleteRead as exc:
            conn.close()
            raise requests.exceptions.ChunkedEncodingError(
                f"answer cut short ({len(exc.partial)} bytes read, {exc.expected} more expected)", request=prepared
            ) from None
        except ssl.SSLError as exc:
            conn.close()
            raise requests.exceptions.SSLError(exc, request=prepared) from None
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise requests.exceptions.ConnectionError(exc, request=prepared) from None
        except BaseException:
            conn.close()
            raise
        if answer.will_close:
            conn.close()
        else:
            self._give_back(key, conn)

        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = _headers(answer)
        response._content = _decoded(content, response.headers.get("Content-Encoding"), prepared)
        response.encoding = get_encoding_from_headers(response.headers)
        response.url = prepared.url or ""
        response.request = prepared
        response.elapsed = timedelta(seconds=time.perf_counter() - started)
        if "Set-Cookie" in response.headers:
            extract_cookies_to_jar(response.cookies, prepared, _CookieSource(answer))
            session.cookies.update(response.cookies)
        return response


def _headers(answer: http.client.HTTPResponse) -> CaseInsensitiveDict:
    """The answer's headers as requests gives them: repeated names joined with ', '."""
    merged: CaseInsensitiveDict = CaseInsensitiveDict()
    for name, value in answer.getheaders():
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def _decoded(content: bytes, encoding: Optional[str], request: Any) -> bytes:
    """The body without gzip/deflate content encoding (any other is passed on, as urllib3 does)."""
    mode = (encoding or "").strip().lower()
    if not content or mode not in ("gzip", "x-gzip", "deflate"):
        return content
    try:
        if mode == "deflate":
            try:
                return zlib.decompress(content)
            except zlib.error:
                return zlib.decompress(content, -zlib.MAX_WBITS)  # raw deflate, as some servers send
        return zlib.decompress(content, 16 + zlib.MAX_WBITS)
    except zlib.error as exc:
        raise requests.exceptions.ContentDecodingError(f"answer not decodable as {mode}: {exc}", request=request) from None
