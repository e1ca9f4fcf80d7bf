"""source-upgates-customers as the platform runs it (console script, files, stdout) against the
UPgates emulator: what it reads, what it costs in requests, how it fails and resumes."""

from __future__ import annotations

import copy
import functools
from collections import Counter
import json
import math
import os
import random
import signal
import subprocess
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures.upgates import upgates_config_for
from emulators.base import Clock
from harness.runner import RunResult, configured_catalog, parse_messages, run_connector, script
from emulators.upgates import UpgatesEmulator

SOURCE = "source-upgates-customers"


@functools.cache
def discovered_streams() -> list[dict[str, Any]]:
    """The catalog is static (discover sends no request), so one discover serves the module."""
    config = {"api_url": "http://127.0.0.1:9/api/v2", "login": "x", "api_key": "y"}
    return run_connector(SOURCE, "discover", config=config).of_type("CATALOG")[0]["catalog"]["streams"]


def catalog(config: dict[str, Any], *names: str, mode: str = "incremental") -> dict[str, Any]:
    streams = copy.deepcopy(discovered_streams())
    return configured_catalog([s for s in streams if not names or s["name"] in names], mode)


def read(api: UpgatesEmulator, config: dict[str, Any], cat: dict[str, Any], state=None) -> RunResult:
    api.log.clear()
    return run_connector(SOURCE, "read", config=config, catalog=cat, state=state)


def customer_ids(result: RunResult) -> set[int]:
    return {r["customer_id"] for r in result.records("customers")}


