"""End to end: the two connections of the demo, run as the platform runs them (source console
script piped into the destination's, state echoed by the destination stored and passed on),
against the three emulators. What arrives in the targets is compared field by field with the
expected mapping of the source data, written here independently of the connectors' code."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path
from typing import Any

import pytest

from commerce_emulators.cartum import CartumEmulator
from commerce_emulators.demo import World, change_customers, pipelines, rejected_reasons
from commerce_emulators.loyalty import LoyaltyEmulator
from commerce_emulators.pipeline import Pipeline, PipelineRun
from commerce_emulators.upgates import UpgatesEmulator

COUNTRIES = {"CZ": "Czech Republic", "SK": "Slovakia"}
GROUPS = {"VIP": 4, "Veľkoobchod": 3}
DEFAULT_GROUP = 2
UPGATES_GROUPS = {1: "Maloobchod", 2: "Veľkoobchod", 3: "VIP"}


@pytest.fixture
def world() -> World:
    w = World(
        UpgatesEmulator(customers=230, seed=3).start(),
        CartumEmulator(users=15, orders=5, seed=3).start(),
        LoyaltyEmulator(customers=0, seed=3).start(),
    )
    yield w
    w.stop()


_CATALOGS: dict[str, dict[str, Any]] = {}


def connections(world: World, tmp_path: Path) -> tuple[Pipeline, Pipeline]:
    """The demo's two connections; `discover` runs once per source for the whole module (the
    catalog does not depend on the data), which keeps the suite's process starts down."""
    a, b = pipelines(world, tmp_path, progress=lambda line: None)
    for pipe in (a, b):
        if pipe.name in _CATALOGS:
            pipe._catalog = _CATALOGS[pipe.name]
        else:
            _CATALOGS[pipe.name] = pipe.catalog()
    return a, b


# ---- expected contents ----------------------------------------------------------------------
def expected_cartum_user(c: dict[str, Any]) -> dict[str, Any]:
    """UPgates customer → Cartum user, as the issue defines the UPgates preset."""
    company = c["company"]["name"]
    names = " ".join(p for p in (c["firstname"], c["surname"]) if p)
    group_names = {str(g) for g in c["group_ids"]} | {UPGATES_GROUPS[g] for g in c["group_ids"]}
    group = next((gid for name, gid in GROUPS.items() if name in group_names), DEFAULT_GROUP)
    out = {
        "title": company if c["type"] == "company" and company else names,
        "email": c["login"]["email"],
        "phone": c["communication"]["phone"],
        "country": COUNTRIES.get(c["addresses"]["billing"]["country_id"], c["addresses"]["billing"]["country_id"]),
        "city": c["addresses"]["billing"]["city"],
        "address": c["addresses"]["billing"]["street"],
        "customer_group_id": group,
    }
    if company:
        out["company"] = company
    return out


def assert_cartum_holds_upgates(world: World) -> None:
    users = world.cartum.shop.users
    customers = list(world.upgates.customers.values())
    missing = [c["login"]["email"] for c in customers if c["login"]["email"] not in users]
    assert not missing, f"{len(missing)} UPgates customers never arrived in Cartum, e.g. {missing[:3]}"
    for c in customers:
        want = expected_cartum_user(c)
        got = users[want["email"]]
        diff = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
        assert not diff, f"user {want['email']}: expected vs got {diff}"


def expected_loyalty(u: dict[str, Any]) -> dict[str, Any]:
    words = u["title"].split()
    return {
        "code": str(u["id"]),
        "first_name": words[0] if words else "",
        "last_name": " ".join(words[1:]),
        "email": u["email"],
        "phone": u["phone"],
        "city": u["city"],
        "street1": u["address"],
        "country": u["country"],
    }


def assert_loyalty_holds_cartum(world: World) -> None:
    got_all = world.loyalty.customers
    campaigns = set(world.loyalty.campaign_ids[:2])
    for u in world.cartum.shop.users.values():
        want = expected_loyalty(u)
        got = got_all.get(want["code"])
        assert got is not None, f"Cartum user {u['id']} ({u['email']}) is not in the loyalty account"
        diff = {k: (v, got.get(k)) for k, v in want.items() if (got.get(k) or "") != (v or "")}
        assert not diff, f"loyalty customer {want['code']}: expected vs got {diff}"
        assert campaigns <= set(got.get("campaigns", {})), f"customer {want['code']} not enrolled in {campaigns}"


