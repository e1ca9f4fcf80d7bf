"""The emulators' fast paths for benchmark sizes (what bench/worlds.py turns on) answer exactly
as the stock emulators do: the bench measures the connectors against the same answers the tests
check, only without the emulator's own cost."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import requests

from emulators.base import Clock
from emulators.cartum import CartumEmulator
from emulators.loyalty import LoyaltyEmulator
from emulators.upgates import UpgatesEmulator
from harness.fixtures.loyalty import loyalty_form

AUTH = ("api-login", "api-key-secret")


_NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _stopped() -> Clock:
    """An emulator clock stopped at one second, the same for every emulator of this module: two
    worlds compared answer for answer are seeded (and stamped) at the same "now". With running
    clocks, two emulators built a few milliseconds apart can straddle a second (CI saw it once)."""
    return Clock(start=_NOW, speed=0)


def _upgates_pages(api: UpgatesEmulator, **params: Any) -> list[Any]:
    out = []
    for page in (1, 2, 3):
        reply = requests.get(f"{api.url}/api/v2/customers", params={**params, "page": page}, auth=AUTH, timeout=10)
        out.append((reply.status_code, json.loads(reply.text.replace(api.url, "URL"))))
    return out


def test_upgates_cached_reads_answer_as_the_stock_emulator():
    with UpgatesEmulator(customers=250, seed=4, clock=_stopped()) as stock, \
            UpgatesEmulator(customers=250, seed=4, clock=_stopped()).cache_reads() as fast:
        since = (stock.local_now() - timedelta(days=200)).isoformat()
        for params in ({}, {"last_update_time_from": since}, {"active_yn": "1"}):
            assert _upgates_pages(fast, **params) == _upgates_pages(stock, **params)
        for api in (stock, fast):  # world changes through the methods are seen at once
            api.update_customer(7, surname="Nová")
            api.add_customer(email="new@example.cz")
            api.delete_customer(9)
        assert _upgates_pages(fast) == _upgates_pages(stock)
        assert _upgates_pages(fast, last_update_time_from=since) == _upgates_pages(stock, last_update_time_from=since)
        assert any(c["surname"] == "Nová" for c in _upgates_pages(fast)[0][1]["customers"])


def test_upgates_bulk_seed_makes_distinct_customers():
    api = UpgatesEmulator(world="tidy")
    api.bulk_seed(1200, templates=100)
    assert len(api.customers) == 1200
    assert len({c["login"]["email"] for c in api.customers.values()}) == 1200
    assert len({c["code"] for c in api.customers.values()}) == 1200
    assert all(c["creation_time"] <= c["last_update_time"] for c in api.customers.values())


def _cartum(api: CartumEmulator, function: str, body: dict[str, Any]) -> dict[str, Any]:
    token = requests.post(f"{api.url}/api/auth/", json={"login": api.login, "password": api.password}, timeout=10).json()
    return requests.post(f"{api.url}/api/{function}/", json={**body, "token": token["response"]["token"]}, timeout=10).json()


def _cartum_reads(api: CartumEmulator) -> list[Any]:
    calls = [("users/export", {"limit": 50, "offset": o}) for o in (0, 50, 100)]
    calls += [("users/export", {"from": "2025-01-01", "limit": 20}), ("orders/get", {"limit": 40, "offset": 10}),
              ("orders/get", {"status": [1, 2], "limit": 30})]
    return [_cartum(api, f, b) for f, b in calls]


def test_cartum_cached_reads_answer_as_the_stock_emulator():
    with CartumEmulator(users=120, orders=90, seed=6, clock=_stopped()) as stock, \
            CartumEmulator(users=120, orders=90, seed=6, clock=_stopped()).cache_reads() as fast:
        assert _cartum_reads(fast) == _cartum_reads(stock)
        moment = stock.local_now() - timedelta(days=1)
        for api in (stock, fast):  # the shop grows: the cache sees it
            api.add_user(registered=moment, email="late@example.com.ua")
            api.add_orders(3, [moment] * 3)
        assert _cartum_reads(fast) == _cartum_reads(stock)
        assert fast.read_cache is not None and stock.read_cache is None


def test_cartum_sink_answers_imports_as_usual_and_keeps_nothing():
    users = [{"email": f"u{i}@example.com", "title": f"User {i}"} for i in range(5)] + [{"email": "bad", "title": "x"}]
    with CartumEmulator(users=0, orders=0) as stock, CartumEmulator(users=0, orders=0).sink() as sink:
        assert _cartum(sink, "users/import", {"users": users}) == _cartum(stock, "users/import", {"users": users})
        assert len(stock.shop.users) == 5 and len(sink.shop.users) == 0


def _loyalty_batch(api: LoyaltyEmulator, lines: list[str]) -> dict[str, Any]:
    form = loyalty_form(api, type="customers_batch", output="JSON", delimiter="pipe", overwrite_duplicates="update",
                        campaigns_to_include=api.campaign_ids[0], profiles_header_1="code", profiles_header_2="first_name",
                        profiles_data="\n".join(lines) + "\n")
    return requests.post(api.url, data=form, timeout=10).json()


def test_loyalty_sink_answers_batches_as_usual_and_keeps_nothing():
    with LoyaltyEmulator(customers=2) as stock, LoyaltyEmulator(customers=2).sink() as sink:
        for lines in (["A1|Anna", "A2|Jan"], ["A3|Eva"]):
            assert _loyalty_batch(sink, lines) == _loyalty_batch(stock, lines)
        assert len(stock.customers) == 5 and len(sink.customers) == 2
        assert (sink.lines_received, sink.batches_ok) == (3, 2) and not sink.batches and not sink.undo_states


def test_a_lean_log_keeps_no_bodies():
    with CartumEmulator(users=0, orders=0) as api:
        api.log.keep_bodies = False
        _cartum(api, "users/export", {})
        assert api.log.items and all(r.body is None for r in api.log.items)
        assert [r.outcome for r in api.log.items] == ["OK", "EMPTY"]


class _Holds:
    """Records each `hold_until` of an emulator switched to exact_latency()."""

    def __init__(self, api: Any) -> None:
        self.calls: list[tuple[float, float]] = []
        original = api.hold_until

        async def hold_until(started: float, seconds: float) -> None:
            self.calls.append((started, seconds))
            await original(started, seconds)

        api.hold_until = hold_until


def test_exact_latency_answers_as_the_stock_emulator_never_early_and_counts_its_own_work():
    """exact_latency(): the same answers; each answer held until `latency` after its request
    arrived (so the emulator's own work is inside the 50 ms instead of added to it), never less."""
    users = [{"email": f"u{i}@example.com", "title": f"User {i}"} for i in range(20)]
    with CartumEmulator(users=0, orders=0, latency=0.05).sink() as stock, \
            CartumEmulator(users=0, orders=0, latency=0.05).sink().exact_latency() as exact:
        holds = _Holds(exact)
        for _ in range(3):
            assert _cartum(exact, "users/import", {"users": users}) == _cartum(stock, "users/import", {"users": users})
        entries = exact.log.items
        assert len(entries) == 6 and len(holds.calls) == 6  # auth + import, three times
        # each hold counts from its own request's arrival, for the whole latency
        assert sorted(holds.calls) == sorted((e.started, 0.05) for e in entries)
        assert all(e.seconds >= 0.05 for e in entries + stock.log.items)
        assert not exact.faults and stock.latency_from_arrival is False


def test_exact_latency_of_upgates_service_time_and_faults_keep_their_full_wait():
    with UpgatesEmulator(customers=250, seed=4, service_time=0.05, clock=_stopped()) as stock, \
            UpgatesEmulator(customers=250, seed=4, service_time=0.05, clock=_stopped()).exact_latency() as exact:
        holds = _Holds(exact)
        assert _upgates_pages(exact) == _upgates_pages(stock)
        assert [s for _, s in holds.calls] == [0.05] * 3
        assert all(e.seconds >= 0.05 for e in exact.log.items)
    with CartumEmulator(users=0, orders=0, latency=0.05).exact_latency() as faulty:
        faulty.inject("status", status=503, path="/api/auth/", times=1)
        reply = requests.post(f"{faulty.url}/api/auth/", json={"login": faulty.login, "password": faulty.password}, timeout=10)
        assert reply.status_code == 503 and faulty.log.items[0].seconds >= 0.05
