"""The incremental users cursor against the Cartum emulator, in process: to the second, the
boundary second re-read and never lost, one request when nothing is new, DST in Europe/Kyiv,
legacy date states, and shops before API 3.30 (users_filter_precision: day)."""

from __future__ import annotations

from datetime import datetime, timedelta

from airbyte_cdk.models import FailureType
from harness.fixtures.cartum import cartum_config_for

FMT = "%Y-%m-%d %H:%M:%S"


def users_state(out_states: list[dict]) -> dict:
    return next(s["stream"]["stream_state"] for s in out_states if s["stream"]["stream_descriptor"]["name"] == "users")


def state_of(value: str) -> list[dict]:
    return [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"registered_at": value}}}]


def ids(sync, out) -> list[int]:
    return [u["id"] for u in sync.records(out, "users")]


def test_second_run_reads_the_new_users_and_the_cursors_second_only(sync, cartum_factory):
    # The demo: 300 users registered today (imported from UPgates), a first incremental run,
    # 25 more registrations, a second incremental run.
    api = cartum_factory(tidy=True, users=0, orders=0)
    now = api.local_now()
    first_users = [api.add_user(registered=now - timedelta(seconds=7 * k)) for k in range(300, 0, -1)]
    config = cartum_config_for(api, page_size=100)
    first = sync.run(config, ["users"], "incremental")
    assert ids(sync, first) == [u["id"] for u in first_users]
    cursor = first_users[-1]["registered"]
    state = sync.last_states(first)
    assert users_state(state) == {
        "registered_at": datetime.strptime(cursor, FMT).replace(tzinfo=api.tz).strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ids_at_cursor": [first_users[-1]["id"]],
    }

    new = [api.add_user() for _ in range(25)]
    api.log.clear()
    second = sync.run(config, ["users"], "incremental", state=state)
    assert not second.errors
    assert ids(sync, second) == [u["id"] for u in new]  # the 25 sign-ups only, not 325 (nor 26)
    # one page of 26 (the cursor's second is asked again, its user not emitted again) and the
    # request that confirms the short page is the end
    assert api.log.summary() == {"auth": 1, "users/export": 2}
    assert api.log.select(function="users/export")[0].body["from"] == cursor

    # the same state on a shop that filters by date only re-reads the whole day (the old behaviour)
    api.log.clear()
    by_day = sync.run({**config, "users_filter_precision": "day"}, ["users"], "incremental", state=state)
    assert api.log.select(function="users/export")[0].body["from"] == cursor[:10]
    same_day = [u["id"] for u in api.shop.users_by_id() if u["registered"][:10] >= cursor[:10] and u["id"] != first_users[-1]["id"]]
    assert ids(sync, by_day) == same_day and len(same_day) > 26


def test_nothing_new_costs_one_request_and_rereads_only_the_boundary_second(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=40, orders=0)
    last = datetime.strptime(max(u["registered"] for u in api.shop.users.values()), FMT) + timedelta(minutes=5)
    boundary = [api.add_user(registered=last) for _ in range(4)]  # four users share the last second
    config = cartum_config_for(api, page_size=50)
    first = sync.run(config, ["users"], "incremental")
    assert len(ids(sync, first)) == 44
    state = sync.last_states(first)

    assert users_state(state)["ids_at_cursor"] == [u["id"] for u in boundary]
    for _ in range(2):  # and again: the state does not move, nothing is emitted twice
        api.log.clear()
        idle = sync.run(config, ["users"], "incremental", state=state)
        assert api.log.summary() == {"auth": 1, "users/export": 2}  # the short page and its confirmation
        assert ids(sync, idle) == []
        assert users_state(sync.last_states(idle)) == users_state(state)
        state = sync.last_states(idle)

    # one more user in that same second (registered after the read) is not lost
    late = api.add_user(registered=last)
    again = sync.run(config, ["users"], "incremental", state=state)
    assert ids(sync, again) == [late["id"]]
    assert users_state(sync.last_states(again))["ids_at_cursor"] == [u["id"] for u in boundary] + [late["id"]]


def test_dst_fall_back_hour_in_kyiv_loses_no_user(sync, cartum_factory):
    # Europe/Kyiv, Sunday 2026-10-25: 04:00 EEST (+03:00) falls back to 03:00 EET (+02:00), so
    # 03:00-03:59 happen twice; the API writes and compares naive local times.
    api = cartum_factory(tidy=True, users=0, orders=0, timezone="Europe/Kyiv")
    for hour in (9, 15, 21):
        api.add_user(registered=datetime(2026, 10, 24, hour, 0))
    a = api.add_user(registered=datetime(2026, 10, 25, 3, 40))  # first pass, 00:40 UTC
    config = {**cartum_config_for(api), "start_date": "2026-10-01"}
    first = sync.run(config, ["users"], "incremental")
    assert len(ids(sync, first)) == 4
    state = sync.last_states(first)
    assert users_state(state) == {"registered_at": "2026-10-25T03:40:00+0300", "ids_at_cursor": [a["id"]]}

    # B registers at 03:10 of the second pass (01:10 UTC, after A): below A's naive 03:40.
    b = api.add_user(registered=datetime(2026, 10, 25, 3, 10))
    api.log.clear()
    second = sync.run(config, ["users"], "incremental", state=state)
    assert api.log.select(function="users/export")[0].body["from"] == "2026-10-25 02:40:00"  # one hour back
    assert ids(sync, second) == [b["id"]]  # A was emitted at the saved second already
    assert b["id"] in ids(sync, second), "a user of the repeated hour was lost"
    assert users_state(sync.last_states(second)) == {"registered_at": "2026-10-25T03:40:00+0300", "ids_at_cursor": [a["id"]]}

    # after the repeated hour the cursor is unambiguous again and exact
    c = api.add_user(registered=datetime(2026, 10, 25, 4, 5))  # +02:00
    third = sync.run(config, ["users"], "incremental", state=sync.last_states(second))
    assert ids(sync, third) == [b["id"], c["id"]]  # the repeated hour is re-read (B again), A is not re-emitted
    assert users_state(sync.last_states(third)) == {"registered_at": "2026-10-25T04:05:00+0200", "ids_at_cursor": [c["id"]]}
    api.log.clear()
    fourth = sync.run(config, ["users"], "incremental", state=sync.last_states(third))
    assert api.log.select(function="users/export")[0].body["from"] == "2026-10-25 04:05:00"
    assert ids(sync, fourth) == [] and api.log.count(function="users/export") == 2
    for record in sync.records(first, "users") + sync.records(third, "users"):
        assert record["registered_at"].startswith(record["registered"].replace(" ", "T"))


