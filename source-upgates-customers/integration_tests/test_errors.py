"""Errors a user can act on: an inactive user or a missing right, a moved shop, a stream without
right, stalled answers, unreadable config/catalog/state files, an impossible start date."""

from __future__ import annotations

import time

import pytest

from harness.fixtures.upgates import upgates_config_for
from harness.runner import parse_messages, run_connector
from emulators.upgates import UpgatesEmulator
from upgates_console import SOURCE, catalog, customer_ids, read, run_raw


def test_check_says_inactive_user_and_missing_customers_right():
    with UpgatesEmulator(customers=3, user_active=False) as api:
        status = run_connector(SOURCE, "check", config=upgates_config_for(api)).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and "inactive" in status["message"]
    with UpgatesEmulator(customers=3, rights={"groups", "pricelists"}) as api:
        status = run_connector(SOURCE, "check", config=upgates_config_for(api)).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and "no right to read customers" in status["message"]
        assert api.log.summary() == {"GET status": 1}


def test_moved_shop_names_the_new_address():
    with UpgatesEmulator(customers=3) as new, UpgatesEmulator(moved_to="placeholder") as old:
        old.moved_to = f"{new.url}/api/v2"
        check = run_connector(SOURCE, "check", config=upgates_config_for(old))
        status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and f"{new.url}/api/v2" in status["message"]


def test_no_right_to_groups_fails_that_stream_with_a_config_error():
    with UpgatesEmulator(customers=20, rights={"customers", "pricelists"}) as api:
        config = upgates_config_for(api)
        result = read(api, config, catalog(config))
        assert result.returncode != 0
        assert len(result.records("customers")) == 20
        assert any("HTTP 403" in e["message"] and e["failure_type"] == "config_error" for e in result.errors)


def test_a_stalled_answer_times_out_and_is_retried():
    with UpgatesEmulator(customers=150, world="tidy", stall_seconds=4, stall_times=1) as api:
        config = upgates_config_for(api, read_timeout_seconds=1)
        result = read(api, config, catalog(config, "customers"))
        assert result.returncode == 0, result.errors
        assert customer_ids(result) == set(api.customers)
        # the stalled request is logged once the emulator answers it (stall_seconds after it came)
        deadline = time.monotonic() + 15
        while api.log.count(path="/api/v2/customers") < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert api.log.count(path="/api/v2/customers") == 3  # 2 pages and the retry of the stalled one


@pytest.mark.slow
def test_an_api_that_stays_stalled_ends_with_a_transient_error_naming_the_host():
    with UpgatesEmulator(customers=50, stall_seconds=5) as api:
        config = upgates_config_for(api, read_timeout_seconds=0.5)
        started = time.monotonic()
        result = read(api, config, catalog(config, "customers"))
        assert time.monotonic() - started < 120
        assert result.returncode != 0
        errors = [e for e in result.errors if f"127.0.0.1:{api.port}" in e["message"]]
        assert errors and errors[0]["failure_type"] == "transient_error", result.errors


@pytest.mark.parametrize("name, files, words", [
    ("config not JSON", {"config": "{not json"}, ["config file", "not valid JSON", "line 1"]),
    ("config a list", {"config": "[1, 2]"}, ["config file", "JSON object"]),
    ("catalog not JSON", {"catalog": "nope"}, ["catalog file", "not valid JSON"]),
    ("catalog without sync_mode", {"catalog": {"streams": [{"stream": {"name": "customers"}, "destination_sync_mode": "append"}]}},
     ["catalog file", "streams[0].sync_mode"]),
    ("garbage cursor", {"state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"last_update_time": "garbage"}}}]},
     ["state file", "customers.last_update_time"]),
    ("impossible date", {"state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"last_update_time": "2024-02-30T10:00:00+01:00"}}}]},
     ["state file", "customers.last_update_time"]),
    ("pages_done not a number", {"state": [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"pass": {"pages_done": "seven"}}}}]},
     ["state file", "customers.pass.pages_done"]),
    ("state an object of junk", {"state": "42"}, ["state file", "list of state messages"]),
])
def test_unreadable_config_catalog_or_state_is_a_config_error_naming_file_and_field(upgates, name, files, words):
    config = upgates_config_for(upgates)
    given = {"config": config, "catalog": catalog(config, "customers"), **files}
    proc = run_raw("read", files=given)
    messages, _ = parse_messages(proc.stdout.decode().splitlines())
    errors = [m["trace"]["error"] for m in messages if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"]
    assert proc.returncode != 0 and errors, (name, proc.stdout[-1000:], proc.stderr[-1000:])
    assert errors[0]["failure_type"] == "config_error", name
    for word in words:
        assert word in errors[0]["message"], (name, errors[0]["message"])
    assert upgates.log.count() == 0


def test_an_impossible_start_date_fails_check_naming_the_field(upgates):
    config = upgates_config_for(upgates, start_date="2024-02-30T00:00:00+01:00")
    status = run_connector(SOURCE, "check", config=config).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "start_date" in status["message"]
    assert upgates.log.count() == 0
