"""Write tests against the UPgates emulator, in-process (DestinationUpgatesCustomers.write with
the CDK's message parsing), counting requests: batches, unknown e-mails, the learnt maximum,
local rejects, answers out of order, quota stop and resume, Retry-After waits, dry run."""

from __future__ import annotations

import json
import math
from datetime import timedelta

from airbyte_cdk.models import FailureType
from upgates_write_helpers import GET, PUT, cartum_user, catalog_dict, emails, metas_of, record, state, write

from emulators.upgates import http_date


def test_n_customers_at_batch_b_cost_ceil_n_over_b_requests(upgates_write_factory):
    api = upgates_write_factory(customers=50)
    shop = emails(api)[:45]
    messages = [record(cartum_user(i, e)) for i, e in enumerate(shop)] + [state(1)]
    result = write(api, messages, batch_size=10)
    assert result.error is None and result.states == [1]
    assert api.log.summary() == {PUT: math.ceil(45 / 10)}
    assert [len(r.body["customers"]) for r in api.log.select(function=PUT)] == [10, 10, 10, 10, 5]
    for i, e in enumerate(shop):
        assert metas_of(api, e)["cartum_user_id"] == str(1000 + i)
        assert "source" in metas_of(api, e)  # the shop's other custom fields stay


def test_unknown_emails_are_rejected_with_the_shops_message_and_not_created(upgates_write_api, tmp_path):
    api = upgates_write_api
    shop = emails(api)
    before = len(api.customers)
    rejects = tmp_path / "rejected.jsonl"
    records = [cartum_user(0, shop[0]), cartum_user(1, "stranger@example.org"), cartum_user(2, shop[1].upper())]
    result = write(api, [record(r) for r in records] + [state(1)], rejected_records_path=str(rejects), max_rejected_percent=50)
    assert result.error is None and result.states == [1]
    assert len(api.customers) == before
    assert api.log.summary() == {PUT: 1}
    lines = [json.loads(l) for l in rejects.read_text().splitlines()]
    rejected = [l for l in lines if l.get("kind", "rejected") == "rejected"]
    assert [(l["key"], l["code"]) for l in rejected] == [("stranger@example.org", "not_updated")]
    assert rejected[0]["reason"] == "login.email: Customer not found"
    assert metas_of(api, shop[1])["cartum_user_id"] == "1002"


def test_records_that_cannot_succeed_cost_no_request(upgates_write_factory, tmp_path):
    api = upgates_write_factory(meta_keys={"cartum_user_id", "loyalty_code"})
    shop = emails(api)
    rejects = tmp_path / "rejected.jsonl"
    mapping = {"preset": "upgates_customer"}
    records = [
        {"email": shop[0], "newsletter_accept": "yes"},
        {"email": shop[1], "newsletter_accept": "maybe"},                 # invalid value
        {"email": shop[2], "metas": {"favourite_colour": "blue"}},        # unknown custom field
        {"email": "not-an-email", "newsletter_accept": "no"},             # no e-mail
        {"email": shop[3]},                                               # nothing to write
    ]
    result = write(api, [record(r) for r in records] + [state(1)], mapping=mapping, known_meta_keys=["cartum_user_id", "loyalty_code"],
                   rejected_records_path=str(rejects), max_rejected_percent=100)
    assert result.error is None and result.states == [1]
    (put,) = api.log.select(function=PUT)
    assert put.body == {"customers": [{"login": {"email": shop[0]}, "newsletter_accept": "yes"}]}
    codes = {json.loads(l)["key"]: json.loads(l)["code"] for l in rejects.read_text().splitlines()}
    assert codes == {shop[1].lower(): "invalid_newsletter_accept", shop[2].lower(): "unknown_meta_key",
                     "not-an-email": "invalid_email", shop[3].lower(): "nothing_to_update"}


def test_a_custom_field_the_shop_refuses_is_learnt(upgates_write_factory, tmp_path):
    """Without known_meta_keys: the first batch tells which key the shop does not have; later
    records with it are rejected without a request."""
    api = upgates_write_factory(meta_keys={"cartum_user_id"})
    shop = emails(api)
    mapping = {"preset": "cartum_user", "field_templates": [{"field": "metas.bogus", "template": "{{ record.title }}"}]}
    messages = [record(cartum_user(i, e)) for i, e in enumerate(shop[:4])] + [state(1)]
    messages += [record(cartum_user(i, e)) for i, e in enumerate(shop[4:8], start=4)] + [state(2)]
    result = write(api, messages, mapping=mapping, batch_size=4, max_rejected_percent=100)
    assert result.error is None and result.states == [1, 2]
    assert api.log.count(function=PUT) == 1  # the second batch was never sent


