"""The sources from Python: PyAirbyte (`airbyte` package) runs the installed console scripts
(`local_executable`) into its default local cache (DuckDB), as the README's example does."""

from __future__ import annotations

import os

import pytest

# Offline: no registry look-up (the connectors are local executables) and no telemetry.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402

from emulators.cartum import CartumEmulator  # noqa: E402
from harness.runner import script  # noqa: E402
from emulators.upgates import UpgatesEmulator  # noqa: E402


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def default_cache(tmp):
    """What `ab.get_default_cache()` makes (a DuckDB file in `.cache/default_cache/`), under this
    test's folder: PyAirbyte fixes the default cache's folder when it is imported (the working
    directory then), so `get_default_cache()` itself would share one file between every test and
    every run, and a read would continue from another world's state."""
    from airbyte.caches import DuckDBCache

    cache_dir = tmp / ".cache" / "default_cache"
    return DuckDBCache(db_path=cache_dir / "default_cache.duckdb", cache_dir=cache_dir)


def test_upgates_customers_into_default_cache_then_incremental(in_tmp):
    with UpgatesEmulator(customers=250, seed=11) as up:
        source = ab.get_source(
            "source-upgates-customers",
            local_executable=script("source-upgates-customers"),
            config={"api_url": f"{up.url}/api/v2", "login": up.login, "api_key": up.api_key},
        )
        source.check()
        source.select_streams(["customers", "customer_groups"])
        cache = default_cache(in_tmp)
        result = source.read(cache=cache)
        customers = result["customers"].to_pandas()
        assert len(customers) == len(up.customers)  # about 250: the real-shop world adds bulk imports
        assert set(customers["customer_id"]) == set(up.customers)
        assert len(result["customer_groups"].to_pandas()) == len(up.groups)

        # The cache keeps the state: the next read is incremental and fetches one page.
        up.log.clear()
        up.update_customer(7, surname="Nováková")
        again = source.read(cache=cache)
        assert up.log.count(path="/api/v2/customers") == 1
        assert again.processed_records < 10  # the edit, the customer stamped in the future, the boundary
        names = default_cache(in_tmp).get_pandas_dataframe("customers")
        assert "Nováková" in set(names[names["customer_id"] == 7]["surname"])


def test_cartum_users_into_default_cache(in_tmp):
    with CartumEmulator(users=60, orders=20, seed=11) as shop:
        source = ab.get_source(
            "source-cartum",
            local_executable=script("source-cartum"),
            config={"shop_url": shop.url, "login": shop.login, "password": shop.password, "start_date": "2015-01-01"},
        )
        source.select_streams(["users", "customer_groups"])
        result = source.read(cache=default_cache(in_tmp))
        users = result["users"].to_pandas()
        assert set(users["email"]) == set(shop.shop.users)
        assert len(result["customer_groups"].to_pandas()) == len(shop.shop.customer_groups)


# ---- the round trip through the cache (issue 12 item 5) ------------------------------------------
# Fields of a Cartum user that the shop assigns itself (not carried from UPgates).
SHOP_ASSIGNED = ("id", "registered", "updated", "password")


def _users(shop: CartumEmulator) -> dict[str, dict]:
    return {
        email: {k: v for k, v in user.items() if k not in SHOP_ASSIGNED}
        for email, user in shop.shop.users.items()
    }


def _assert_same_users(want: dict[str, dict], got: dict[str, dict], default_group: int) -> None:
    assert set(got) == set(want), f"missing {sorted(set(want) - set(got))[:3]}, extra {sorted(set(got) - set(want))[:3]}"
    # The group mapping is what the cache used to break: the world must hold mapped groups.
    assert {u["customer_group_id"] for u in want.values()} - {default_group}, "no customer in a mapped group"
    diffs = {}
    for email, w in want.items():
        g = got[email]
        d = {k: (w.get(k), g.get(k)) for k in set(w) | set(g) if w.get(k) != g.get(k)}
        if d:
            diffs[email] = d
    assert not diffs, f"{len(diffs)} of {len(want)} users differ (direct pipe vs through the cache), e.g. {list(diffs.items())[:3]}"


