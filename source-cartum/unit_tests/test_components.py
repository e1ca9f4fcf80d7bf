"""Unit tests of components.py and of the manifest's envelope handling and spec."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
import requests
import yaml

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.decoders import JsonDecoder
from airbyte_cdk.sources.declarative.models import DefaultErrorHandler as DefaultErrorHandlerModel
from airbyte_cdk.sources.declarative.parsers.model_to_component_factory import ModelToComponentFactory
from airbyte_cdk.sources.streams.http.error_handlers.response_models import ResponseAction
from airbyte_cdk.sources.types import StreamSlice
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from source_cartum import components
from source_cartum.components import (
    CartumSessionAuthenticator,
    SourceShared,
    bound_to_source,
    ProgressOffsetIncrement,
    ShopLocalDatetime,
    UsersCursorStateMigration,
    is_ambiguous,
    shop_zone,
    to_iso,
    users_cursor_value,
)

MANIFEST = yaml.safe_load((Path(components.__file__).parent / "manifest.yaml").read_text())
KYIV = ZoneInfo("Europe/Kyiv")


# ---- dates -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw,expected",
    [
        ("2026-01-15 10:00:00", "2026-01-15T10:00:00+02:00"),  # winter, EET
        ("2026-07-15 10:00:00", "2026-07-15T10:00:00+03:00"),  # summer, EEST
        ("2025-10-26 03:30:00", "2025-10-26T03:30:00+03:00"),  # repeated hour: the first one
        ("2025-03-30 03:30:00", "2025-03-30T03:30:00+02:00"),  # skipped hour: offset before the change
        ("", None),
        (None, None),
        ("0000-00-00 00:00:00", None),
        ("yesterday", None),
    ],
)
def test_to_iso_adds_the_shops_offset(raw: Any, expected: str | None) -> None:
    assert to_iso(raw, KYIV) == expected


def test_iso_values_order_correctly_across_dst_where_raw_strings_do_not() -> None:
    # 03:50 EEST then, one hour of wall-clock later, 03:10 EET (after clocks went back)
    first = datetime.fromisoformat(to_iso("2025-10-26 03:50:00", KYIV))
    later = datetime(2025, 10, 26, 3, 10, fold=1, tzinfo=KYIV)
    assert "2025-10-26 03:10:00" < "2025-10-26 03:50:00" and first < later
    assert later.isoformat() == "2025-10-26T03:10:00+02:00"


def test_transformation_and_unknown_zone() -> None:
    t = ShopLocalDatetime(source="registered", target="registered_at", config={"shop_timezone": "Europe/Warsaw"}, parameters={})
    record = {"registered": "2026-02-01 08:00:00"}
    t.transform(record)
    assert record["registered_at"] == "2026-02-01T08:00:00+01:00"
    assert shop_zone({}).key == "Europe/Kyiv"
    with pytest.raises(AirbyteTracedException) as err:
        shop_zone({"shop_timezone": "Mars/Olympus"})
    assert err.value.failure_type == FailureType.config_error and "Mars/Olympus" in err.value.message


# ---- authenticator -----------------------------------------------------------------------
class FakeLoginRequester:
    """Stands for the manifest's login HttpRequester: each `send_request` is one login."""

    def __init__(self) -> None:
        self.logins = 0

    def send_request(self, **kwargs: Any) -> requests.Response:
        self.logins += 1
        answer = requests.Response()
        answer.status_code = 200
        answer._content = json.dumps({"status": "OK", "response": {"token": f"{self.logins:032d}"}}).encode()
        answer.headers["Content-Type"] = "application/json"
        return answer


class FakeLogin:
    """Stands for the CDK's SessionTokenProvider: the public fields CartumSession adopts."""

    def __init__(self) -> None:
        self.login_requester = FakeLoginRequester()
        self.session_token_path = ["response", "token"]
        self.expiration_duration = timedelta(seconds=540)
        self.decoder = JsonDecoder(parameters={})


class FakeOuter:
    def __init__(self, inner: Any) -> None:
        self.session_token_provider = inner

    def get_token(self) -> str:
        return self.session_token_provider.get_token()