def test_answers_matched_by_email_whatever_their_order(upgates_write_factory, tmp_path):
    api = upgates_write_factory(put_answer_order="shuffled")
    shop = emails(api)
    rejects = tmp_path / "rejected.jsonl"
    wanted = [shop[i] if i % 3 else f"ghost{i}@example.org" for i in range(12)]
    result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(wanted)] + [state(1)],
                   rejected_records_path=str(rejects), max_rejected_percent=100)
    assert result.error is None
    keys = sorted(json.loads(l)["key"] for l in rejects.read_text().splitlines())
    assert keys == sorted(e for e in wanted if e.startswith("ghost"))
    for i, e in enumerate(wanted):
        if not e.startswith("ghost"):
            assert metas_of(api, e)["cartum_user_id"] == str(1000 + i)


def test_a_customer_left_out_of_the_answer_is_resent_once_then_rejected(upgates_write_factory, tmp_path):
    api = upgates_write_factory()
    shop = emails(api)
    api.put_answer_omits = {shop[1].lower()}
    rejects = tmp_path / "rejected.jsonl"
    result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(shop[:3])] + [state(1)],
                   rejected_records_path=str(rejects), max_rejected_percent=50)
    assert result.error is None and result.states == [1]
    assert [len(r.body["customers"]) for r in api.log.select(function=PUT)] == [3, 1]
    (line,) = [json.loads(l) for l in rejects.read_text().splitlines()]
    assert line["key"] == shop[1].lower() and "did not list this customer" in line["reason"]


def test_the_maximum_per_request_is_learnt_with_one_extra_request(upgates_write_factory):
    api = upgates_write_factory(customers=55, max_write_items=10)
    shop = emails(api)[:50]
    messages = [record(cartum_user(i, e)) for i, e in enumerate(shop)] + [state(1)]
    result = write(api, messages, batch_size=25)
    assert result.error is None and result.states == [1]
    sizes = [len(r.body["customers"]) for r in api.log.select(function=PUT)]
    statuses = [r.status for r in api.log.select(function=PUT)]
    # one refused request (413, nothing processed), then every batch of 25 in slices of at most 10
    assert statuses.count(413) == 1 and sizes[0] == 25
    assert all(size <= 10 for size in sizes[1:]) and sum(sizes[1:]) == 50
    # 1 refused + every batch of 25 in slices of 10 (10+10+5, twice) = 7; a loop that fills
    # batches at the learnt size would need 1 + ceil(50/10) = 6
    assert 1 + math.ceil(50 / 10) <= len(sizes) <= 1 + 2 * math.ceil(25 / 10)
    assert all(metas_of(api, e)["cartum_user_id"] == str(1000 + i) for i, e in enumerate(shop))


def test_quota_stop_and_resume_loses_nothing(upgates_write_factory):
    api = upgates_write_factory(customers=55, hourly_quota=3)
    shop = emails(api)[:50]
    chunks = [shop[i : i + 10] for i in range(0, 50, 10)]
    messages = []
    for n, chunk in enumerate(chunks, start=1):
        messages += [record(cartum_user(shop.index(e), e)) for e in chunk] + [state(n)]
    first = write(api, messages, batch_size=10, max_rate_limit_wait_seconds=5)
    assert first.error is not None and first.error.failure_type == FailureType.transient_error
    assert "quota is used up" in first.error.message and "continues from there" in first.error.message
    assert first.states == [1, 2, 3]
    puts = api.log.select(function=PUT)
    assert [r.status for r in puts] == [200, 200, 200, 429]  # one refused request, then the stop
    written = {e for e in shop if "cartum_user_id" in metas_of(api, e)}
    assert written == set(shop[:30])
    # the next hour: the platform resends what came after the last echoed state
    api.reset_quota()
    after = messages[messages.index(state(3)) + 1 :]
    second = write(api, after, batch_size=10, max_rate_limit_wait_seconds=5)
    assert second.error is None and second.states == [4, 5]
    assert all(metas_of(api, e)["cartum_user_id"] == str(shop.index(e) + 1000) for e in shop)
    assert api.log.count(function=PUT, status=200) == 5