def test_check_costs_one_request_and_discover_none(upgates, upgates_config):
    check = run_connector(SOURCE, "check", config=upgates_config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    assert upgates.log.summary() == {"GET status": 1}  # /status, not counted against the quota
    assert upgates.requests_used("hour") == 0
    discover = run_connector(SOURCE, "discover", config=upgates_config)
    streams = {s["name"]: s for s in discover.of_type("CATALOG")[0]["catalog"]["streams"]}
    assert set(streams) == {"customers", "customer_groups", "pricelists"}
    assert streams["customers"]["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert streams["customers"]["default_cursor_field"] == ["last_update_time"]
    assert upgates.log.count() == 1


def test_full_read_spends_one_request_per_page_and_no_more(upgates, upgates_config):
    cat = catalog(upgates_config)
    result = read(upgates, upgates_config, cat)
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert len(result.records("customer_groups")) == 3 and len(result.records("pricelists")) == 2
    # 250 customers = pages 1..3, no trailing empty page; one page each for groups and pricelists
    assert upgates.log.summary() == {"GET customers": 3, "GET groups": 1, "GET pricelists": 1}
    assert sorted(r.query.get("page") for r in upgates.log.select(path="/api/v2/customers")) == ["1", "2", "3"]
    assert upgates_config["api_key"] not in result.output


def test_incremental_reads_only_what_changed(upgates):
    config = upgates_config_for(upgates, lookback_minutes=0)
    cat = catalog(config, "customers")
    first = read(upgates, config, cat)
    state = first.last_state()
    cursor = state[0]["stream"]["stream_state"]["last_update_time"]
    upgates.clock.advance(2)  # the cursor is second-granular: the edits below are stamped 2 s after it
    upgates.update_customer(5, surname="Nová")
    upgates.update_customer(180, login={"email": "nova.adresa@example.cz"})
    added = upgates.add_customer()
    second = read(upgates, config, cat, state=state)
    assert second.returncode == 0, second.errors
    got = customer_ids(second)
    assert {5, 180, added["customer_id"]} <= got
    assert len(got) <= 4  # at most the one customer that sits on the saved cursor is read again
    assert upgates.log.count() == 1
    assert upgates.log.items[0].query["last_update_time_from"].startswith(cursor[:19])
    assert second.last_state()[0]["stream"]["stream_state"]["last_update_time"] > cursor


def customers_state(result: RunResult) -> dict[str, Any]:
    return [s for s in result.states if s["stream"]["stream_descriptor"]["name"] == "customers"][-1]["stream"]["stream_state"]


def quota_clock() -> Clock:
    """Emulator time a few seconds into an hour that starts two hours from now, so the quota's
    `Retry-After` (the next hour) is always more than the connector's longest wait away."""
    start = (datetime.now(timezone.utc) + timedelta(hours=2)).replace(minute=0, second=5, microsecond=0)
    return Clock(start=start)


def test_exhausted_quota_stops_with_a_resumable_state_and_no_page_is_bought_twice():
    with UpgatesEmulator(customers=1050, hourly_quota=4, clock=quota_clock()) as api:  # 11 pages
        config = upgates_config_for(api, num_workers=3)
        cat = catalog(config, "customers")
        pages, state, delivered, spent, runs = math.ceil(len(api.customers) / 100), None, set(), 0, 0
        while True:
            started = time.monotonic()
            result = read(api, config, cat, state=state)
            runs += 1
            assert time.monotonic() - started < 30  # no waiting for the next hour
            spent += api.log.count(path="/api/v2/customers", status=200)
            delivered |= customer_ids(result)
            state = result.last_state()
            if result.returncode == 0:
                break
            errors = [e for e in result.errors if "quota is used up" in e["message"]]
            assert errors and all(e["failure_type"] == "transient_error" for e in errors), result.errors
            assert "GMT" in errors[0]["message"]  # says when to retry
            assert api.requests_used("hour") == 4
            assert "pass" in customers_state(result)  # the pages bought are saved
            api.clock.advance(3600)
        assert runs == 3  # 11 pages at 4 an hour
        assert delivered == set(api.customers)
        assert spent == pages  # no page bought twice
        assert "pass" not in customers_state(result) and customers_state(result)["last_update_time"]


def test_a_pass_longer_than_the_hourly_quota_resumes_without_buying_pages_again():
    with UpgatesEmulator(customers=250, hourly_quota=2, clock=quota_clock()) as api:
        config = upgates_config_for(api)
        cat = catalog(config, "customers")
        state, delivered, spent = None, set(), 0
        for _ in range(2):  # two hours of 2 requests buy the 3 pages
            result = read(api, config, cat, state=state)
            delivered |= customer_ids(result)
            spent += api.log.count(path="/api/v2/customers", status=200)
            state = result.last_state() or state
            api.clock.advance(3600)
        assert result.returncode == 0, result.errors
        assert delivered == set(api.customers) and spent == 3


def read_until_killed(config: dict[str, Any], cat: dict[str, Any], state, kill_after: int) -> tuple[list[dict], bool]:
    """`read`, SIGKILLed after `kill_after` RECORD lines; every message that reached the reader
    (what was in the pipe when the process died is read to the end, as the platform would), and
    whether it finished before the kill."""
    with tempfile.TemporaryDirectory() as tmp:
        args = [script(SOURCE), "read"]
        for name, value in (("config", config), ("catalog", cat), ("state", state)):
            if value is not None:
                Path(tmp, f"{name}.json").write_text(json.dumps(value))
                args += [f"--{name}", str(Path(tmp, f"{name}.json"))]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        lines, records, killed = [], 0, False
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.endswith(b"\n"):
                break  # a line cut by the kill never reached the reader whole
            lines.append(raw.decode("utf-8", "replace"))
            if not killed and b'"type":"RECORD"' in raw[:40]:
                records += 1
                if records >= kill_after:
                    os.kill(proc.pid, signal.SIGKILL)
                    killed = True  # keep reading what is already in the pipe
        proc.stdout.close()
        proc.wait(timeout=60)
    messages, _ = parse_messages(lines)
    return messages, not killed


def pages_settled(stream_state: dict[str, Any]) -> set[int]:
    saved = stream_state.get("pass") or {}
    return set(range(1, (saved.get("pages_done") or 0) + 1)) | set(saved.get("done_after") or ())


def test_killed_at_random_points_and_resumed_rebuys_only_pages_not_printed_and_at_most_num_workers_per_kill():
    rng = random.Random(259)
    workers = 3
    with UpgatesEmulator(customers=1030, world="tidy", service_time=0.05) as api:  # 11 pages
        config = upgates_config_for(api, num_workers=workers)
        cat = catalog(config, "customers")
        state, delivered, kills, finished, printed = None, set(), 0, False, set()
        while not finished:
            api.log.clear()
            kill_after = rng.randrange(1, 500)
            messages, finished = read_until_killed(config, cat, state, kill_after)
            bought = [int(r.query["page"]) for r in api.log.select(path="/api/v2/customers")]
            # Invariant: a page whose STATE reached the reader is never bought again.
            assert not set(bought) & printed, (sorted(set(bought) & printed), sorted(printed))
            delivered |= {m["record"]["data"]["customer_id"] for m in messages if m.get("type") == "RECORD"}
            states = [m["state"] for m in messages if m.get("type") == "STATE" and m["state"]["stream"]["stream_descriptor"]["name"] == "customers"]
            if states:
                state = [states[-1]]
                printed = pages_settled(states[-1]["stream"]["stream_state"])
            if not finished:
                kills += 1
                # What this kill will make the next run buy again: pages bought whose STATE had
                # not reached the reader. The source buys a page only while fewer than
                # num_workers pages are in that case, so it holds whatever the machine's load.
                at_risk = set(bought) - printed
                assert len(at_risk) <= workers, (sorted(at_risk), sorted(printed))
            assert kills < 25
        assert kills >= 3
        assert delivered == set(api.customers)
        print(f"killed {kills} times")


def test_customers_on_the_cursor_second_are_never_lost_between_syncs():
    with UpgatesEmulator(customers=250, world="tidy") as upgates:  # no customer stamped in the future
        config = upgates_config_for(upgates, lookback_minutes=0)
        cat = catalog(config, "customers")
        same = upgates.local_now()
        for cid in range(1, 6):  # five customers share the newest second
            upgates.customers[cid]["last_update_time"] = same
        first = read(upgates, config, cat)
        assert customers_state(first)["last_update_time"] == upgates.fmt(same)
        late = upgates.add_customer(last_update_time=same)  # changed in the same second, after the sync
        second = read(upgates, config, cat, state=first.last_state())
        assert second.returncode == 0, second.errors
        assert {1, 2, 3, 4, 5, late["customer_id"]} <= customer_ids(second)
        assert upgates.log.count() == 1


def test_progress_estimate_and_log_lines(upgates, upgates_config):
    result = read(upgates, upgates_config, catalog(upgates_config, "customers"))
    estimates = [t["estimate"] for t in result.traces if t.get("type") == "ESTIMATE"]
    assert estimates == [{"name": "customers", "type": "STREAM", "row_estimate": 250}]
    assert any("pages read" in line and "0 left" in line for line in result.logs)


def test_server_side_filters_go_to_customers_only(upgates):
    config = upgates_config_for(upgates, active_only=True, language="sk", pricelist="Základný")
    result = read(upgates, config, catalog(config))
    assert result.returncode == 0, result.errors
    expected = {c["customer_id"] for c in upgates.customers.values()
                if c["login"]["active_yn"] and c["language"] == "sk" and c["pricelist"] == "Základný"}
    assert customer_ids(result) == expected
    query = upgates.log.select(path="/api/v2/customers")[0].query
    assert (query["active_yn"], query["language"], query["pricelist"]) == ("1", "sk", "Základný")
    assert all("language" not in r.query for r in upgates.log.select(path="/api/v2/groups"))


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


@pytest.mark.slow
def test_concurrency_limit_is_respected_and_429s_are_waited_out():
    with UpgatesEmulator(customers=250, service_time=0.3) as api:
        config = upgates_config_for(api, num_workers=3)
        result = read(api, config, catalog(config))
        assert result.returncode == 0 and api.peak_in_flight <= 3 and api.log.count(status=429) == 0
    with UpgatesEmulator(customers=250, service_time=0.3, max_concurrent=1) as api:
        config = upgates_config_for(api, num_workers=3)
        result = read(api, config, catalog(config))
        assert result.returncode == 0, result.errors
        assert customer_ids(result) == set(api.customers)
        assert api.log.count(status=429) >= 1  # the shop said "one at a time"; waited and retried


def test_bad_key_fails_check_without_retry_or_leak(upgates):
    config = upgates_config_for(upgates, api_key="definitely-not-the-key")
    check = run_connector(SOURCE, "check", config=config)
    status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "HTTP 401" in status["message"]
    assert upgates.log.count() == 1  # a 401 is never retried: 5 a hour lock the address out
    assert "definitely-not-the-key" not in check.output


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


@pytest.mark.parametrize("kind", ["truncate", "cut", "drop", "status"])
def test_a_broken_answer_is_retried_and_nothing_is_lost(upgates, upgates_config, kind):
    upgates.inject(kind, path="/api/v2/customers", skip=1, status=502)
    result = read(upgates, upgates_config, catalog(upgates_config, "customers"))
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert upgates.log.count(path="/api/v2/customers") == 4  # three pages and the one retried


@pytest.mark.slow
def test_groups_as_an_array_and_other_list_orders_read_the_same():
    for switches in ({"groups_shape": "array"}, {"order": "last_update_time"}, {"order": "id_desc"}):
        with UpgatesEmulator(customers=150, **switches) as api:
            config = upgates_config_for(api)
            result = read(api, config, catalog(config, "customers"))
            assert result.returncode == 0, (switches, result.errors)
            assert customer_ids(result) == set(api.customers), switches


def test_full_refresh_reads_the_same_pages_and_ignores_a_saved_pass(upgates):
    config = upgates_config_for(upgates)
    cat = catalog(config, "customers", mode="full_refresh")
    saved = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {
        "last_update_time": "2099-01-01T00:00:00+01:00", "pass": {"from": "2099-01-01T00:00:00+01:00", "pages_done": 2}}}}]
    result = read(upgates, config, cat, state=saved)
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert upgates.log.count(path="/api/v2/customers") == 3
    assert customers_state(result) == {"__ab_no_cursor_state_message": True}