def assert_ok(run: PipelineRun) -> None:
    assert run.ok, f"{run.name} failed: {run.source_errors + run.destination_errors}"


# ---- the two connections, full then incremental ------------------------------------------------
def test_both_connections_full_then_incremental(world, tmp_path):
    up_to_cartum, cartum_to_loyalty = connections(world, tmp_path)

    run = up_to_cartum.run()
    assert_ok(run)
    assert run.records_read == {"customers": 230}
    assert_cartum_holds_upgates(world)
    assert world.upgates.log.count(path="/api/v2/customers") == 3  # ceil(230 / 100)

    run = cartum_to_loyalty.run()
    assert_ok(run)
    assert run.records_read == {"users": len(world.cartum.shop.users)}
    assert_loyalty_holds_cartum(world)

    registered_before = len(world.cartum.shop.users)
    last_second = max(u["registered"] for u in world.cartum.shop.users.values())
    at_boundary = sum(1 for u in world.cartum.shop.users.values() if u["registered"] == last_second)
    change_customers(world, edits=10, signups=5)
    changed = {c["login"]["email"] for c in world.upgates.customers.values()}

    run = up_to_cartum.run()
    assert_ok(run)
    # Only what changed (10 edits + 5 sign-ups), plus at most the customers that share the
    # cursor's timestamp at the boundary.
    assert 15 <= run.total_read <= 20, run.records_read
    assert_cartum_holds_upgates(world)
    assert len(world.cartum.shop.users) == registered_before + 5
    assert changed <= set(world.cartum.shop.users)

    run = cartum_to_loyalty.run()
    assert_ok(run)
    # users/export can only filter on registration: the 5 sign-ups are new there, plus the
    # users registered in the cursor's second (the filter is inclusive, so none is lost).
    assert 5 <= run.total_read <= 5 + at_boundary, (run.total_read, at_boundary)
    loyalty = world.loyalty.customers
    new_users = [u for u in world.cartum.shop.users.values() if u["registered"] > last_second]
    assert len(new_users) == 5
    for u in new_users:
        want = expected_loyalty(u)
        assert {k: loyalty[want["code"]].get(k) or "" for k in want} == {k: v or "" for k, v in want.items()}
    # The documented limit: edits of users registered earlier do not reach loyalty
    # incrementally (no updated-since filter); a full refresh brings them.
    cartum_to_loyalty.reset()
    assert_ok(cartum_to_loyalty.run())
    assert_loyalty_holds_cartum(world)


# ---- kill and resume ---------------------------------------------------------------------------
def _killer(side: str, at_record: int):
    def on_record(pipe: Pipeline, result: PipelineRun) -> None:
        if result.total_read == at_record:
            proc = pipe.source_process if side == "source" else pipe.destination_process
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)

    return on_record


@pytest.mark.parametrize("side", ["source", "destination"])
def test_kill_and_resume_ends_with_every_record(side, tmp_path):
    """SIGKILL one side at seeded random points, resume each time from the stored state."""
    rng = random.Random(f"kill-{side}")
    w = World(
        UpgatesEmulator(customers=1250, seed=5).start(),
        CartumEmulator(users=0, orders=0, seed=5).start(),
        LoyaltyEmulator(customers=0, seed=5).start(),
    )
    try:
        up_to_cartum, _ = connections(w, tmp_path)
        up_to_cartum.destination_config["batch_size"] = 50
        kills = 0
        for attempt in range(8):
            up_to_cartum.on_record = _killer(side, rng.randrange(1, 400)) if attempt < 4 else None
            run = up_to_cartum.run()
            if run.ok:
                break
            kills += 1
        assert run.ok, f"never completed: {run.source_errors + run.destination_errors}"
        assert kills == 4, "every seeded kill point should have killed its run"
        assert_cartum_holds_upgates(w)
        assert len(w.cartum.shop.users) == 1250
    finally:
        w.stop()


# ---- faults ----------------------------------------------------------------------------------
def _injected_all_fired(world: World) -> list[str]:
    """Every fault injected into any emulator hit at least once (else the test proved nothing)."""
    return [f"{name}: {f.kind} {f.path or ''} never fired" for name, api in world.apis.items() for f in api.faults if not f.hits]


def _token_expired_mid_write(world: World) -> list[str]:
    """`import_expire_tokens_after` resets itself when it fires; the destination then logged in again."""
    out = []
    if world.cartum.switches.get("import_expire_tokens_after") is not None:
        out.append("the tokens never expired (import_expire_tokens_after still armed)")
    if world.cartum.log.count(function="auth") < 2:
        out.append("no second login: the expired token was never met")
    return out


