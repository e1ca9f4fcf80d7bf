"""components.py: the HTTP-date Retry-After and the moved shop."""

from __future__ import annotations

import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils import AirbyteTracedException
from source_upgates_customers.components import RetryAfterHttpDate, UpgatesErrorHandler, seconds_until_retry


def response(status: int, url: str = "https://shop.admin.s10.upgates.com/api/v2/customers", **headers: str) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.url = url
    r.headers.update(headers)
    r._content = b'{"messages": []}'
    return r


def http_date_in(seconds: float) -> str:
    return format_datetime(datetime.now(timezone.utc) + timedelta(seconds=seconds), usegmt=True)


def test_retry_after_reads_http_dates_and_numbers():
    now = time.time()
    assert seconds_until_retry(format_datetime(datetime.fromtimestamp(now + 90, timezone.utc), usegmt=True), now) == pytest.approx(90, abs=1)
    assert seconds_until_retry("12", now) == 12
    assert seconds_until_retry("soon", now) is None
    assert seconds_until_retry(None, now) is None


def strategy(max_wait: int = 60) -> RetryAfterHttpDate:
    return RetryAfterHttpDate(
        header="Retry-After", parameters={}, config={"max_rate_limit_wait_seconds": max_wait}, min_wait=1,
        max_waiting_time_in_seconds="{{ config['max_rate_limit_wait_seconds'] }}",
    )


def test_short_wait_is_waited_with_a_floor():
    assert 1 <= strategy().backoff_time(response(429, **{"Retry-After": http_date_in(5)}), 1) <= 6
    # a date already past (second-granular headers) still waits the floor
    assert strategy().backoff_time(response(429, **{"Retry-After": http_date_in(-3)}), 1) == 1


def test_quota_wait_stops_the_stream_as_transient():
    later = http_date_in(1800)
    with pytest.raises(AirbyteTracedException) as err:
        strategy(max_wait=60).backoff_time(response(429, **{"Retry-After": later}), 1)
    assert err.value.failure_type == FailureType.transient_error
    assert later in err.value.message


def test_no_header_leaves_the_cdk_backoff():
    assert strategy().backoff_time(response(500), 1) is None
    assert strategy().backoff_time(requests.ConnectionError(), 1) is None


def handler() -> UpgatesErrorHandler:
    return UpgatesErrorHandler(config={}, parameters={})


def test_moved_shop_is_a_config_error_naming_the_new_url():
    moved = response(301, Location="https://shop.admin.s12.upgates.com/api/v2/customers?page=2")
    final = response(401, url="https://shop.admin.s12.upgates.com/api/v2/customers?page=2")
    final.history = [moved]
    resolution = handler().interpret_response(final)
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type == FailureType.config_error
    assert "https://shop.admin.s12.upgates.com/api/v2" in resolution.error_message


def test_redirect_on_the_same_host_is_not_a_move():
    moved = response(301, Location="/api/v2/customers/")
    final = response(200, url="https://shop.admin.s10.upgates.com/api/v2/customers/")
    final.history = [moved]
    assert handler().interpret_response(final).response_action == ResponseAction.SUCCESS
