"""Issue 11 for source-cartum: credentials go only to the configured host, and no secret can be
read back through any output (at --debug too)."""

from __future__ import annotations

import json
import subprocess

import pytest

from airbyte_cdk.models import FailureType
from emulators.base import Clock
from emulators.capture import CaptureServer
from harness.fixtures.cartum import cartum_config_for
from harness.runner import run_connector, script
from harness.secrets_scan import assert_no_secrets

PASSWORD = "Pw-7f3Kq-Distinct-Casrc"
USERS_ONLY = {
    "streams": [
        {
            "stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "cursor_field": ["registered_at"],
            "primary_key": [["id"]],
            "destination_sync_mode": "append_dedup",
        }
    ]
}


@pytest.mark.parametrize("status,path", [(301, "/api/auth"), (302, "/api/users/export"), (307, "/api/auth"), (308, "/api/users/export")])
def test_a_redirect_is_never_followed_and_names_the_new_location(sync, cartum_factory, status, path):
    api = cartum_factory(tidy=True, users=30, orders=0, password=PASSWORD)
    with CaptureServer() as trap:
        trap_url = trap.url
        moved = trap.url.replace("http://", "http://mover:Moved-Secret-9@") + "{path}"
        api.inject("redirect", status=status, location=moved, path=path, times=99)
        out = sync.run(cartum_config_for(api), ["users"], fail=True)
        assert trap.requests == [], "the connector followed the redirect"
    errors = [e.trace.error for e in out.errors]
    moved_errors = [e for e in errors if "the shop moved to" in e.message]
    assert moved_errors and all(e.failure_type == FailureType.config_error for e in moved_errors)
    assert f"the shop moved to {trap_url}{path}" in moved_errors[0].message and "update the API URL" in moved_errors[0].message
    everything = " ".join(f"{e.message} {e.internal_message} {e.stack_trace}" for e in errors)
    assert "Moved-Secret-9" not in everything and "mover:" not in everything
    assert api.log.count(path=path) == 1  # not retried either


def test_check_refuses_a_url_whose_host_differs_for_requests(cartum_factory):
    api = cartum_factory(tidy=True, users=5, orders=0)
    sneaky = f"http://example.invalid\\@127.0.0.1:{api.port}"
    result = run_connector("source-cartum", "check", config={**cartum_config_for(api), "shop_url": sneaky})
    statuses = result.of_type("CONNECTION_STATUS") + result.of_type("TRACE")
    assert statuses, result.output
    assert api.log.count() == 0
    withuser = run_connector("source-cartum", "check", config={**cartum_config_for(api), "shop_url": f"http://u:Url-Secret-5@127.0.0.1:{api.port}"})
    assert api.log.count() == 0
    assert "Url-Secret-5" not in withuser.output


def read_users_at_debug(config: dict, tmp_path) -> str:
    """`source-cartum read --debug` of the users stream: stdout and stderr (rc 0 asserted)."""
    (tmp_path / "config.json").write_text(json.dumps(config, ensure_ascii=False))
    (tmp_path / "catalog.json").write_text(json.dumps(USERS_ONLY))
    proc = subprocess.run(
        [script("source-cartum"), "read", "--debug", "--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")],
        capture_output=True, timeout=300,
    )
    output = proc.stdout.decode("utf-8", "replace") + proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == 0, output[-2000:]
    assert "Making outbound API request" in output  # the debug lines are there
    return output


def test_debug_log_never_shows_the_password_after_a_second_login(cartum_factory, tmp_path):
    # 600 s tokens on a clock 120x faster expire every 5 s: the sync logs in several times. The
    # CDK logs every request body at --debug (the login body holds the password): it must stay
    # masked after the first session token was registered as a secret too.
    api = cartum_factory(tidy=True, users=300, orders=0, password=PASSWORD, clock=Clock(speed=120), latency=0.3)
    output = read_users_at_debug(cartum_config_for(api, page_size=15), tmp_path)
    assert api.log.count(function="auth") >= 2, "the token should have expired at least once"
    assert_no_secrets([PASSWORD, *api.tokens], texts=[output], paths=[tmp_path / "catalog.json"])


def test_debug_log_never_shows_a_password_that_json_escapes(cartum_factory, tmp_path):
    """A quote, a backslash and non-ASCII letters change the password's spelling in the login
    body the CDK logs at --debug (JSON-escaped inside bytes' repr inside JSON): masked too."""
    password = 'Pw"Žluťoučký\\kůň-Distinct-42'
    api = cartum_factory(tidy=True, users=20, orders=0, password=password)
    output = read_users_at_debug(cartum_config_for(api), tmp_path)
    assert "Distinct-42" not in output  # its plain tail: no spelling of the password shows
    assert_no_secrets([password, *api.tokens], texts=[output], paths=[tmp_path / "catalog.json"])
