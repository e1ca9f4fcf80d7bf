"""UPgates API v2 client for the destination: HTTP Basic (login, API key), no redirects, the
request quota (`429` with an HTTP-date `Retry-After`: wait when it is soon enough, else stop
with a transient error), quota headers kept for the summary, thread-safe counters."""

from __future__ import annotations

import logging
import threading
import time
from email.utils import parsedate_to_datetime
from collections.abc import Callable, Mapping
from typing import Any, Optional
from urllib.parse import urlsplit, urlunsplit

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import HttpClient, add_basic_secret, check_url, config_error, transient_error

from destination_upgates_customers.version import __version__

logger = logging.getLogger("airbyte")

VERSION = __version__  # the package's (pyproject.toml's), in the User-Agent
USER_AGENT = f"airbyte-destination-upgates-customers/{VERSION}"
# 429s in a row for one request before giving up (concurrency refusals with short waits)
MAX_RATE_LIMIT_RETRIES = 8


def seconds_until_retry(value: Optional[str], now: float) -> Optional[float]:
    """Seconds to wait from a `Retry-After` value: an HTTP date in GMT (what UPgates sends) or
    a number of seconds (RFC 9110 allows both). None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return when.timestamp() - now


def without_userinfo(url: str) -> str:
    """A URL safe to quote in a message: no `user:password@`."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    except ValueError:
        return "(an unreadable address)"


def messages_text(body: Any, limit: int = 300) -> str:
    """The `messages[].message` texts of an UPgates answer, joined; '' when there are none."""
    if not isinstance(body, Mapping):
        return ""
    texts = []
    for m in body.get("messages") or []:
        if isinstance(m, Mapping) and m.get("message"):
            prop = m.get("property")
            texts.append(f"{prop}: {m['message']}" if prop else str(m["message"]))
    return "; ".join(texts)[:limit]


def write_right(status_body: Any) -> Optional[bool]:
    """From GET /status: whether this API user may write customers (None: cannot tell)."""
    endpoints = status_body.get("endpoints") if isinstance(status_body, Mapping) else None
    if not isinstance(endpoints, list):
        return None
    for entry in endpoints:
        if isinstance(entry, Mapping) and entry.get("endpoint") == "customers":
            right = entry.get("write_yn")
            return bool(right) if isinstance(right, bool) else None
    return False


