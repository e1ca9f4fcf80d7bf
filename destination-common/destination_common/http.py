"""HTTP helpers: one requests Session with timeouts, retry with exponential backoff on
transient failures (5xx, 429, timeouts, dropped or cut connections), request counting; the
write loop's bound on requests in flight (`RequestSlots`); the URL rule; redaction of secrets
from anything raised or logged.

Why not the CDK's HTTP client (`airbyte_cdk.sources.streams.http.http_client.HttpClient`,
read in airbyte-cdk 7.39.1): it is the client of a source's streams, and a destination's
writes need the opposite on four points, each of which would take a custom error handler,
backoff strategy and session to undo:

- Redirects: it sends with `Session.send(request, **request_kwargs)`, which follows 3xx by
  default, re-sending the body (a login form, an API key in a form field, the customers
  written) and custom headers to the new address. Passing `allow_redirects=False` only makes
  the 3xx a success (`response.ok`) for its default error handler. Here a redirect is never
  followed and is a config_error that names the new location (`HttpClient.moved`).
- Which answers come back to the caller: its default error mapping fails the sync at once on
  400/401/403/404/405 and *retries* any status it does not know (413, 409, 422: "Unexpected
  HTTP Status Code", up to max_retries). A destination must get every non-transient 4xx back:
  the connector reads per-item errors from a 400/422 body, turns a 413 into `BatchRefused` (and
  a learnt limit), a 401/403 into its own config_error. Here only 5xx, 429 (`retry_statuses`),
  timeouts, dropped connections and `TransientResponse` are retried.
- Retry and give-up semantics tied to streams: its retries run inside `backoff` decorators
  (no jitter, `max_time` 600 s, `time.sleep` not injectable, so the unit tests could not fake
  the clock); a 429 prints an AirbyteStreamStatus RUNNING/RATE_LIMITED message for a *stream*
  named after the client (a source's protocol message, meaningless in a destination's
  output); running out of attempts raises "Exhausted available request attempts. Please see
  logs for more details" with a StreamDescriptor. Here: `backoff_base * 2**attempt` capped at
  `backoff_max` with jitter, `Retry-After` honoured up to `backoff_max`, and one
  transient_error saying what failed and that nothing after the last emitted state was
  committed.
- Error messages quote the URL and the data: a FAIL is raised as `'POST' request to '<full
  URL>' failed ... Request (body): '<body>'. Response (body): ...`, i.e. the records being
  written (personal data) and the query string, masked only by `filter_secrets` (the raw
  secret values, not their URL-encoded, JSON-escaped or base64 forms). Here messages name
  the operation (`what`), never a body, a URL's user-info or a query string, and pass
  through `redact()` (every form of every secret).

It also lets requests read `~/.netrc` for a session without auth (credentials from a file
the config does not name; this client installs a no-op auth instead)."""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import random
import re
import threading
import time
import unicodedata
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional
from urllib.parse import quote, quote_plus, urljoin, urlsplit

import requests

import airbyte_cdk.utils.airbyte_secrets_utils as _secrets_utils
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import transport
from destination_common.errors import config_error, transient_error
from destination_common.outcomes import NotSent, SlotWithdrawn

logger = logging.getLogger("airbyte")


# ---- secrets -----------------------------------------------------------------------------
# The CDK keeps its secret list in a module global that `update_secrets` rebinds: read it from
# the module each time (never cache the list object). We only ever ADD to it (add_to_secrets).
_SECRETS_GLOBAL = "__SECRETS_FROM_CONFIG"
_forms_cache: dict[str, tuple[str, ...]] = {}
_redact_cache: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())


def _registered() -> list[str]:
    return [str(s) for s in vars(_secrets_utils).get(_SECRETS_GLOBAL, []) if s not in (None, "")]


def secret_forms(value: Any) -> tuple[str, ...]:
    """The ways `value` shows up in text: raw, URL-encoded (`quote` with and without `/` kept,
    `quote_plus`), JSON-escaped (also with `\\/`, as PHP writes it) and base64 (standard and
    URL-safe, padded and not). Longest first."""
    text = str(value)
    cached = _forms_cache.get(text)
    if cached is not None:
        return cached
    forms = {text, quote(text, safe=""), quote(text), quote_plus(text), quote_plus(text, safe="")}
    for ascii_only in (True, False):  # JSON writers differ: \u00e9 or é, / or \/ (PHP)
        escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}
    raw = text.encode("utf-8")
    std, url = base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()
    forms |= {std, std.rstrip("="), url.rstrip("=")}
    out = tuple(sorted((f for f in forms if f), key=len, reverse=True))
    _forms_cache[text] = out
    return out