class _RoundTrip:
    """About 120 UPgates customers (the real-shop world), a Cartum shop for the direct pipe and one
    for the cache route."""

    def __init__(self, tmp, groups_shape: str) -> None:
        from demo.run import World, connector_configs, pipelines
        from emulators.loyalty import LoyaltyEmulator

        self.up = UpgatesEmulator(customers=120, seed=12, groups_shape=groups_shape).start()
        self.direct_shop = CartumEmulator(users=0, orders=0, seed=12).start()
        self.cached_shop = CartumEmulator(users=0, orders=0, seed=12).start()
        self.loyalty = LoyaltyEmulator(customers=0, seed=12).start()
        direct = World(self.up, self.direct_shop, self.loyalty)
        # The direct pipe: the demo's first connection (its configs), as the platform runs it.
        self.pipe = pipelines(direct, tmp / "direct", progress=lambda line: None)[0]
        self.source_config = connector_configs(direct, tmp)["source-upgates-customers"]
        self.cached_config = connector_configs(World(self.up, self.cached_shop, self.loyalty), tmp / "cached")[
            "destination-cartum-users"
        ]
        self.default_group = self.cached_config["mapping"]["default_customer_group_id"]

    def run_direct(self) -> None:
        run = self.pipe.run()
        assert run.ok, run.source_errors + run.destination_errors
        # the real-shop world adds bulk imports and may repeat an e-mail: one user per e-mail
        assert len(self.direct_shop.shop.users) == len({c["login"]["email"] for c in self.up.customers.values()})

    def read_into_cache(self, tmp):
        source = ab.get_source(
            "source-upgates-customers", local_executable=script("source-upgates-customers"), config=self.source_config
        )
        source.select_streams(["customers"])
        result = source.read(cache=default_cache(tmp))
        assert len(result["customers"].to_pandas()) == len(self.up.customers)
        return result

    def stop(self) -> None:
        for emu in (self.up, self.direct_shop, self.cached_shop, self.loyalty):
            emu.stop()


@pytest.mark.parametrize("groups_shape", ["object", "array"])
def test_round_trip_through_the_cache_gives_the_same_users_as_the_direct_pipe(in_tmp, groups_shape):
    """UPgates customers read into PyAirbyte's DuckDB cache, then the messages PyAirbyte makes
    from the cache (`AirbyteMessageIterator.from_read_result`, what `Destination.write` sends)
    written by destination-cartum-users with the connection's catalog, end as the same users, field
    by field, as the direct pipe. The cache hands nested values back as JSON strings (`groups`
    in particular, whose type varies): the group mapping must survive that."""
    from airbyte._message_iterators import AirbyteMessageIterator

    from harness.runner import run_connector

    trip = _RoundTrip(in_tmp, groups_shape)
    try:
        trip.run_direct()
        result = trip.read_into_cache(in_tmp)
        lines = [m.model_dump_json(exclude_none=True) for m in AirbyteMessageIterator.from_read_result(result)]
        assert sum('"type":"RECORD"' in ln for ln in lines) == len(trip.up.customers)
        written = run_connector(
            "destination-cartum-users", "write", config=trip.cached_config, catalog=trip.pipe.catalog(),
            stdin="\n".join(lines) + "\n",
        )
        assert written.returncode == 0, written.errors or written.stderr[-2000:]
        _assert_same_users(_users(trip.direct_shop), _users(trip.cached_shop), trip.default_group)
    finally:
        trip.stop()


def test_pyairbyte_destination_write_from_the_cache(in_tmp):
    """The README's PyAirbyte route end to end: `Destination.write(read_result)`. PyAirbyte sends
    no `destination_object_name`, so the destination must place the `customers` stream on its
    users object by itself; the users equal the direct pipe's."""
    trip = _RoundTrip(in_tmp, "object")
    try:
        trip.run_direct()
        result = trip.read_into_cache(in_tmp)
        destination = ab.get_destination(
            "destination-cartum-users", local_executable=script("destination-cartum-users"), config=trip.cached_config
        )
        destination.write(result, streams=["customers"], force_full_refresh=True)
        _assert_same_users(_users(trip.direct_shop), _users(trip.cached_shop), trip.default_group)
    finally:
        trip.stop()
