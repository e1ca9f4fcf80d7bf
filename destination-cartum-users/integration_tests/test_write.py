"""Write tests against the Cartum emulator, in-process (DestinationCartumUsers.write with the
CDK's message parsing): every written user is read back through users/export and compared
field by field; mixed codes, token expiry, faults, bisection, state ordering, threshold."""

from __future__ import annotations

import json
import time

import pytest
from airbyte_cdk.models import FailureType, Type
from destination_common.phones import normalise_phone, region_for_country
from destination_cartum_users.client import TOKEN_STATUSES

from cartum_write_helpers import catalog_dict, export_users, record, state, user, write

IMPORT = "users/import"


def expected_export(sent: dict, existing: dict | None, api) -> dict:
    """What users/export must show after importing `sent` (upsert: given fields change)."""
    exp = dict(existing or {})
    for k in ("title", "email", "phone", "country", "city", "address", "customer_group_id", "balance",
              "balance_currency", "site_link", "company", "role"):
        if k in sent:
            exp[k] = sent[k]
    if "manager_id" in sent:
        exp["manager"] = api.shop.managers[sent["manager_id"]]
    if "discount_card" in sent:
        exp["discount_card"] = {**exp.get("discount_card", {}), **sent["discount_card"]}
    return exp


def test_written_users_read_back_field_by_field(cartum_write_api):
    api = cartum_write_api
    before = export_users(api)
    existing_email, existing = next(iter(before.items()))
    sent = []
    for i in range(23):
        u = user(i, country="Україна", city="Київ", address=f"вул. Хрещатик, {i}")
        if i % 2:
            u.update(customer_group_id=3, manager_id=61, balance=i * 10.5, balance_currency=2,
                     site_link=f"https://c{i}.ua", company=f"ТОВ «Компанія {i}»", role="Директор")
        if i % 3 == 0:
            u["discount_card"] = {"discount": i % 100, "active": True, "date_limit": "2027-12-31", "status": 1 + i % 3}
        sent.append(u)
    # an update of an existing user: only the given fields change, the id stays
    update = {"title": "Оновлене Ім'я", "email": existing_email, "city": "Львів", "manager_id": 62}
    sent.append(update)
    api.log.clear()
    result = write(api, [record(u) for u in sent] + [state(1)], batch_size=7)
    assert result.error is None and result.states == [1]
    # 24 users, batch 7: 4 import requests, plus the login and the customer groups
    assert api.log.summary() == {"auth": 1, "customer-groups/export": 1, IMPORT: 4}
    after = export_users(api)
    assert len(after) == len(before) + 23
    new_ids = sorted(after[u["email"]]["id"] for u in sent[:-1])
    assert new_ids == list(range(max(x["id"] for x in before.values()) + 1, max(new_ids) + 1))
    for u in sent[:-1]:
        got = after[u["email"]]
        exp = expected_export(u, None, api)
        for k, v in exp.items():
            assert got[k] == v, (u["email"], k)
        assert set(got) >= {"id", "registered", "customer_group_id", "balance", "manager", "site_link", "company", "role"}
    got = after[existing_email]
    assert got == expected_export(update, existing, api)
    assert got["id"] == existing["id"] and got["registered"] == existing["registered"]


