"""The emulator's users/import itself (the test bed must be honest): seed 000's example,
both log shapes, upsert, validation codes, the switches."""

from __future__ import annotations

import requests

SEED_USERS = [
    {"title": "Ivanov Ivan", "email": "ivan@mail.net", "phone": "+380631234567", "country": "Ukraine", "city": "Kyiv",
     "address": "Khreschatyk St, 22", "discount_card": {"discount": 3, "active": True, "date_limit": "2019-01-01", "status": 1}},
    {"title": "Ivanova Elena", "email": "elena@mail.net", "phone": "+380631234567", "country": "Ukraine", "city": "Kyiv",
     "address": "Khreschatyk St, 1", "discount_card": {"discount": 3, "active": True, "date_limit": "2020-01-01", "status": 1}},
    {"email": "some@email"},
]


def session(api):
    token = requests.post(f"{api.url}/api/auth/", json={"login": api.login, "password": api.password}, timeout=5).json()["response"]["token"]

    def call(function, **body):
        r = requests.post(f"{api.url}/api/{function}/", json={"token": token, **body}, timeout=5)
        return r.status_code, r.json() if r.headers.get("Content-Type", "").startswith("application/json") else r.text

    return call


def test_seed_example_answer(cartum_write_factory):
    api = cartum_write_factory(users=0)
    _, answer = session(api)("users/import", users=SEED_USERS)
    assert answer["status"] == "WARNING"
    log = answer["response"]["log"]
    assert [[i["code"] for i in e["info"]] for e in log] == [[0], [0], [1, 2]]
    assert log[2]["info"][1]["message"] == "The email field (some@email) is set incorrectly!"
    _, export = session(api)("users/export")
    users = export["response"]["users"]
    assert [u["email"] for u in users] == ["ivan@mail.net", "elena@mail.net"]
    assert list(users[0]) == ["id", "title", "email", "phone", "country", "city", "address", "registered",
                              "customer_group_id", "balance", "balance_currency", "manager", "site_link", "company",
                              "role", "discount_card"]


def test_flat_shape_upsert_and_b2b_fields(cartum_write_factory):
    api = cartum_write_factory(users=0, switches={"import_log_shape": "flat"})
    call = session(api)
    _, a = call("users/import", users=[{"title": "A", "email": "a@x.io"}])
    assert a == {"status": "OK", "response": {"log": [{"code": 0, "message": "User a@x.io import completed successfully!"}]}}
    # seed 001: an update carries only the e-mail and B2B fields (no title needed)
    _, b = call("users/import", users=[{"email": "a@x.io", "customer_group_id": 3, "balance": 5000, "balance_currency": 1,
                                        "manager_id": 61, "site_link": "url.com", "company": "Company name", "role": "Position"}])
    assert b["status"] == "OK"
    user = call("users/export")[1]["response"]["users"][0]
    assert (user["title"], user["customer_group_id"], user["manager"]["id"], user["company"]) == ("A", 3, 61, "Company name")
    _, c = call("users/import", users=[{"title": "B", "email": "b@x.io", "discount_card": {"discount": 101, "status": 4}}])
    assert c["status"] == "WARNING" and c["response"]["log"][0]["code"] == 2


def test_switches(cartum_write_factory):
    api = cartum_write_factory(users=0, switches={"import_max_users": 2, "import_oversize": "http413",
                                                  "import_poison": {"p@x.io"}, "import_unhandled": {"u@x.io": 1},
                                                  "import_expire_tokens_after": 3})
    call = session(api)
    status, _ = call("users/import", users=[{"title": "x", "email": f"{i}@x.io"} for i in range(3)])
    assert status == 413
    _, poison = call("users/import", users=[{"title": "x", "email": "p@x.io"}, {"title": "y", "email": "ok@x.io"}])
    assert poison["status"] == "EXCEPTION" and "ok@x.io" not in api.shop.users
    _, first = call("users/import", users=[{"title": "x", "email": "u@x.io"}])
    assert first["response"]["log"][0]["info"][0]["code"] == 3
    _, expired = call("users/import", users=[{"title": "x", "email": "u@x.io"}])
    assert expired["status"] == "AUTHORIZATION_ERROR"  # three imports done: every token expired
    assert session(api)("users/import", users=[{"title": "x", "email": "u@x.io"}])[1]["status"] == "OK"
