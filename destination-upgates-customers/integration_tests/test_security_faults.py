"""Issue 11 (credentials only to the configured host, no secret in any output) and the
whole-request misbehaviours of the README's "When the API misbehaves" table."""

from __future__ import annotations

import json

import pytest
from airbyte_cdk.models import FailureType
from upgates_write_helpers import PUT, cartum_user, catalog_dict, emails, metas_of, record, state, stdin_of, write

from emulators.capture import CaptureServer
from harness.fixtures.upgates_write import upgates_write_config
from harness.runner import run_connector
from harness.secrets_scan import assert_no_secrets

API_KEY = "Upw-Key-7Qx93Zr"


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed(upgates_write_factory, status):
    api = upgates_write_factory(api_key=API_KEY)
    shop = emails(api)
    with CaptureServer() as trap:
        api.inject("redirect", status=status, location=f"http://user:pw@127.0.0.1:{trap.url.rsplit(':', 1)[1]}/stolen", times=99)
        result = write(api, [record(cartum_user(0, shop[0])), state(1)])
        assert trap.requests == []
    assert result.error is not None and result.error.failure_type == FailureType.config_error
    assert "moved" in result.error.message and "update the API URL" in result.error.message
    assert "user:pw" not in result.error.message
    assert result.states == []


def test_no_secret_in_any_output_or_file(upgates_write_factory, tmp_path):
    api = upgates_write_factory(api_key=API_KEY)
    shop = emails(api)
    rejects = tmp_path / "out" / "rejected.jsonl"
    mapping = {"preset": "cartum_user", "field_templates": [{"field": "metas.note", "template": "{{ config.api_key }}"}]}
    config = upgates_write_config(api, rejected_records_path=str(rejects), max_rejected_percent=100, mapping=mapping)
    messages = [record(cartum_user(0, shop[0])), record(cartum_user(1, "stranger@example.org")), state(1)]
    result = run_connector("destination-upgates-customers", "write", config=config, catalog=catalog_dict(),
                           stdin=stdin_of(messages), env={"LOG_LEVEL": "DEBUG"})
    debug = run_connector("destination-upgates-customers", "check", config=config, env={"LOG_LEVEL": "DEBUG"})
    assert rejects.exists()
    scanned = assert_no_secrets([API_KEY, (api.login, API_KEY)], texts=[result.output, debug.output], paths=[tmp_path])
    assert scanned > 0
    # templates never see the key: nothing secret reached the shop either
    assert API_KEY not in json.dumps([r.body for r in api.log.select(function=PUT)])


def test_http_400_for_the_whole_request_is_bisected(upgates_write_factory):
    api = upgates_write_factory()
    shop = emails(api)
    api.inject("status", status=400, path="/api/v2/customers", times=1)
    result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(shop[:4])] + [state(1)])
    assert result.error is None and result.states == [1]
    assert [len(r.body["customers"]) for r in api.log.select(function=PUT)] == [4, 2, 2]
    assert all(metas_of(api, e)["cartum_user_id"] == str(1000 + i) for i, e in enumerate(shop[:4]))


def test_http_200_with_an_error_envelope_is_not_a_success(upgates_write_factory, tmp_path):
    api = upgates_write_factory()
    shop = emails(api)
    api.inject("status", status=200, path="/api/v2/customers", times=3)
    rejects = tmp_path / "rejected.jsonl"
    result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(shop[:2])] + [state(1)],
                   rejected_records_path=str(rejects), max_rejected_percent=100)
    assert result.error is None and result.states == [1]
    # the pair, then each alone: all three answered with the envelope → both rejected with its message
    assert [len(r.body["customers"]) for r in api.log.select(function=PUT)] == [2, 1, 1]
    lines = [json.loads(l) for l in rejects.read_text().splitlines()]
    assert sorted(l["key"] for l in lines) == sorted(e.lower() for e in shop[:2])
    assert all("injected error 200" in l["reason"] for l in lines)


def test_the_older_top_level_email_field(upgates_write_factory):
    api = upgates_write_factory(put_email_field="email")
    shop = emails(api)
    result = write(api, [record(cartum_user(0, shop[0])), state(1)], email_field="email")
    assert result.error is None and metas_of(api, shop[0])["cartum_user_id"] == "1000"
    (put,) = api.log.select(function=PUT)
    assert put.body["customers"][0] == {"email": shop[0], "metas": [{"key": "cartum_user_id", "value": "1000"}]}
