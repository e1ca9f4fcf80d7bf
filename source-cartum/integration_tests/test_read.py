"""Full and incremental syncs against the Cartum emulator, in process: request economy,
token expiry, B2B off, EMPTY, faults. (Subprocess runs: test_subprocess.py.)"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

import pytest

from airbyte_cdk.models import FailureType
from emulators.base import Clock
from harness.fixtures.cartum import cartum_config_for

ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
B2B_FIELDS = ("customer_group_id", "balance", "balance_currency", "manager", "site_link", "company", "role")


def iso_state(registered: str, zone) -> str:
    """The users state for a shop-local 'YYYY-MM-DD HH:MM:SS': ISO 8601 with the shop's offset (+HHMM)."""
    return datetime.strptime(registered, "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone).strftime("%Y-%m-%dT%H:%M:%S%z")


def error_messages(output) -> list[str]:
    return [e.trace.error.message for e in output.errors]


# ceil(N/page), one more when N is an exact multiple (the EMPTY end), or when the only page is
# short: a short page is trusted as the end only when it is shorter than a page already served.
@pytest.mark.parametrize("users,page_size,expected", [(250, 100, 3), (200, 100, 3), (7, 500, 2), (0, 100, 1)])
def test_full_refresh_users_spends_ceil_n_over_page_requests(sync, cartum_factory, users, page_size, expected):
    api = cartum_factory(tidy=True, users=users, orders=0)
    out = sync.run(cartum_config_for(api, page_size=page_size), ["users"])
    got = sync.records(out, "users")
    assert [u["id"] for u in got] == [u["id"] for u in api.shop.users_by_id()]
    assert api.log.count(function="users/export") == expected
    assert api.log.count(function="auth") == 1
    assert not out.errors


def _dst_hours(since: datetime, zone) -> tuple[datetime, datetime]:
    """The first autumn wall time at 03:30 that happens twice and spring one that never happens, after `since`."""
    repeated = skipped = None
    day = since.replace(hour=3, minute=30, second=0, microsecond=0)
    while repeated is None or skipped is None:
        day += timedelta(days=1)
        first, second = (day.replace(fold=f, tzinfo=zone) for f in (0, 1))
        if first.utcoffset() != second.utcoffset():
            if first.utcoffset() > second.utcoffset():
                repeated = repeated or day
            else:
                skipped = skipped or day
    return repeated, skipped


def test_records_carry_iso_dates_with_offset_and_b2b_blocks(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=60, orders=80)
    repeated, skipped = _dst_hours(api.local_now() - timedelta(days=700), api.tz)
    api.add_user(registered=repeated)  # the autumn hour that happens twice
    api.add_user(registered=skipped)  # the spring hour that never happens
    out = sync.run(cartum_config_for(api, page_size=500), ["users", "orders", "customer_groups", "price_levels"])
    users, orders = sync.records(out, "users"), sync.records(out, "orders")
    assert len(users) == 62 and len(orders) == 80
    by_wall = {u["registered"]: u["registered_at"] for u in users}
    assert by_wall[str(repeated)].endswith("+03:00") and by_wall[str(skipped)].endswith("+02:00")
    zone = api.tz
    for user in users:
        assert ISO_WITH_OFFSET.match(user["registered_at"])
        local = datetime.strptime(user["registered"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=zone)
        # compare instants: Python calls aware datetimes in different zones unequal when one falls
        # in the autumn's repeated hour; the connector takes its first occurrence (fold=0), as here
        assert datetime.fromisoformat(user["registered_at"]).timestamp() == local.timestamp()
        assert set(B2B_FIELDS) - {"manager"} <= set(user)  # a null manager may be left out by the serializer
    assert all(ISO_WITH_OFFSET.match(o["stat_created_at"]) for o in orders)
    assert any("dropshipping_details" in o for o in orders) and all("customer_details" in o for o in orders)
    assert {g["id"] for g in sync.records(out, "customer_groups")} == {1, 2, 3, 4, 5}
    assert len(sync.records(out, "price_levels")) == 5
    # one login for the whole sync, one request per B2B list
    assert api.log.count(function="auth") == 1
    assert api.log.count(function="customer-groups/export") == 1 and api.log.count(function="price-levels/export") == 1
    for entry in api.log.select(function="users/export"):  # from the start date's shop-local midnight on
        assert entry.body["from"] == cartum_config_for(api)["start_date"] + " 00:00:00"
        assert "to" not in entry.body  # users stamped in the future are read too
    windows = sorted(api.log.select(function="orders/get"), key=lambda e: e.body["from"])
    assert "to" not in windows[-1].body and all(e.body["to"] < api.local_now().strftime("%Y-%m-%d") for e in windows[:-1])


def test_incremental_users_and_orders_across_runs(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=120, orders=150)
    config = cartum_config_for(api, page_size=50, orders_window_days=60, orders_lookback_days=2)
    first = sync.run(config, ["users", "orders"], "incremental")
    assert len(sync.records(first, "users")) == 120 and len(sync.records(first, "orders")) == 150
    state = sync.last_states(first)
    by_stream = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in state}
    newest = max(u["registered"] for u in api.shop.users.values())
    assert by_stream["users"] == {
        "registered_at": iso_state(newest, api.tz),
        "ids_at_cursor": sorted(u["id"] for u in api.shop.users.values() if u["registered"] == newest),
    }
    windows = math.ceil(((api.local_now().date() - datetime.strptime(config["start_date"], "%Y-%m-%d").date()).days + 1) / 60)
    assert len([s for s in first.state_messages if s.state.stream.stream_descriptor.name == "orders"]) >= windows

    # nothing new: the minimum (one login, one users page, one orders window)
    api.log.clear()
    idle = sync.run(config, ["users", "orders"], "incremental", state=state)
    # the cursor's second and the lookback days come back short: each short page is confirmed
    assert api.log.summary() == {"auth": 1, "users/export": 2, "orders/get": 2}
    assert not idle.errors
    seen_users = {u["id"] for u in sync.records(idle, "users")}
    assert seen_users == set()  # the users of the cursor's second were emitted by the first sync
    assert api.log.select(function="users/export")[0].body["from"] == newest

    # new registrations and orders between syncs are read; of the users, nothing before the cursor's second
    new_users = [api.add_user() for _ in range(3)]
    new_orders = [api.add_order() for _ in range(4)]
    api.log.clear()
    second = sync.run(config, ["users", "orders"], "incremental", state=sync.last_states(idle))
    assert {u["id"] for u in sync.records(second, "users")} == {u["id"] for u in new_users} | seen_users
    assert {o["order_id"] for o in new_orders} <= {o["order_id"] for o in sync.records(second, "orders")}
    body = api.log.select(function="orders/get")[0].body
    lookback_from = (datetime.strptime(by_stream["orders"]["stat_created_at"], "%Y-%m-%d") - timedelta(days=2)).strftime("%Y-%m-%d")
    assert body["from"] == lookback_from
    assert api.log.count(function="auth") == 1 and api.log.count(function="users/export") == 2
    today = api.local_now().strftime("%Y-%m-%d")
    assert {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in sync.last_states(second)} == {
        "users": {"registered_at": iso_state(max(u["registered"] for u in new_users), api.tz),
                  "ids_at_cursor": sorted(u["id"] for u in new_users if u["registered"] == max(n["registered"] for n in new_users))},
        "orders": {"stat_created_at": today},
    }


def test_token_expiring_mid_sync_means_one_login_per_token_not_per_request(sync, cartum_factory):
    # 600 s tokens on a clock 120x faster live 5 s of real time (well above the CDK's 1 s retry
    # backoff, even on a loaded machine); 21 requests of 0.3 s outlive at least one token.
    api = cartum_factory(tidy=True, users=300, orders=0, clock=Clock(speed=120), latency=0.3)
    out = sync.run(cartum_config_for(api, page_size=15), ["users"])
    assert not out.errors, [(e.trace.error.message, e.trace.error.internal_message) for e in out.errors]
    assert [u["id"] for u in sync.records(out, "users")] == list(range(1, 301))
    pages = 21  # ceil(300/15), plus one EMPTY page since 300 is a multiple of 15
    rejected = api.log.count(function="users/export") - pages
    assert rejected >= 1, "the token should have expired at least once"
    assert api.log.count(function="auth") == 1 + rejected  # one fresh login per rejected token


def test_token_revoked_before_its_time_is_one_login_and_a_retry(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=100, orders=30)
    api.switches["revoke_token_on_call"] = {"users/export": 3}
    out = sync.run(cartum_config_for(api, page_size=25, orders_window_days=366), ["users", "orders"])
    assert not out.errors
    assert len(sync.records(out, "users")) == 100 and len(sync.records(out, "orders")) == 30
    assert api.log.count(function="auth") == 2
    assert api.log.count(function="users/export") == 5 + 1  # 4 pages + EMPTY end + the retried one
    offsets = [e.body["offset"] for e in api.log.select(function="users/export")]
    assert offsets == [0, 25, 50, 50, 75, 100]
    tokens = [e.body["token"] for e in api.log.select(function="users/export")]
    assert tokens[2] == tokens[0] and tokens[3] != tokens[2]  # the retry carries the new token


def test_shop_without_b2b_module(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=30, orders=10, b2b=False)
    config = cartum_config_for(api)
    out = sync.run(config, ["customer_groups", "price_levels"], fail=True)
    assert not out.records
    errors = [e.trace.error for e in out.errors]
    b2b = [e for e in errors if "B2B module" in e.message]
    assert b2b and all(e.failure_type == FailureType.config_error for e in b2b)
    assert "customer-groups/export" in " ".join(e.message for e in b2b)
    # users and orders still read, without the B2B fields
    ok = sync.run(config, ["users", "orders"])
    assert not ok.errors
    assert all(not set(B2B_FIELDS) & set(u) for u in sync.records(ok, "users"))
    assert len(sync.records(ok, "users")) == 30


def test_empty_is_zero_records_not_an_error(sync, cartum_factory):
    for shape in ([], {}, {"message": "Nothing found"}):
        api = cartum_factory(tidy=True, users=0, orders=0)
        api.switches["empty_response"] = shape
        out = sync.run(cartum_config_for(api, orders_window_days=366), ["users", "orders"], "incremental")
        assert not out.errors and not out.records
        assert api.log.count(function="users/export") == 1
        assert api.log.count(function="orders/get") == 3  # 801 days in windows of 366


def test_order_statuses_filter(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=40, orders=120)
    out = sync.run(cartum_config_for(api, order_statuses=[2, 4], orders_window_days=366), ["orders"])
    got = sync.records(out, "orders")
    assert got and {o["stat_status"] for o in got} <= {2, 4}
    assert len(got) == sum(o["stat_status"] in (2, 4) for o in api.shop.orders)
    assert all(e.body["status"] == [2, 4] for e in api.log.select(function="orders/get"))
    sync.run(cartum_config_for(api, orders_window_days=366), ["orders"])
    assert "status" not in api.log.select(function="orders/get")[-1].body


@pytest.mark.parametrize("kind", ["status", "truncate", "drop"])
def test_transient_faults_are_retried(sync, cartum_factory, kind):
    api = cartum_factory(tidy=True, users=90, orders=0)
    api.inject(kind, path="/api/users/export", times=1, skip=1)
    out = sync.run(cartum_config_for(api, page_size=40), ["users"])
    assert not out.errors
    assert [u["id"] for u in sync.records(out, "users")] == list(range(1, 91))
    assert api.log.count(function="users/export") == 3 + 1


def test_envelope_error_fails_quoting_the_api_message(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=10, orders=10)
    api.switches["force_status"] = {"orders/get": ("EXCEPTION", "Deadlock found when trying to get lock")}
    out = sync.run(cartum_config_for(api, orders_window_days=366), ["orders"], fail=True)
    messages = " ".join(error_messages(out))
    assert "EXCEPTION" in messages and "Deadlock found when trying to get lock" in messages
    windows = [e.body["from"] for e in api.log.select(function="orders/get")]
    assert len(windows) == len(set(windows))  # each window asked once: no retry of a definite answer


def test_check(sync, cartum_factory):
    from airbyte_cdk.models import Status
    from airbyte_cdk.test.entrypoint_wrapper import _run_command
    from source_cartum import SourceCartum

    def check(config):
        return SourceCartum(config=config)

    ok_api = cartum_factory(tidy=True, users=5, orders=0)
    off_api = cartum_factory(tidy=True, users=5, orders=0, b2b=False)
    good = cartum_config_for(ok_api)
    bad_password = {**good, "password": "Sekret-Wrong-42"}
    import logging

    logger = logging.getLogger("test")
    assert check(good).check(logger, good).status == Status.SUCCEEDED
    status = check(bad_password).check(logger, bad_password)
    assert status.status == Status.FAILED and "login" in status.message and "Sekret-Wrong-42" not in status.message
    off = cartum_config_for(off_api)
    status = check(off).check(logger, off)
    assert status.status == Status.FAILED and "B2B module" in status.message
    assert ok_api.log.count(function="auth") == 2  # one per check (the bad password's went nowhere else)
    del _run_command


def test_state_in_the_future_is_moved_back_to_now_with_a_warning(sync, cartum_factory):
    # Issue 12.1: a saved cursor in 2999 used to read nothing, for good. Now it is repaired.
    import json
    from pathlib import Path

    api = cartum_factory(tidy=True, users=20, orders=20)
    state = json.loads((Path(__file__).parent / "abnormal_state.json").read_text())
    out = sync.run(cartum_config_for(api), ["users", "orders"], "incremental", state=state)
    assert not out.errors
    today = api.local_now().strftime("%Y-%m-%d")
    assert api.log.select(function="users/export")[0].body["from"][:10] == today
    assert api.log.select(function="orders/get")[0].body["from"] <= today
    warnings = [m.log.message for m in out.logs if "lies in the future" in m.log.message]
    assert any(w.startswith("users:") for w in warnings) and any(w.startswith("orders:") for w in warnings)
    states = {s["stream"]["stream_descriptor"]["name"]: s["stream"]["stream_state"] for s in sync.last_states(out)}
    assert states["users"]["registered_at"][:10] == today and states["orders"]["stat_created_at"] <= today
    later = api.add_user()
    again = sync.run(cartum_config_for(api), ["users"], "incremental", state=sync.last_states(out))
    assert later["id"] in [u["id"] for u in sync.records(again, "users")]


def test_discover(cartum_factory):
    import logging

    from source_cartum import SourceCartum

    api = cartum_factory(tidy=True, users=5, orders=5)
    config = cartum_config_for(api)
    catalog = SourceCartum(config=config).discover(logging.getLogger("test"), config)
    streams = {s.name: s for s in catalog.streams}
    assert set(streams) == {"users", "customer_groups", "price_levels", "orders"}
    assert streams["users"].default_cursor_field == ["registered_at"]
    assert streams["orders"].source_defined_primary_key == [["order_id"]]
    assert [m.value for m in streams["customer_groups"].supported_sync_modes] == ["full_refresh"]
    assert "dropshipping_details" in streams["orders"].json_schema["properties"]
    assert api.log.count() == 0  # discover needs no request


def test_orders_filtered_on_update_time_are_still_read_with_their_creation_cursor(sync, cartum_factory):
    # The docs do not say whether orders/get from/to mean creation or update time: on a shop
    # where they mean update time, an old order changed today comes back in the incremental window.
    api = cartum_factory(tidy=True, users=30, orders=60)
    api.switches["orders_date_field"] = "updated"
    config = cartum_config_for(api, orders_window_days=366)
    first = sync.run(config, ["orders"], "incremental")
    assert len(sync.records(first, "orders")) == 60
    old = min(api.shop.orders, key=lambda o: o["order_id"])
    old["stat_status"] = 5
    old["_updated"] = api.local_now().strftime("%Y-%m-%d %H:%M:%S")
    second = sync.run(config, ["orders"], "incremental", state=sync.last_states(first))
    again = {o["order_id"]: o for o in sync.records(second, "orders")}
    assert again[old["order_id"]]["stat_status"] == 5
    assert again[old["order_id"]]["stat_created"] == old["stat_created"]
    state = sync.last_states(second)[0]["stream"]["stream_state"]["stat_created_at"]
    assert state == sync.last_states(first)[0]["stream"]["stream_state"]["stat_created_at"]  # the old order does not move it back


def test_the_login_is_held_by_the_source_instance_not_by_its_config(sync, cartum_factory):
    """The streams of one source share one login; another source built from the very same config
    object logs in on its own (0.4.0 kept the login in a registry keyed by id(config))."""
    from airbyte_cdk.test.entrypoint_wrapper import read

    from source_cartum import SourceCartum

    api = cartum_factory(users=30, orders=20, tidy=True)
    config = cartum_config_for(api, page_size=25)
    catalog = sync.catalog(["users", "customer_groups", "price_levels", "orders"])
    first = SourceCartum(catalog=catalog, config=config)
    second = SourceCartum(catalog=catalog, config=config)
    assert first._shared is not second._shared
    for source, logins in ((first, 1), (second, 2)):
        output = read(source, config, catalog)
        assert {m.record.stream for m in output.records} == {"users", "customer_groups", "price_levels", "orders"}
        assert api.log.count(function="auth") == logins  # one per source, for its four streams
