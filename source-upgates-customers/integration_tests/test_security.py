"""Credentials go only to the configured host and never into any output (issue 11): loopback-only
http, a bad key, --debug output scanned for the key in every encoding, redirects never followed,
API URLs with user-info, backslash or whitespace refused before any request."""

from __future__ import annotations

import json

import pytest

from harness.fixtures.upgates import upgates_config_for
from harness.runner import run_connector
from emulators.upgates import UpgatesEmulator
from upgates_console import SOURCE, catalog, read, run_raw


def test_plain_http_is_accepted_only_for_loopback():
    config = {"api_url": "http://shop.example.com/api/v2", "login": "x", "api_key": "y"}
    check = run_connector(SOURCE, "check", config=config)
    statuses = check.of_type("CONNECTION_STATUS")
    assert statuses and statuses[0]["connectionStatus"]["status"] == "FAILED"
    assert "http://shop.example.com/api/v2" in statuses[0]["connectionStatus"]["message"]
    # the code says the same where the spec is not validated first (source.check_api_url)
    from source_upgates_customers.source import check_api_url
    with pytest.raises(Exception, match="not allowed"):
        check_api_url(config)
    check_api_url({"api_url": "http://127.0.0.1:8801/api/v2"})
    check_api_url({"api_url": "https://mystore.admin.s10.upgates.com/api/v2"})


def test_bad_key_fails_check_without_retry_or_leak(upgates):
    config = upgates_config_for(upgates, api_key="definitely-not-the-key")
    check = run_connector(SOURCE, "check", config=config)
    status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "HTTP 401" in status["message"]
    assert upgates.log.count() == 1  # a 401 is never retried: 5 a hour lock the address out
    assert "definitely-not-the-key" not in check.output


# ---- issue 11: credentials go only to the configured host, and never into any output ----------

LOGIN, KEY = "shop-login-Q7x", "Api-Key-9Zr/x+Qw"  # distinctive; '/' and '+' make every encoding differ


def test_debug_output_never_holds_the_key_in_any_encoding():
    from harness.secrets_scan import assert_no_secrets

    with UpgatesEmulator(customers=120, login=LOGIN, api_key=KEY) as api:
        config = upgates_config_for(api)
        cat = catalog(config)
        outputs = []
        for verb, files in (("check", {"config": config}), ("read", {"config": config, "catalog": cat})):
            proc = run_raw(verb, "--debug", files=files)
            assert proc.returncode == 0, proc.stdout[-2000:]
            outputs += [proc.stdout, proc.stderr]
        text = b"".join(outputs).decode()
        assert "Making outbound API request" in text and "'Authorization': 'Basic ****'" in text  # headers were logged, masked
        assert api.log.count(path="/api/v2/customers") == 2
        assert assert_no_secrets([KEY, (LOGIN, KEY)], texts=outputs) > 0


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_never_followed_and_names_the_new_location(status):
    from emulators.capture import CaptureServer

    trap = CaptureServer()
    trap.start()
    try:
        port = trap.url.rsplit(":", 1)[1]
        location = f"http://someone:Trap-Pw-77@127.0.0.1:{port}/api/v2"
        with UpgatesEmulator(customers=20, login=LOGIN, api_key=KEY, moved_to=location, moved_status=status) as old:
            config = upgates_config_for(old)
            check = run_connector(SOURCE, "check", config=config).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
            result = read(old, config, catalog(config, "customers"))
            assert check["status"] == "FAILED" and f"127.0.0.1:{port}/api/v2" in check["message"]
            assert result.returncode != 0
            errors = [e for e in result.errors if "moved" in e["message"]]
            assert errors and errors[0]["failure_type"] == "config_error" and f"127.0.0.1:{port}/api/v2" in errors[0]["message"]
            assert "Trap-Pw-77" not in json.dumps(check) + result.output  # the location's user-info is not quoted
            assert old.log.count(path="/api/v2/customers") == 1  # asked once, not retried
        assert trap.requests == []  # nothing, credentials least of all, went to the new location
    finally:
        trap.stop()


def test_a_redirect_to_the_same_host_is_not_followed_either():
    with UpgatesEmulator(customers=20, login=LOGIN, api_key=KEY) as api:
        api.moved_to, api.moved_status = f"{api.url}/api/v2/elsewhere", 307
        result = read(api, upgates_config_for(api), catalog(upgates_config_for(api), "customers"))
        assert result.returncode != 0
        assert api.log.count() == 1  # requests would re-send Authorization to the same host


@pytest.mark.parametrize(
    "template",
    [
        "http://someone:Url-Pw-4242@127.0.0.1:{port}/api/v2",  # user-info
        "http://example.invalid\\@127.0.0.1:{port}/api/v2",  # urllib3 would connect to example.invalid
        "http://127.0.0.1:{port}/api/v2 ",  # whitespace
        "http://127.0.0.1:{port}/api/v2\\x",  # backslash in the path
    ],
)
def test_a_base_url_with_userinfo_backslash_or_whitespace_is_refused_before_any_request(template):
    with UpgatesEmulator(customers=5) as api:
        config = {**upgates_config_for(api), "api_url": template.format(port=api.port)}
        check = run_connector(SOURCE, "check", config=config)
        status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and "not allowed" in status["message"]
        result = run_connector(SOURCE, "read", config=config, catalog=catalog(config, "customers"))
        assert result.returncode != 0 and result.errors[0]["failure_type"] == "config_error"
        assert api.log.count() == 0
        assert "Url-Pw-4242" not in check.output + result.output
