"""check and discover (in-process for the error cases, the real console script for the
protocol output), and one end-to-end write through the console script."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from airbyte_cdk.models import Status
from cartum_write_helpers import catalog_dict, export_users, record, state, stdin_of, user

from harness.fixtures.cartum_import import cartum_write_config
from harness.runner import run_connector
from destination_cartum_users import DestinationCartumUsers

LOGGER = logging.getLogger("airbyte")


def check(config):
    return DestinationCartumUsers().check(LOGGER, config)


def test_check_succeeds_with_one_read_only_call(cartum_write_api):
    status = check(cartum_write_config(cartum_write_api))
    assert status.status == Status.SUCCEEDED
    assert cartum_write_api.log.summary() == {"auth": 1, "customer-groups/export": 1}


def test_check_without_b2b_reads_one_user(cartum_write_factory):
    api = cartum_write_factory(b2b=False)
    assert check(cartum_write_config(api)).status == Status.SUCCEEDED
    assert api.log.summary() == {"auth": 1, "users/export": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"password": "wrong-secret"}, "refused the login of API user 'api-user'"),
        ({"shop_url": "URL_PATH"}, "does not look like a Cartum API. Check the shop URL"),
        ({"shop_url": "CLOSED"}, "Cannot reach a Cartum API at http://127.0.0.1:"),
        ({"shop_url": "http://shop.example.com"}, "uses plain http"),
        ({"mapping": {"preset": "custom", "field_templates": [{"field": "title", "template": "{{ x"}]}}, "is not valid Jinja"),
        ({"default_phone_region": "XX"}, "default_phone_region 'XX' is not an ISO 3166 alpha-2 country code"),
        ({"rejected_records_path": "/proc/version"}, "/proc/version"),
    ],
)
def test_check_failures_say_what_is_wrong(cartum_write_api, change, needle):
    config = cartum_write_config(cartum_write_api, **change)
    if config["shop_url"] == "URL_PATH":
        config["shop_url"] = cartum_write_api.url + "/admin"
    if config["shop_url"] == "CLOSED":
        config["shop_url"] = f"http://127.0.0.1:{free_port()}"
    status = check(config)
    assert status.status == Status.FAILED and needle in status.message, status.message
    assert "wrong-secret" not in status.message


def test_check_reports_a_missing_b2b_module(cartum_write_factory):
    api = cartum_write_factory(b2b=False)
    status = check(cartum_write_config(api, b2b=True))
    assert status.status == Status.FAILED and "has no B2B module" in status.message
    assert "Switch 'B2B module' off" in status.message


def test_discover_message_follows_the_b2b_switch(cartum_write_api, cartum_write_factory):
    result = run_connector("destination-cartum-users", "discover", config=cartum_write_config(cartum_write_api))
    assert result.returncode == 0, result.stderr
    assert [m["type"] for m in result.messages] == ["DESTINATION_CATALOG"]
    op, prices = result.messages[0]["destination_catalog"]["operations"]
    assert op["object_name"] == "users" and op["sync_mode"] == "append_dedup" and op["matching_keys"] == [["email"]]
    assert prices["object_name"] == "product_prices" and prices["matching_keys"] == [["article"]]
    assert {"article", "price", "price_old", "price_levels"} == set(prices["json_schema"]["properties"])
    props = op["json_schema"]["properties"]
    assert {"title", "email", "phone", "discount_card", "customer_group_id", "manager_id", "balance_currency"} <= set(props)
    off = DestinationCartumUsers().discover_message({"b2b": False})
    props_off = off["destination_catalog"]["operations"][0]["json_schema"]["properties"]
    assert "customer_group_id" not in props_off and "email" in props_off
    assert cartum_write_api.log.count() == 0  # discover spends no request


def test_write_through_the_console_script(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "rejected.jsonl"
    config = cartum_write_config(api, batch_size=3, rejected_records_path=str(rejects), max_rejected_percent=20)
    api.switches["import_expire_tokens_after"] = 1
    messages = [record(user(i)) for i in range(4)] + [state(1)] + [record(user(4, email="user4@"))] + [record(user(i)) for i in range(5, 8)] + [state(2)]
    result = run_connector("destination-cartum-users", "write", config=config, catalog=catalog_dict(), stdin=stdin_of(messages))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [s["stream"]["stream_state"]["n"] for s in result.states] == [1, 2]
    # the Airbyte UI's per-sync figures: records and rejected records each echoed state covers
    assert [(s["destinationStats"]["recordCount"], s["destinationStats"].get("rejectedRecordCount")) for s in result.states] == [
        (4, 0), (4, 1)]
    assert result.errors == []
    summary = [l for l in result.logs if l.startswith("Write summary")]
    assert summary and "records in 8, accepted 7, rejected 1 (code 2: 1)" in summary[0]
    assert "Rejected record user4@ of stream users: code 2" in "\n".join(result.logs)
    assert api.log.count(function="auth") == 2  # the token expired after the first import
    shop = export_users(api)
    assert all(f"user{i}@example.com" in shop for i in (0, 1, 2, 3, 5, 6, 7))
    # no secret in anything the connector printed: password, and the session tokens it used
    tokens = {r.body.get("token") for r in api.log.select(function="users/import")}
    assert api.password not in result.output
    assert not any(t and t in result.output for t in tokens)
    assert json.loads(rejects.read_text())["key"] == "user4@"
