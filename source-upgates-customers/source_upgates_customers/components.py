"""What the manifest cannot say in YAML: UPgates' `Retry-After` is an HTTP date, and a moved
shop answers `301` to a new host (where `requests` drops the credentials)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Optional, Union
from urllib.parse import urlsplit

import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.requesters.error_handlers.backoff_strategies.wait_until_time_from_header_backoff_strategy import (
    WaitUntilTimeFromHeaderBackoffStrategy,
)
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ErrorResolution, ResponseAction
from airbyte_cdk.utils import AirbyteTracedException


def seconds_until_retry(value: str | None, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` value: an HTTP date (what UPgates sends) or a number
    of seconds (what RFC 9110 also allows). None when absent or unreadable."""
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
    return when.timestamp() - now


@dataclass
class RetryAfterHttpDate(WaitUntilTimeFromHeaderBackoffStrategy):
    """Wait until the time in `Retry-After`, at least `min_wait`; when that is
    `max_waiting_time_in_seconds` or longer (an hourly or daily quota used up), stop the stream
    with a transient error instead, so the sync ends with the state it has saved. Without the
    header it returns None and the CDK's exponential backoff applies."""

    def backoff_time(
        self,
        response_or_exception: Optional[Union[requests.Response, requests.RequestException]],
        attempt_count: int,
    ) -> Optional[float]:
        if not isinstance(response_or_exception, requests.Response):
            return None
        header = self.header.eval(self.config)  # type: ignore[union-attr]
        raw = response_or_exception.headers.get(header)
        wait = seconds_until_retry(raw, time.time())
        if wait is None:
            return None
        min_wait = self.min_wait.eval(self.config)  # type: ignore[union-attr]
        wait = max(wait, float(min_wait) if min_wait else 0.0)
        try:
            return self._capped(wait)
        except AirbyteTracedException as exc:
            raise AirbyteTracedException(
                message=(
                    f"The UPgates request quota is used up until {raw} (HTTP {response_or_exception.status_code}). "
                    "The sync stopped instead of waiting; run it again after that time and it "
                    "continues from the last saved state."
                ),
                internal_message=exc.internal_message,
                failure_type=FailureType.transient_error,
            ) from exc


@dataclass
class UpgatesErrorHandler(DefaultErrorHandler):
    """The manifest's DefaultErrorHandler plus one case: a shop that moved to another server
    answers `301` with a `Location` on another host. `requests` follows it without the
    credentials, which would read as a bad API key (and count as a failed login towards the
    hourly lock-out); say what happened instead."""

    def interpret_response(self, response_or_exception):  # type: ignore[no-untyped-def]
        if isinstance(response_or_exception, requests.Response) and response_or_exception.history:
            first = response_or_exception.history[0]
            if urlsplit(first.url).netloc != urlsplit(response_or_exception.url).netloc:
                location = first.headers.get("Location", response_or_exception.url)
                new_base = location.split("/api/v2")[0] + "/api/v2" if "/api/v2" in location else location
                return ErrorResolution(
                    response_action=ResponseAction.FAIL,
                    failure_type=FailureType.config_error,
                    error_message=(
                        f"The UPgates shop has moved: {urlsplit(first.url).netloc} answers "
                        f"HTTP {first.status_code} to {urlsplit(location).netloc}. "
                        f"Set the API URL to {new_base} (shown in the shop admin under Add-ons > API)."
                    ),
                )
        return super().interpret_response(response_or_exception)