class FakeSession:
    """Stands for the ApiKeyAuthenticator the manifest's SessionTokenAuthenticator becomes."""

    def __init__(self) -> None:
        self.token_provider = FakeOuter(FakeLogin())

    @property
    def token(self) -> str:
        return self.token_provider.get_token()

    def get_request_body_json(self) -> dict[str, str]:
        return {"token": self.token}

    def get_request_params(self) -> dict[str, str]:
        return {}

    def get_request_body_data(self) -> dict[str, str]:
        return {}


def make_auth(config: dict[str, Any], **kwargs: Any) -> CartumSessionAuthenticator:
    return CartumSessionAuthenticator(session=FakeSession(), config=config, parameters={}, **kwargs)  # type: ignore[arg-type]


def prepared(body: dict[str, Any]) -> requests.PreparedRequest:
    return requests.Request("POST", "http://127.0.0.1/api/users/export/", json=body).prepare()


def test_streams_of_one_source_share_one_login() -> None:
    config: dict[str, Any] = {"shop_url": "http://127.0.0.1"}
    shared = SourceShared()  # what a SourceCartum holds and binds while the CDK builds its streams
    with bound_to_source(shared):
        users, orders = make_auth(config), make_auth(config)
    assert users.get_request_body_json() == orders.get_request_body_json()
    assert shared.login.logins == 1 and users._session is orders._session is shared.login
    other = make_auth({"shop_url": "http://127.0.0.1"})  # built outside a source (the Builder): its own session
    other.get_request_body_json()
    assert other._session is not users._session and other._session.logins == 1


def test_outside_a_source_the_authenticator_checks_the_shop_url_itself() -> None:
    """The Connector Builder builds the authenticator without SourceCartum (which checks the URL
    before anything): credentials must not go to a plain-http or user-info URL there either."""
    for url in ("http://shop.example.com", "https://user:Pw-In-Url@shop.example.com", ""):
        with pytest.raises(AirbyteTracedException) as err:
            make_auth({"shop_url": url})
        assert err.value.failure_type == FailureType.config_error and "shop_url" in err.value.message
        assert "Pw-In-Url" not in err.value.message
    with bound_to_source(SourceShared()):
        make_auth({"shop_url": "http://shop.example.com"})  # SourceCartum checks it (check answers FAILED)


def test_forced_relogin_swaps_the_stale_token_in_the_retried_body() -> None:
    auth = make_auth({"shop_url": "http://127.0.0.1"}, refresh_grace_seconds=0.5)
    old = auth.get_request_body_json()["token"]
    request = prepared({"token": old, "limit": 100, "offset": 200})
    fresh = prepared({"token": old, "offset": 0})
    auth.refresh_and_set_access_token()
    auth.refresh_and_set_access_token()  # a second worker rejected with the same old token
    assert auth._session.logins == 2  # the first login and one forced re-login
    new = auth.token
    assert new != old
    auth(request)
    assert json.loads(request.body) == {"token": new, "limit": 100, "offset": 200}
    assert request.headers["Content-Length"] == str(len(request.body))
    untouched = prepared({"token": new, "offset": 0})
    body = untouched.body
    auth(untouched)
    assert untouched.body == body
    auth(fresh)
    assert json.loads(fresh.body)["token"] == new


def test_relogin_after_the_grace_period_logs_in_again() -> None:
    auth = make_auth({"shop_url": "http://127.0.0.1"}, refresh_grace_seconds=0.0)
    auth.get_request_body_json()
    auth.refresh_and_set_access_token()
    auth.refresh_and_set_access_token()
    assert auth._session.logins == 3


# ---- pagination --------------------------------------------------------------------------
def response(body: Any) -> requests.Response:
    r = requests.Response()
    r.status_code = 200
    r._content = json.dumps(body).encode() if not isinstance(body, bytes) else body
    r.headers["Content-Type"] = "application/json"
    return r