# ---- issue 11: credentials go only to the configured host, and never into any output ----------

LOGIN, KEY = "shop-login-Q7x", "Api-Key-9Zr/x+Qw"  # distinctive; '/' and '+' make every encoding differ


def run_raw(*args: str, files: dict[str, Any]) -> subprocess.CompletedProcess:
    """The console script with extra arguments (e.g. --debug), files written to a temp folder."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = [script(SOURCE), *args]
        for name, value in files.items():
            path = Path(tmp, f"{name}.json")
            path.write_text(value if isinstance(value, str) else json.dumps(value))
            argv += [f"--{name}", str(path)]
        return subprocess.run(argv, capture_output=True, timeout=300)


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


# ---- issue 12: future timestamps, impossible states, stalls, types, unreadable files -------------

def test_a_customer_stamped_in_the_future_is_emitted_with_a_warning_and_does_not_freeze_the_cursor():
    with UpgatesEmulator(customers=150, world="tidy") as api:
        api.stamp_future(7, days=3650)
        config = upgates_config_for(api, lookback_minutes=0)
        cat = catalog(config, "customers")
        first = read(api, config, cat)
        assert first.returncode == 0, first.errors
        assert 7 in customer_ids(first)
        assert any("customer 7 " in m["log"]["message"] and m["log"]["level"] == "WARN" for m in first.of_type("LOG"))
        cursor = datetime.fromisoformat(customers_state(first)["last_update_time"])
        assert cursor <= api.clock.now()  # never past the API's own clock
        api.clock.advance(2)  # the edit is stamped after the saved cursor's second
        api.update_customer(42, surname="Pozdější")
        second = read(api, config, cat, state=first.last_state())
        assert 42 in customer_ids(second)  # a later edit is still read


@pytest.mark.parametrize("saved", [
    {"last_update_time": "2036-01-01T00:00:00+01:00"},
    {"last_update_time": "2024-01-01T00:00:00+01:00", "pass": {"from": "2036-01-01T00:00:00+01:00", "pages_done": 1, "done_after": [], "items": 90}},
])
def test_a_saved_cursor_in_the_future_is_repaired_not_trusted(saved):
    with UpgatesEmulator(customers=250, world="tidy") as api:
        config = upgates_config_for(api)
        state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": saved}}]
        result = read(api, config, catalog(config, "customers"), state=state)
        assert result.returncode == 0, result.errors
        assert customer_ids(result) == set(api.customers)  # read again from the beginning: nothing skipped
        assert any("cursor in the future" in line for line in result.logs)
        assert datetime.fromisoformat(customers_state(result)["last_update_time"]) <= api.clock.now()
        assert api.log.count(path="/api/v2/customers") == 1 + 3  # the page that showed it, then the pass


def test_a_saved_pass_beyond_the_last_page_restarts_the_pass():
    with UpgatesEmulator(customers=250, world="tidy") as api:  # 3 pages
        config = upgates_config_for(api)
        saved = {"pass": {"from": None, "pages_done": 9, "done_after": [12], "items": 950, "max_seen": None}}
        state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": saved}}]
        result = read(api, config, catalog(config, "customers"), state=state)
        assert result.returncode == 0, result.errors
        assert customer_ids(result) == set(api.customers)
        assert any("read again from page 1" in line for line in result.logs)
        assert "pass" not in customers_state(result)


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


def test_answers_whose_types_vary_give_records_of_one_type_per_field():
    import jsonschema

    with UpgatesEmulator(customers=300, types_vary=True) as api:
        config = upgates_config_for(api)
        schema = next(s for s in discovered_streams() if s["name"] == "customers")["json_schema"]
        result = read(api, config, catalog(config, "customers"))
        assert result.returncode == 0, result.errors
        records = result.records("customers")
        assert {r["customer_id"] for r in records} == set(api.customers)
        for r in records:
            jsonschema.validate(r, schema)
            assert isinstance(r["groups"], list) and all(isinstance(g, dict) and isinstance(g["id"], int) for g in r["groups"])
        expected = {c["customer_id"]: sorted(c["group_ids"]) for c in api.customers.values()}
        assert {r["customer_id"]: sorted(g["id"] for g in r["groups"]) for r in records} == expected


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


# ---- issue 14 item 1: every seed-002 filter, applied by UPgates, paid per matching page -------

@pytest.fixture(scope="module")
def shop() -> Any:
    with UpgatesEmulator(customers=10_000, seed=14) as api:
        yield api


def _filters(api: UpgatesEmulator) -> list[tuple[str, dict[str, Any], Any]]:
    cs = sorted(api.customers.values(), key=lambda c: c["customer_id"])
    company = next(c for c in cs if c["type"] == "company" and c.get("company"))
    phoned = next(c for c in cs if (c.get("communication") or {}).get("phone"))
    since, taken = None, 0  # the newest 1% at most (a bulk import shares one second: take it whole or not)
    for moment, n in sorted(Counter(c["creation_time"] for c in cs).items(), reverse=True):
        if taken + n > 100:
            break
        since, taken = moment, taken + n
    ids = [c["customer_id"] for c in cs[::100]]  # 1%
    return [
        ("creation_time_from", {"creation_time_from": api.fmt(since)}, lambda c: c["creation_time"] >= since),
        ("active=inactive", {"active": "inactive"}, lambda c: not c["login"]["active_yn"]),
        ("active=active", {"active": "active"}, lambda c: c["login"]["active_yn"]),
        ("blocked=blocked", {"blocked": "blocked"}, lambda c: c["login"]["blocked_yn"]),
        ("blocked=not_blocked", {"blocked": "not_blocked"}, lambda c: not c["login"]["blocked_yn"]),
        ("newsletter_accept", {"newsletter_accept": "excluded"}, lambda c: c["newsletter_accept"] == "excluded"),
        ("language", {"language": "en"}, lambda c: c["language"] == "en"),
        ("pricelist", {"pricelist": "Veľkoobchod"}, lambda c: c["pricelist"] == "Veľkoobchod"),
        ("code", {"code": cs[4321]["code"] or "C004322"}, lambda c: c["code"] == (cs[4321]["code"] or "C004322")),
        ("email", {"email": cs[777]["login"]["email"]}, lambda c: c["login"]["email"] == cs[777]["login"]["email"]),
        ("phone", {"phone": phoned["communication"]["phone"]}, lambda c: (c.get("communication") or {}).get("phone") == phoned["communication"]["phone"]),
        ("company_name", {"company_name": company["company"]["name"]}, lambda c: (c.get("company") or {}).get("name") == company["company"]["name"]),
        ("company_number", {"company_number": company["company"]["company_number"]}, lambda c: (c.get("company") or {}).get("company_number") == company["company"]["company_number"]),
        ("company_vat_number", {"company_vat_number": company["company"]["vat_number"]}, lambda c: (c.get("company") or {}).get("vat_number") == company["company"]["vat_number"]),
        ("customer_ids", {"customer_ids": ids}, lambda c: c["customer_id"] in set(ids)),
    ]


FILTER_NAMES = ["creation_time_from", "active=inactive", "active=active", "blocked=blocked", "blocked=not_blocked",
                "newsletter_accept", "language", "pricelist", "code", "email", "phone", "company_name",
                "company_number", "company_vat_number", "customer_ids"]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_each_filter_is_applied_by_upgates_and_costs_only_the_matching_pages(shop, name):
    _, extra, keep = next(f for f in _filters(shop) if f[0] == name)
    config = upgates_config_for(shop, num_workers=3, **extra)
    result = read(shop, config, catalog(config, "customers"))
    assert result.returncode == 0, result.errors
    expected = {c["customer_id"] for c in shop.customers.values() if keep(c)}
    assert expected and customer_ids(result) == expected
    assert shop.log.count(path="/api/v2/customers") == max(1, math.ceil(len(expected) / 100))
    if name in ("creation_time_from", "customer_ids", "code", "email"):
        assert shop.log.count(path="/api/v2/customers") == 1  # 1% (or one customer) of 10,000: one request, not 100


def test_creation_time_from_is_sent_together_with_the_incremental_cursor(shop):
    since = sorted(c["creation_time"] for c in shop.customers.values())[-500]
    config = upgates_config_for(shop, creation_time_from=shop.fmt(since))
    cursor = shop.fmt(shop.local_now() - timedelta(days=30))
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"last_update_time": cursor}}}]
    result = read(shop, config, catalog(config, "customers"), state=state)
    assert result.returncode == 0, result.errors
    query = shop.log.select(path="/api/v2/customers")[0].query
    assert query["creation_time_from"] == shop.fmt(since) and query["last_update_time_from"]
    edge = datetime.fromisoformat(query["last_update_time_from"])
    expected = {c["customer_id"] for c in shop.customers.values() if c["creation_time"] >= since and c["last_update_time"] >= edge}
    assert customer_ids(result) == expected


@pytest.mark.parametrize("field, value", [
    ("creation_time_from", "2024-02-30T00:00:00+01:00"),
    ("creation_time_from", "last week"),
    ("language", "Slovak"),
    ("newsletter_accept", "maybe"),
    ("customer_ids", [1, 0]),
])
def test_a_filter_value_upgates_would_refuse_fails_check(upgates, field, value):
    config = upgates_config_for(upgates, **{field: value})
    status = run_connector(SOURCE, "check", config=config).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and field in status["message"], status
    assert upgates.log.count() == 0


def test_log_lines_of_worker_threads_never_cut_a_record_line():
    # A retried answer makes a worker thread log a long line (the CDK logs the answer's body)
    # while the main thread prints records: every stdout line must stay whole JSON.
    for attempt in range(10):
        with UpgatesEmulator(customers=250) as api:
            config = upgates_config_for(api)
            api.inject("truncate", path="/api/v2/customers", skip=1)
            result = read(api, config, catalog(config, "customers"))
            assert result.returncode == 0, result.errors
            assert result.stdout_noise == [], (attempt, [n[:200] for n in result.stdout_noise])
            assert customer_ids(result) == set(api.customers), attempt


def _declared_types(schema, path=""):
    """Every `type` in a JSON schema with where it stands (properties and array items)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), (str, list)):
            yield path or "<root>", schema["type"]
        for name, sub in (schema.get("properties") or {}).items():
            yield from _declared_types(sub, f"{path}.{name}" if path else name)
        if isinstance(schema.get("items"), dict):
            yield from _declared_types(schema["items"], f"{path}[]")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                yield path or "<root>", key


def test_every_field_of_every_stream_declares_one_type():
    """Issue 12 item 5: a warehouse or PyAirbyte's cache maps each column one way across runs."""
    several = []
    for stream in discovered_streams():
        for where, declared in _declared_types(stream["json_schema"]):
            types = [declared] if isinstance(declared, str) else declared
            if declared in ("anyOf", "oneOf") or len([t for t in types if t != "null"]) != 1:
                several.append(f"{stream['name']}: {where}: {declared}")
    assert several == []