class UpgatesClient:
    """`request(method, path)` → the response (any status below 300 or a 4xx other than 429);
    3xx is a config error (the shop moved: the credentials are never sent to the new place),
    429 waits for `Retry-After` when that is at most `max_rate_limit_wait_seconds` away and
    otherwise raises a transient error. 5xx, timeouts and dropped connections are retried by
    destination_common's HttpClient. Safe to use from several threads."""

    def __init__(
        self,
        config: Mapping[str, Any],
        http: Optional[HttpClient] = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.base = check_url(config.get("api_url"), field="API URL")
        self.login = str(config.get("login") or "")
        api_key = str(config.get("api_key") or "")
        add_basic_secret(self.login, api_key)  # the `Authorization: Basic …` value is a secret too
        self.http = http or HttpClient(
            timeout=(10.0, float(config.get("request_timeout_seconds", 120))),
            max_retries=int(config.get("http_max_retries", 5)),
            backoff_base=float(config.get("http_backoff_seconds", 2)),
            retry_statuses=set(),  # 429 is handled here (HTTP-date Retry-After, quotas)
            service=f"UPgates API at {self.base}",
            user_agent=USER_AGENT,
        )
        self.http.session.auth = (self.login, api_key)
        self.max_wait = max(0.0, float(config.get("max_rate_limit_wait_seconds", 60)))
        self._sleep = sleep
        self._now = now
        self._lock = threading.Lock()
        self.rate_limited = 0  # 429 answers seen
        self.waited_seconds = 0.0
        self.quota: dict[str, str] = {}  # the latest X-Rate-Limit-* headers
        self._quota_stop: Optional[str] = None  # set once the quota is used up: no further request

    def url(self, path: str) -> str:
        return f"{self.base}/{path.strip('/')}"

    def stats(self) -> dict[str, int]:
        return self.http.stats()

    def quota_line(self) -> str:
        with self._lock:
            left = {k: v for k, v in self.quota.items() if k.lower().endswith("-remaining")}
        return ", ".join(f"{k[len('X-Rate-Limit-'):]}: {v}" for k, v in sorted(left.items())) or "not reported"

    def check_access(self) -> None:
        """What `check` proves, with GET /status: the API answers (a shop that cannot be
        reached is a config error here, a used-up quota stays transient), the login is
        accepted, and the API user may write customers; else a config error saying what to fix."""
        try:
            response = self.request("GET", "status", what="GET status")
        except AirbyteTracedException as exc:
            if exc.failure_type == FailureType.transient_error and "quota" not in (exc.message or ""):
                raise config_error(
                    f"Cannot reach an UPgates API at {self.base} ({exc.message}). "
                    "Check the API URL (shop admin: Add-ons > API) and that the shop is online."
                ) from None
            raise
        body = json_of(response)
        text = messages_text(body)
        if response.status_code == 401:
            raise config_error(
                f"UPgates refused the API login '{self.login}' (HTTP 401{': ' + text if text else ''}). "
                "Check the API login and the API key (shop admin: Add-ons > API)."
            )
        if response.status_code == 403:
            raise config_error(
                f"UPgates answered HTTP 403 to GET status ({text or 'forbidden'}): the API user is inactive or locked "
                "out after failed logins (wait an hour). Check the user in the shop admin (Add-ons > API)."
            )
        if response.status_code >= 400 or not isinstance(body, Mapping):
            raise config_error(
                f"{self.base}/status answered HTTP {response.status_code}"
                f"{' without JSON' if not isinstance(body, Mapping) else ''}: this does not look like the UPgates "
                "API v2. Check the API URL (it ends in /api/v2)."
            )
        if write_right(body) is False:
            raise config_error(
                f"The UPgates API user '{self.login}' has no right to write customers. "
                "Give it the customers write right in the shop admin (Add-ons > API)."
            )

    def request(self, method: str, path: str, *, what: str, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False
        limited = 0
        while True:
            with self._lock:
                stop = self._quota_stop
            if stop is not None:
                # another request (another worker thread) found the quota used up: a request now
                # would only be refused too
                raise transient_error(stop)
            try:
                response = self.http.request(method, self.url(path), what=what, **kwargs)
            except requests.exceptions.InvalidURL:
                raise config_error(f"The API URL {without_userinfo(self.base)} is not a valid address.") from None
            headers = {k: v for k, v in response.headers.items() if k.lower().startswith("x-rate-limit-")}
            if headers:
                with self._lock:
                    self.quota.update(headers)
            if 300 <= response.status_code < 400:
                location = response.headers.get("Location", "")
                raise config_error(
                    f"The UPgates shop moved: {what} answered HTTP {response.status_code} to "
                    f"{without_userinfo(location) if location else 'an unnamed address'}; update the API URL "
                    "(shop admin: Add-ons > API). The credentials were not sent there."
                )
            if response.status_code != 429:
                return response
            limited += 1
            with self._lock:
                self.rate_limited += 1
            raw = response.headers.get("Retry-After")
            wait = seconds_until_retry(raw, self._now())
            detail = messages_text(json_of(response)) or "request limit reached"
            if wait is not None and wait > self.max_wait:
                message = (
                    f"The UPgates request quota is used up ({detail}) until {raw}. The sync stopped instead of "
                    f"waiting more than {self.max_wait:.0f} s: every record before the last emitted state is "
                    "written; run the sync again after that time and it continues from there."
                )
                with self._lock:
                    self._quota_stop = self._quota_stop or message
                raise transient_error(message)
            if limited > MAX_RATE_LIMIT_RETRIES:
                raise transient_error(
                    f"UPgates kept answering HTTP 429 to {what} ({detail}) after {MAX_RATE_LIMIT_RETRIES} waits. "
                    "Another client may be using the same API access (at most 3 requests at once); "
                    "run the sync again later."
                )
            if wait is None:
                wait = min(2.0**limited, self.max_wait)
            wait = max(wait, 0.05) + 0.05  # an HTTP date has whole seconds: never come back early
            with self._lock:
                self.waited_seconds += wait
            logger.info(f"{what}: HTTP 429 ({detail}); waiting {wait:.1f} s as Retry-After asks")
            self._sleep(wait)


def json_of(response: requests.Response) -> Any:
    """The decoded JSON body, or None when the body is not JSON."""
    try:
        return response.json()
    except ValueError:
        return None
