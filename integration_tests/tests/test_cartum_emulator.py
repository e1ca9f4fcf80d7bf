"""The Cartum emulator's read side behaves as API-NOTES §2 and seed 001 say."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from emulators.cartum import CartumEmulator
from emulators.cartum_seed import USER_B2B_KEYS

USER_KEYS = {"id", "title", "email", "phone", "country", "city", "address", "registered", *USER_B2B_KEYS}


def call(api: CartumEmulator, function: str, body: Any = None, raw: bytes | None = None) -> dict[str, Any]:
    url = f"{api.url}/api/{function}/"
    if raw is not None:
        return requests.post(url, data=raw, headers={"Content-Type": "application/json"}, timeout=10).json()
    return requests.post(url, json=body or {}, timeout=10).json()


def token(api: CartumEmulator) -> str:
    answer = call(api, "auth", {"login": api.login, "password": api.password})
    assert answer["status"] == "OK" and len(answer["response"]["token"]) == 32
    return answer["response"]["token"]


def test_seeded_world_is_ukrainian_b2b(cartum_factory) -> None:
    cartum = cartum_factory(tidy=True)  # the old, tidy world: E.164 phones, every field filled
    users = cartum.shop.users_by_id()
    assert len(users) == 200 and len(cartum.shop.orders) == 300
    assert all(set(u) == USER_KEYS for u in users)
    assert all(u["phone"].startswith("+380") and u["country"] == "Україна" for u in users)
    assert any(ord(ch) > 0x400 for ch in users[0]["title"])  # Cyrillic
    assert [u["id"] for u in users] == sorted(u["id"] for u in users)
    assert [u["registered"] for u in users] == sorted(u["registered"] for u in users)
    assert any(g["dropshipping"] for g in cartum.shop.customer_groups)
    assert {u["customer_group_id"] for u in users} <= {g["id"] for g in cartum.shop.customer_groups}


def test_auth_rejects_bad_password_and_unknown_token(cartum: CartumEmulator) -> None:
    bad = call(cartum, "auth", {"login": cartum.login, "password": "nope"})
    assert bad["status"] == "ERROR" and bad["response"]["message"]
    assert call(cartum, "users/export", {"token": "f" * 32})["status"] == "AUTHORIZATION_ERROR"
    assert call(cartum, "users/export", {})["status"] == "UNAUTHORIZED"
    assert call(cartum, "users/frobnicate", {"token": token(cartum)})["status"] == "UNDEFINED_FUNCTION"
    answer = call(cartum, "users/export", raw=b"{not json")
    assert answer["status"] == "HTTP_ERROR" and answer["response"]["code"] == 400


def test_token_expires_after_its_lifetime(cartum_factory) -> None:
    api = cartum_factory(users=5, orders=0, token_lifetime=600)
    value = token(api)
    assert call(api, "users/export", {"token": value})["status"] == "OK"
    api.clock.advance(601)
    assert call(api, "users/export", {"token": value})["status"] == "AUTHORIZATION_ERROR"
    value = token(api)
    api.expire_tokens()
    assert call(api, "users/export", {"token": value})["status"] == "AUTHORIZATION_ERROR"


def test_users_export_pages_and_ends_with_empty(cartum: CartumEmulator) -> None:
    value = token(cartum)
    seen: list[int] = []
    offset = 0
    while True:
        answer = call(cartum, "users/export", {"token": value, "limit": 64, "offset": offset})
        if answer["status"] == "EMPTY":
            assert answer["response"] == []
            break
        page = answer["response"]["users"]
        seen += [u["id"] for u in page]
        offset += 64
    assert seen == [u["id"] for u in cartum.shop.users_by_id()]
    assert cartum.log.count(function="users/export") == 5  # 64+64+64+8, then nothing
    # without limit the offset is ignored; a limit above the cap is cut to it
    assert len(call(cartum, "users/export", {"token": value, "offset": 150})["response"]["users"]) == 200
    cartum.switches["limit_cap"] = 50
    assert len(call(cartum, "users/export", {"token": value, "limit": 100})["response"]["users"]) == 50


def test_users_export_filters_on_registration_in_all_formats(cartum: CartumEmulator) -> None:
    value = token(cartum)
    users = cartum.shop.users_by_id()
    pivot = users[100]["registered"]  # 'YYYY-MM-DD HH:MM:SS'
    day = pivot[:10]
    expect_day = [u["id"] for u in users if u["registered"][:10] >= day]
    for low in (day, datetime.strptime(day, "%Y-%m-%d").strftime("%d.%m.%Y")):
        got = call(cartum, "users/export", {"token": value, "from": low})["response"]["users"]
        assert [u["id"] for u in got] == expect_day
    got = call(cartum, "users/export", {"token": value, "from": pivot, "to": pivot})["response"]["users"]
    assert [u["registered"] for u in got] == [pivot] * len(got) and got
    to_day = call(cartum, "users/export", {"token": value, "to": day})["response"]["users"]
    assert [u["id"] for u in to_day] == [u["id"] for u in users if u["registered"][:10] <= day]  # inclusive
    assert call(cartum, "users/export", {"token": value, "from": "yesterday"})["status"] == "ERROR"


def test_users_export_time_filter_before_api_3_30(cartum: CartumEmulator) -> None:
    # switch users_filter_time: an API older than 3.30 rejects a time in from/to, or ignores it
    value = token(cartum)
    users = cartum.shop.users_by_id()
    pivot = users[100]["registered"]
    to_the_second = [u["id"] for u in users if u["registered"] >= pivot]
    whole_day = [u["id"] for u in users if u["registered"][:10] >= pivot[:10]]
    got = call(cartum, "users/export", {"token": value, "from": pivot})["response"]["users"]
    assert [u["id"] for u in got] == to_the_second
    cartum.switches["users_filter_time"] = "reject"
    answer = call(cartum, "users/export", {"token": value, "from": pivot})
    assert answer["status"] == "ERROR" and "from" in answer["response"]["message"]
    assert call(cartum, "users/export", {"token": value, "from": pivot[:10]})["status"] == "OK"
    cartum.switches["users_filter_time"] = "ignore"
    got = call(cartum, "users/export", {"token": value, "from": pivot})["response"]["users"]
    assert [u["id"] for u in got] == whole_day and len(whole_day) >= len(to_the_second)


def test_users_registered_in_the_repeated_dst_hour_compare_as_naive_local_times(cartum_factory) -> None:
    # Europe/Kyiv, 2026-10-25: 04:00 EEST falls back to 03:00 EET, 03:00-03:59 happen twice. The
    # API writes and compares naive local times, so the second pass sorts below the first.
    api = cartum_factory(users=0, orders=0)
    first = api.add_user(registered=datetime(2026, 10, 25, 3, 40))  # 00:40 UTC
    second = api.add_user(registered=datetime(2026, 10, 25, 3, 10))  # 01:10 UTC, registered later
    value = token(api)
    got = call(api, "users/export", {"token": value, "from": "2026-10-25 03:40:00"})["response"]["users"]
    assert [u["id"] for u in got] == [first["id"]]  # the later user is below a naive 03:40
    got = call(api, "users/export", {"token": value, "from": "2026-10-25 02:40:00"})["response"]["users"]
    assert [u["id"] for u in got] == [first["id"], second["id"]]


def test_add_user_appears_with_now_as_registration(cartum: CartumEmulator) -> None:
    user = cartum.add_user(title="Нова Користувачка")
    assert user["id"] == 201 and set(user) == USER_KEYS
    registered = datetime.strptime(user["registered"], "%Y-%m-%d %H:%M:%S")
    assert abs((cartum.local_now() - registered).total_seconds()) < 5
    value = token(cartum)
    got = call(cartum, "users/export", {"token": value, "from": user["registered"]})["response"]["users"]
    assert got[-1]["email"] == user["email"] and got[-1]["title"] == "Нова Користувачка"


def test_b2b_functions_and_fields(cartum: CartumEmulator) -> None:
    value = token(cartum)
    groups = call(cartum, "customer-groups/export", {"token": value})
    assert groups["status"] == "OK"
    drop = [g for g in groups["response"]["customer_groups"] if g["dropshipping"]]
    assert drop and set(drop[0]) >= {"visible_price_level", "product_visibility", "available_payment_methods"}
    levels = call(cartum, "price-levels/export", {"token": value})["response"]["price_levels"]
    assert {"id": 2, "title": "Роздрібна ціна"} in levels
    orders = call(cartum, "orders/get", {"token": value})["response"]["orders"]
    drop_ids = {g["id"] for g in drop}
    for order in orders:
        group = order["customer_details"]["group"]["id"]
        assert ("dropshipping_details" in order) == (group in drop_ids)
        assert "ownTTNPicked" in order["delivery_data"]
    assert any("dropshipping_details" in o for o in orders)


def test_shop_without_b2b_module(cartum_factory) -> None:
    api = cartum_factory(users=20, orders=20, b2b=False)
    value = token(api)
    for fn in ("customer-groups/export", "price-levels/export"):
        answer = call(api, fn, {"token": value})
        assert answer == {"status": "FORBIDDEN", "response": {"message": "Use of the method is not allowed"}}
    users = call(api, "users/export", {"token": value})["response"]["users"]
    assert users and not (set(users[0]) & set(USER_B2B_KEYS))
    orders = call(api, "orders/get", {"token": value})["response"]["orders"]
    assert orders and all("customer_details" not in o and "ownTTNPicked" not in o["delivery_data"] for o in orders)


def test_orders_get_filters(cartum_factory) -> None:
    cartum = cartum_factory(tidy=True)
    value = token(cartum)
    orders = sorted(cartum.shop.orders, key=lambda o: o["order_id"])
    day = orders[150]["stat_created"][:10]
    got = call(cartum, "orders/get", {"token": value, "from": day, "to": day})["response"]["orders"]
    assert [o["order_id"] for o in got] == [o["order_id"] for o in orders if o["stat_created"][:10] == day]
    got = call(cartum, "orders/get", {"token": value, "status": [2, 3]})["response"]["orders"]
    assert got and {o["stat_status"] for o in got} <= {2, 3}
    assert len(got) == sum(o["stat_status"] in (2, 3) for o in orders)
    got = call(cartum, "orders/get", {"token": value, "status": 4})["response"]["orders"]
    assert {o["stat_status"] for o in got} == {4}
    got = call(cartum, "orders/get", {"token": value, "ids": [3, 7, 99999]})["response"]["orders"]
    assert [o["order_id"] for o in got] == [3, 7]
    page = call(cartum, "orders/get", {"token": value, "limit": 10, "offset": 295})["response"]["orders"]
    assert [o["order_id"] for o in page] == [o["order_id"] for o in orders[295:]]
    assert all("_updated" not in o for o in page)
    future = (cartum.local_now() + timedelta(days=3)).strftime("%Y-%m-%d")
    assert call(cartum, "orders/get", {"token": value, "from": future})["status"] == "EMPTY"


def test_orders_filter_on_update_time_when_switched(cartum: CartumEmulator) -> None:
    value = token(cartum)
    old = min(cartum.shop.orders, key=lambda o: o["order_id"])
    old["_updated"] = cartum.local_now().strftime("%Y-%m-%d %H:%M:%S")
    today = cartum.local_now().strftime("%Y-%m-%d")
    created = call(cartum, "orders/get", {"token": value, "from": today})
    ids = [o["order_id"] for o in created["response"]["orders"]] if created["status"] == "OK" else []
    assert old["order_id"] not in ids
    cartum.switches["orders_date_field"] = "updated"
    updated = call(cartum, "orders/get", {"token": value, "from": today})["response"]["orders"]
    assert old["order_id"] in [o["order_id"] for o in updated]


def test_add_order_and_log_counters(cartum: CartumEmulator) -> None:
    user = cartum.shop.users_by_id()[0]
    order = cartum.add_order(user_id=user["id"])
    assert order["order_id"] == 301 and order["user"] == user["id"]
    value = token(cartum)
    got = call(cartum, "orders/get", {"token": value, "ids": [301]})["response"]["orders"]
    assert got[0]["delivery_email"] == user["email"]
    assert cartum.log.count(function="orders/get") == 1 and cartum.log.count(function="auth") == 1


@pytest.mark.parametrize("shape", [[], {}, {"message": "Nothing found"}])
def test_empty_answer_shape_is_a_switch(cartum: CartumEmulator, shape: Any) -> None:
    cartum.switches["empty_response"] = shape
    answer = call(cartum, "users/export", {"token": token(cartum), "from": "2999-01-01"})
    assert answer == {"status": "EMPTY", "response": shape}


def test_forced_status_and_revoked_token_switches(cartum: CartumEmulator) -> None:
    value = token(cartum)
    cartum.switches["force_status"] = {"orders/get": ("EXCEPTION", "Deadlock found")}
    cartum.switches["force_times"] = {"orders/get": 1}
    assert call(cartum, "orders/get", {"token": value}) == {"status": "EXCEPTION", "response": {"message": "Deadlock found"}}
    assert call(cartum, "orders/get", {"token": value})["status"] == "OK"
    cartum.switches["revoke_token_on_call"] = {"users/export": 2}
    assert call(cartum, "users/export", {"token": value})["status"] == "OK"
    assert call(cartum, "users/export", {"token": value})["status"] == "AUTHORIZATION_ERROR"
    assert call(cartum, "users/export", {"token": value})["status"] == "AUTHORIZATION_ERROR"  # revoked for good
    assert call(cartum, "users/export", {"token": token(cartum)})["status"] == "OK"


def test_imported_users_come_back_from_users_export(cartum: CartumEmulator) -> None:
    value = token(cartum)
    answer = call(cartum, "users/import", {"token": value, "users": [
        {"title": "Петренко Іван", "email": "ivan.petrenko@ukr.net", "phone": "+380631234567",
         "customer_group_id": 5, "manager_id": 62, "company": "ТОВ «Схід»"}]})
    assert answer["status"] == "OK"
    users = call(cartum, "users/export", {"token": value, "limit": 500})["response"]["users"]
    imported = users[-1]
    assert imported["email"] == "ivan.petrenko@ukr.net" and imported["id"] == 201
    assert set(imported) >= USER_KEYS and imported["manager"]["id"] == 62 and imported["customer_group_id"] == 5


# ---- the default world looks like a real shop's (issue 13 item 1) ------------------------------
def test_default_world_looks_like_a_real_shop(cartum_factory) -> None:
    import collections
    import re

    api = cartum_factory(users=1000, orders=60)
    users = api.shop.users_by_id()
    assert len(users) == 1000 and len(api.shop.orders) == 60
    phones = [u["phone"] for u in users]
    local = [p for p in phones if isinstance(p, str) and p and not p.startswith("+380")]
    assert len(local) > 300  # written the local way: 050 123 45 67, 0501234567, (050) 123-45-67 ...
    assert any(isinstance(p, str) and re.fullmatch(r"0\d{9}", p) for p in phones)
    assert any(isinstance(p, str) and " " in p for p in phones)
    assert None in phones and "" in phones
    assert any(u["city"] is None for u in users) and any(u["address"] == "" for u in users)
    emails = collections.Counter(u["email"].lower() for u in users)
    assert any(n > 1 for n in emails.values())  # e-mails differing only in case
    assert len({u["email"] for u in users}) == 1000
    assert any(len(u["title"]) == 300 for u in users)
    assert any(any(ch in u["title"] for ch in "ëŁüŽČñ") for u in users)
    per_second = collections.Counter(u["registered"] for u in users)
    assert max(per_second.values()) >= 200  # a bulk import: hundreds of users in one second
    now = api.local_now().strftime("%Y-%m-%d %H:%M:%S")
    assert sum(u["registered"] > now for u in users) == 2
    assert sum(o["stat_created"] > now for o in api.shop.orders) == 2
    # the users/export `to` bound keeps the future out; switch `ignore_to` lets it through
    value = token(api)
    today = api.local_now().strftime("%Y-%m-%d")
    got = call(api, "users/export", {"token": value, "to": today})["response"]["users"]
    assert len(got) == 998
    api.switches["ignore_to"] = True
    assert len(call(api, "users/export", {"token": value, "to": today})["response"]["users"]) == 1000
    assert len(call(api, "orders/get", {"token": value, "to": today})["response"]["orders"]) == 60


def test_types_vary_when_switched(cartum_factory) -> None:
    api = cartum_factory(tidy=True, users=30, orders=30)
    api.switches["vary_types"] = True
    value = token(api)
    users = call(api, "users/export", {"token": value})["response"]["users"]
    assert all(isinstance(u["balance"], str) and isinstance(u["customer_group_id"], str) for u in users)
    assert any(isinstance(u["manager"], dict) and isinstance(u["manager"]["phone"], str) for u in users)
    orders = call(api, "orders/get", {"token": value})["response"]["orders"]
    assert all(isinstance(o["total_sum"], str) and isinstance(o["payed"], bool) for o in orders)
    assert all(isinstance(u["balance"], (int, float)) for u in api.shop.users.values())  # the world is unchanged


def test_stall_and_bulk_import(cartum_factory) -> None:
    api = cartum_factory(tidy=True, users=3, orders=0)
    api.stall(3, function="users/export")
    value = token(api)
    with pytest.raises(requests.Timeout):
        requests.post(f"{api.url}/api/users/export/", json={"token": value}, timeout=1)
    assert call(api, "users/export", {"token": value})["status"] == "OK"  # spent after one call
    added = api.bulk_import(150)
    assert len({u["registered"] for u in added}) == 1 and len(api.shop.users) == 153


def test_silent_page_cap(cartum_factory) -> None:
    api = cartum_factory(tidy=True, users=120, orders=0)
    api.switches["limit_cap"] = 50
    value = token(api)
    page = call(api, "users/export", {"token": value, "limit": 100, "offset": 0})
    assert page["status"] == "OK" and len(page["response"]["users"]) == 50  # no word of the cap