_derived: set[str] = set()  # encoded forms we registered: never expanded again (no forms of forms)


def _register(form: str, original: str = "") -> None:
    if not form:
        return
    if form != original:
        _derived.add(form)
    if form not in vars(_secrets_utils).get(_SECRETS_GLOBAL, []):  # a short list: forms are never expanded twice
        add_to_secrets(form)


def add_secret(value: Any) -> None:
    """Register a runtime secret (e.g. a session token) and its encoded forms (see
    `secret_forms`) with the CDK's filter (`add_to_secrets`, never `update_secrets`, which
    would drop the config's secrets), so every CDK log line, every traced exception and
    `redact()` replace them by `****`. Config values marked `airbyte_secret` are registered
    (raw) by the CDK's Destination.run_cmd already; `register_secret_forms()` adds their
    encoded forms."""
    if value in (None, ""):
        return
    for form in secret_forms(value):
        _register(form, str(value))


def add_basic_secret(login: Any, password: Any) -> None:
    """Register `password` and the base64 of `login:password` (an HTTP Basic header's
    credentials), which no filter recognises from the password alone."""
    add_secret(password)
    if password in (None, ""):
        return
    pair = f"{login if login is not None else ''}:{password}".encode("utf-8")
    for form in (base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()):
        _register(form)
        _register(form.rstrip("="))


def register_secret_forms() -> None:
    """Register the encoded forms of every secret registered so far (the config's
    airbyte_secret values included), so the CDK's own log formatter masks them too.
    `HttpClient()` calls it; harmless to call again."""
    for secret in list(_registered()):
        if secret in _derived:
            continue
        for form in secret_forms(secret):
            _register(form, secret)


def _all_forms() -> tuple[str, ...]:
    global _redact_cache
    current = tuple(_registered())
    if _redact_cache[0] != current:
        forms: set[str] = set()
        for secret in current:
            forms.update((secret,) if secret in _derived else secret_forms(secret))
        _redact_cache = (current, tuple(sorted(forms, key=len, reverse=True)))
    return _redact_cache[1]


def redact(text: Any, extra: Iterable[Any] = ()) -> str:
    """`text` with every registered secret (and every value in `extra`) replaced by `****`,
    in every form of `secret_forms` (raw, URL-encoded, JSON-escaped, base64; the base64 of a
    Basic pair registered with `add_basic_secret`). Longest forms are replaced first."""
    out = str(text)
    forms = _all_forms()
    extras = [f for value in extra if value not in (None, "") for f in secret_forms(value)]
    if extras:
        forms = tuple(sorted(set(forms) | set(extras), key=len, reverse=True))
    for form in forms:
        if form in out:
            out = out.replace(form, "****")
    return out


