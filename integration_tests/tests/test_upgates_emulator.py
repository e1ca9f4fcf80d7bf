"""The UPgates emulator behaves as API-NOTES §1 says, limits and switches included."""

from __future__ import annotations

import concurrent.futures
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
import requests

from emulators.upgates import UpgatesEmulator

AUTH = ("api-login", "api-key-secret")


def get(api: UpgatesEmulator, path: str, auth=AUTH, **params) -> requests.Response:
    return requests.get(f"{api.url}/api/v2/{path}", params=params, auth=auth, timeout=10)


def test_pages_of_100_with_page_metadata(upgates):
    first = get(upgates, "customers").json()
    assert (first["current_page"], first["current_page_items"], first["number_of_pages"], first["number_of_items"]) == (1, 100, 3, 250)
    last = get(upgates, "customers", page=3).json()
    assert last["current_page_items"] == 50
    ids = [c["customer_id"] for p in (1, 2, 3) for c in get(upgates, "customers", page=p).json()["customers"]]
    assert ids == sorted(ids) and len(set(ids)) == 250


def test_customer_shape_and_dates_with_offset(upgates):
    c = get(upgates, "customers").json()["customers"][0]
    assert {"customer_id", "login", "groups", "addresses", "metas", "creation_time", "last_update_time"} <= set(c)
    assert isinstance(c["groups"], dict)
    assert datetime.fromisoformat(c["last_update_time"]).utcoffset() in (timedelta(hours=1), timedelta(hours=2))


def test_last_update_time_from_is_inclusive_and_takes_an_offset(upgates):
    changed = upgates.update_customer(7, firstname="Zmenená")
    since = changed["last_update_time"].astimezone(timezone.utc).isoformat()
    got = get(upgates, "customers", last_update_time_from=since).json()["customers"]
    assert 7 in [c["customer_id"] for c in got]
    assert all(datetime.fromisoformat(c["last_update_time"]) >= changed["last_update_time"] for c in got)


def test_date_only_and_naive_filter_switches():
    with UpgatesEmulator(customers=5, date_only_filters="reject") as api:
        assert get(api, "customers", creation_time_from="2024-01-01").status_code == 400
    with UpgatesEmulator(customers=5) as api:
        assert get(api, "customers", creation_time_from="2024-01-01").status_code == 200
        assert api.parse_filter_date("x", "2024-01-01T00:00:00").utcoffset() == timedelta(hours=1)
        api.naive_filter_timezone = "utc"
        assert api.parse_filter_date("x", "2024-01-01T00:00:00").utcoffset() == timedelta(0)


def test_order_and_groups_shape_switches():
    with UpgatesEmulator(customers=30, order="last_update_time", groups_shape="array") as api:
        customers = get(api, "customers").json()["customers"]
        times = [datetime.fromisoformat(c["last_update_time"]) for c in customers]
        assert times == sorted(times)
        assert all(isinstance(c["groups"], list) for c in customers)


def test_bad_credentials_401_then_lockout_403(upgates):
    for _ in range(5):
        assert get(upgates, "customers", auth=("api-login", "wrong")).status_code == 401
    locked = get(upgates, "customers")  # right credentials, locked address
    assert locked.status_code == 403
    upgates.clock.advance(3601)
    assert get(upgates, "customers").status_code == 200


def test_hourly_quota_429_with_http_date_and_headers():
    with UpgatesEmulator(customers=5, hourly_quota=2, daily_quota=10) as api:
        ok = get(api, "customers")
        assert ok.headers["X-Rate-Limit-Hour-Remaining"] == "1"
        assert ok.headers["X-Rate-Limit-Day-Remaining"] == "9"
        get(api, "customers")
        refused = get(api, "customers")
        assert refused.status_code == 429
        when = parsedate_to_datetime(refused.headers["Retry-After"])
        assert refused.headers["Retry-After"].endswith("GMT")
        assert when.minute == 0 and when > api.clock.now()
        assert api.requests_used("hour") == 2  # the refused request is not counted
        api.clock.advance((when - api.clock.now()).total_seconds() + 1)
        assert get(api, "customers").status_code == 200


def test_status_is_free_by_default_and_can_count():
    with UpgatesEmulator(hourly_quota=1) as api:
        for _ in range(3):
            assert get(api, "status").status_code == 200
        api.status_counts = True
        assert get(api, "status").status_code == 200
        assert get(api, "status").status_code == 429


def test_fourth_concurrent_request_gets_429():
    with UpgatesEmulator(customers=5, service_time=1.5) as api:  # 4 requests overlap even on a loaded machine
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            codes = sorted(pool.map(lambda _: get(api, "groups").status_code, range(4)))
        assert codes == [200, 200, 200, 429]
        assert api.peak_in_flight == 4


def test_rights_and_moved_shop():
    with UpgatesEmulator(rights={"customers"}) as api:
        assert get(api, "groups").status_code == 403
        assert get(api, "status").json()["endpoints"][1] == {"endpoint": "groups", "read_yn": False, "write_yn": False}
    with UpgatesEmulator(moved_to="https://new.admin.s12.upgates.com/api/v2") as api:
        r = requests.get(f"{api.url}/api/v2/customers?page=2", auth=AUTH, allow_redirects=False, timeout=5)
        assert r.status_code == 301
        assert r.headers["Location"] == "https://new.admin.s12.upgates.com/api/v2/customers?page=2"


