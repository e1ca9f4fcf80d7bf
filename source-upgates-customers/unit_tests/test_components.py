"""components.py: the HTTP-date Retry-After, redirects, timeouts, one type per field, state checks."""

from __future__ import annotations

import time
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.utils import AirbyteTracedException
from source_upgates_customers.components import (
    RetryAfterHttpDate,
    UpgatesErrorHandler,
    normalise_customer,
    normalise_groups,
    seconds_until_retry,
    state_problem,
)
from source_upgates_customers.source import check_api_url, check_config


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


@pytest.mark.parametrize("machine_clock_off_by", [-1800, 0, 1800])
def test_the_wait_is_counted_on_the_apis_clock_when_the_answer_has_a_date(machine_clock_off_by):
    # the API says: it is 10:00:05 and the quota is back at 11:00:00, whatever this machine's clock says
    api_now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(seconds=machine_clock_off_by)
    headers = {"Date": format_datetime(api_now, usegmt=True),
               "Retry-After": format_datetime(api_now + timedelta(seconds=3595), usegmt=True)}
    with pytest.raises(AirbyteTracedException, match="quota is used up"):
        strategy(max_wait=30).backoff_time(response(429, **headers), 1)
    headers["Retry-After"] = format_datetime(api_now + timedelta(seconds=5), usegmt=True)
    assert 5 <= strategy(max_wait=30).backoff_time(response(429, **headers), 1) <= 6


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


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_every_redirect_is_a_config_error_even_on_the_same_host(status):
    # redirects are not followed (source.harden_http_clients), so the 3xx itself arrives here
    moved = response(status, Location="https://user:hunter2@shop.admin.s10.upgates.com/api/v2/customers/")
    resolution = handler().interpret_response(moved)
    assert resolution.response_action == ResponseAction.FAIL
    assert resolution.failure_type == FailureType.config_error
    assert "shop.admin.s10.upgates.com/api/v2" in resolution.error_message
    assert "hunter2" not in resolution.error_message and "user:" not in resolution.error_message


def test_too_many_redirects_is_the_same_config_error():
    moved = response(302, Location="https://elsewhere.example/api/v2/customers")
    resolution = handler().interpret_response(requests.exceptions.TooManyRedirects("no", response=moved))
    assert resolution.failure_type == FailureType.config_error and "elsewhere.example" in resolution.error_message


def test_timeouts_are_transient_and_name_the_host():
    request = requests.Request("GET", "https://shop.admin.s10.upgates.com/api/v2/customers").prepare()
    for exc in (requests.exceptions.ReadTimeout(request=request), requests.exceptions.ConnectTimeout(request=request)):
        resolution = handler().interpret_response(exc)
        assert resolution.response_action == ResponseAction.RETRY
        assert resolution.failure_type == FailureType.transient_error
        assert "shop.admin.s10.upgates.com" in resolution.error_message


@pytest.mark.parametrize(
    "url",
    [
        "http://example.invalid\\@127.0.0.1:8802/api/v2",  # urllib3 connects to example.invalid
        "https://user:secret-pw@shop.example.com/api/v2",
        "https://shop.example.com@evil.example/api/v2",
        "https://shop.example.com /api/v2",
        "https://shop.example.com/api/v2\t",
        "http://shop.example.com/api/v2",
        "ftp://shop.example.com/api/v2",
    ],
)
def test_api_urls_refused(url):
    with pytest.raises(AirbyteTracedException) as err:
        check_api_url({"api_url": url})
    assert err.value.failure_type == FailureType.config_error
    assert "secret-pw" not in err.value.message


def test_api_urls_accepted():
    for url in ("https://mystore.admin.s10.upgates.com/api/v2", "http://127.0.0.1:8801/api/v2", "http://localhost/api/v2", "http://[::1]:80/api/v2"):
        check_api_url({"api_url": url})


def test_groups_always_an_array_of_objects():
    assert normalise_groups({"1": "Maloobchod", "3": "VIP"}) == [{"id": 1, "name": "Maloobchod"}, {"id": 3, "name": "VIP"}]
    assert normalise_groups([{"id": "2", "name": "Veľkoobchod"}]) == [{"id": 2, "name": "Veľkoobchod"}]
    assert normalise_groups([1, 3]) == [{"id": 1, "name": None}, {"id": 3, "name": None}]
    assert normalise_groups(None) == [] and normalise_groups({}) == [] and normalise_groups([]) == []


def test_one_type_per_field():
    record = normalise_customer({
        "customer_id": "12", "newsletter_yn": "1", "turnover": 12.5, "groups": {"1": "A"},
        "login": {"active_yn": 0, "blocked_yn": "0", "email": "a@b.cz"},
        "metas": [{"key": "k", "value": 5, "values": [{"language": "cs", "value": ["a", "b"]}]}],
    })
    assert record["customer_id"] == 12 and record["newsletter_yn"] is True and record["turnover"] == "12.5"
    assert record["login"] == {"active_yn": False, "blocked_yn": False, "email": "a@b.cz"}
    assert record["metas"][0]["value"] == "5" and record["metas"][0]["values"][0]["value"] == '["a", "b"]'


def test_state_problems_name_the_field():
    assert state_problem({"last_update_time": "2024-01-01T00:00:00+01:00", "pass": {"pages_done": 2, "done_after": [4]}}) is None
    assert "customers.last_update_time" in state_problem({"last_update_time": "garbage"})
    assert "customers.last_update_time" in state_problem({"last_update_time": "2024-02-30T00:00:00+01:00"})
    assert "customers.pass.pages_done" in state_problem({"pass": {"pages_done": "x"}})
    assert "customers.pass.done_after" in state_problem({"pass": {"done_after": "1,2"}})
    assert "customers.pass.from" in state_problem({"pass": {"from": 5}})
    assert state_problem([1]) is not None


def test_config_values_upgates_would_refuse():
    base = {"api_url": "https://shop.admin.s10.upgates.com/api/v2", "login": "l", "api_key": "k"}
    check_config(base)
    for field, value in (("creation_time_from", "2024-02-30T00:00:00+01:00"), ("start_date", "yesterday"),
                         ("language", "Slovak"), ("newsletter_accept", "maybe"), ("active", "sometimes"),
                         ("customer_ids", [1, "two"]), ("read_timeout_seconds", 0)):
        with pytest.raises(AirbyteTracedException) as err:
            check_config({**base, field: value})
        assert err.value.failure_type == FailureType.config_error and field in err.value.message
