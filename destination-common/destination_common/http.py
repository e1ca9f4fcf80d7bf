"""HTTP helpers: one requests Session with timeouts, retry with exponential backoff on
transient failures (5xx, 429, timeouts, dropped or cut connections), request counting; the
URL rule; redaction of secrets from anything raised or logged."""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import time
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets, filter_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

logger = logging.getLogger("airbyte")


# ---- secrets -----------------------------------------------------------------------------
def add_secret(value: Any) -> None:
    """Register a runtime secret (e.g. a session token) so that every CDK log line, every
    traced exception and `redact()` replace it by `****`. Config values marked
    `airbyte_secret` are registered by the CDK's Destination.run_cmd already."""
    if value not in (None, ""):
        add_to_secrets(str(value))


def redact(text: Any, extra: Iterable[Any] = ()) -> str:
    """`text` with every registered secret (and every value in `extra`) replaced by `****`."""
    out = filter_secrets(str(text))
    for value in extra:
        if value not in (None, ""):
            out = out.replace(str(value), "****")
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


def check_url(url: Any, field: str = "url") -> str:
    """Validate a base URL: https, or http only for loopback (127.0.0.0/8, localhost, [::1]).
    Returns it without a trailing slash; raises a config_error AirbyteTracedException that
    names the field and says what to do."""
    text = str(url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        msg = f"The {field} '{text}' is not a valid URL: give the full address starting with https://, e.g. https://shop.example.com."
        raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        msg = (
            f"The {field} '{text}' uses plain http: credentials would travel unencrypted. "
            "Use https:// (http is accepted only for 127.0.0.1, localhost and [::1])."
        )
        raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
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


class HttpClient:
    """A requests Session with timeouts, retries and counters.

    `request()` retries 5xx, 429 (rate limited: transient by nature), timeouts, dropped/cut connections and whatever `validate`
    flags as `TransientResponse`, up to `max_retries` times with exponential backoff
    (`backoff_base * 2**attempt`, capped at `backoff_max`, with jitter; a numeric
    `Retry-After` is honoured up to `backoff_max`). Other 4xx are returned at once (never
    retried). When retries run out it raises a transient_error AirbyteTracedException that
    says what failed and what to do. Counters: `requests` (every HTTP attempt), `retries`.
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
    ) -> None:
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = max(0.0, float(backoff_base))
        self.backoff_max = float(backoff_max)
        self.retry_statuses = set(retry_statuses) if retry_statuses is not None else {429}
        self.service = service
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = user_agent
        self.requests = 0
        self.retries = 0
        self._sleep = sleep

    def stats(self) -> dict[str, int]:
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
        attempt = 0
        while True:
            self.requests += 1
            cause: str
            response: Optional[requests.Response] = None
            try:
                response = self.session.request(method, url, **kwargs)
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
                msg = redact(
                    f"{self.service} failed on {what} after {attempt + 1} attempts (last: {cause}). "
                    "The service may be down or overloaded; nothing after the last emitted state was committed. "
                    "Run the sync again later."
                )
                raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.transient_error)
            delay = self.backoff(attempt, response)
            self.retries += 1
            logger.info(redact(f"{what}: {cause}; retry {attempt + 1} of {self.max_retries} in {delay:.2f}s"))
            if delay:
                self._sleep(delay)
            attempt += 1

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


def json_dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