def test_put_updates_by_login_email_and_refuses_over_100(upgates):
    email = upgates.customers[3]["login"]["email"]
    before = upgates.customers[3]["last_update_time"]
    upgates.clock.advance(5)
    r = requests.put(f"{upgates.url}/api/v2/customers", auth=AUTH, timeout=5, json={"customers": [
        {"login": {"email": email}, "newsletter_accept": "yes"}, {"login": {"email": "nobody@example.cz"}}]})
    out = r.json()["customers"]
    assert [o["updated_yn"] for o in out] == [True, False]
    assert upgates.customers[3]["newsletter_accept"] == "yes" and upgates.customers[3]["last_update_time"] > before
    too_many = {"customers": [{"login": {"email": email}}] * 101}
    assert requests.put(f"{upgates.url}/api/v2/customers", auth=AUTH, json=too_many, timeout=5).status_code == 413


def test_groups_and_pricelists(upgates):
    groups = get(upgates, "groups").json()
    assert groups["number_of_pages"] == 1 and {g["name"] for g in groups["groups"]} >= {"VIP"}
    assert any(p["default_yn"] for p in get(upgates, "pricelists").json()["pricelists"])


def test_inactive_user_gets_403_everywhere_status_included():
    with UpgatesEmulator(customers=3, user_active=False) as api:
        for path in ("status", "customers", "groups"):
            r = get(api, path)
            assert r.status_code == 403 and "inactive" in r.json()["messages"][0]["message"]


def test_the_default_world_looks_like_a_real_czech_slovak_shop():
    import re
    from collections import Counter

    with UpgatesEmulator(customers=1000) as api:
        cs = list(api.customers.values())
        phones = [(c.get("communication") or {}).get("phone") for c in cs]
        local = [p for p in phones if p and not p.startswith(("+", "00"))]
        assert any(re.fullmatch(r"\d{3} \d{3} \d{3}", p) for p in local)  # 785 206 025
        assert any(re.fullmatch(r"0\d{9}", p) for p in local)  # leading 0, no spaces
        assert any(re.fullmatch(r"\d{9}", p) for p in local)  # no spaces
        assert any(p is None for p in phones) and any(p == "" for p in phones)
        countries = {(c["addresses"]["billing"] or {}).get("country_id") for c in cs}
        assert {"CZ", "SK"} <= countries  # the country that makes a local phone readable
        assert any(c["addresses"]["postal"] for c in cs)
        assert any(c["addresses"]["billing"] is None for c in cs) and any(c.get("company") is None for c in cs)
        assert any("nickname" not in c for c in cs) and any(c.get("degree") is None for c in cs)
        assert any(m.get("values") and {v["language"] for v in m["values"]} == {"cs", "sk"} for c in cs for m in c["metas"])
        emails = Counter(c["login"]["email"].lower() for c in cs)
        assert any(n > 1 for n in emails.values())  # e-mails that differ only in case
        assert any(len(c["surname"]) == 300 for c in cs) and any(re.search("[ěščřžýáíéůúňťďľĺô]", c["surname"]) for c in cs)
        now = api.local_now()
        assert 1 <= sum(c["last_update_time"] > now for c in cs) <= 10  # a few stamped in the future
        same_second = Counter(c["creation_time"] for c in cs)
        assert max(same_second.values()) >= 20  # a bulk import: many customers in one second
        body = get(api, "customers").json()  # and the API renders all of it
        assert body["number_of_items"] == 1000


def test_the_tidy_world_is_the_old_uniform_one():
    with UpgatesEmulator(customers=300, world="tidy") as api:
        cs = list(api.customers.values())
        assert all(c["communication"]["phone"].startswith("+420 ") for c in cs)
        assert all(c["last_update_time"] <= api.local_now() for c in cs)
        assert len({c["login"]["email"].lower() for c in cs}) == 300
        assert all(isinstance(c["company"], dict) and isinstance(c["addresses"]["billing"], dict) for c in cs)


def test_every_answer_carries_the_emulator_clock_as_date():
    with UpgatesEmulator(customers=3) as api:
        api.clock.advance(7 * 86400)
        when = parsedate_to_datetime(get(api, "customers").headers["Date"])
        assert abs((when - api.clock.now()).total_seconds()) < 5


def test_types_vary_switch():
    with UpgatesEmulator(customers=200, types_vary=True) as api:
        seen = {"groups": set(), "customer_id": set(), "active_yn": set()}
        for page in (1, 2):
            for c in get(api, "customers", page=page).json()["customers"]:
                seen["groups"].add(type(c["groups"]).__name__)
                seen["customer_id"].add(type(c["customer_id"]).__name__)
                seen["active_yn"].add(type(c["login"]["active_yn"]).__name__)
        assert {"dict", "list"} <= seen["groups"]
        assert seen["customer_id"] == {"int", "str"}
        assert {"bool", "int", "str"} <= seen["active_yn"]


def test_stall_switch_holds_the_answer_back():
    import time

    with UpgatesEmulator(customers=3, stall_seconds=1.0, stall_times=1) as api:
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(f"{api.url}/api/v2/customers", auth=AUTH, timeout=0.3)
        started = time.monotonic()
        assert get(api, "customers").status_code == 200
        assert time.monotonic() - started < 1.0  # the stall was spent


@pytest.mark.parametrize("status", [302, 307, 308])
def test_moved_status_switch(status):
    with UpgatesEmulator(moved_to="https://new.admin.s12.upgates.com/api/v2", moved_status=status) as api:
        r = requests.get(f"{api.url}/api/v2/customers", auth=AUTH, allow_redirects=False, timeout=5)
        assert r.status_code == status and r.headers["Location"].startswith("https://new.admin.s12.upgates.com/api/v2")
