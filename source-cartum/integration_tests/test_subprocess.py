"""The real console script in subprocesses, as the platform runs it: kill-and-resume (SIGKILL
mid-read, resume from the last emitted state, every record read in the end), progress lines,
two incremental users runs with new registrations between, and no secret in anything it prints."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path

from harness.fixtures.cartum import cartum_config_for
from harness.runner import run_connector, script

CATALOG = {
    "streams": [
        {
            "stream": {"name": "users", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "cursor_field": ["registered_at"],
            "primary_key": [["id"]],
            "destination_sync_mode": "append_dedup",
        },
        {
            "stream": {"name": "orders", "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
            "sync_mode": "incremental",
            "cursor_field": ["stat_created_at"],
            "primary_key": [["order_id"]],
            "destination_sync_mode": "append_dedup",
        },
    ]
}


def test_kill_mid_read_and_resume_from_last_state(cartum_factory):
    api = cartum_factory(tidy=True, users=300, orders=1500, latency=0.02)
    config = cartum_config_for(api, page_size=50, orders_window_days=7, orders_lookback_days=1)
    config["start_date"] = (api.local_now().date().replace(day=1).replace(year=api.local_now().year - 1)).isoformat()
    all_orders = {o["order_id"] for o in api.shop.orders if o["stat_created"][:10] >= config["start_date"]}
    all_users = {u["id"] for u in api.shop.users.values() if u["registered"][:10] >= config["start_date"]}

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "config.json").write_text(json.dumps(config))
        (Path(tmp) / "catalog.json").write_text(json.dumps(CATALOG))
        proc = subprocess.Popen(
            [script("source-cartum"), "read", "--config", f"{tmp}/config.json", "--catalog", f"{tmp}/catalog.json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        first_orders: set[int] = set()
        first_users: set[int] = set()
        last_state: dict[str, dict] = {}
        order_states = 0
        assert proc.stdout is not None
        for line in proc.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD":
                data = message["record"]["data"]
                (first_orders.add(data["order_id"]) if message["record"]["stream"] == "orders" else first_users.add(data["id"]))
            elif message["type"] == "STATE":
                name = message["state"]["stream"]["stream_descriptor"]["name"]
                last_state[name] = message["state"]
                order_states += name == "orders"
                if order_states == 12:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        proc.stdout.close()
        assert proc.wait(30) == -signal.SIGKILL
    assert 0 < len(first_orders) < len(all_orders), "the kill should land in the middle of the orders"
    saved = last_state["orders"]["stream"]["stream_state"]["stat_created_at"]

    api.log.clear()
    resumed = run_connector("source-cartum", "read", config=config, catalog=CATALOG, state=list(last_state.values()))
    assert resumed.returncode == 0 and not resumed.errors
    second_orders = {o["order_id"] for o in resumed.records("orders")}
    second_users = {u["id"] for u in resumed.records("users")}
    assert first_orders | second_orders == all_orders
    assert first_users | second_users == all_users
    # the resumed run starts at the saved window (minus the lookback), not at the start date
    froms = sorted(e.body["from"] for e in api.log.select(function="orders/get"))
    assert froms[0] < saved and froms[0] > config["start_date"]
    assert api.log.count(function="auth") == 1

    # progress lines per window, and no secret anywhere in what the connector printed
    assert any(line.startswith("orders: window from ") and "records in" in line for line in resumed.logs)
    assert config["password"] not in resumed.output
    for token in api.tokens:
        assert token not in resumed.output


def test_check_with_a_wrong_password_as_a_subprocess(cartum_factory):
    api = cartum_factory(tidy=True, users=10, orders=10)
    config = cartum_config_for(api, password="Not-The-Password-77")
    check = run_connector("source-cartum", "check", config=config)
    status = check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "Check the API login and password" in status["message"]
    assert "Not-The-Password-77" not in check.output
    assert api.log.count(function="auth") == 1  # a refused login is not retried


def test_two_incremental_users_runs_with_new_registrations_between(cartum_factory):
    api = cartum_factory(tidy=True, users=250, orders=0)
    config = cartum_config_for(api, page_size=100)
    users_only = {"streams": [CATALOG["streams"][0]]}
    first = run_connector("source-cartum", "read", config=config, catalog=users_only)
    assert first.returncode == 0 and not first.errors
    assert len(first.records("users")) == 250
    cursor = max(u["registered"] for u in api.shop.users.values())
    state = first.last_state()
    saved = state[0]["stream"]["stream_state"]["registered_at"]
    assert saved.startswith(cursor.replace(" ", "T")) and saved[19] in "+-"  # ISO with the shop's offset

    new = [api.add_user() for _ in range(25)]
    api.log.clear()
    second = run_connector("source-cartum", "read", config=config, catalog=users_only, state=state)
    assert second.returncode == 0 and not second.errors
    boundary = [u["id"] for u in api.shop.users_by_id() if u["registered"] == cursor]
    assert state[0]["stream"]["stream_state"]["ids_at_cursor"] == boundary
    assert [u["id"] for u in second.records("users")] == [u["id"] for u in new]  # the sign-ups only
    assert api.log.summary() == {"auth": 1, "users/export": 2}  # a short page, and its confirmation
    assert api.log.select(function="users/export")[0].body["from"] == cursor
    newest = max(u["registered"] for u in new)
    assert second.last_state()[0]["stream"]["stream_state"]["registered_at"].startswith(newest.replace(" ", "T"))
