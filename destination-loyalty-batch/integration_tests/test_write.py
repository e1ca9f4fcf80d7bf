"""Writes to the loyalty emulator, read back with customer_search and compared field by field.
Run in-process for speed (the console script itself is covered by test_console_script.py)."""

from __future__ import annotations

import json

import pytest

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

FIELDS = ("first_name", "last_name", "email", "phone", "city", "custom_field_1", "custom_field_2")




def readback(api, h, code):
    (found,) = h.search(api, code=code)
    return found


@pytest.mark.parametrize(
    "mode, handling, expected_flag, existing_after",
    [
        # existing customer EXIST001: first Existing1, email existing1@..., city Brno, custom_field_1 "Main street"
        ("append", "from_sync_mode", "ignore", {"first_name": "Existing1", "phone": "555-0001", "city": "Brno", "custom_field_1": "Main street"}),
        ("append_dedup", "from_sync_mode", "update", {"first_name": "Renamed", "phone": "555-0001", "city": "Olomouc", "custom_field_1": "Main street"}),
        ("append_dedup", "replace", "yes", {"first_name": "Renamed", "phone": "", "city": "Olomouc", "custom_field_1": ""}),
    ],
)
@pytest.mark.parametrize("fmt", ["XML", "JSON"])
def test_duplicate_modes_read_back_field_by_field(loyalty_api, helpers, mode, handling, expected_flag, existing_after, fmt, write_fast):
    h = helpers
    new = {"code": "N1", "first_name": "Jana", "last_name": "Nová", "email": "jana@example.cz", "phone": "+420 777 000 111",
           "city": "Brno", "Member tier": "gold", "custom_date": "1985-03-02T10:00:00+01:00"}
    existing = {"code": "EXIST001", "first_name": "Renamed", "city": "Olomouc"}
    result = write_fast(loyalty_api, [new, existing], mode=mode, duplicate_handling=handling, response_format=fmt)
    assert result.error is None, result.error
    assert [st["stream"]["stream_state"] for st in result.states] == [{"cursor": 1}]
    (call,) = loyalty_api.log.select(function="customers_batch") if expected_flag != "update" else loyalty_api.log.select(function="customers_batch")[:1]
    assert call.body["overwrite_duplicates"] == expected_flag
    assert (call.body.get("output") == "JSON") == (fmt == "JSON")

    got = readback(loyalty_api, h, "N1")
    assert {k: got[k] for k in FIELDS} == {
        "first_name": "Jana", "last_name": "Nová", "email": "jana@example.cz", "phone": "+420777000111",
        "city": "Brno", "custom_field_1": "", "custom_field_2": "gold",
    }
    assert got["custom_date"] == "1985-03-02"
    assert got["campaigns"] == [{"id": loyalty_api.campaign_ids[0], "balance": 0}]
    old = readback(loyalty_api, h, "EXIST001")
    for field, value in existing_after.items():
        assert old[field] == value, field
    summary = next(line for line in result.logs if line.startswith("Loyalty summary"))
    if expected_flag == "ignore":
        assert "new 1, updated 0, ignored 1" in summary
    else:
        assert "new 1, updated 1, ignored 0" in summary


