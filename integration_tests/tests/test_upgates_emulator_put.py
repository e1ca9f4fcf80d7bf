"""The UPgates emulator's PUT /customers itself (seed 002), through plain HTTP."""

from __future__ import annotations

import requests

from emulators.upgates import UpgatesEmulator


def put(api: UpgatesEmulator, customers: list, **kw) -> requests.Response:
    return requests.put(f"{api.url}/api/v2/customers", json={"customers": customers}, auth=(api.login, api.api_key), timeout=10, **kw)


def test_matched_by_email_case_insensitive_and_unknown_never_created(upgates_write_api):
    api = upgates_write_api
    first = api.customers[1]
    before = len(api.customers)
    answer = put(api, [
        {"login": {"email": first["login"]["email"].upper()}, "newsletter_accept": "excluded", "metas": [{"key": "loyalty_code", "value": "L1"}]},
        {"login": {"email": "nobody@example.org"}, "newsletter_accept": "yes"},
    ])
    assert answer.status_code == 200
    body = answer.json()["customers"]
    assert body[0]["updated_yn"] is True and body[0]["messages"] == []
    assert body[1] == {"email": "nobody@example.org", "updated_yn": False, "messages": [
        {"object": "customer", "property": "login.email", "message": "Customer not found", "level": "error"}]}
    assert len(api.customers) == before
    assert first["newsletter_accept"] == "excluded" and first["newsletter_yn"] is False
    assert {m["key"]: m["value"] for m in first["metas"]}["loyalty_code"] == "L1"
    assert "source" in {m["key"] for m in first["metas"]}  # other metas stay


def test_more_than_the_maximum_is_refused_whole_and_counts(upgates_write_factory):
    api = upgates_write_factory(max_write_items=3)
    items = [{"login": {"email": c["login"]["email"]}, "newsletter_accept": "no"} for c in list(api.customers.values())[:4]]
    answer = put(api, items)
    assert answer.status_code == 413 and "At most 3 customers" in answer.json()["messages"][0]["message"]
    assert api.requests_used("hour") == 1  # refused requests count against the quota too
    assert put(api, items[:3]).status_code == 200
    assert api.requests_used("hour") == 2


def test_nothing_processed_on_413(upgates_write_factory):
    api = upgates_write_factory(max_write_items=1)
    c1, c2 = api.customers[1], api.customers[2]
    put(api, [{"login": {"email": c1["login"]["email"]}, "metas": [{"key": "x", "value": "1"}]},
              {"login": {"email": c2["login"]["email"]}, "metas": [{"key": "x", "value": "1"}]}])
    assert "x" not in {m["key"] for m in c1["metas"] + c2["metas"]}


def test_invalid_newsletter_and_unknown_meta(upgates_write_factory):
    api = upgates_write_factory(meta_keys={"loyalty_code"})
    e1, e2 = api.customers[1]["login"]["email"], api.customers[2]["login"]["email"]
    body = put(api, [
        {"login": {"email": e1}, "newsletter_accept": "maybe"},
        {"login": {"email": e2}, "metas": [{"key": "loyalty_code", "value": "A"}, {"key": "bogus", "value": "B"}]},
    ]).json()["customers"]
    assert body[0]["updated_yn"] is False and body[0]["messages"][0]["property"] == "newsletter_accept"
    assert body[1]["updated_yn"] is False and "Unknown custom field 'bogus'" in body[1]["messages"][0]["message"]
    assert "loyalty_code" not in {m["key"] for m in api.customers[2]["metas"]}  # nothing of that customer written
    api.unknown_meta = "ignore"
    body = put(api, [{"login": {"email": e2}, "metas": [{"key": "loyalty_code", "value": "A"}, {"key": "bogus", "value": "B"}]}]).json()
    assert body["customers"][0]["updated_yn"] is True
    keys = {m["key"] for m in api.customers[2]["metas"]}
    assert "loyalty_code" in keys and "bogus" not in keys  # silently dropped: the case to guard against


def test_email_field_switch_and_answer_order(upgates_write_factory):
    api = upgates_write_factory(put_email_field="email", put_answer_order="reversed")
    e1, e2 = api.customers[1]["login"]["email"], api.customers[2]["login"]["email"]
    body = put(api, [{"login": {"email": e1}, "newsletter_accept": "no"}, {"email": e2, "newsletter_accept": "no"}]).json()
    assert [(c["email"], c["updated_yn"]) for c in body["customers"]] == [(e2, True), ("", False)]
    api.put_email_field = "either"
    body = put(api, [{"login": {"email": e1}, "newsletter_accept": "no"}, {"email": e2, "newsletter_accept": "no"}]).json()
    assert all(c["updated_yn"] for c in body["customers"])


def test_put_needs_auth_and_the_customers_right(upgates_write_factory):
    api = upgates_write_factory(rights={"groups"})
    e1 = api.customers[1]["login"]["email"]
    assert requests.put(f"{api.url}/api/v2/customers", json={"customers": []}, auth=(api.login, "wrong"), timeout=10).status_code == 401
    assert put(api, [{"login": {"email": e1}, "newsletter_accept": "no"}]).status_code == 403