def test_offset_pagination_stops_on_short_and_empty_pages(caplog: pytest.LogCaptureFixture) -> None:
    strategy = ProgressOffsetIncrement(config={"page_size": 3}, page_size="{{ config['page_size'] }}", parameters={}, inject_on_first_request=True, stream="users")
    full = response({"status": "OK", "response": {"users": [{}, {}, {}]}})
    short = response({"status": "OK", "response": {"users": [{}]}})
    empty = response({"status": "EMPTY", "response": []})
    window = StreamSlice(partition={}, cursor_slice={"start_time": "2026-01-01", "end_time": "2026-01-31"})
    assert strategy.initial_token == 0
    assert strategy.next_page_token(full, 3, None, 0, stream_slice=window) == 3
    with caplog.at_level(logging.INFO, logger="airbyte"):
        assert strategy.next_page_token(short, 1, None, 3, stream_slice=window) is None
        assert strategy.next_page_token(empty, 0, None, 6, stream_slice=window) is None
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "users: window from 2026-01-01 to 2026-01-31 done, 4 records in 2 page(s)",
        "users: window from 2026-01-01 to 2026-01-31 done, 6 records in 3 page(s)",
    ]


# ---- the envelope error handler of the manifest ------------------------------------------
@pytest.fixture(scope="module")
def handler() -> Any:
    definition = dict(MANIFEST["definitions"]["envelope_error_handler"])
    config = {"shop_url": "https://shop.example.com", "login": "api"}
    return ModelToComponentFactory().create_component(DefaultErrorHandlerModel, definition, config)


def with_url(r: requests.Response, fn: str = "customer-groups/export") -> requests.Response:
    r.url = f"https://shop.example.com/api/{fn}/"
    return r


@pytest.mark.parametrize(
    "body,action,failure,text",
    [
        ({"status": "OK", "response": {"users": []}}, ResponseAction.SUCCESS, None, None),
        ({"status": "EMPTY", "response": []}, ResponseAction.SUCCESS, None, None),
        ({"status": "AUTHORIZATION_ERROR", "response": {"message": "x"}}, ResponseAction.REFRESH_TOKEN_THEN_RETRY, None, None),
        ({"status": "UNAUTHORIZED", "response": {"message": "x"}}, ResponseAction.REFRESH_TOKEN_THEN_RETRY, None, None),
        ({"status": "FORBIDDEN", "response": {"message": "Use of the method is not allowed"}}, ResponseAction.FAIL, FailureType.config_error, "B2B module"),
        ({"status": "UNDEFINED_FUNCTION", "response": {"message": "nope"}}, ResponseAction.FAIL, FailureType.config_error, "does not know the API function"),
        ({"status": "ERROR", "response": {"message": "Parameter from has invalid date format"}}, ResponseAction.FAIL, FailureType.system_error, "Parameter from has invalid date format"),
        ({"status": "HTTP_ERROR", "response": {"code": 400, "message": "Payload is not valid JSON"}}, ResponseAction.FAIL, FailureType.system_error, "HTTP_ERROR"),
        (b'{"status": "OK", "response": {"us', ResponseAction.RETRY, None, None),
    ],
)
def test_envelope_statuses(handler: Any, body: Any, action: ResponseAction, failure: FailureType | None, text: str | None) -> None:
    resolution = handler.interpret_response(with_url(response(body)))
    assert resolution.response_action == action
    if failure is not None:
        assert resolution.failure_type == failure
    if text is not None:
        assert text in resolution.error_message and "customer-groups/export" in resolution.error_message


@pytest.mark.parametrize("code,action", [(404, ResponseAction.FAIL), (500, ResponseAction.RETRY), (502, ResponseAction.RETRY)])
def test_http_errors(handler: Any, code: int, action: ResponseAction) -> None:
    r = with_url(response(b"<html>gateway</html>"))
    r.status_code = code
    assert handler.interpret_response(r).response_action == action