# ---- URL rule ----------------------------------------------------------------------------
def is_loopback_host(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_for_message(url: Any) -> str:
    """A URL as it may be quoted in a message: everything between `://` and the last `@`
    (user-info, and whatever a parser might take for it) becomes `…`; registered secrets are
    redacted."""
    text = str(url or "")
    if "@" in text:
        head, sep, rest = text.rpartition("@")[0].partition("://")
        tail = text[text.rfind("@") + 1 :]
        text = f"{head}://…@{tail}" if sep else f"…@{tail}"
    return redact(text)


def _comparable_host(host: str) -> str:
    """A host name as both parsers can be compared on: no brackets, lower case, IDNA
    (punycode) for a non-ASCII name, as urllib3 writes it."""
    host = (host or "").strip("[]").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return host


def _url_error(field: str, text: str, why: str) -> AirbyteTracedException:
    return config_error(f"The {field} '{url_for_message(text)}' {why}")


def check_url(url: Any, field: str = "url") -> str:
    """Validate a base URL with urllib3's `parse_url` (the parser of the HTTP stack that
    connects): https, or http only for loopback (127.0.0.0/8, localhost, [::1]); no user-info
    (`user:pass@`), no backslash, no whitespace or control character. Returns it without a
    trailing slash; raises a config_error AirbyteTracedException that names the field, says
    what to do and never quotes user-info."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    text = str(url or "").strip()
    if "\\" in text:
        raise _url_error(field, text, "contains a backslash: HTTP clients read such an address differently. Write the address with / only.")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise _url_error(field, text, "contains a space or a control character. Give the address without them.")
    if "@" in text.split("?")[0].split("#")[0]:
        raise _url_error(
            field,
            text,
            "contains user-info (name:password@): credentials do not belong in the URL. Give the address without it "
            "and the credentials in their own fields.",
        )
    try:
        parts = parse_url(text)
    except (LocationParseError, ValueError):
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.host:
        raise _url_error(field, text, "is not a valid URL: give the full address starting with https://, e.g. https://shop.example.com.")
    if parts.auth:
        raise _url_error(field, text, "contains user-info (name:password@): give the address without it.")
    try:
        split_host = urlsplit(text).hostname or ""
    except ValueError:
        split_host = ""
    if _comparable_host(split_host) != _comparable_host(parts.host):
        raise _url_error(field, text, "is read differently by different URL parsers. Give a plain https:// address.")
    if parts.scheme == "http" and not is_loopback_host(parts.host):
        raise _url_error(
            field,
            text,
            "uses plain http: credentials would travel unencrypted. "
            "Use https:// (http is accepted only for 127.0.0.1, localhost and [::1]).",
        )
    return text.rstrip("/")


# ---- client ------------------------------------------------------------------------------
TRANSIENT_EXCEPTIONS = (
    requests.exceptions.ConnectionError,  # refused, reset, dropped (includes ReadTimeout's sibling ConnectTimeout)
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,  # body cut short
    requests.exceptions.ContentDecodingError,
)


class TransientResponse(Exception):
    """Raise from a `validate` callback of `HttpClient.request` to have a response retried
    like a 5xx (e.g. a JSON body cut in half)."""


# ---- requests in flight ---------------------------------------------------------------------
# After handing a freed slot to a waiting thread, the thread that freed it sleeps this long: the
# GIL goes to the waiting thread at once, which sends its request (otherwise it waits until the
# freeing thread, busy settling its answer, is made to switch: up to sys.getswitchinterval()).
HANDOVER_PAUSE = 0.0002


class RequestSlots:
    """At most `limit` HTTP requests in flight at once, across the threads of a write loop's
    worker pool (bound with `bind_request_slots`).

    A worker holds a slot for one `send()` (`hold()`); the slot is freed as soon as send()
    returns, so the next batch's request leaves while this batch is settled. With
    `hold(lazy=True)` (a handler whose requests all go through `HttpClient`) the slot is taken
    by the block's first HttpClient exchange, after its request was built: a waiting worker
    has its request ready and sends it the moment a slot frees. A `check` given to `hold()`
    runs once the slot is taken: False gives it back and raises `SlotWithdrawn`, nothing sent
    (the write loop's check that a limit learnt meanwhile still allows the batch's size).

    Batches take their first slot in the order they were handed to the workers: the write
    loop `enlist()`s a ticket per batch when it submits it, and a `hold(ticket=...)` block
    takes no slot while an earlier ticket has taken none yet (`delist()` when a batch ends
    without a request). So requests leave in input order and a worker that frees a slot and
    starts the next batch cannot take the slot a waiting batch was due (which would hold the
    earlier batch, and the STATEs after it, back). After `stop()` (an earlier batch failed) no
    slot is given any more: `acquire()` raises `NotSent`. `peak` is the most slots ever taken
    at once (the write loop's "most requests in flight")."""

    def __init__(self, limit: int) -> None:
        if int(limit) < 1:
            raise ValueError("limit must be at least 1")
        self.limit = int(limit)
        self.in_use = 0
        self.peak = 0
        self.waiting = 0
        self._stopped = False
        self._cond = threading.Condition(threading.Lock())
        self._tickets = 0
        self._pending: deque[int] = deque()  # tickets enlisted that have taken no slot yet, in order

    def enlist(self) -> int:
        """A ticket for a batch about to be handed to the workers (in submission order)."""
        with self._cond:
            self._tickets += 1
            self._pending.append(self._tickets)
            return self._tickets

    def delist(self, ticket: Optional[int]) -> None:
        """The batch of `ticket` takes no (more) first slot: later tickets need not wait for it."""
        if ticket is None:
            return
        with self._cond:
            try:
                self._pending.remove(ticket)
            except ValueError:
                return
            self._cond.notify_all()

    def acquire(self, ticket: Optional[int] = None) -> None:
        with self._cond:
            self.waiting += 1
            try:
                while True:
                    if self._stopped:
                        raise NotSent()
                    due = ticket is None or not self._pending or self._pending[0] == ticket or ticket not in self._pending
                    if due and self.in_use < self.limit:
                        break
                    self._cond.wait()
            finally:
                self.waiting -= 1
            self.in_use += 1
            if self.in_use > self.peak:
                self.peak = self.in_use
            if ticket is not None and ticket in self._pending:
                self._pending.remove(ticket)
                self._cond.notify_all()

    def release(self) -> None:
        with self._cond:
            self.in_use -= 1
            waiting = self.waiting
            if waiting:
                self._cond.notify_all()
        if waiting and HANDOVER_PAUSE:
            time.sleep(HANDOVER_PAUSE)

    def stop(self) -> None:
        """No slot is given from now on (requests in flight finish; waiting ones raise NotSent)."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @contextmanager
    def hold(
        self,
        *,
        lazy: bool = False,
        ticket: Optional[int] = None,
        check: Optional[Callable[[], bool]] = None,
        on_error: Optional[Callable[[BaseException], None]] = None,
    ) -> Iterator[None]:
        """One slot for the block, in this thread: taken now, or (`lazy`) by the block's first
        HttpClient exchange; HttpClient exchanges inside the block take no other. When the
        block raises, `on_error(exc)` runs before the slot is freed (the write loop stops the
        slots there, so no waiting batch is sent after an error)."""
        block = _Block(self, check, ticket)
        previous = getattr(_slot_local, "block", None)
        _slot_local.block = block
        try:
            if not lazy:
                block.take()
            try:
                yield
            except BaseException as exc:
                if on_error is not None:
                    on_error(exc)
                raise
        finally:
            _slot_local.block = previous
            if block.taken:
                block.taken = False
                self.release()
            else:
                self.delist(ticket)  # no request made (or none allowed): later batches need not wait


class _Block:
    """A `RequestSlots.hold()` block of one thread: its slot taken yet or not."""

    __slots__ = ("slots", "check", "ticket", "taken")

    def __init__(self, slots: RequestSlots, check: Optional[Callable[[], bool]], ticket: Optional[int] = None) -> None:
        self.slots, self.check, self.ticket, self.taken = slots, check, ticket, False

    def take(self) -> None:
        self.slots.acquire(self.ticket)
        self.taken = True
        if self.check is not None and not self.check():
            self.taken = False
            self.slots.release()
            raise SlotWithdrawn()


_slot_local = threading.local()  # .slots: this worker's RequestSlots; .block: its hold() block


def bind_request_slots(slots: Optional[RequestSlots]) -> None:
    """Bind `slots` to the calling thread (the write loop's worker initializer): every
    `HttpClient` exchange made from this thread then counts against them."""
    _slot_local.slots = slots
    _slot_local.block = None


@contextmanager
def _exchange_slot() -> Iterator[None]:
    """Around one HttpClient exchange: inside a `hold()` block, its slot (taken now if lazy);
    in a bound thread outside one, a slot for this exchange; elsewhere nothing."""
    block: Optional[_Block] = getattr(_slot_local, "block", None)
    if block is not None:
        if not block.taken:
            block.take()
        yield
        return
    slots: Optional[RequestSlots] = getattr(_slot_local, "slots", None)
    if slots is None:
        yield
        return
    slots.acquire()
    try:
        yield
    finally:
        slots.release()


# Session.request's keyword arguments HttpClient.request builds and sends itself (anything else:
# Session.request as it is)
_SPLIT_KWARGS = frozenset({"params", "data", "headers", "cookies", "files", "auth", "timeout", "allow_redirects", "hooks", "json"})


class HttpClient:
    """A requests Session with timeouts, retries and counters.

    `request()` retries 5xx, 429 (rate limited: transient by nature), timeouts, dropped/cut connections and whatever `validate`
    flags as `TransientResponse`, up to `max_retries` times with exponential backoff
    (`backoff_base * 2**attempt`, capped at `backoff_max`, with jitter; a numeric
    `Retry-After` is honoured up to `backoff_max`). Other 4xx are returned at once (never
    retried). When retries run out it raises a transient_error AirbyteTracedException that
    says what failed and what to do. Counters: `requests` (every HTTP attempt), `retries`.
    `direct=False`: every request through `Session.send` (else `transport.DirectTransport`
    where it sends the same request, see transport.py).
    """

    def __init__(
        self,
        *,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        max_retries: int = 5,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_statuses: Optional[Iterable[int]] = None,
        user_agent: str = "airbyte-destination",
        service: str = "the API",
        session: Optional[requests.Session] = None,
        sleep: Callable[[float], None] = time.sleep,
        direct: bool = True,
    ) -> None:
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = max(0.0, float(backoff_base))
        self.backoff_max = float(backoff_max)
        self.retry_statuses = set(retry_statuses) if retry_statuses is not None else {429}
        self.service = service
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        # Never follow a redirect: requests re-sends bodies (login forms, API keys) and custom
        # headers to the new location. request() passes allow_redirects=False and turns a 3xx
        # into a config_error; for any other use of this session, requests finds no redirect
        # target, so it returns the 3xx answer instead of following it.
        self.session.get_redirect_target = lambda response: None  # type: ignore[method-assign]
        # No ~/.netrc: requests looks it up before every request that has no auth of its own (a
        # file-system check per request, on the path between one answer and the next request;
        # and credentials from a file the config does not name must not go to the API). A
        # client that sets session.auth (Basic) or passes auth= replaces this no-op.
        if self.session.auth is None:
            self.session.auth = _no_auth
        register_secret_forms()
        self._environment_cache: dict[tuple[Any, ...], dict[str, Any]] = {}
        self.requests = 0
        self._count_lock = threading.Lock()  # send() runs in worker threads
        self.retries = 0
        self._sleep = sleep
        # http.client instead of Session.send where that sends the same request (transport.py)
        self._direct: Optional[transport.DirectTransport] = transport.DirectTransport() if direct else None

    def stats(self) -> dict[str, int]:
        with self._count_lock:
            return {"requests": self.requests, "retries": self.retries}

    def backoff(self, attempt: int, response: Optional[requests.Response] = None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After", "")
            if after.strip().isdigit():
                return min(float(after), self.backoff_max)
        delay = min(self.backoff_base * (2**attempt), self.backoff_max)
        return delay * (0.5 + random.random() / 2) if delay else 0.0

    def is_transient_status(self, status: int) -> bool:
        return status >= 500 or status in self.retry_statuses

    def moved(self, response: requests.Response, url: str, what: str) -> AirbyteTracedException:
        """The config_error for a 3xx answer: names the new location (without user-info)."""
        location = response.headers.get("Location")
        if location:
            where = url_for_message(urljoin(url, location))
            msg = (
                f"{self.service} answered {what} with HTTP {response.status_code}: the shop moved to {where}; "
                "update the API URL. (Redirects are never followed: they would carry the credentials to another address.)"
            )
        else:
            msg = (
                f"{self.service} answered {what} with HTTP {response.status_code} (a redirect without a new location); "
                "check the API URL."
            )
        return config_error(msg)

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str = "request",
        validate: Optional[Callable[[requests.Response], None]] = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One logical request with retries. `what` names it in messages (e.g. `users/import`).
        `validate(response)` may raise TransientResponse to retry a response."""
        kwargs.setdefault("timeout", self.timeout)
        kwargs["allow_redirects"] = False
        attempt = 0
        while True:
            with self._count_lock:
                self.requests += 1
            cause: str
            response: Optional[requests.Response] = None
            try:
                response = self._exchange(method, url, kwargs)
                if 300 <= response.status_code < 400:
                    raise self.moved(response, url, what)
                if self.is_transient_status(response.status_code):
                    cause = f"HTTP {response.status_code}"
                else:
                    if validate is not None and response.status_code < 400:
                        validate(response)
                    return response
            except TransientResponse as exc:
                cause = str(exc)
            except TRANSIENT_EXCEPTIONS as exc:
                cause = f"{type(exc).__name__}"
            if attempt >= self.max_retries:
                raise transient_error(
                    f"{self.service} failed on {what} after {attempt + 1} attempts (last: {cause}). "
                    "The service may be down or overloaded; nothing after the last emitted state was committed. "
                    "Run the sync again later."
                )
            delay = self.backoff(attempt, response)
            with self._count_lock:
                self.retries += 1
            logger.info(redact(f"{what}: {cause}; retry {attempt + 1} of {self.max_retries} in {delay:.2f}s"))
            if delay:
                self._sleep(delay)
            attempt += 1

    def _exchange(self, method: str, url: str, kwargs: dict[str, Any]) -> requests.Response:
        """One attempt: the request built (requests' `prepare_request`, the environment's
        proxy and CA settings) before the write loop's request slot is taken (`RequestSlots`;
        none outside a write loop's worker), then `Session.send` (bytes out, answer in). A
        session whose `request` was replaced, or a call with keyword arguments this does not
        build itself, goes through `Session.request` (after the slot is taken) as before."""
        session = self.session
        if not isinstance(session, requests.Session) or "request" in vars(session) or not _SPLIT_KWARGS.issuperset(kwargs):
            with _exchange_slot():
                return session.request(method, url, **kwargs)
        prepared = session.prepare_request(
            requests.Request(
                method=method.upper(),
                url=url,
                headers=kwargs.get("headers"),
                files=kwargs.get("files"),
                data=kwargs.get("data") or {},
                json=kwargs.get("json"),
                params=kwargs.get("params") or {},
                auth=kwargs.get("auth"),
                cookies=kwargs.get("cookies"),
                hooks=kwargs.get("hooks"),
            )
        )
        settings = self._environment(prepared.url or url)
        if self._direct is not None and transport.usable(session, prepared, settings):
            with _exchange_slot():
                return self._direct.send(session, prepared, kwargs.get("timeout"), settings.get("verify", True))
        send_kwargs: dict[str, Any] = {"timeout": kwargs.get("timeout"), "allow_redirects": kwargs.get("allow_redirects", False)}
        send_kwargs.update(settings)
        with _exchange_slot():
            return session.send(prepared, **send_kwargs)

    def _environment(self, url: str) -> dict[str, Any]:
        """`Session.merge_environment_settings` for `url` (proxies from the environment for its
        scheme and host, `REQUESTS_CA_BUNDLE`, the session's verify/cert/stream), computed once
        per scheme, host and session settings: requests reads every environment variable
        twice per request for it (the process's environment does not change during a sync)."""
        session = self.session
        parts = urlsplit(url)
        key = (
            parts.scheme,
            parts.netloc,
            session.trust_env,
            tuple(sorted((session.proxies or {}).items())),
            session.verify if isinstance(session.verify, (bool, str)) else id(session.verify),
            repr(session.cert),
            session.stream,
        )
        settings = self._environment_cache.get(key)
        if settings is None:
            settings = self._environment_cache[key] = session.merge_environment_settings(url, {}, None, None, None)
        return dict(settings, proxies=dict(settings.get("proxies") or {}))

    def post_json(self, url: str, body: Any, *, what: str = "request", **kwargs: Any) -> Any:
        """POST a JSON body and return the decoded JSON answer. A 2xx/3xx body that is not valid
        JSON (cut or truncated answer) is retried like a 5xx; a 4xx raises requests.HTTPError
        (not retried)."""
        holder: dict[str, Any] = {}

        def check(response: requests.Response) -> None:
            try:
                holder["json"] = response.json()
            except ValueError as exc:
                raise TransientResponse(f"answer is not valid JSON (HTTP {response.status_code})") from exc

        response = self.request("POST", url, json=body, what=what, validate=check, **kwargs)
        if response.status_code >= 400:
            response.raise_for_status()
        return holder["json"]


def _no_auth(request: Any) -> Any:
    """Session auth that adds nothing (so requests does not read ~/.netrc)."""
    return request


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
