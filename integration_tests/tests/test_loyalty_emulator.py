"""The loyalty emulator behaves as seed 003 and API-NOTES §3 say."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import requests

from harness.fixtures.loyalty import loyalty_form
from emulators.loyalty import LoyaltyEmulator


def post(api: LoyaltyEmulator, **fields) -> requests.Response:
    r = requests.post(api.url, data=loyalty_form(api, **fields), timeout=10)
    assert r.status_code == 200  # errors too are HTTP 200
    return r


def post_json(api: LoyaltyEmulator, **fields) -> dict:
    return post(api, output="JSON", **fields).json()


def batch(api: LoyaltyEmulator, headers: list[str], lines: list[str], mode: str = "update", **extra) -> dict:
    fields = {f"profiles_header_{i}": h for i, h in enumerate(headers, 1)}
    return post_json(
        api,
        type="customers_batch",
        delimiter=extra.pop("delimiter", "pipe"),
        overwrite_duplicates=mode,
        campaigns_to_include=extra.pop("campaigns", api.campaign_ids[0]),
        profiles_data="\n".join(lines) + "\n",
        **fields,
        **extra,
    )


def search(api: LoyaltyEmulator, **fields) -> list[dict]:
    out = post_json(api, type="customer_search", **fields)
    assert out["status"] == "success", out
    return out["customers"]


def test_defaults_are_a_usable_seeded_account(loyalty_api):
    assert len(loyalty_api.campaign_ids) == 2
    assert loyalty_api.custom_field_names == ["custom_field_1", "custom_field_2"]
    assert sorted(loyalty_api.customers) == ["EXIST001", "EXIST002", "EXIST003"]
    fields = post_json(loyalty_api, API="1.6", type="manage_fields", action="list")
    assert [f["label"] for f in fields["fields"]] == ["Favourite store", "Member tier"]
    campaigns = post_json(loyalty_api, type="campaigns_list", offset="1", length="5")
    assert campaigns["total"] == 2 and [c["id"] for c in campaigns["campaigns"]] == [loyalty_api.campaign_ids[1]]


@pytest.mark.parametrize(
    "override, message",
    [
        ({"user_api_key": "wrong"}, "Invalid user_id or user_api_key"),
        ({"user_id": "nobody"}, "Invalid user_id or user_api_key"),
        ({"account_id": "other"}, "Unknown account_id"),
        ({"API": "1.0"}, "Unsupported API version"),
        ({"type": "teleport"}, "Unknown type"),
    ],
)
def test_errors_are_status_error_with_http_200(loyalty_api, override, message):
    fields = {**loyalty_form(loyalty_api, type="campaigns_list", output="JSON"), **override}
    r = requests.post(loyalty_api.url, data=fields, timeout=10)
    assert r.status_code == 200
    assert r.json()["status"] == "error" and message in r.json()["error"]


def test_api_access_key_header_wins_over_form(loyalty_api):
    form = loyalty_form(loyalty_api, type="campaigns_list", output="JSON", user_api_key="stale")
    r = requests.post(loyalty_api.url, data=form, headers={"api_access_key": loyalty_api.api_key}, timeout=10)
    assert r.json()["status"] == "success"
    form["user_api_key"] = loyalty_api.api_key
    r = requests.post(loyalty_api.url, data=form, headers={"api_access_key": "wrong"}, timeout=10)
    assert r.json()["status"] == "error"


def test_output_formats_xml_json_jsonp_condensed(loyalty_api):
    xml = post(loyalty_api, type="campaigns_list").text
    root = ET.fromstring(xml)
    assert root.tag == "response" and root.get("status") == "success"
    assert [c.get("id") for c in root.iter("campaign")] == loyalty_api.campaign_ids
    pretty = post(loyalty_api, type="campaigns_list", output="JSON").text
    condensed = post(loyalty_api, type="campaigns_list", output="JSON", condensed="yes").text
    assert "\n" in pretty and " " not in condensed.replace("Coffee points", "").replace("Tenth visit free", "")
    assert json.loads(pretty) == json.loads(condensed)
    jsonp = post(loyalty_api, type="campaigns_list", callback="handle", condensed="yes").text
    assert jsonp.startswith("handle(") and jsonp.endswith(");")
    assert json.loads(jsonp[len("handle(") : -2]) == json.loads(condensed)
    err = ET.fromstring(post(loyalty_api, type="nope").text)
    assert err.get("status") == "error" and err.find("error").text == "Unknown type 'nope'"


def test_batch_creates_updates_and_reads_back(loyalty_api):
    out = batch(
        loyalty_api,
        ["code", "card_number", "first_name", "last_name", "email", "custom_date", "custom_field_2"],
        ["C1|111|Jane|Doe|jane@example.com|1970-07-14|gold", "EXIST001|50000001|Ann|Member|ann@example.com||silver"],
    )
    assert out["status"] == "success" and out["batch"]["status"] == "imported"
    assert out["batch"]["customers"] == {"new": 1, "updated": 1, "ignored": 0}
    (jane,) = search(loyalty_api, code="C1")
    assert (jane["first_name"], jane["email"], jane["custom_date"], jane["custom_field_2"]) == (
        "Jane",
        "jane@example.com",
        "1970-07-14",
        "gold",
    )
    assert jane["campaigns"] == [{"id": loyalty_api.campaign_ids[0], "balance": 0}]
    (ann,) = search(loyalty_api, email="ann@example.com")
    assert ann["code"] == "EXIST001" and ann["custom_field_1"] == "Main street"  # update keeps the rest


def test_duplicate_modes_yes_update_ignore(loyalty_factory):
    results = {}
    for mode in ("yes", "update", "ignore"):
        api = loyalty_factory()
        out = batch(api, ["code", "first_name"], ["EXIST002|Renamed"], mode=mode)
        key = "ignored" if mode == "ignore" else "updated"
        assert out["batch"]["customers"][key] == 1
        results[mode] = search(api, code="EXIST002")[0]
    assert results["yes"]["first_name"] == "Renamed" and results["yes"]["email"] == ""  # blanked
    assert results["yes"]["card_number"] == ""
    assert results["update"]["first_name"] == "Renamed" and results["update"]["email"] == "existing2@example.com"
    assert results["ignore"]["first_name"] == "Existing2"


def test_match_by_card_number_when_no_code(loyalty_api):
    out = batch(loyalty_api, ["card_number", "phone"], ["50000003|777-1234"])
    assert out["batch"]["customers"]["updated"] == 1
    assert loyalty_api.customers["EXIST003"]["phone"] == "777-1234"


def test_generated_codes_and_card_numbers(loyalty_api):
    out = batch(loyalty_api, ["first_name", "email"], ["Nocode|n1@example.com", "Other|n2@example.com"], card_number_generate="10")
    generated = out["batch"]["generated"]
    assert [g["line"] for g in generated] == [1, 2]
    for g in generated:
        assert len(g["code"]) == 16 and g["code"].isdigit()
        assert len(g["card_number"]) == 10 and g["card_number"].isdigit()
        assert loyalty_api.customers[g["code"]]["card_number"] == g["card_number"]


def test_field_count_mismatch_fails_the_whole_batch(loyalty_api):
    before = {k: dict(v) for k, v in loyalty_api.customers.items()}
    out = batch(loyalty_api, ["code", "first_name"], ["N1|ok", "N2|too|many"])
    assert out["status"] == "error" and "Line 2" in out["error"]
    assert {k: dict(v) for k, v in loyalty_api.customers.items()} == before


def test_invalid_value_fails_batch_or_is_skipped_by_switch(loyalty_factory):
    strict = loyalty_factory()
    out = batch(strict, ["code", "custom_date"], ["N1|2020-01-01", "N2|04-03-2010"])
    assert out["status"] == "error" and "custom_date" in out["error"] and "N1" not in strict.customers
    lenient = loyalty_factory(errors_fail_batch=False)
    out = batch(lenient, ["code", "custom_date"], ["N1|2020-01-01", "N2|2020-02-30"])
    assert out["status"] == "success"
    assert out["batch"]["customers"]["new"] == 1
    assert out["batch"]["errors"] == [{"line": 2, "message": "custom_date '2020-02-30' is not a valid date"}]
    xml = ET.fromstring(post(lenient, **_batch_fields(lenient, ["code", "custom_date"], ["N3|bad"])).text)
    assert xml.find("batch/errors/error").get("line") == "1"


def _batch_fields(api, headers, lines, mode="update"):
    return {
        "type": "customers_batch",
        "delimiter": "pipe",
        "overwrite_duplicates": mode,
        "campaigns_to_include": api.campaign_ids[0],
        "profiles_data": "\n".join(lines),
        **{f"profiles_header_{i}": h for i, h in enumerate(headers, 1)},
    }


def test_max_lines_switch(loyalty_factory):
    api = loyalty_factory(max_lines=2)
    out = batch(api, ["code"], ["A", "B", "C"])
    assert out["status"] == "error" and "Too many lines" in out["error"]
    assert batch(api, ["code"], ["A", "B"])["status"] == "success"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"profiles_header_1": "code", "profiles_header_4": "email"}, "do not skip more than one"),
        ({"profiles_header_1": "code", "profiles_header_3": "shoe_size"}, "Unknown header 'shoe_size'"),
        ({"profiles_header_1": "code", "profiles_header_2": "code"}, "more than once"),
        ({"profiles_header_1": "custom_field_9"}, "Unknown header"),
        ({}, "At least one profiles_header"),
        ({"profiles_header_1": "code", "delimiter": "semicolon"}, "delimiter must be"),
        ({"profiles_header_1": "code", "overwrite_duplicates": "merge"}, "overwrite_duplicates must be"),
        ({"profiles_header_1": "code", "campaigns_to_include": "898989889, 404"}, "Campaign '404' not found"),
        ({"profiles_header_1": "code", "campaigns_to_include": ""}, "at least one campaign"),
    ],
)
def test_batch_parameter_validation(loyalty_api, fields, message):
    form = {
        "type": "customers_batch",
        "delimiter": "pipe",
        "overwrite_duplicates": "update",
        "campaigns_to_include": loyalty_api.campaign_ids[0],
        "profiles_data": "X1|a@b.cz\n",
        **fields,
    }
    out = post_json(loyalty_api, **form)
    assert out["status"] == "error" and message in out["error"], out


def test_skipping_one_header_number_is_allowed(loyalty_api):
    out = post_json(loyalty_api, **{**_batch_fields(loyalty_api, [], ["S1|s@example.com"]), "profiles_header_1": "code", "profiles_header_3": "email"})
    assert out["status"] == "success"
    assert loyalty_api.customers["S1"]["email"] == "s@example.com"


def test_tab_and_comma_delimiters_and_crlf_lines(loyalty_api):
    out = batch(loyalty_api, ["code", "city"], ["T1\tPraha, Old Town", "T2\tBrno|North"], delimiter="tab")
    assert out["batch"]["customers"]["new"] == 2
    assert loyalty_api.customers["T1"]["city"] == "Praha, Old Town"
    assert loyalty_api.customers["T2"]["city"] == "Brno|North"
    out = post_json(loyalty_api, **{**_batch_fields(loyalty_api, ["code", "city"], []), "delimiter": "comma", "profiles_data": "K1,Olomouc\r\nK2,Zlin\r\n"})
    assert out["batch"]["customers"]["new"] == 2


def test_multiple_campaigns_and_auto_add(loyalty_api):
    both = ",".join(loyalty_api.campaign_ids)
    batch(loyalty_api, ["code", "auto_add"], ["A1|25", "EXIST001|5"], campaigns=both)
    first, second = loyalty_api.campaign_ids
    assert loyalty_api.customers["A1"]["campaigns"] == {first: 25, second: 0}
    assert loyalty_api.customers["EXIST001"]["campaigns"] == {first: 15, second: 0}
    assert batch(loyalty_api, ["code", "auto_add"], ["A2|lots"])["status"] == "error"


def test_undo_state_is_recorded_unless_no_undo_yes(loyalty_api):
    """Seed 003: an undo state is saved by default; `no_undo=yes` turns it off; `allow_undo`
    (listed as optional) changes nothing."""
    batch(loyalty_api, ["code"], ["U0"], no_undo="yes")
    assert loyalty_api.undo_states == []
    batch(loyalty_api, ["code"], ["U1"])
    assert len(loyalty_api.undo_states) == 1
    batch(loyalty_api, ["code"], ["U2"], allow_undo="yes")
    assert len(loyalty_api.undo_states) == 2
    batch(loyalty_api, ["code"], ["U3"], allow_undo="yes", no_undo="yes")
    assert len(loyalty_api.undo_states) == 2
    loyalty_api.undo()
    assert "U2" not in loyalty_api.customers and {"U0", "U1", "U3"} <= set(loyalty_api.customers)


def test_undo_restores_updated_customers_and_keeps_only_what_the_batch_touched(loyalty_api):
    batch(loyalty_api, ["code", "first_name"], ["EXIST001|Changed", "NEW1|New"])
    (state,) = loyalty_api.undo_states
    assert set(state["before"]) == {"EXIST001", "NEW1"}  # not a copy of the whole account
    assert loyalty_api.customers["EXIST001"]["first_name"] == "Changed"
    loyalty_api.undo()
    assert loyalty_api.customers["EXIST001"]["first_name"] == "Existing1" and "NEW1" not in loyalty_api.customers


@pytest.mark.parametrize("echo", [True, "unreadable"])
def test_echo_request_switch_sends_the_form_back_url_encoded(loyalty_factory, echo):
    api = loyalty_factory(api_key="k3y/with+plus&more=", echo_request=echo)
    r = requests.post(api.url, data=loyalty_form(api, type="campaigns_list", output="JSON"), timeout=10)
    assert "k3y%2Fwith%2Bplus%26more%3D" in r.text  # the form as sent: the key URL-encoded
    if echo == "unreadable":
        assert r.text.startswith("<html>")
    else:
        assert r.json()["status"] == "success"


def test_log_labels_calls_by_type_and_faults_apply(loyalty_api):
    batch(loyalty_api, ["code"], ["L1"])
    search(loyalty_api, code="L1")
    assert loyalty_api.log.count(function="customers_batch") == 1
    assert loyalty_api.log.count(function="customer_search") == 1
    loyalty_api.inject("status", status=503)
    r = requests.post(loyalty_api.url, data=loyalty_form(loyalty_api, type="campaigns_list"), timeout=10)
    assert r.status_code == 503
    assert post_json(loyalty_api, type="campaigns_list")["status"] == "success"


def test_customer_info_and_search_term(loyalty_api):
    info = post_json(loyalty_api, type="customer_info", card_number="50000002")
    assert info["customer"]["code"] == "EXIST002"
    assert post_json(loyalty_api, type="customer_info", code="nope")["status"] == "error"
    assert [c["code"] for c in search(loyalty_api, search="existing3")] == ["EXIST003"]
