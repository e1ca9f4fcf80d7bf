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


def test_catalog_import_of_prices_as_seed_001(cartum_write_factory):
    api = cartum_write_factory(users=0)
    call = session(api)
    seed = {"article": "BH-12345", "price": 1500, "price_old": 1600,
            "price_levels": [{"level_id": 3, "price": 1000}, {"level_id": 4, "price": 900}]}
    _, answer = call("catalog/import", products=[seed])
    assert answer["status"] == "OK" and answer["response"]["log"][0]["info"][0]["code"] == 0
    product = api.products["BH-12345"]
    assert (product["price"], product["price_old"], product["price_levels"]) == (1500, 1600, {3: 1000, 4: 900})
    # the retail level through price_levels: the seed's error; an unknown level and article too
    retail = {"article": "UA-2001", "price_levels": [{"level_id": 2, "price": 800}]}
    unknown_level = {"article": "UA-2001", "price_levels": [{"level_id": 9, "price": 800}]}
    _, answer = call("catalog/import", products=[retail, unknown_level, {"article": "NEW-1", "price": 5}, {"price": 1}])
    assert answer["status"] == "WARNING"
    log = [e["info"][0] for e in answer["response"]["log"]]
    assert log[0] == {"code": 2, "message": 'Import of prices for level "2" ("level_id") of the "price_levels" array '
                                            "object is performed in a different way"}
    assert log[1]["code"] == 2 and "not found" in log[1]["message"]
    assert [e["code"] for e in log[2:]] == [1, 1]
    assert api.products["UA-2001"]["price_levels"] == {} and "NEW-1" not in api.products
    api.switches.update(catalog_unknown_article="create", catalog_retail_level_error="request")
    _, answer = call("catalog/import", products=[{"article": "NEW-1", "price": 5}, retail])
    assert answer["status"] == "ERROR" and "different way" in answer["response"]["message"]
    _, answer = call("catalog/import", products=[{"article": "NEW-1", "price": 5}])
    assert answer["status"] == "OK" and api.products["NEW-1"]["price"] == 5