def _token_revoked_mid_read(world: World) -> list[str]:
    out = []
    if world.cartum.switches.get("_calls", {}).get("users/export", 0) < 2:
        out.append("users/export was called fewer than 2 times: the revocation never fired")
    if world.cartum.log.count(function="auth") < 2:
        out.append("no second login: the revoked token was never met")
    return out


# name -> (connection it touches: "a" UPgates → Cartum, "b" Cartum → loyalty, arm the fault,
#          what shows that it fired)
FAULTS = {
    "upgates 500 then 502 and 503": ("a", lambda w: [
        w.upgates.inject("status", status=500, path="/api/v2/customers", times=1),
        w.upgates.inject("status", status=502, path="/api/v2/customers", times=1, skip=1),
        w.upgates.inject("status", status=503, path="/api/v2/customers", times=1, skip=2),
    ], _injected_all_fired),
    "upgates dropped connection": ("a", lambda w: w.upgates.inject("drop", path="/api/v2/customers", skip=1), _injected_all_fired),
    "upgates truncated json": ("a", lambda w: w.upgates.inject("truncate", path="/api/v2/customers", skip=1), _injected_all_fired),
    "upgates body cut": ("a", lambda w: w.upgates.inject("cut", path="/api/v2/customers"), _injected_all_fired),
    "cartum 503 on import": ("a", lambda w: w.cartum.inject("status", status=503, path="/api/users/import", times=2), _injected_all_fired),
    "cartum dropped import": ("a", lambda w: w.cartum.inject("drop", path="/api/users/import", skip=1), _injected_all_fired),
    "cartum token expires mid-write": ("a", lambda w: w.cartum.switches.update(import_expire_tokens_after=1), _token_expired_mid_write),
    "cartum token revoked mid-read": ("b", lambda w: w.cartum.switches.update(revoke_token_on_call={"users/export": 2}), _token_revoked_mid_read),
    "loyalty 500 and a dropped batch": ("b", lambda w: [
        w.loyalty.inject("status", status=500, times=1),
        w.loyalty.inject("drop", skip=1),
    ], _injected_all_fired),
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_leaves_targets_complete(fault, world, tmp_path):
    up_to_cartum, cartum_to_loyalty = connections(world, tmp_path)
    # Loyalty batches of 5 and Cartum pages of 5 so that a fault on one batch or page leaves
    # others to go through.
    cartum_to_loyalty.destination_config["batch_size"] = 5
    cartum_to_loyalty.source_config["page_size"] = 5
    which, arm, fired = FAULTS[fault]
    arm(world)
    if which == "a":
        assert_ok(up_to_cartum.run())
        assert_cartum_holds_upgates(world)
    else:
        assert_ok(cartum_to_loyalty.run())
        assert_loyalty_holds_cartum(world)
    not_fired = fired(world)
    assert not not_fired, f"the fault never fired, the test proved nothing: {not_fired}"


def test_several_faults_together(world, tmp_path):
    up_to_cartum, cartum_to_loyalty = connections(world, tmp_path)
    world.upgates.inject("status", status=503, path="/api/v2/customers", times=1)
    world.upgates.inject("drop", path="/api/v2/customers", skip=2)
    world.cartum.switches.update(import_expire_tokens_after=1)
    world.cartum.inject("status", status=502, path="/api/users/import", skip=1)
    world.loyalty.inject("truncate", times=1)
    assert_ok(up_to_cartum.run())
    assert_ok(cartum_to_loyalty.run())
    assert_cartum_holds_upgates(world)
    assert_loyalty_holds_cartum(world)
    not_fired = _injected_all_fired(world) + _token_expired_mid_write(world)
    assert not not_fired, f"some faults never fired, the test proved less than it says: {not_fired}"


def test_rejected_records_are_kept_with_reasons(world, tmp_path):
    """Mixed WARNING log codes: bad records are rejected with the API's or the local reason,
    kept in the rejected-records file, and the rest arrive; the sync still succeeds (below
    the threshold)."""
    bad = [world.upgates.add_customer(email=f"broken{i}@@example") for i in range(3)]
    world.cartum.switches["import_poison"] = {world.upgates.customers[5]["login"]["email"]}
    up_to_cartum, _ = connections(world, tmp_path)
    run = up_to_cartum.run()
    assert_ok(run)
    reasons = rejected_reasons(up_to_cartum.destination_config["rejected_records_path"])
    assert sum(reasons.values()) == 4, reasons
    for c in bad:
        assert c["login"]["email"] not in world.cartum.shop.users
    good = [c for c in world.upgates.customers.values() if c not in bad and c["customer_id"] != 5]
    for c in good:
        assert c["login"]["email"] in world.cartum.shop.users


def test_rejections_over_threshold_fail_the_sync(world, tmp_path):
    for i in range(60):
        world.upgates.add_customer(email=f"not-an-email-{i}")
    up_to_cartum, _ = connections(world, tmp_path)
    run = up_to_cartum.run()
    assert not run.ok
    assert any("rejected" in e.lower() for e in run.destination_errors), run.destination_errors
    # Everything valid was still written before the failure.
    assert len(world.cartum.shop.users) >= 15 + 230


# ---- faults that need their own world ----------------------------------------------------------
def _world(**upgates: Any) -> World:
    return World(
        UpgatesEmulator(seed=9, **{"customers": 230, **upgates}).start(),
        CartumEmulator(users=40, orders=0, seed=9).start(),
        LoyaltyEmulator(customers=0, seed=9).start(),
    )


def test_upgates_429_for_concurrency_is_waited_out(tmp_path):
    w = _world(customers=650, max_concurrent=1, service_time=0.3)  # slow answers overlap
    try:
        up_to_cartum, _ = connections(w, tmp_path)
        up_to_cartum.source_config["num_workers"] = 3  # more than the shop allows now
        assert_ok(up_to_cartum.run())
        assert w.upgates.log.count(path="/api/v2/customers", status=429) >= 1, "no 429 was provoked"
        assert_cartum_holds_upgates(w)
    finally:
        w.stop()


def test_upgates_quota_stops_the_sync_and_the_next_hour_resumes_it(tmp_path):
    from datetime import datetime, timezone

    from commerce_emulators.base import Clock

    # Shop time starts 5 s into an hour, so the quota's Retry-After (next hour) is far away.
    start = datetime.now(timezone.utc).replace(minute=0, second=5, microsecond=0)
    w = _world(customers=450, hourly_quota=3, clock=Clock(start=start))
    try:
        up_to_cartum, _ = connections(w, tmp_path)
        up_to_cartum.source_config["max_rate_limit_wait_seconds"] = 30
        first = up_to_cartum.run()
        assert not first.ok
        assert any("quota" in e.lower() for e in first.source_errors), first.source_errors
        assert 0 < len(w.cartum.shop.users) - 40 < 450  # what was read before the stop arrived
        w.upgates.clock.advance(3600)  # the next hour: a new quota
        assert_ok(up_to_cartum.run())
        assert_cartum_holds_upgates(w)
        bought = w.upgates.log.count(path="/api/v2/customers", status=200)
        assert bought == 5, f"{bought} customer pages bought for ceil(450/100) = 5"
    finally:
        w.stop()


def test_cartum_import_timeout_is_retried(world, tmp_path):
    up_to_cartum, _ = connections(world, tmp_path)
    up_to_cartum.destination_config["request_timeout_seconds"] = 2
    world.cartum.inject("timeout", delay=4, path="/api/users/import", times=1)
    assert_ok(up_to_cartum.run())
    assert_cartum_holds_upgates(world)
    assert world.cartum.faults[0].hits == 1


def test_loyalty_batch_error_isolates_the_bad_lines(tmp_path):
    """Two Cartum users whose e-mails the loyalty platform refuses: the batch error is split
    until those two lines are rejected with the API's message; everyone else is enrolled."""
    w = _world()
    try:
        bad = [w.cartum.add_user(email=e) for e in ("ivan@localhost", "olena@@kyiv.ua")]
        _, cartum_to_loyalty = connections(w, tmp_path)
        run = cartum_to_loyalty.run()
        assert_ok(run)
        reasons = rejected_reasons(cartum_to_loyalty.destination_config["rejected_records_path"])
        assert sum(reasons.values()) == 2 and all("not a valid address" in r for r in reasons), reasons
        bad_codes = {str(u["id"]) for u in bad}
        assert not bad_codes & set(w.loyalty.customers)
        good = [u for u in w.cartum.shop.users.values() if str(u["id"]) not in bad_codes]
        assert {str(u["id"]) for u in good} <= set(w.loyalty.customers)
    finally:
        w.stop()