@pytest.mark.parametrize("shape", ["nested", "flat"])
def test_mixed_codes_and_local_rejects(cartum_write_factory, tmp_path, shape):
    api = cartum_write_factory(switches={
        "import_log_shape": shape,
        "import_unhandled": {"user2@example.com": None, "user3@example.com": 1},
    })
    rejects = tmp_path / "rejected.jsonl"
    records = [
        user(0),
        user(1, manager_id=99),                    # unknown manager: only the shop knows → code 2
        user(2),                                   # code 3 every time → retried once, rejected
        user(3),                                   # code 3 once → accepted on the retry
        user(4, balance_currency=9),               # unknown currency → code 2 from the shop
        user(5, email="not-an-email"),             # local code 2: no request
        user(6, discount_card={"discount": 150}),  # local code 2
        {"email": "no-title@example.com"},         # local code 1
        user(8, customer_group_id=42),             # local: the shop has no group 42
    ]
    result = write(api, [record(r) for r in records] + [state(1)], rejected_records_path=str(rejects),
                   max_rejected_percent=100)
    assert result.error is None and result.states == [1]
    shop = export_users(api)
    assert "user0@example.com" in shop and "user3@example.com" in shop
    for gone in ("user1@example.com", "user2@example.com", "user4@example.com", "no-title@example.com", "user8@example.com"):
        assert gone not in shop
    lines = [json.loads(l) for l in rejects.read_text().splitlines()]
    by_key = {l["key"]: l for l in lines}
    assert {k: by_key[k]["code"] for k in by_key} == {
        "not-an-email": 2, "user6@example.com": 2, "no-title@example.com": 1, "user8@example.com": 2,
        "user1@example.com": 2, "user2@example.com": 3, "user4@example.com": 2,
    }
    assert "manager_id field (99)" in by_key["user1@example.com"]["reason"]
    assert "still failing after one retry" in by_key["user2@example.com"]["reason"]
    assert by_key["user6@example.com"]["record"] == records[6]
    # one request with the 5 users that passed local validation, one retry with the 2 code-3 users
    imports = api.log.select(function=IMPORT)
    assert [len(r.body["users"]) for r in imports] == [5, 2]
    summary = [m.log.message for m in result.out if m.type == Type.LOG]
    assert summary == []  # logs go through the logger, not the output


def test_summary_and_rejects_logged_by_key_only(cartum_write_api, caplog):
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(cartum_write_api, [record(user(1)), record(user(2, email="bad@", note="PRIVATE-NOTE"))], max_rejected_percent=50)
    assert result.error is None
    text = caplog.text
    assert "Rejected record bad@ of stream users: code 2" in text
    assert "PRIVATE-NOTE" not in text and cartum_write_api.password not in text
    assert "Write summary (destination-cartum-users): records in 2, accepted 1, rejected 1 (code 2: 1)" in text
    assert "requests 3" in text


def test_duplicates_within_a_batch_collapse_last_wins(cartum_write_api):
    api = cartum_write_api
    records = [record(user(1, city="Київ")), record(user(2)), record(user(1, city="Одеса", email=" user1@example.com ")),
               record(user(3, email="User3@Example.com")), record(user(3))]
    result = write(api, records)
    assert result.error is None
    sent = api.log.select(function=IMPORT)[0].body["users"]
    # the same e-mail collapses; e-mails differing only in case are two users (undocumented
    # whether Cartum tells them apart: collapsing them could lose one)
    assert sorted(u["email"] for u in sent) == ["User3@Example.com", "user1@example.com", "user2@example.com", "user3@example.com"]
    shop = export_users(api)
    assert shop["user1@example.com"]["city"] == "Одеса" and {"User3@Example.com", "user3@example.com"} <= set(shop)


def test_token_expiry_mid_write_logs_in_once_more(cartum_write_factory):
    api = cartum_write_factory(switches={"import_expire_tokens_after": 1})
    result = write(api, [record(user(i)) for i in range(9)], batch_size=3)
    assert result.error is None
    assert api.log.count(function="auth") == 2
    outcomes = [r.outcome for r in api.log.select(function=IMPORT)]
    refused = [o for o in outcomes if o != "OK"]
    # 3 batches, plus each import refused for the expired token, resent: the one in flight when
    # the token expired and, at most, the next one, whose request was built with the old token
    # while it waited for its slot (requests_through_http_client); one new login for both
    assert outcomes.count("OK") == 3 and 1 <= len(refused) <= 2 and set(refused) <= TOKEN_STATUSES
    shop = export_users(api)
    assert all(f"user{i}@example.com" in shop for i in range(9))


def test_token_lifetime_runs_out_while_records_arrive(cartum_write_factory):
    api = cartum_write_factory(token_lifetime=600)

    def messages():
        for i in range(4):
            yield record(user(i))
        api.clock.advance(601)  # ten minutes of a slow source
        for i in range(4, 8):
            yield record(user(i))

    result = write(api, messages(), batch_size=4)
    assert result.error is None and api.log.count(function="auth") == 2
    assert len(export_users(api)) == 5 + 8