# ---- the users cursor: saved state -> the `from` of the next sync -------------------------
@pytest.mark.parametrize(
    "saved,zone,expected",
    [
        ("2026-11-22T14:03:05+0200", "Europe/Kyiv", "2026-11-22T14:03:05+0200"),  # as the cursor writes it
        ("2026-11-22T14:03:05+02:00", "Europe/Kyiv", "2026-11-22T14:03:05+0200"),  # as records carry it
        ("2026-11-22", "Europe/Kyiv", "2026-11-22T00:00:00+0200"),  # 0.1.0 state: the day's local midnight
        ("2024-01-01T00:00:00+0000", "Europe/Kyiv", "2024-01-01T00:00:00+0200"),  # from start_date: a local date
        ("2026-11-22 14:03:05", "Europe/Kyiv", "2026-11-22T14:03:05+0200"),  # the API's own format
        ("2026-11-22T12:03:05+0100", "Europe/Kyiv", "2026-11-22T13:03:05+0200"),  # a foreign offset: an instant
        # Kyiv 2026-10-25: 03:00-03:59 twice (+03:00, then +02:00): start before the repeated hour
        ("2026-10-25T03:40:00+0300", "Europe/Kyiv", "2026-10-25T02:40:00+0300"),
        ("2026-10-25T03:00:00+0300", "Europe/Kyiv", "2026-10-25T02:00:00+0300"),
        ("2026-10-25T03:59:59+0200", "Europe/Kyiv", "2026-10-25T02:59:59+0300"),
        ("2026-10-25T02:59:59+0300", "Europe/Kyiv", "2026-10-25T02:59:59+0300"),  # just before: exact
        ("2026-10-25T04:00:00+0200", "Europe/Kyiv", "2026-10-25T04:00:00+0200"),  # just after: exact
        ("2026-03-29T03:30:00+0200", "Europe/Kyiv", "2026-03-29T03:30:00+0200"),  # spring gap: no repeat, exact
        ("2026-10-25T02:30:00+0200", "Europe/Warsaw", "2026-10-25T01:30:00+0200"),
        ("2026-04-05T01:45:00+1100", "Australia/Lord_Howe", "2026-04-05T01:15:00+1100"),  # a 30-minute change
        ("2999-01-01", "Europe/Kyiv", "2999-01-01T00:00:00+0200"),
        ("not a date", "Europe/Kyiv", "not a date"),
    ],
)
def test_users_cursor_value(saved: str, zone: str, expected: str) -> None:
    assert users_cursor_value(saved, ZoneInfo(zone)) == expected


def test_ambiguous_is_only_the_repeated_hour() -> None:
    assert is_ambiguous(datetime(2026, 10, 25, 3, 0), KYIV) and is_ambiguous(datetime(2026, 10, 25, 3, 59, 59), KYIV)
    assert not is_ambiguous(datetime(2026, 10, 25, 4, 0), KYIV) and not is_ambiguous(datetime(2026, 10, 25, 2, 59, 59), KYIV)
    assert not is_ambiguous(datetime(2026, 3, 29, 3, 30), KYIV)  # the spring gap


def test_users_state_migration() -> None:
    migration = UsersCursorStateMigration(config={"shop_timezone": "Europe/Kyiv"}, parameters={})
    assert not migration.should_migrate({}) and not migration.should_migrate({"registered_at": "2026-11-22T14:03:05+0200"})
    assert not migration.should_migrate({"state_type": "date-range", "slices": []})
    assert migration.should_migrate({"registered_at": "2026-11-22"})
    assert migration.migrate({"registered_at": "2026-11-22"}) == {"registered_at": "2026-11-22T00:00:00+0200"}
    stream = next(s for s in MANIFEST["streams"] if s["name"] == "users")
    assert stream["state_migrations"][0]["class_name"] == "source_declarative_manifest.components.UsersCursorStateMigration"
    assert stream["incremental_sync"]["datetime_format"] == "%Y-%m-%dT%H:%M:%S%z"


def test_users_export_error_points_at_the_precision_option(handler: Any) -> None:
    body = {"status": "ERROR", "response": {"message": "Parameter from has invalid date format: 2026-11-22 14:03:05"}}
    resolution = handler.interpret_response(with_url(response(body), "users/export"))
    assert resolution.response_action == ResponseAction.FAIL and resolution.failure_type == FailureType.config_error
    assert "invalid date format" in resolution.error_message and "users_filter_precision to day" in resolution.error_message


