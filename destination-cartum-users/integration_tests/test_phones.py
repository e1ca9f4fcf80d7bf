"""Phones are normalised to E.164, not a reason to lose a customer (issue 13 item 2): the
record's country (Cartum `country`, UPgates `country_id`) or `default_phone_region` reads a
local number; a phone that cannot be read is dropped with a field-level note (default) or
rejects the record (`invalid_phone: reject_record`). Read back through users/export."""

from __future__ import annotations

import json

from cartum_write_helpers import catalog_dict, export_users, record, state, user, write

UPGATES = {"preset": "upgates_customer", "default_customer_group_id": 2}


def upgates(i: int, phone, country_id="CZ", **extra) -> dict:
    billing = {"street": f"Hlavní {i}", "city": "Brno"}
    if country_id is not None:
        billing["country_id"] = country_id
    return {"customer_id": i, "type": "customer", "firstname": "Jana", "surname": f"Nováková {i}",
            "login": {"email": f"c{i}@example.cz"}, "communication": {"phone": phone},
            "addresses": {"billing": billing}, **extra}


def test_local_phones_are_written_in_e164_with_the_records_country(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "rejected.jsonl"
    records = [
        upgates(1, "785 206 025"),                       # CZ, spaces
        upgates(2, "0905 123 456", country_id="SK"),     # SK, trunk 0
        upgates(3, "00420 602 123 456"),                 # international prefix 00
        upgates(4, "+420 602 111 222"),                  # already with its country code
        upgates(5, "602333444", country_id=None),        # no country: default_phone_region
        upgates(6, "12"),                                # unreadable: dropped, user still written
    ]
    result = write(api, [record(r, stream="customers") for r in records] + [state(1)],
                   catalog=catalog_dict(stream="customers"), mapping=UPGATES, default_phone_region="CZ",
                   rejected_records_path=str(rejects))
    assert result.error is None and result.states == [1]
    shop = export_users(api)
    phones = {i: shop[f"c{i}@example.cz"]["phone"] for i in range(1, 7)}
    assert phones == {1: "+420785206025", 2: "+421905123456", 3: "+420602123456", 4: "+420602111222",
                      5: "+420602333444", 6: ""}
    # every user arrived; the dropped phone is a field-level note, not a rejection
    lines = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert all(line["kind"] == "correction" for line in lines)
    dropped = [line for line in lines if line["reason"].startswith("dropped")]
    assert [(d["key"], d["field"]) for d in dropped] == [("c6@example.cz", "phone")]
    assert "too short" in dropped[0]["reason"]


def test_cartum_country_names_read_ukrainian_local_numbers(cartum_write_api):
    api = cartum_write_api
    sent = [user(1, phone="063 123 45 67", country="Україна"), user(2, phone="(050) 765-43-21", country="Ukraine")]
    result = write(api, [record(u) for u in sent])
    assert result.error is None
    shop = export_users(api)
    assert shop["user1@example.com"]["phone"] == "+380631234567"
    assert shop["user2@example.com"]["phone"] == "+380507654321"


def test_without_a_country_a_local_phone_is_dropped_not_guessed(cartum_write_api):
    api = cartum_write_api
    result = write(api, [record(user(1, phone="0631234567"))])
    assert result.error is None
    assert export_users(api)["user1@example.com"]["phone"] == ""  # written, without a phone


def test_reject_record_rejects_only_unreadable_phones_without_a_request(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "rejected.jsonl"
    records = [upgates(1, "785 206 025"), upgates(2, "12"), upgates(3, "abc")]
    api.log.clear()
    result = write(api, [record(r, stream="customers") for r in records], catalog=catalog_dict(stream="customers"),
                   mapping=UPGATES, invalid_phone="reject_record", rejected_records_path=str(rejects),
                   max_rejected_percent=100)
    assert result.error is None
    rejected = [json.loads(line) for line in rejects.read_text().splitlines() if json.loads(line).get("kind") != "correction"]
    assert sorted(r["key"] for r in rejected) == ["c2@example.cz", "c3@example.cz"]
    assert all(r["code"] == 2 for r in rejected)
    (imp,) = api.log.select(function="users/import")
    assert [u["email"] for u in imp.body["users"]] == ["c1@example.cz"]
    assert imp.body["users"][0]["phone"] == "+420785206025"


def test_realistic_czech_slovak_shop_loses_no_customer_for_a_phone(cartum_write_api, tmp_path):
    """Issue 13's measurement: local phone forms of a Czech/Slovak shop, every customer with a
    billing country: rejected for the phone = 0, even with invalid_phone = reject_record."""
    api = cartum_write_api
    forms = ["785 206 025", "785206025", "0785 206 025", "+420 785 206 025", "00420785206025",
             "+420785206025", "602-123-456", "(+420) 602 123 456", "420602123456"]
    sk_forms = ["0905 123 456", "0905123456", "905 123 456", "+421 905 123 456", "00421 905 123 456"]
    records = [upgates(i, forms[i % len(forms)]) for i in range(90)]
    records += [upgates(100 + i, sk_forms[i % len(sk_forms)], country_id="SK") for i in range(50)]
    rejects = tmp_path / "rejected.jsonl"
    result = write(api, [record(r, stream="customers") for r in records] + [state(1)],
                   catalog=catalog_dict(stream="customers"), mapping=UPGATES, invalid_phone="reject_record",
                   rejected_records_path=str(rejects))
    assert result.error is None and result.states == [1]
    shop = export_users(api)
    assert all(shop[r["login"]["email"]]["phone"].startswith(("+420", "+421")) for r in records)
    lines = [json.loads(line) for line in rejects.read_text().splitlines()] if rejects.exists() else []
    assert [line for line in lines if line.get("kind") != "correction"] == []


def test_upgates_realistic_world_no_customer_with_a_country_rejected_for_the_phone(cartum_write_factory, tmp_path):
    """The UPgates emulator's real-world seed (local phones, nulls, case twins) through the
    upgates_customer preset, with the strictest choice invalid_phone = reject_record."""
    from emulators.upgates import UpgatesEmulator

    world = UpgatesEmulator(customers=600)
    customers = [world.render_customer(c) for c in world.customers.values()]
    api = cartum_write_factory(users=0)
    rejects = tmp_path / "rejected.jsonl"
    result = write(api, [record(c, stream="customers") for c in customers] + [state(1)],
                   catalog=catalog_dict(stream="customers"), mapping=UPGATES, invalid_phone="reject_record",
                   rejected_records_path=str(rejects), max_rejected_percent=100)
    assert result.error is None and result.states == [1]
    lines = [json.loads(line) for line in rejects.read_text().splitlines()] if rejects.exists() else []
    by_email = {c["login"]["email"]: c for c in customers if isinstance(c.get("login"), dict)}

    def has_country(c):
        billing = (c.get("addresses") or {}).get("billing") or {}
        return bool(billing.get("country_id"))

    phone_rejects = [l for l in lines if l["kind"] == "rejected" and "phone" in l["reason"]]
    assert [l["key"] for l in phone_rejects if has_country(by_email.get(l["key"], {}))] == []
    shop = export_users(api)
    written = [c for c in customers if c["login"]["email"] in shop]
    assert all(shop[c["login"]["email"]]["phone"].startswith("+") for c in written
               if (c.get("communication") or {}).get("phone") and has_country(c))