def test_values_with_delimiters_and_line_breaks_arrive_intact(loyalty_api, helpers, tmp_path, write_fast):
    h = helpers
    records = [
        {"code": "P1", "city": "Praha | Staré Město", "street1": "Na Příkopě 1"},
        {"code": "P2", "city": "Brno, Královo Pole", "street1": "Palackého\t12"},
        {"code": "P3", "city": "Ostrava", "street1": "Line one\r\nLine two\nLine three"},
        {"code": "P4", "city": "a|b", "street1": "c,d", "street2": "e\tf"},  # all three: rejected
        {"code": "P5", "city": "x|y,z"},
    ]
    rejected = tmp_path / "rejected.jsonl"
    result = write_fast(loyalty_api, records, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    assert readback(loyalty_api, h, "P1")["city"] == "Praha | Staré Město"
    assert readback(loyalty_api, h, "P2")["city"] == "Brno, Královo Pole"
    assert readback(loyalty_api, h, "P2")["street1"] == "Palackého\t12"
    assert readback(loyalty_api, h, "P3")["street1"] == "Line one Line two Line three"
    assert readback(loyalty_api, h, "P5")["city"] == "x|y,z"
    assert h.search(loyalty_api, code="P4") == []
    (line,) = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert line["key"] == "P4" and line["code"] == "delimiters" and line["record"]["city"] == "a|b"
    summary = next(x for x in result.logs if x.startswith("Loyalty summary"))
    assert "line breaks replaced by a space 2 (in 1 records)" in summary
    # every request used a delimiter none of its values contained
    for call in loyalty_api.log.select(function="customers_batch"):
        char = {"pipe": "|", "comma": ",", "tab": "\t"}[call.body["delimiter"]]
        n_headers = sum(1 for k in call.body if k.startswith("profiles_header_"))
        assert all(len(row.split(char)) == n_headers for row in call.body["profiles_data"].splitlines())


def test_bisection_isolates_bad_lines_and_rejects_them_with_the_api_message(loyalty_api, helpers, tmp_path, write_fast):
    h = helpers
    records = [{"code": f"B{i:02d}", "email": f"b{i}@example.com"} for i in range(16)]
    records[5]["email"] = "not-an-address"
    records[12]["email"] = "also bad"
    rejected = tmp_path / "rejected.jsonl"
    result = write_fast(loyalty_api, records, batch_size=16, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    lines = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert sorted(x["key"] for x in lines) == ["B05", "B12"]
    assert all("is not a valid address" in x["reason"] and x["code"] == "batch_error" for x in lines)
    assert sorted(c for c in loyalty_api.customers if c.startswith("B")) == [f"B{i:02d}" for i in range(16) if i not in (5, 12)]
    calls = loyalty_api.log.count(function="customers_batch")
    assert 2 * 4 + 1 <= calls <= 2 * 2 * 4 + 1  # log2(16) levels for each of two bad lines
    assert any("rejected 2 (batch_error: 2)" in x for x in result.logs)


def test_line_errors_reported_in_a_success_answer_reject_those_lines_only(loyalty_factory, helpers, write_fast):
    api = loyalty_factory(errors_fail_batch=False)
    h = helpers
    records = [{"code": "L1", "email": "l1@example.com"}, {"code": "L2", "email": "nope"}, {"code": "L3", "email": "l3@example.com"}]
    result = write_fast(api, records)
    assert result.error is None, result.error
    assert api.log.count(function="customers_batch") == 1
    assert sorted(c for c in api.customers if c.startswith("L")) == ["L1", "L3"]
    assert any("Rejected record L2" in x and "line_error" in x for x in result.logs)


def test_batch_size_limit_is_learned(loyalty_factory, helpers, write_fast):
    api = loyalty_factory(max_lines=3)
    h = helpers
    records = [{"code": f"M{i:02d}", "first_name": "M"} for i in range(20)]
    result = write_fast(api, records, batch_size=10)
    assert result.error is None, result.error
    assert len([c for c in api.customers if c.startswith("M")]) == 20
    assert any("at most 3 lines per batch" in x for x in result.logs)
    refused = [c for c in api.log.select(function="customers_batch") if c.body["profiles_data"].count("\n") > 3]
    assert len(refused) == 1  # only the first batch is refused; the second is sent in requests of 3
    # the refused batch is re-sent in slices of the learnt limit: 1 refused + 2 x (3+3+3+1)
    assert api.log.count(function="customers_batch") == 1 + 2 * 4
    assert "bisections 0" in next(x for x in result.logs if x.startswith("Write summary"))


def test_rejected_share_threshold_fails_after_writing_what_was_accepted(loyalty_api, helpers, write_fast):
    h = helpers
    records = [{"code": "T1", "custom_date": "1990-01-01"}, {"code": "T2", "custom_date": "04/03/2010"}]
    result = write_fast(loyalty_api, records, max_rejected_percent=10)
    assert isinstance(result.error, AirbyteTracedException)
    assert result.states  # the accepted record's state was emitted before the failure
    assert result.error.failure_type == FailureType.config_error and "1 of 2 records were rejected" in result.error.message
    assert "T1" in loyalty_api.customers and "T2" not in loyalty_api.customers
    assert any("Rejected record T2" in x and "custom_date" in x for x in result.logs)


def test_generated_codes_and_card_numbers_auto_add_and_undo(loyalty_api, helpers, write_fast):
    h = helpers
    records = [{"first_name": "Nocode", "email": "nocode@example.com"}, {"code": "G2", "first_name": "Has"}]
    result = write_fast(loyalty_api, records, mode="append", card_number_generate=12, auto_add=25, allow_undo=True,
                   campaigns=loyalty_api.campaign_ids)
    assert result.error is None, result.error
    (nocode,) = h.search(loyalty_api, email="nocode@example.com")
    assert len(nocode["code"]) == 16 and len(nocode["card_number"]) == 12
    first, second = loyalty_api.campaign_ids
    assert {c["id"]: c["balance"] for c in nocode["campaigns"]} == {first: 25, second: 0}
    assert len(readback(loyalty_api, h, "G2")["card_number"]) == 12
    assert len(loyalty_api.undo_states) == 1
    assert any("generated identifiers for 2 customer(s)" in x and "email nocode@example.com" in x for x in result.logs)
    summary = next(x for x in result.logs if x.startswith("Loyalty summary"))
    assert "customers sent without code 1 (codes generated by the platform 1), card numbers generated 2" in summary


def test_update_mode_never_blanks_a_field_a_record_does_not_carry(loyalty_api, helpers, write_fast):
    h = helpers
    records = [{"code": "EXIST002", "phone": "+420 777 999 999"}, {"code": "EXIST003", "email": "new3@example.com", "phone": ""}]
    result = write_fast(loyalty_api, records, mode="append_dedup")
    assert result.error is None, result.error
    two, three = readback(loyalty_api, h, "EXIST002"), readback(loyalty_api, h, "EXIST003")
    assert (two["phone"], two["email"]) == ("+420777999999", "existing2@example.com")
    assert (three["phone"], three["email"]) == ("555-0003", "new3@example.com")


def test_update_mode_refusal_in_one_field_group_spares_the_other_groups(loyalty_api, helpers, tmp_path, write_fast):
    records = [
        {"code": "G1", "email": "g1@example.com"},
        {"code": "G2", "phone": "1"},
        {"code": "G3", "email": "broken"},
        {"code": "G4", "email": "g4@example.com"},
        {"code": "G5", "phone": "2"},
    ]
    result = write_fast(loyalty_api, records, mode="append_dedup")
    assert result.error is None, result.error
    assert sorted(c for c in loyalty_api.customers if c.startswith("G")) == ["G1", "G2", "G4", "G5"]
    assert any("Rejected record G3" in x and "not a valid address" in x for x in result.logs)
    assert "rejected 1 (batch_error: 1)" in next(x for x in result.logs if x.startswith("Write summary"))


def test_a_bad_line_in_each_of_several_requests_of_one_batch_is_isolated(loyalty_api, helpers, tmp_path, write_fast):
    # One batch, one set of fields, but no delimiter fits every value (E rows hold a tab, P rows a
    # pipe and a comma): the batch goes out as two requests, tab-free and pipe/comma-free.
    # Each request holds one bad e-mail and is refused whole; the core bisects each refused part
    # (Outcome.refused), so only the two bad lines are rejected, however often they are refused.
    records = [{"code": f"E{i}", "email": f"e{i}@example.com", "city": "Brno\tCentrum"} for i in range(4)]
    records += [{"code": f"P{i}", "email": f"p{i}@example.com", "city": "Praha | Staré Město, 1"} for i in range(4)]
    records[1]["email"] = "broken one"
    records[6]["email"] = "broken two"
    rejected = tmp_path / "rejected.jsonl"
    result = write_fast(loyalty_api, records, mode="append_dedup", batch_size=8, rejected_records_path=str(rejected))
    assert result.error is None, result.error
    lines = [json.loads(x) for x in rejected.read_text().splitlines()]
    assert sorted(x["key"] for x in lines) == ["E1", "P2"]
    assert all(x["code"] == "batch_error" and "not a valid address" in x["reason"] for x in lines)
    written = sorted(c for c in loyalty_api.customers if c[0] in "EP" and c[1:].isdigit())
    assert written == ["E0", "E2", "E3", "P0", "P1", "P3"]
    first_two = loyalty_api.log.select(function="customers_batch")[:2]
    assert sorted(call.body["delimiter"] for call in first_two) == ["pipe", "tab"]
    logs = result.logs
    write_summary = next(i for i, x in enumerate(logs) if x.startswith("Write summary (destination-loyalty-batch)"))
    assert "accepted 6, rejected 2 (batch_error: 2)" in logs[write_summary]
    assert "still failing after one retry" not in " ".join(logs)
    # the loyalty line comes from the core, right after its own summary, once
    assert logs[write_summary + 1].startswith("Loyalty summary: customers new 6")
    assert sum(x.startswith("Loyalty summary") for x in logs) == 1
