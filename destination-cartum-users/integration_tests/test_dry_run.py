"""Dry run (issue 13 item 4): map, validate and plan every record with read-only calls only
(users/export tells creates from updates by e-mail), write nothing, echo no state."""

from __future__ import annotations

from cartum_write_helpers import catalog_dict, export_users, record, state, user, write

READ_ONLY = {"auth", "customer-groups/export", "users/export", "price-levels/export"}


def test_dry_run_plans_creates_and_updates_and_writes_nothing(cartum_write_api, caplog, tmp_path):
    api = cartum_write_api
    before = export_users(api)
    known = sorted(before)
    records = [
        user(1, email=known[0]),                  # exact e-mail in the shop: update
        user(2, email=known[1].upper()),          # the same e-mail in another case: create or update
        user(3), user(4),                         # new: create
        user(3, city="Одеса"),                    # the same new e-mail again: collapses (last wins)
        user(5, email="not-an-email"),            # rejected locally
        {"email": "no-title@example.com"},        # new without a title: the shop would refuse it
        {"email": known[2], "city": "Львів"},     # known without a title: an update
    ]
    api.log.clear()
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(api, [record(r) for r in records] + [state(1)], dry_run=True, allow_missing_title=True,
                       rejected_records_path=str(tmp_path / "rejected.jsonl"), max_rejected_percent=100)
    assert result.error is None
    assert result.states == []  # withheld: a real sync later starts from the same place
    assert set(api.log.summary()) <= READ_ONLY and api.log.count(function="users/export") == 2  # one page + EMPTY
    assert export_users(api) == before
    line = next(m for m in caplog.messages if m.startswith("Dry run (destination-cartum-users) stream users:"))
    assert "would create 2, update 2, create or update 1, reject 2" in line, line
    assert "code 1: 1" in line and "code 2: 1" in line


def test_dry_run_reads_every_page_of_a_big_shop_and_counts_requests(cartum_write_factory, caplog):
    api = cartum_write_factory(users=1200, latency=0.05)
    emails = list(api.shop.users)
    records = [user(i, email=emails[i * 7]) for i in range(100)] + [user(10_000 + i) for i in range(50)]
    api.log.clear()
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(api, [record(r) for r in records] + [state(1)], dry_run=True, batch_size=40,
                       max_concurrent_requests=3)
    assert result.error is None and result.states == []
    # users/export once for the whole run (3 plans in flight): ceil(1200 / 500) pages + the EMPTY that ends it
    assert api.log.count(function="users/export") == 4 and api.log.count(function="users/import") == 0
    assert "would create 50, update 100, create or update 0, reject 0" in "\n".join(caplog.messages)


def test_dry_run_of_prices_calls_no_import(cartum_write_api, caplog):
    api = cartum_write_api
    api.log.clear()
    records = [{"article": "BH-12345", "price": 1}, {"article": "KY-777", "price_levels": [{"level_id": 9, "price": 1}]}]
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(api, [record(r, stream="prices") for r in records] + [state(1)], dry_run=True,
                       catalog=catalog_dict(stream="prices", object_name="product_prices"), max_rejected_percent=100)
    assert result.error is None and result.states == []
    assert set(api.log.summary()) == {"auth", "price-levels/export"}
    assert "would create 0, update 0, create or update 1, reject 1" in "\n".join(caplog.messages)
