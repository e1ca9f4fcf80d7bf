"""The sources from Python: PyAirbyte (`airbyte` package) runs the installed console scripts
(`local_executable`) into its default local cache (DuckDB), as the README's example does."""

from __future__ import annotations

import os

import pytest

# Offline: no registry look-up (the connectors are local executables) and no telemetry.
os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")

import airbyte as ab  # noqa: E402

from commerce_emulators.cartum import CartumEmulator  # noqa: E402
from commerce_emulators.runner import script  # noqa: E402
from commerce_emulators.upgates import UpgatesEmulator  # noqa: E402


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default cache lives in ./.cache
    return tmp_path


def test_upgates_customers_into_default_cache_then_incremental(in_tmp):
    with UpgatesEmulator(customers=250, seed=11) as up:
        source = ab.get_source(
            "source-upgates-customers",
            local_executable=script("source-upgates-customers"),
            config={"api_url": f"{up.url}/api/v2", "login": up.login, "api_key": up.api_key},
        )
        source.check()
        source.select_streams(["customers", "customer_groups"])
        cache = ab.get_default_cache()
        result = source.read(cache=cache)
        customers = result["customers"].to_pandas()
        assert len(customers) == 250
        assert set(customers["customer_id"]) == set(up.customers)
        assert len(result["customer_groups"].to_pandas()) == len(up.groups)

        # The cache keeps the state: the next read is incremental and fetches one page.
        up.log.clear()
        up.update_customer(7, surname="Nováková")
        again = source.read(cache=cache)
        assert up.log.count(path="/api/v2/customers") == 1
        assert again.processed_records < 250
        names = ab.get_default_cache().get_pandas_dataframe("customers")
        assert "Nováková" in set(names[names["customer_id"] == 7]["surname"])


def test_cartum_users_into_default_cache(in_tmp):
    with CartumEmulator(users=60, orders=20, seed=11) as shop:
        source = ab.get_source(
            "source-cartum",
            local_executable=script("source-cartum"),
            config={"shop_url": shop.url, "login": shop.login, "password": shop.password, "start_date": "2015-01-01"},
        )
        source.select_streams(["users", "customer_groups"])
        result = source.read(cache=ab.get_default_cache())
        users = result["users"].to_pandas()
        assert set(users["email"]) == set(shop.shop.users)
        assert len(result["customer_groups"].to_pandas()) == len(shop.shop.customer_groups)