# ---- spec --------------------------------------------------------------------------------
SPEC = MANIFEST["spec"]["connection_specification"]
BASE = {"login": "api", "password": "secret", "start_date": "2024-01-01"}


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://myshop.cartum.io", True),
        ("https://myshop.cartum.io/", True),
        ("http://127.0.0.1:8811", True),
        ("http://localhost", True),
        ("http://myshop.cartum.io", False),
        ("ftp://myshop.cartum.io", False),
        ("https://myshop.cartum.io/api/users/export", False),
        ("https://user:pass@myshop.cartum.io", False),
        ("https://myshop.cartum.io\\@evil.example", False),
        ("http://example.invalid\\@127.0.0.1:8802", False),
        ("https://my shop.cartum.io", False),
        (" https://myshop.cartum.io", False),
    ],
)
def test_shop_url_is_https_or_loopback(url: str, ok: bool) -> None:
    validate = lambda: jsonschema.validate({**BASE, "shop_url": url}, SPEC)  # noqa: E731
    if ok:
        validate()
    else:
        with pytest.raises(jsonschema.ValidationError):
            validate()


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://myshop.cartum.io", True),
        ("https://myshop.cartum.io/", True),
        ("http://127.0.0.1:8811", True),
        ("http://localhost/", True),
        ("http://myshop.cartum.io", False),
        ("https://u:Very-Secret-Pw@myshop.cartum.io", False),
        ("https://myshop.cartum.io\\@127.0.0.1", False),
        ("http://example.invalid\\@127.0.0.1:8802", False),
        ("https://myshop.cartum.io/api", False),
        ("https://myshop.cartum.io?x=1", False),
        ("https://myshop .cartum.io", False),
        ("https://myshop.cartum.io\t", False),
    ],
)
def test_check_shop_url_parses_like_requests_and_never_quotes_user_info(url: str, ok: bool) -> None:
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    from source_cartum.components import check_shop_url

    if ok:
        assert check_shop_url(url) == url
        return
    with pytest.raises(AirbyteTracedException) as caught:
        check_shop_url(url)
    assert caught.value.failure_type == FailureType.config_error
    assert "Very-Secret-Pw" not in (caught.value.message or "") + (caught.value.internal_message or "")


def test_password_is_secret_and_defaults() -> None:
    props = SPEC["properties"]
    assert props["password"]["airbyte_secret"] is True
    assert props["shop_timezone"]["default"] == "Europe/Kyiv"
    assert props["order_statuses"]["default"] == [] and props["page_size"]["maximum"] == 500
    assert props["users_filter_precision"]["default"] == "second" and props["users_filter_precision"]["enum"] == ["second", "day"]


# ---- one JSON type per field (PhpLooseValues + schema_normalization: Default) ---------------
def test_php_loose_values_turns_lists_into_objects_and_blanks_into_null():
    from source_cartum.components import PhpLooseValues

    transformation = PhpLooseValues(config={}, parameters={}, objects=["delivery_data", "manager", "a.b"], blanks=["payed", "manager.id", "x.y"])
    record = {"delivery_data": [], "manager": ["61", "Ірина"], "payed": " ", "a": {"b": []}, "x": "odd", "keep": []}
    transformation.transform(record)
    assert record == {"delivery_data": {}, "manager": {"0": "61", "1": "Ірина"}, "payed": None, "a": {"b": {}}, "x": "odd", "keep": []}
    record = {"delivery_data": {"ttn": ""}, "manager": {"id": ""}, "payed": "0"}
    transformation.transform(record)
    assert record == {"delivery_data": {"ttn": ""}, "manager": {"id": None}, "payed": "0"}
    empty: dict = {}
    transformation.transform(empty)  # absent fields stay absent
    assert empty == {}


def _stream_schema(name: str) -> dict:
    stream = next(s for s in MANIFEST["streams"] if s["name"] == name)
    return stream["schema_loader"]["schema"]


def test_every_stream_normalises_to_its_schema():
    for stream in MANIFEST["streams"]:
        assert stream["retriever"]["record_selector"]["schema_normalization"] == "Default", stream["name"]


@pytest.mark.parametrize(
    "raw,expected",
    [(0, False), (1, True), ("0", False), ("1", True), (True, True), (False, False), ("true", True), ("false", False), (None, None)],
)
def test_payed_is_cast_to_boolean_by_the_default_normalization(raw, expected):
    from airbyte_cdk.sources.utils.transform import TransformConfig, TypeTransformer

    schema = {"type": "object", "properties": {"payed": _stream_schema("orders")["properties"]["payed"]}}
    record = {"payed": raw}
    TypeTransformer(TransformConfig.DefaultSchemaNormalization).transform(record, schema)
    assert record["payed"] is expected
