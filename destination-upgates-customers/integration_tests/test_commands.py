"""check and discover (in-process for the error cases, the real console script for the
protocol output), and one end-to-end write through the console script."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from airbyte_cdk.models import Status
from upgates_write_helpers import PUT, cartum_user, catalog_dict, emails, metas_of, record, state, stdin_of

from harness.fixtures.upgates_write import upgates_write_config
from harness.runner import run_connector
from destination_upgates_customers import DestinationUpgatesCustomers

LOGGER = logging.getLogger("airbyte")


def check(config):
    return DestinationUpgatesCustomers().check(LOGGER, config)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_succeeds_with_one_status_call(upgates_write_api):
    status = check(upgates_write_config(upgates_write_api))
    assert status.status == Status.SUCCEEDED, status.message
    assert upgates_write_api.log.summary() == {"GET status": 1}


@pytest.mark.parametrize(
    "change,needle",
    [
        ({"api_key": "wrong-secret"}, "refused the API login 'api-login'"),
        ({"api_url": "URL_PATH"}, "does not look like the UPgates API v2"),
        ({"api_url": "CLOSED"}, "Cannot reach an UPgates API at http://127.0.0.1:"),
        ({"api_url": "http://shop.example.com/api/v2"}, "plain http"),
        ({"mapping": {"preset": "custom", "field_templates": [{"field": "email", "template": "{{ x"}]}}, "is not valid Jinja"),
        ({"mapping": {"preset": "custom", "field_templates": [{"field": "email", "template": "{{ 7 ** 1000000000 }}"}]}}, "refused"),
        ({"rejected_records_path": "/proc/version"}, "cannot be used for the rejected-records file"),
        ({"api_url": "http://example.invalid\\@127.0.0.1:1/api/v2"}, "contains a backslash"),
        ({"api_url": "https://wrong-secret:x@shop.example.com/api/v2"}, "contains user-info"),
    ],
)
def test_check_failures_say_what_is_wrong(upgates_write_api, change, needle):
    config = upgates_write_config(upgates_write_api, **change)
    if config["api_url"] == "URL_PATH":
        config["api_url"] = upgates_write_api.url + "/admin"
    if config["api_url"] == "CLOSED":
        config["api_url"] = f"http://127.0.0.1:{free_port()}/api/v2"
    status = check(config)
    assert status.status == Status.FAILED and needle in status.message, status.message
    assert "wrong-secret" not in status.message


def test_check_reports_a_missing_write_right(upgates_write_factory):
    api = upgates_write_factory(rights={"groups", "pricelists"})
    status = check(upgates_write_config(api))
    assert status.status == Status.FAILED and "has no right to write customers" in status.message


def test_check_reports_an_inactive_user(upgates_write_factory):
    api = upgates_write_factory(user_active=False)
    status = check(upgates_write_config(api))
    assert status.status == Status.FAILED and "HTTP 403" in status.message and "inactive" in status.message


def test_discover_lists_customers_by_email_without_a_request(upgates_write_api):
    result = run_connector("destination-upgates-customers", "discover", config=upgates_write_config(upgates_write_api))
    assert result.returncode == 0, result.stderr
    assert [m["type"] for m in result.messages] == ["DESTINATION_CATALOG"]
    ops = result.messages[0]["destination_catalog"]["operations"]
    assert {(op["object_name"], op["sync_mode"]) for op in ops} == {("customers", "update"), ("customers", "append_dedup")}
    assert all(op["matching_keys"] == [["email"]] for op in ops)
    props = ops[0]["json_schema"]["properties"]
    assert set(props) == {"email", "newsletter_accept", "metas"}
    assert props["newsletter_accept"]["enum"] == ["notset", "no", "yes", "excluded"]
    known = DestinationUpgatesCustomers().discover_message({"known_meta_keys": ["loyalty_code", "cartum_user_id"]})
    metas = known["destination_catalog"]["operations"][0]["json_schema"]["properties"]["metas"]
    assert set(metas["properties"]) == {"loyalty_code", "cartum_user_id"} and metas["additionalProperties"] is False
    assert upgates_write_api.log.count() == 0


def test_an_unsupported_sync_mode_is_a_config_error(upgates_write_api):
    result = run_connector(
        "destination-upgates-customers", "write", config=upgates_write_config(upgates_write_api),
        catalog=catalog_dict(mode="overwrite"), stdin=stdin_of([state(1)]),
    )
    assert result.returncode != 0
    assert any("supports only: append_dedup, update" in e["message"] for e in result.errors)
    assert upgates_write_api.log.count() == 0


def test_write_through_the_console_script(upgates_write_api, tmp_path):
    api = upgates_write_api
    shop = emails(api)
    rejects = tmp_path / "rejected.jsonl"
    config = upgates_write_config(api, batch_size=3, rejected_records_path=str(rejects), max_rejected_percent=20)
    messages = [record(cartum_user(i, e)) for i, e in enumerate(shop[:4])] + [state(1)]
    messages += [record(cartum_user(4, "stranger@example.org"))] + [record(cartum_user(i, e)) for i, e in enumerate(shop[5:8], start=5)] + [state(2)]
    result = run_connector("destination-upgates-customers", "write", config=config, catalog=catalog_dict(), stdin=stdin_of(messages))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [s["stream"]["stream_state"]["n"] for s in result.states] == [1, 2]
    # what the Airbyte UI shows per state: the records it covers and how many were rejected
    assert [(s["destinationStats"]["recordCount"], s["destinationStats"]["rejectedRecordCount"]) for s in result.states] == [(4, 0), (4, 1)]
    assert result.errors == []
    summary = [l for l in result.logs if l.startswith("Write summary")]
    assert summary and "records in 8, accepted 7, rejected 1 (not_updated: 1)" in summary[0]
    assert any(l.startswith("UPgates customers: updated 7, not updated 1") for l in result.logs)
    assert all(metas_of(api, e)["cartum_user_id"] for e in shop[:4] + shop[5:8])
    line = json.loads(rejects.read_text().splitlines()[0])
    assert line["key"] == "stranger@example.org"
    # no secret in anything the connector printed: the key, and the Basic header's base64
    import base64

    basic = base64.b64encode(f"{api.login}:{api.api_key}".encode()).decode()
    assert api.api_key not in result.output and basic not in result.output
    assert api.api_key not in rejects.read_text()
    assert api.log.count(function=PUT) >= 3