def test_quota_stop_with_three_requests_at_once_loses_nothing(upgates_write_factory):
    """With 3 requests in flight when the quota runs out, the states echoed are a prefix and
    cover only written customers; resuming after the last echoed state writes the rest."""
    api = upgates_write_factory(customers=65, hourly_quota=4, max_concurrent=3, service_time=0.05)
    shop = emails(api)[:60]
    messages = []
    for n in range(12):
        messages += [record(cartum_user(i, shop[i])) for i in range(n * 5, n * 5 + 5)] + [state(n + 1)]
    first = write(api, messages, batch_size=5, max_rate_limit_wait_seconds=5, max_concurrent_requests=3)
    assert first.error is not None and first.error.failure_type == FailureType.transient_error
    assert first.states == list(range(1, len(first.states) + 1))  # in order, no gap
    last = first.states[-1] if first.states else 0
    assert api.log.count(function=PUT, status=200) == 4  # the quota
    assert api.log.count(function=PUT, status=429) <= 3  # only what was in flight; nothing sent after the stop
    # every customer before the last echoed state was written
    assert all("cartum_user_id" in metas_of(api, shop[i]) for i in range(last * 5))
    api.reset_quota()
    api.hourly_quota = None  # the quota of the next hours is enough
    after = messages[messages.index(state(last)) + 1 :] if last else messages
    second = write(api, after, batch_size=5, max_rate_limit_wait_seconds=5, max_concurrent_requests=3)
    assert second.error is None and second.states == list(range(last + 1, 13))
    assert all(metas_of(api, e)["cartum_user_id"] == str(1000 + i) for i, e in enumerate(shop))


def test_a_short_retry_after_http_date_is_waited_for(upgates_write_factory, caplog):
    api = upgates_write_factory()
    shop = emails(api)
    api.inject("status", status=429, path="/api/v2/customers", times=1,
               headers={"Retry-After": http_date(api.clock.now() + timedelta(seconds=1))})
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(shop[:5])] + [state(1)], max_rate_limit_wait_seconds=30)
    assert result.error is None and result.states == [1]
    assert [r.status for r in api.log.select(function=PUT)] == [429, 200]
    assert "rate-limited answers 1" in caplog.text
    assert all("cartum_user_id" in metas_of(api, e) for e in shop[:5])


def test_bad_api_key_stops_at_once_without_retrying(upgates_write_api):
    api = upgates_write_api
    result = write(api, [record(cartum_user(0, emails(api)[0])), state(1)], api_key="wrong-key-123")
    assert result.error is not None and result.error.failure_type == FailureType.config_error
    assert "refused the API login" in result.error.message and "wrong-key-123" not in result.error.message
    assert api.log.count() == 1 and result.states == []


def test_concurrent_requests_stay_within_three(upgates_write_factory):
    api = upgates_write_factory(customers=65, max_concurrent=3, service_time=0.05)
    shop = emails(api)[:60]
    messages = [record(cartum_user(i, e)) for i, e in enumerate(shop)] + [state(1)]
    result = write(api, messages, batch_size=5, max_concurrent_requests=3)
    assert result.error is None and result.states == [1]
    assert api.peak_in_flight <= 3
    assert api.log.count(function=PUT, status=429) == 0
    assert all(metas_of(api, e)["cartum_user_id"] == str(1000 + i) for i, e in enumerate(shop))


def test_dry_run_plans_with_read_only_lookups_and_writes_nothing(upgates_write_factory, tmp_path, caplog):
    api = upgates_write_factory(customers=250)
    shop = emails(api)
    before = {e: metas_of(api, e) for e in shop}
    wanted = shop[:4] + ["ghost@example.org"]
    with caplog.at_level("INFO", logger="airbyte"):
        result = write(api, [record(cartum_user(i, e)) for i, e in enumerate(wanted)] + [state(1)], dry_run=True,
                       max_rejected_percent=100)
    assert result.error is None
    assert result.states == []  # withheld in a dry run
    assert api.log.count(function=PUT) == 0
    gets = api.log.count(function=GET)
    # page 1 of the list answers 100 customers and says there are 3 pages; the one e-mail left
    # is looked up alone (cheaper than the 2 other pages)
    assert gets == 2
    assert {e: metas_of(api, e) for e in shop} == before
    assert "ghost@example.org" in caplog.text


def test_a_newsletter_value_in_another_case_is_corrected_and_noted(upgates_write_api, tmp_path):
    api = upgates_write_api
    shop = emails(api)
    rejects = tmp_path / "rejected.jsonl"
    result = write(api, [record({"email": shop[0], "newsletter_accept": " Yes "}), state(1)],
                   mapping={"preset": "upgates_customer"}, rejected_records_path=str(rejects))
    assert result.error is None and result.states == [1]
    (put,) = api.log.select(function=PUT)
    assert put.body["customers"][0]["newsletter_accept"] == "yes"
    customer = next(c for _, c in sorted(api.customers.items()) if c["login"]["email"] == shop[0])
    assert customer["newsletter_accept"] == "yes"
    (line,) = [json.loads(l) for l in rejects.read_text().splitlines()]
    assert line["kind"] == "correction" and line["field"] == "newsletter_accept" and "'yes'" in line["reason"]
