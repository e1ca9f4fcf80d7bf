"""Object `product_prices` (issue 14 item 3, seed 001 catalog/import with price_levels):
retail price always in `price`, unknown levels rejected locally, read back from the shop."""

from __future__ import annotations

import json

from cartum_write_helpers import catalog_dict, export_users, record, state, user, write

IMPORT = "catalog/import"


def prices_catalog(stream: str = "prices") -> dict:
    return catalog_dict(stream=stream, object_name="product_prices")


def test_prices_are_imported_and_the_retail_level_goes_in_price(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "rejected.jsonl"
    records = [
        {"article": "BH-12345", "price": 1500, "price_old": 1600,
         "price_levels": [{"level_id": 3, "price": 1000}, {"level_id": 4, "price": 900}]},
        # retail given only as a level entry (and a JSON-text array from a cache): moved into price
        {"article": "UA-2001", "price_levels": json.dumps([{"level_id": 2, "price": 950}, {"level_id": 5, "price": 700}])},
        # the object shape {level_id: price}, numbers as text
        {"article": "UA-3050", "price": "1250.50", "price_levels": {"3": "1100", "2": "1250.50"}},
    ]
    api.log.clear()
    result = write(api, [record(r, stream="prices") for r in records] + [state(1)], catalog=prices_catalog(),
                   rejected_records_path=str(rejects))
    assert result.error is None and result.states == [1]
    # only what prices need: login, the price levels once, one import
    assert api.log.summary() == {"auth": 1, "price-levels/export": 1, IMPORT: 1}
    (imp,) = api.log.select(function=IMPORT)
    assert all(e["level_id"] != 2 for p in imp.body["products"] for e in p.get("price_levels", []))
    p = api.products
    assert (p["BH-12345"]["price"], p["BH-12345"]["price_old"], p["BH-12345"]["price_levels"]) == (1500, 1600, {3: 1000, 4: 900})
    assert (p["UA-2001"]["price"], p["UA-2001"]["price_levels"]) == (950, {5: 700})
    assert (p["UA-3050"]["price"], p["UA-3050"]["price_levels"]) == (1250.5, {3: 1100})
    notes = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert sorted((n["kind"], n["key"], n["field"]) for n in notes) == [
        ("correction", "UA-2001", "price_levels"), ("correction", "UA-3050", "price_levels")]


def test_unknown_levels_and_bad_prices_are_rejected_locally(cartum_write_api, tmp_path):
    api = cartum_write_api
    rejects = tmp_path / "rejected.jsonl"
    records = [
        {"article": "KY-777", "price": 2799, "price_levels": [{"level_id": 9, "price": 2000}]},    # unknown level
        {"article": "LV-1200", "price": 1499, "price_levels": [{"level_id": 2, "price": 1399}]},   # retail disagrees
        {"article": "OD-0042", "price": -5},                                                       # negative
        {"article": "OD-0042x"},                                                                   # nothing to import
        {"price": 10},                                                                             # no article
        {"article": "NO-SUCH", "price": 10},                                                       # the shop: code 1
        {"article": "KY-777", "price": 2699, "price_levels": [{"level_id": 4, "price": 2100}]},    # fine
    ]
    api.log.clear()
    result = write(api, [record(r, stream="prices") for r in records] + [state(1)], catalog=prices_catalog(),
                   rejected_records_path=str(rejects), max_rejected_percent=100)
    assert result.error is None and result.states == [1]
    (imp,) = api.log.select(function=IMPORT)
    assert [p["article"] for p in imp.body["products"]] == ["NO-SUCH", "KY-777"]
    rejected = {r["key"]: r for r in map(json.loads, rejects.read_text().splitlines()) if r.get("kind") != "correction"}
    assert set(rejected) == {"KY-777", "LV-1200", "OD-0042", "OD-0042x", None, "NO-SUCH"}
    assert "price level 9 does not exist in the shop" in rejected["KY-777"]["reason"]
    assert "disagree" in rejected["LV-1200"]["reason"]
    assert rejected["NO-SUCH"]["code"] == 1 and "not found" in rejected["NO-SUCH"]["reason"]
    assert api.products["KY-777"]["price"] == 2699 and api.products["KY-777"]["price_levels"] == {4: 2100}


def test_users_and_prices_in_one_sync(cartum_write_api):
    api = cartum_write_api
    catalog = catalog_dict()
    catalog["streams"] += prices_catalog()["streams"]
    messages = [record(user(1)), record({"article": "BH-12345", "price": 1400}, stream="prices"), state(1)]
    result = write(api, messages, catalog=catalog)
    assert result.error is None and result.states == [1]
    assert "user1@example.com" in export_users(api) and api.products["BH-12345"]["price"] == 1400
    assert api.log.count(function="price-levels/export") == 1 and api.log.count(function="customer-groups/export") == 1


def test_prices_on_a_shop_without_b2b_is_a_config_error(cartum_write_factory):
    api = cartum_write_factory(b2b=False)
    result = write(api, [record({"article": "BH-12345", "price": 1}, stream="prices")], catalog=prices_catalog(), b2b=True)
    assert result.error is not None and "no B2B module (price-levels/export answered FORBIDDEN)" in result.error.message
    # b2b off: plain prices go, price levels are refused locally
    result = write(api, [record({"article": "BH-12345", "price": 1}, stream="prices"),
                         record({"article": "UA-2001", "price_levels": [{"level_id": 3, "price": 1}]}, stream="prices")],
                   catalog=prices_catalog(), b2b=False, max_rejected_percent=100)
    assert result.error is None and api.products["BH-12345"]["price"] == 1
    assert api.log.count(function="price-levels/export") == 1  # only the first, refused, run asked