def test_transient_faults_are_retried_and_nothing_is_lost_or_doubled(cartum_write_api):
    api = cartum_write_api
    # armed in order before the write: the first import request meets them one after the
    # other (each retry takes the next), whatever the loop's threads do meanwhile
    for kind, kwargs in [("status", {"status": 502, "times": 2}), ("drop", {}), ("truncate", {}), ("cut", {}),
                         ("timeout", {"delay": 1.5})]:
        api.inject(kind, path="/api/users/import", **kwargs)
    result = write(api, [record(user(i)) for i in range(20)] + [state(1)], batch_size=4, request_timeout_seconds=1,
                   http_max_retries=6)
    assert result.error is None and result.states == [1]
    shop = export_users(api)
    assert len(shop) == 5 + 20 and all(f"user{i}@example.com" in shop for i in range(20))
    deadline = time.monotonic() + 5  # the emulator logs the timed-out request when its late answer is done
    while api.log.count(function=IMPORT) < 11 and time.monotonic() < deadline:
        time.sleep(0.05)
    imports = sorted(api.log.select(function=IMPORT), key=lambda r: r.started)
    assert [r.fault for r in imports] == ["status", "status", "drop", "truncate", "cut", "timeout"] + [None] * 5
    # a truncated or cut answer may hide a completed import: the resend is an upsert, no doubles
    assert len({u["id"] for u in shop.values()}) == len(shop)


def test_persistent_outage_fails_transient_without_state_for_unsettled_records(cartum_write_api):
    api = cartum_write_api
    api.inject("status", status=503, path="/api/users/import", skip=1, times=100)
    result = write(api, [record(user(1)), state(1), record(user(2)), state(2)], batch_size=1)
    assert result.states == [1]
    assert result.error is not None and result.error.failure_type == FailureType.transient_error
    assert "users/import after 4 attempts" in result.error.message
    assert api.log.count(function=IMPORT) == 1 + 4


def test_refused_request_is_bisected_until_the_offender_is_isolated(cartum_write_factory, tmp_path):
    api = cartum_write_factory(switches={"import_poison": {"user11@example.com"}})
    rejects = tmp_path / "r.jsonl"
    result = write(api, [record(user(i)) for i in range(16)], batch_size=16, rejected_records_path=str(rejects))
    assert result.error is None
    shop = export_users(api)
    assert sum(f"user{i}@example.com" in shop for i in range(16)) == 15
    line = json.loads(rejects.read_text())
    assert line["key"] == "user11@example.com" and line["code"] == "EXCEPTION"
    sizes = [len(r.body["users"]) for r in api.log.select(function=IMPORT)]
    assert sizes == [16, 8, 8, 4, 2, 2, 1, 1, 4]  # depth first: 8-15, 8-11, 10-11, 11; then 12-15


@pytest.mark.parametrize("how", ["error", "http413"])
def test_batch_limit_of_the_shop_is_learned_from_the_refusal(cartum_write_factory, how):
    api = cartum_write_factory(switches={"import_max_users": 10, "import_oversize": how})
    result = write(api, [record(user(i)) for i in range(80)], batch_size=40)
    assert result.error is None
    shop = export_users(api)
    assert sum(f"user{i}@example.com" in shop for i in range(80)) == 80
    sizes = [len(r.body["users"]) for r in api.log.select(function=IMPORT)]
    # one refused request teaches the limit the shop names; everything after fits
    assert sizes == [40] + [10] * 8


def test_a_size_refusal_without_a_number_halves_until_it_fits(cartum_write_factory):
    api = cartum_write_factory(switches={"import_max_users": 10, "import_oversize_names_limit": False})
    result = write(api, [record(user(i)) for i in range(80)], batch_size=40)
    assert result.error is None
    sizes = [len(r.body["users"]) for r in api.log.select(function=IMPORT)]
    assert sizes == [40, 20, 10, 10, 10, 10, 10, 10, 10, 10]


