"""Every seed-002 filter of `GET /customers`, applied by UPgates and paid per matching page
(issue 14 item 1), sent together with the incremental cursor; values UPgates would refuse fail
check."""

from __future__ import annotations

from collections import Counter
import math
from datetime import datetime, timedelta
from typing import Any

import pytest

from harness.fixtures.upgates import upgates_config_for
from harness.runner import run_connector
from emulators.upgates import UpgatesEmulator
from upgates_console import SOURCE, catalog, customer_ids, read


# ---- issue 14 item 1: every seed-002 filter, applied by UPgates, paid per matching page -------

@pytest.fixture(scope="module")
def shop() -> Any:
    with UpgatesEmulator(customers=10_000, seed=14) as api:
        yield api


def _filters(api: UpgatesEmulator) -> list[tuple[str, dict[str, Any], Any]]:
    cs = sorted(api.customers.values(), key=lambda c: c["customer_id"])
    company = next(c for c in cs if c["type"] == "company" and c.get("company"))
    phoned = next(c for c in cs if (c.get("communication") or {}).get("phone"))
    since, taken = None, 0  # the newest 1% at most (a bulk import shares one second: take it whole or not)
    for moment, n in sorted(Counter(c["creation_time"] for c in cs).items(), reverse=True):
        if taken + n > 100:
            break
        since, taken = moment, taken + n
    ids = [c["customer_id"] for c in cs[::100]]  # 1%
    return [
        ("creation_time_from", {"creation_time_from": api.fmt(since)}, lambda c: c["creation_time"] >= since),
        ("active=inactive", {"active": "inactive"}, lambda c: not c["login"]["active_yn"]),
        ("active=active", {"active": "active"}, lambda c: c["login"]["active_yn"]),
        ("blocked=blocked", {"blocked": "blocked"}, lambda c: c["login"]["blocked_yn"]),
        ("blocked=not_blocked", {"blocked": "not_blocked"}, lambda c: not c["login"]["blocked_yn"]),
        ("newsletter_accept", {"newsletter_accept": "excluded"}, lambda c: c["newsletter_accept"] == "excluded"),
        ("language", {"language": "en"}, lambda c: c["language"] == "en"),
        ("pricelist", {"pricelist": "Veľkoobchod"}, lambda c: c["pricelist"] == "Veľkoobchod"),
        ("code", {"code": cs[4321]["code"] or "C004322"}, lambda c: c["code"] == (cs[4321]["code"] or "C004322")),
        ("email", {"email": cs[777]["login"]["email"]}, lambda c: c["login"]["email"] == cs[777]["login"]["email"]),
        ("phone", {"phone": phoned["communication"]["phone"]}, lambda c: (c.get("communication") or {}).get("phone") == phoned["communication"]["phone"]),
        ("company_name", {"company_name": company["company"]["name"]}, lambda c: (c.get("company") or {}).get("name") == company["company"]["name"]),
        ("company_number", {"company_number": company["company"]["company_number"]}, lambda c: (c.get("company") or {}).get("company_number") == company["company"]["company_number"]),
        ("company_vat_number", {"company_vat_number": company["company"]["vat_number"]}, lambda c: (c.get("company") or {}).get("vat_number") == company["company"]["vat_number"]),
        ("customer_ids", {"customer_ids": ids}, lambda c: c["customer_id"] in set(ids)),
    ]


FILTER_NAMES = ["creation_time_from", "active=inactive", "active=active", "blocked=blocked", "blocked=not_blocked",
                "newsletter_accept", "language", "pricelist", "code", "email", "phone", "company_name",
                "company_number", "company_vat_number", "customer_ids"]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_each_filter_is_applied_by_upgates_and_costs_only_the_matching_pages(shop, name):
    _, extra, keep = next(f for f in _filters(shop) if f[0] == name)
    config = upgates_config_for(shop, num_workers=3, **extra)
    result = read(shop, config, catalog(config, "customers"))
    assert result.returncode == 0, result.errors
    expected = {c["customer_id"] for c in shop.customers.values() if keep(c)}
    assert expected and customer_ids(result) == expected
    assert shop.log.count(path="/api/v2/customers") == max(1, math.ceil(len(expected) / 100))
    if name in ("creation_time_from", "customer_ids", "code", "email"):
        assert shop.log.count(path="/api/v2/customers") == 1  # 1% (or one customer) of 10,000: one request, not 100


def test_creation_time_from_is_sent_together_with_the_incremental_cursor(shop):
    since = sorted(c["creation_time"] for c in shop.customers.values())[-500]
    config = upgates_config_for(shop, creation_time_from=shop.fmt(since))
    cursor = shop.fmt(shop.local_now() - timedelta(days=30))
    state = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {"last_update_time": cursor}}}]
    result = read(shop, config, catalog(config, "customers"), state=state)
    assert result.returncode == 0, result.errors
    query = shop.log.select(path="/api/v2/customers")[0].query
    assert query["creation_time_from"] == shop.fmt(since) and query["last_update_time_from"]
    edge = datetime.fromisoformat(query["last_update_time_from"])
    expected = {c["customer_id"] for c in shop.customers.values() if c["creation_time"] >= since and c["last_update_time"] >= edge}
    assert customer_ids(result) == expected


@pytest.mark.parametrize("field, value", [
    ("creation_time_from", "2024-02-30T00:00:00+01:00"),
    ("creation_time_from", "last week"),
    ("language", "Slovak"),
    ("newsletter_accept", "maybe"),
    ("customer_ids", [1, 0]),
])
def test_a_filter_value_upgates_would_refuse_fails_check(upgates, field, value):
    config = upgates_config_for(upgates, **{field: value})
    status = run_connector(SOURCE, "check", config=config).of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and field in status["message"], status
    assert upgates.log.count() == 0
