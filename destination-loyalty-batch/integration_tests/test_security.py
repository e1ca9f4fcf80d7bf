"""Issue 11 for the loyalty destination: credentials go only to the configured host, and no
secret (the API key, a customer's password or PIN) can be read back from anything the
connector prints or writes, in any encoding, at any log level."""

from __future__ import annotations

import json
import logging

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from emulators.capture import CaptureServer
from harness.runner import run_connector
from harness.secrets_scan import assert_no_secrets

CMD = "destination-loyalty-batch"
# distinctive, and changed by URL-encoding: a leak in the form's encoding would not look like the key
API_KEY = "Lk9/Zr+q&Secret=Key-7781"
PASSWORD = "Hotsite-Pa55/word+41"
PIN = "908172"


@pytest.mark.parametrize("in_header", [False, True])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_with_the_key(loyalty_api, helpers, write_fast, in_header, status):
    with CaptureServer() as trap:
        loyalty_api.inject("redirect", status=status, location=trap.url + "{path}", skip=1)  # manage_fields passes
        result = write_fast(loyalty_api, [{"code": "R1", "email": "r1@example.com"}], api_key_in_header=in_header)
        assert isinstance(result.error, AirbyteTracedException)
        assert result.error.failure_type == FailureType.config_error
        assert "moved" in result.error.message and trap.url in result.error.message
        assert trap.requests == []  # neither the user_api_key form nor the api_access_key header went there
    assert "R1" not in loyalty_api.customers and result.states == []


def test_check_on_a_moved_platform_names_the_new_location_and_sends_nothing_there(loyalty_api, helpers):
    with CaptureServer() as trap:
        loyalty_api.inject("redirect", status=301, location=trap.url + "/moved{path}", times=5)
        result = run_connector(CMD, "check", config=helpers.config(loyalty_api, api_key_in_header=True))
        status = result.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and "moved" in status["message"] and "update the API URL" in status["message"]
        assert trap.requests == []
    assert loyalty_api.api_key not in result.output


def test_debug_log_and_files_never_show_the_key_or_customer_secrets(loyalty_factory, helpers, tmp_path):
    """An answer that echoes the request form (the key and a customer's password and PIN,
    URL-encoded) is logged at DEBUG only, scrubbed; the rejected-records file masks the
    customers' passwords and PINs."""
    api = loyalty_factory(api_key=API_KEY, echo_request="unreadable")
    rejected = tmp_path / "rejected.jsonl"
    config = helpers.config(api, rejected_records_path=str(rejected), http_max_retries=1)
    people = [
        {"code": "S1", "email": "s1@example.com", "customer_password": PASSWORD, "customer_PIN": PIN},
        {"code": "S2", "email": "s2@example.com", "customer_password": PASSWORD, "customer_PIN": PIN, "custom_date": "04/03/2010"},
    ]
    stdin = helpers.messages([helpers.record(p) for p in people], helpers.state(1))
    failed = run_connector([*_script(), "--debug"], "write", config=config, catalog=helpers.catalog(), stdin=stdin)
    assert failed.returncode != 0
    debug = [m["message"] for m in failed.of_type("DEBUG")]
    assert any("customers_batch: raw answer" in line and "user_api_key=****" in line for line in debug)  # written...
    assert any(e["failure_type"] == "transient_error" for e in failed.errors)

    api.echo_request = True  # now the answers are readable, and still carry the form back
    ok = run_connector(CMD, "write", config=config, catalog=helpers.catalog(), stdin=stdin, env={"LOG_LEVEL": "DEBUG"})
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert api.customers["S1"]["customer_PIN"] == PIN  # the platform got them
    lines = [json.loads(x) for x in rejected.read_text().splitlines()]
    s2 = [x for x in lines if x["key"] == "S2"]
    assert s2 and all(x["record"]["customer_password"] == "****" and x["record"]["customer_PIN"] == "****" for x in s2)
    # ...and no secret in any form in anything either run printed or wrote
    assert_no_secrets([API_KEY, PASSWORD, PIN], texts=[failed.output, ok.output], paths=[tmp_path])


def test_secrets_in_a_template_mapped_record_are_masked_in_the_rejected_records_file(loyalty_api, write_fast, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    mapping = {"preset": "custom", "field_templates": [
        {"field": "code", "template": "{{ record.id }}"},
        {"field": "email", "template": "{{ record.mail }}"},
        {"field": "customer_PIN", "template": "{{ record.terminal_code }}"},
    ]}
    records = [{"id": "T1", "mail": "not an address", "terminal_code": "771903"}]
    result = write_fast(loyalty_api, records, mapping=mapping, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    (line,) = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert line["key"] == "T1" and line["record"]["terminal_code"] == "****"
    assert_no_secrets(["771903"], texts=result.logs, paths=[tmp_path])


def test_templates_cannot_read_the_api_key(loyalty_api, write_fast):
    mapping = {"preset": "loyalty", "field_templates": [{"field": "Member tier", "template": "{{ config.api_key }}|{{ config }}"}]}
    result = write_fast(loyalty_api, [{"code": "K1"}], mapping=mapping)
    stored = json.dumps(loyalty_api.customers.get("K1", {}))
    assert loyalty_api.api_key not in stored
    assert loyalty_api.api_key not in "".join(result.logs)


@pytest.mark.parametrize("url", [
    "http://example.invalid\\@127.0.0.1:8802",        # urllib would say loopback, urllib3 connects elsewhere
    "https://someone:Pw-in-url-5521@api.clienttoolbox.com",
    "https://api.clienttoolbox.com /x",
])
def test_api_urls_that_could_send_the_key_elsewhere_are_refused(url):
    from destination_loyalty_batch.client import LoyaltyClient

    with pytest.raises(AirbyteTracedException) as caught:
        LoyaltyClient({"api_url": url, "user_id": "u", "api_key": "k" * 12, "account_id": "a"})
    assert caught.value.failure_type == FailureType.config_error
    assert "Pw-in-url-5521" not in caught.value.message


def test_an_empty_api_url_says_which_url_it_falls_back_to(caplog):
    from destination_loyalty_batch.client import DEFAULT_URL, LoyaltyClient

    with caplog.at_level(logging.INFO, logger="airbyte"):
        client = LoyaltyClient({"api_url": "", "user_id": "u", "api_key": "k" * 12, "account_id": "a"})
    assert client.url == DEFAULT_URL
    assert any(DEFAULT_URL in r.getMessage() and "empty" in r.getMessage() for r in caplog.records)


def test_auto_add_has_a_sane_maximum_in_the_spec():
    from importlib.resources import files

    spec = json.loads(files("destination_loyalty_batch").joinpath("spec.json").read_text())
    auto_add = spec["connectionSpecification"]["properties"]["auto_add"]
    assert auto_add["minimum"] == 0 and auto_add["maximum"] == 10000


def _script() -> list[str]:
    from harness.runner import script

    return [script(CMD)]