def test_state_is_echoed_only_after_every_record_before_it_is_settled(cartum_write_factory, tmp_path):
    api = cartum_write_factory(switches={"import_unhandled": {"user7@example.com": None}})
    messages, expected_before = [], {}
    n = 0
    for i in range(30):
        messages.append(record(user(i) if i != 13 else user(i, phone="bad")))
        if i % 4 == 3:
            n += 1
            messages.append(state(n))
            expected_before[n] = i
    messages.append(state(n + 1))
    expected_before[n + 1] = 29
    rejects = tmp_path / "r.jsonl"
    checked = []

    def on_output(message):
        if message.type != Type.STATE:
            return
        k = message.state.stream.stream_state.n
        shop = set(api.shop.users)
        rejected = {json.loads(l)["key"] for l in rejects.read_text().splitlines()} if rejects.exists() else set()
        for i in range(expected_before[k] + 1):
            email = f"user{i}@example.com"
            assert email in shop or email in rejected, (k, email)
        checked.append(k)

    result = write(api, messages, batch_size=5, on_output=on_output, rejected_records_path=str(rejects),
                   max_rejected_percent=50)
    assert result.error is None
    assert checked == list(range(1, n + 2)) == result.states


def test_threshold_failure_after_flushing_everything_accepted(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "r.jsonl"
    records = [record(user(i) if i % 4 else user(i, email=f"broken-{i}")) for i in range(20)]
    result = write(api, records + [state(1)], rejected_records_path=str(rejects), max_rejected_percent=10)
    assert result.states == [1]
    err = result.error
    assert err is not None and err.failure_type == FailureType.config_error
    assert "5 of 20 records were rejected (25.0%), more than the allowed 10.0%" in err.message
    assert str(rejects) in err.message
    shop = export_users(api)
    assert sum(f"user{i}@example.com" in shop for i in range(20) if i % 4) == 15
    assert len(rejects.read_text().splitlines()) == 5


def test_unsupported_sync_mode_and_object_are_config_errors(cartum_write_api):
    for catalog, needle in ((catalog_dict(mode="overwrite"), "supports only: append_dedup"),
                            (catalog_dict(object_name="orders"), "does not have")):
        result = write(cartum_write_api, [record(user(1))], catalog=catalog)
        assert result.error is not None and result.error.failure_type == FailureType.config_error
        assert needle in result.error.message
    assert cartum_write_api.log.count(function=IMPORT) == 0


def test_stream_with_other_name_goes_to_its_destination_object(cartum_write_api):
    result = write(cartum_write_api, [record(user(1), stream="customers")], catalog=catalog_dict(stream="customers"))
    assert result.error is None and "user1@example.com" in export_users(cartum_write_api)


def test_bad_credentials_fail_before_reading_input(cartum_write_api):
    consumed = []

    def messages():
        consumed.append(1)
        yield record(user(1))

    result = write(cartum_write_api, messages(), password="wrong-password")
    assert result.error is not None and result.error.failure_type == FailureType.config_error
    assert "Check the API login and password" in result.error.message and "wrong-password" not in result.error.message
    assert consumed == []


def test_b2b_off_sends_no_b2b_fields(cartum_write_factory):
    api = cartum_write_factory(b2b=False)
    result = write(api, [record(user(1, customer_group_id=3, company="X"))], b2b=False)
    assert result.error is None
    sent = api.log.select(function=IMPORT)[0].body["users"][0]
    assert "customer_group_id" not in sent and "company" not in sent
    assert api.log.count(function="customer-groups/export") == 0


NEW_USER_DEFAULTS = {"title": "", "phone": "", "country": "", "city": "", "address": "", "customer_group_id": 2,
                     "balance": 0, "balance_currency": 1, "manager": None, "site_link": "", "company": "", "role": ""}


def test_cartum_users_copied_between_shops_read_back_identical(cartum_write_factory):
    """users/export records of one shop (what source-cartum reads) written with the
    `cartum_user` preset into another shop: every field but id and registered survives."""
    source = cartum_write_factory(users=40)
    target = cartum_write_factory(users=0)
    exported = export_users(source)
    result = write(target, [record(u) for u in exported.values()] + [state(1)], mapping={"preset": "cartum_user"}, batch_size=15)
    assert result.error is None and result.states == [1]
    copied = export_users(target)
    assert set(copied) == set(exported)
    for email, original in exported.items():
        got = copied[email]
        # phones arrive in E.164 (read in the user's country; an unreadable one is dropped)
        region = region_for_country(original["country"])
        phone = normalise_phone(original["phone"], region).e164 or "" if original["phone"] else ""
        # a null is not sent: the new user keeps the shop's default for that field
        expected = {k: NEW_USER_DEFAULTS.get(k) if v is None else v for k, v in original.items()}
        assert {k: v for k, v in got.items() if k not in ("id", "registered")} == {
            **{k: v for k, v in expected.items() if k not in ("id", "registered")}, "phone": phone
        }, email
    assert target.log.count(function=IMPORT) == 3


def test_upgates_customers_land_with_their_group(cartum_write_api):
    records = [
        {"customer_id": 1, "type": "customer", "firstname": "Ján", "surname": "Novák", "pricelist": "Základný",
         "communication": {"phone": "+421 905 123 456"}, "login": {"email": "jan@example.sk"},
         "groups": {"4": "Veľkoobchod"}, "addresses": {"billing": {"street": "Hlavná 1", "city": "Košice", "country_id": "SK"}}},
        {"customer_id": 2, "type": "company", "firstname": "Eva", "surname": "Malá", "company": {"name": "Malá s.r.o."},
         "login": {"email": "eva@example.cz"}, "groups": [], "addresses": {"billing": {"country_id": "CZ"}}},
        {"customer_id": 3, "type": "contact", "login": {"email": None}},
    ]
    mapping = {"preset": "upgates_customer", "group_mapping": [{"upgates": "Veľkoobchod", "customer_group_id": 3}],
               "default_customer_group_id": 2}
    result = write(cartum_write_api, [record(r, stream="customers") for r in records], catalog=catalog_dict(stream="customers"),
                   mapping=mapping, max_rejected_percent=50)
    assert result.error is None
    shop = export_users(cartum_write_api)
    jan, eva = shop["jan@example.sk"], shop["eva@example.cz"]
    assert (jan["title"], jan["phone"], jan["country"], jan["city"], jan["address"], jan["customer_group_id"]) == (
        "Ján Novák", "+421905123456", "Slovakia", "Košice", "Hlavná 1", 3)
    assert (eva["title"], eva["company"], eva["country"], eva["customer_group_id"]) == ("Malá s.r.o.", "Malá s.r.o.", "Czech Republic", 2)


def test_nested_values_as_json_text_land_like_objects(cartum_write_factory):
    """Issue 12.5: a warehouse or PyAirbyte's DuckDB cache hands nested values back as JSON
    text; the presets read them as the objects (groups as object or array) they were."""
    def customer(i, as_text):
        rec = {"customer_id": i, "type": "customer", "firstname": "Ján", "surname": f"Novák {i}",
               "login": {"email": f"c{i}@example.sk"}, "communication": {"phone": "+421 905 123 456"},
               "groups": [{"id": 4, "name": "Veľkoobchod"}] if i % 2 else {"4": "Veľkoobchod"},
               "addresses": {"billing": {"street": "Hlavná 1", "city": "Košice", "country_id": "SK"}}}
        if as_text:
            rec = {k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v for k, v in rec.items()}
        return rec

    mapping = {"preset": "upgates_customer", "group_mapping": [{"upgates": "Veľkoobchod", "customer_group_id": 3}],
               "default_customer_group_id": 2}
    shops = []
    for as_text in (False, True):
        api = cartum_write_factory(users=0)
        result = write(api, [record(customer(i, as_text), stream="customers") for i in range(4)],
                       catalog=catalog_dict(stream="customers"), mapping=mapping)
        assert result.error is None
        shops.append({e: {k: v for k, v in u.items() if k not in ("id", "registered")} for e, u in export_users(api).items()})
    assert shops[0] == shops[1]
    assert all(u["customer_group_id"] == 3 and u["country"] == "Slovakia" and u["city"] == "Košice" for u in shops[1].values())
    # a Cartum user from a cache: manager and discount_card as JSON text
    api = cartum_write_factory(users=0)
    cached = user(1, manager=json.dumps({"id": 62, "name": "Ірина"}), discount_card='{"discount": 5, "active": true}')
    assert write(api, [record(cached)]).error is None
    got = export_users(api)["user1@example.com"]
    assert got["manager"]["id"] == 62 and got["discount_card"] == {"discount": 5, "active": True}
