"""Stopping and resuming: a quota used up (no page bought twice), a pass longer than the hourly
quota, SIGKILL at random points (at most num_workers pages re-bought per kill), customers stamped
in the future, saved states that cannot be right."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures.upgates import upgates_config_for
from harness.runner import parse_messages, script
from emulators.upgates import UpgatesEmulator
from upgates_console import SOURCE, catalog, customer_ids, customers_state, quota_clock, read


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
