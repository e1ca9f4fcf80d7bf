"""Issue 13 for the loyalty destination: phones normalised, dry run, seed 003's undo and
generated ids, the cost of update mode; and send() safe with requests in flight."""

from __future__ import annotations

import json
import math

import pytest

from harness.loyalty_data import mixed_customers


def summary(result, prefix="Loyalty summary"):
    return next(x for x in result.logs if x.startswith(prefix))


def lines_of(path, kind=None):
    out = [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []
    return [x for x in out if kind is None or x.get("kind") == kind]


# ---- phones (issue 13 item 2) -------------------------------------------------------------
PHONES = [
    {"code": "PH1", "phone": "785 206 025", "country": "CZ"},                      # local, country code
    {"code": "PH2", "phone": "0631234567", "country": "Ukraine"},                  # local, country name
    {"code": "PH3", "phone": "0905 123 456"},                                      # no country: default region
    {"code": "PH4", "phone": "+420777000111", "country": "CZ"},                   # already E.164: untouched
    {"code": "PH5", "phone": "12", "country": "CZ", "email": "ph5@example.com"},  # cannot be read
]


def test_phones_are_normalised_with_the_record_country_or_the_default_region(loyalty_api, write_fast, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    result = write_fast(loyalty_api, PHONES, default_phone_region="SK", rejected_records_path=str(rejected))
    assert result.error is None, result.error
    phones = {c: loyalty_api.customers[c]["phone"] for c in ("PH1", "PH2", "PH3", "PH4", "PH5")}
    assert phones == {"PH1": "+420785206025", "PH2": "+380631234567", "PH3": "+421905123456", "PH4": "+420777000111", "PH5": ""}
    assert loyalty_api.customers["PH5"]["email"] == "ph5@example.com"  # written, without the phone
    notes = lines_of(rejected, "correction")
    assert sorted(n["key"] for n in notes) == ["PH1", "PH2", "PH3", "PH5"]
    assert all(n["field"] == "phone" for n in notes)
    assert next(n for n in notes if n["key"] == "PH5")["reason"].startswith("dropped:")
    assert lines_of(rejected, "rejected") == []
    write = summary(result, "Write summary")
    assert "rejected 0" in write and "corrected 4" in write
    assert "phones normalised 3, phones dropped 1, records rejected for their phone 0" in summary(result)


def test_without_a_region_a_local_phone_is_dropped_and_with_reject_record_rejected(loyalty_api, write_fast, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    result = write_fast(loyalty_api, PHONES, invalid_phone="reject_record", rejected_records_path=str(rejected))
    assert result.error is None, result.error
    refused = lines_of(rejected, "rejected")
    # PH3 has no country and there is no default region; PH5 cannot be read at all
    assert sorted(x["key"] for x in refused) == ["PH3", "PH5"]
    assert all(x["code"] == "invalid_phone" and "12" not in x["reason"] for x in refused)
    assert "PH3" not in loyalty_api.customers and "PH5" not in loyalty_api.customers
    assert loyalty_api.customers["PH1"]["phone"] == "+420785206025"


# ---- dry run (issue 13 item 4) ------------------------------------------------------------
def test_dry_run_looks_up_writes_nothing_and_withholds_states(loyalty_api, write_fast, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    records = [
        {"code": "EXIST001", "first_name": "Renamed"},     # exists: update
        {"code": "DRY1", "first_name": "New"},             # not there: create
        {"email": "nocode@example.com"},                   # no code, no card: the platform creates
        {"card_number": "50000002", "city": "Brno"},       # exists by card number: update
        {"code": "DRY2", "custom_date": "04/03/2010"},     # would be rejected
    ]
    before = {c: dict(v) for c, v in loyalty_api.customers.items()}
    result = write_fast(loyalty_api, records, dry_run=True, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    assert result.states == []  # a real sync later starts from the same place
    assert loyalty_api.log.count(function="customers_batch") == 0
    assert loyalty_api.log.count(function="customer_search") == 3  # one per record with a code or card
    assert {c: dict(v) for c, v in loyalty_api.customers.items()} == before
    assert not rejected.exists()
    line = next(x for x in result.logs if x.startswith("Dry run (destination-loyalty-batch) stream customers"))
    assert "would create 2, update 2, create or update 0" in line and "reject 1 (custom_date: 1)" in line


def test_dry_run_in_append_mode_skips_existing_customers(loyalty_api, write_fast):
    records = [{"code": "EXIST002", "first_name": "X"}, {"code": "DRY3"}]
    result = write_fast(loyalty_api, records, mode="append", dry_run=True)
    assert result.error is None, result.error
    line = next(x for x in result.logs if x.startswith("Dry run (destination-loyalty-batch) stream customers"))
    assert "would create 1" in line and "skip 1" in line


def test_dry_run_lookups_stop_at_their_budget(loyalty_api, write_fast, monkeypatch):
    import destination_loyalty_batch.destination as destination

    monkeypatch.setattr(destination, "DRY_RUN_LOOKUPS", 3)
    records = [{"code": f"BUD{i}"} for i in range(5)]
    result = write_fast(loyalty_api, records, dry_run=True)
    assert result.error is None, result.error
    assert loyalty_api.log.count(function="customer_search") == 3
    line = next(x for x in result.logs if x.startswith("Dry run (destination-loyalty-batch) stream customers"))
    assert "would create 3, update 0, create or update 2" in line
    assert "customer_search 3 (over the budget, not looked up: 2)" in summary(result)


def test_dry_run_falls_back_to_create_or_update_when_customer_search_is_refused(loyalty_api, write_fast):
    from emulators.loyalty import LoyaltyError

    def refuse(params):
        raise LoyaltyError("customer_search is not enabled for this API user")

    loyalty_api._customer_search = refuse
    result = write_fast(loyalty_api, [{"code": f"RF{i}"} for i in range(4)], dry_run=True)
    assert result.error is None, result.error
    assert loyalty_api.log.count(function="customer_search") == 1  # refused once: no more look-ups
    line = next(x for x in result.logs if x.startswith("Dry run (destination-loyalty-batch) stream customers"))
    assert "would create 0, update 0, create or update 4" in line
    assert sum("customer_search failed" in x for x in result.logs) == 1


# ---- undo, generated ids (issue 13 item 5) ------------------------------------------------
@pytest.mark.parametrize("allow_undo, sent, states", [(True, {"allow_undo": "yes"}, 2), (False, {"no_undo": "yes"}, 0)])
def test_undo_is_turned_off_with_no_undo_yes(loyalty_api, write_fast, allow_undo, sent, states):
    result = write_fast(loyalty_api, [{"code": "U1"}, {"code": "U2"}], batch_size=1, allow_undo=allow_undo)
    assert result.error is None, result.error
    for call in loyalty_api.log.select(function="customers_batch"):
        assert {k: call.body.get(k) for k in ("allow_undo", "no_undo")} == {"allow_undo": None, "no_undo": None, **sent}
    assert len(loyalty_api.undo_states) == states


def test_generated_codes_and_cards_are_written_with_the_record_key(loyalty_api, write_fast, tmp_path):
    rejected = tmp_path / "loyalty-rejected.jsonl"
    records = [{"email": "gen1@example.com", "first_name": "A"}, {"email": "gen2@example.com"}, {"code": "HAS1"}]
    result = write_fast(loyalty_api, records, mode="append", card_number_generate=10, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    generated = tmp_path / "loyalty-rejected.generated_ids.jsonl"
    got = lines_of(generated)
    assert [g["key"] for g in got] == ["email gen1@example.com", "email gen2@example.com", "HAS1"]
    for g in got[:2]:
        (stored,) = [c for c in loyalty_api.customers.values() if c["email"] == g["email"]]
        assert (g["code"], g["card_number"]) == (stored["code"], stored["card_number"])
        assert g["generated"] == ["code", "card_number"] and len(g["code"]) == 16 and len(g["card_number"]) == 10
    assert got[2]["generated"] == ["card_number"] and got[2]["code"] == "HAS1"
    assert any(str(generated) in x for x in result.logs)


def test_no_generated_ids_file_without_a_rejected_records_file(loyalty_api, write_fast, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = write_fast(loyalty_api, [{"email": "gen3@example.com"}], mode="append")
    assert result.error is None, result.error
    assert list(tmp_path.iterdir()) == []
    assert any("generated identifiers for 1 customer(s)" in x for x in result.logs)


# ---- update mode's cost (issue 13 item 6) ---------------------------------------------------
def states_every(records, k, h):
    lines = []
    for i, r in enumerate(records, 1):
        lines.append(h.record(r))
        if i % k == 0:
            lines.append(h.state(i))
    return lines + [h.state("end")]


def test_keep_existing_groups_the_window_by_field_set(loyalty_api, write_fast, helpers):
    records = mixed_customers(775)
    field_sets = {tuple(sorted(r)) for r in records}
    result = write_fast(loyalty_api, states_every(records, 50, helpers), batch_size=500)
    assert result.error is None, result.error
    requests = loyalty_api.log.count(function="customers_batch")
    # one request per field set per window, whatever the source's checkpoint rate (not per STATE)
    assert requests == sum(math.ceil(sum(1 for r in records if tuple(sorted(r)) == fs) / 500) for fs in field_sets)
    assert f"requests customers_batch {requests} vs ideal 2 (775 records / batch size 500); field sets {len(field_sets)}" in summary(result)
    # and still no blank was sent: a customer without a phone kept none, one with a phone has it
    for call in loyalty_api.log.select(function="customers_batch"):
        assert "||" not in call.body["profiles_data"] and "|\n" not in call.body["profiles_data"]


def test_send_blank_sends_one_request_per_batch_and_clears_missing_fields(loyalty_api, write_fast, helpers):
    records = mixed_customers(775) + [{"code": "EXIST001", "first_name": "Only"}]
    result = write_fast(loyalty_api, states_every(records, 50, helpers), batch_size=500, blank_values_in_update="send_blank")
    assert result.error is None, result.error
    assert loyalty_api.log.count(function="customers_batch") == 2
    assert loyalty_api.customers["EXIST001"]["phone"] == "" and loyalty_api.customers["EXIST001"]["first_name"] == "Only"
    assert "requests customers_batch 2 vs ideal 2" in summary(result)
    assert any("send_blank" in x and "clears the stored value" in x for x in result.logs)


# ---- requests in flight (issue 16 item 1, shared loop) ---------------------------------------
def test_concurrent_sends_lose_no_count_and_write_everything(loyalty_factory, write_fast, helpers):
    api = loyalty_factory(latency=0.02)
    records = mixed_customers(120)
    result = write_fast(api, states_every(records, 10, helpers), batch_size=10, max_concurrent_requests=4,
                        blank_values_in_update="send_blank")
    assert result.error is None, result.error
    assert sorted(c for c in api.customers if c.startswith("M")) == [r["code"] for r in records]
    sent = api.log.count(function="customers_batch")
    assert f"customers new 120, updated 0" in summary(result) and f"requests customers_batch {sent} " in summary(result)
    assert [s["stream"]["stream_state"]["cursor"] for s in result.states][-1] == "end"



def test_a_later_update_never_overtakes_an_earlier_one_with_requests_in_flight(loyalty_factory, write_fast, helpers):
    api = loyalty_factory(latency=0.01)
    records = [{"code": f"K{i % 5}", "first_name": f"v{i}", "email": f"k{i % 5}@example.com"} for i in range(60)]
    result = write_fast(api, states_every(records, 7, helpers), batch_size=2, max_concurrent_requests=4)
    assert result.error is None, result.error
    last = {r["code"]: r["first_name"] for r in records}
    assert {c: api.customers[c]["first_name"] for c in last} == last
    assert [s["stream"]["stream_state"]["cursor"] for s in result.states] == [*range(7, 61, 7), "end"]
