"""Issue 11 for destination-cartum-users: the login body (login + password) and the session
token go only to the configured shop, never after a redirect; templates cannot read the
password; no secret reaches stdout, stderr or the rejected-records file, at DEBUG too."""

from __future__ import annotations

import logging

import pytest
from airbyte_cdk.models import FailureType, Status
from cartum_write_helpers import catalog_dict, record, state, stdin_of, user, write

from emulators.capture import CaptureServer
from harness.fixtures.cartum_import import cartum_write_config
from harness.runner import run_connector, script
from harness.secrets_scan import assert_no_secrets
from destination_cartum_users import DestinationCartumUsers

# distinctive, and changed by URL-encoding and JSON escaping
PASSWORD = 'Cartum/Pa55+word&"x"=9'
LOGIN = "api-user-7781"


@pytest.fixture
def shop(cartum_write_factory):
    return cartum_write_factory(login=LOGIN, password=PASSWORD)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_the_login_is_never_sent_after_a_redirect(shop, status):
    with CaptureServer() as trap:
        shop.inject("redirect", status=status, location=trap.url + "{path}", path="/api/auth/", times=5)
        checked = DestinationCartumUsers().check(logging.getLogger("airbyte"), cartum_write_config(shop))
        assert checked.status == Status.FAILED and "moved to" in checked.message and "update the API URL" in checked.message
        result = write(shop, [record(user(1)), state(1)])
        assert result.error is not None and result.error.failure_type == FailureType.config_error
        assert "moved to" in result.error.message and result.states == []
        assert trap.requests == []  # neither the login body nor anything else went there
    assert PASSWORD not in checked.message and PASSWORD not in result.error.message


def test_the_token_is_never_sent_after_a_redirect_of_an_import(shop):
    with CaptureServer() as trap:
        shop.inject("redirect", status=307, location=trap.url + "{path}", path="/api/users/import/", times=5)
        result = write(shop, [record(user(1)), state(1)])
        assert result.error is not None and result.error.failure_type == FailureType.config_error
        assert trap.requests == [] and result.states == []
    assert "user1@example.com" not in shop.shop.users


@pytest.mark.parametrize("template", ["{{ config.password }}", "{{ config['password'] }}", "{{ config }}",
                                      "{{ config | tojson }}"])
def test_templates_cannot_read_the_password(shop, template):
    mapping = {"preset": "cartum_user", "field_templates": [{"field": "note", "template": template}]}
    result = write(shop, [record(user(1))], mapping=mapping, max_rejected_percent=100)
    assert result.error is None
    note = getattr(shop, "user_extras", {}).get("user1@example.com", {}).get("note", "")
    assert_no_secrets([PASSWORD, (LOGIN, PASSWORD)], texts=[note])
    if "config }}" in template:
        assert "shop_url" in note  # the rest of the config is there, the password is not


@pytest.mark.parametrize("debug", ["--debug", "LOG_LEVEL"])
def test_no_secret_in_stdout_stderr_or_the_rejects_file_at_debug(shop, tmp_path, debug):
    rejects = tmp_path / "rejected.jsonl"
    config = cartum_write_config(shop, rejected_records_path=str(rejects), max_rejected_percent=100, batch_size=2)
    shop.switches["import_expire_tokens_after"] = 1  # two logins, two tokens
    messages = [record(user(1)), record(user(2, email="bad@")), record(user(3, phone="12")),
                record(user(4, manager_id=99)), state(1), record(user(5)), state(2)]
    command = [script("destination-cartum-users"), "--debug"] if debug == "--debug" else "destination-cartum-users"
    env = {"LOG_LEVEL": "debug"} if debug == "LOG_LEVEL" else None
    result = run_connector(command, "write", config=config, catalog=catalog_dict(), stdin=stdin_of(messages), env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    # debug lines in the CDK's two forms: "DEBUG" messages for --debug (as its sources print
    # them), LOG messages at level DEBUG for the platform's LOG_LEVEL=debug
    if debug == "--debug":
        assert any(m["type"] == "DEBUG" for m in result.messages)
    else:
        assert any(m["type"] == "LOG" and m["log"]["level"] == "DEBUG" for m in result.messages)
    tokens = sorted({r.body.get("token") for r in shop.log.select() if isinstance(r.body, dict) and r.body.get("token")})
    assert len(tokens) == 2
    scanned = assert_no_secrets([PASSWORD, (LOGIN, PASSWORD), *tokens], texts=[result.output, result.stderr],
                                paths=[tmp_path])
    assert scanned > 0 and rejects.stat().st_size > 0