def test_legacy_date_state_is_read_as_that_days_midnight(sync, cartum_factory):
    # 0.1.0 saved {"registered_at": "YYYY-MM-DD"}; the next sync reads from that shop-local day on
    api = cartum_factory(tidy=True, users=150, orders=0)
    day = sorted(u["registered"] for u in api.shop.users.values())[-20][:10]
    config = cartum_config_for(api)
    out = sync.run(config, ["users"], "incremental", state=state_of(day))
    assert not out.errors
    assert api.log.select(function="users/export")[0].body["from"] == f"{day} 00:00:00"
    assert ids(sync, out) == [u["id"] for u in api.shop.users_by_id() if u["registered"][:10] >= day]
    newest = max(u["registered"] for u in api.shop.users.values())
    assert users_state(sync.last_states(out))["registered_at"].startswith(newest.replace(" ", "T"))
    # a state in the future (test_read's abnormal_state) is moved back to now with a warning:
    # it reads what registers from now on instead of nothing for good
    api.log.clear()
    future = sync.run(config, ["users"], "incremental", state=state_of("2999-01-01"))
    assert not future.records and api.log.count(function="users/export") >= 1
    assert api.log.select(function="users/export")[0].body["from"][:10] == api.local_now().strftime("%Y-%m-%d")
    assert any("lies in the future" in m.log.message for m in future.logs)
    assert users_state(sync.last_states(future))["registered_at"] < "2999"


def test_shop_before_api_3_30_that_rejects_a_time_needs_day_precision(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=30, orders=0)
    api.switches["users_filter_time"] = "reject"
    config = cartum_config_for(api)
    failed = sync.run(config, ["users"], "incremental", fail=True)
    errors = [e.trace.error for e in failed.errors]
    assert any(e.failure_type == FailureType.config_error and "users_filter_precision" in e.message for e in errors)
    assert api.log.count(function="users/export") == 1  # a definite answer: not retried

    day = {**config, "users_filter_precision": "day"}
    api.log.clear()
    first = sync.run(day, ["users"], "incremental")
    assert not first.errors and len(ids(sync, first)) == 30
    assert all(len(e.body["from"]) == 10 for e in api.log.select(function="users/export"))
    new = api.add_user()
    second = sync.run(day, ["users"], "incremental", state=sync.last_states(first))
    assert new["id"] in ids(sync, second)


def test_shop_before_api_3_30_that_ignores_the_time_loses_nothing(sync, cartum_factory):
    # an old API that drops the time part filters by the date: more re-reading, no loss
    api = cartum_factory(tidy=True, users=60, orders=0)
    api.switches["users_filter_time"] = "ignore"
    config = cartum_config_for(api)
    first = sync.run(config, ["users"], "incremental")
    cursor = max(u["registered"] for u in api.shop.users.values())
    new = [api.add_user() for _ in range(3)]
    second = sync.run(config, ["users"], "incremental", state=sync.last_states(first))
    assert not second.errors
    already = set(users_state(sync.last_states(first))["ids_at_cursor"])
    assert ids(sync, second) == [u["id"] for u in api.shop.users_by_id() if u["registered"][:10] >= cursor[:10] and u["id"] not in already]
    assert {u["id"] for u in new} <= set(ids(sync, second))


def test_cursor_a_little_ahead_still_reads_and_a_future_registration_does_not_move_it(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=20, orders=0)
    config = cartum_config_for(api)
    # a shop clock (or shop_timezone setting) some minutes ahead of this machine: still one request
    ahead = (api.local_now() + timedelta(minutes=30)).replace(tzinfo=api.tz).strftime("%Y-%m-%dT%H:%M:%S%z")
    out = sync.run(config, ["users"], "incremental", state=state_of(ahead))
    assert not out.errors and api.log.count(function="users/export") == 1
    # a bogus registration date in the future is read and emitted (with a warning), does not push
    # the cursor past the sync's start, and is not emitted again by the next sync
    bogus = api.add_user(registered=api.local_now() + timedelta(days=3))
    first = sync.run(config, ["users"], "incremental")
    assert len(ids(sync, first)) == 21 and bogus["id"] in ids(sync, first)
    assert users_state(sync.last_states(first))["ids_ahead"] == {str(bogus["id"]): bogus["registered"]}
    new = api.add_user()
    second = sync.run(config, ["users"], "incremental", state=sync.last_states(first))
    assert ids(sync, second) == [new["id"]]
    assert users_state(sync.last_states(second))["ids_ahead"] == {str(bogus["id"]): bogus["registered"]}
