"""The real console script in a subprocess, as the platform runs it: check, discover, write;
the API key never appears in what it prints."""

from __future__ import annotations

import json

from harness.runner import run_connector

CMD = "destination-loyalty-batch"


def test_write_through_console_script_with_key_in_header(loyalty_api, helpers, tmp_path):
    h = helpers
    rejected = tmp_path / "rejected.jsonl"
    cartum_users = [
        {"id": 101, "title": "Olena Kovalenko", "email": "olena@example.ua", "phone": "+380 44 000 0001",
         "city": "Kyiv", "address": "Khreshchatyk 1,\napt. 5", "country": "Ukraine", "registered": "2024-01-01 10:00:00"},
        {"id": 102, "title": "Taras", "email": "bad address", "city": "Lviv"},
    ]
    config = h.config(loyalty_api, mapping={"preset": "cartum_user"}, api_key_in_header=True, rejected_records_path=str(rejected))
    stdin = h.messages([h.record(u) for u in cartum_users], h.state("2024-01-01"))
    result = run_connector(CMD, "write", config=config, catalog=h.catalog("append_dedup"), stdin=stdin)
    assert result.returncode == 0, result.stderr[-3000:]
    assert [s["stream"]["stream_state"] for s in result.states] == [{"cursor": "2024-01-01"}]
    (olena,) = h.search(loyalty_api, code="101")
    assert (olena["first_name"], olena["last_name"], olena["street1"], olena["country"]) == (
        "Olena", "Kovalenko", "Khreshchatyk 1, apt. 5", "Ukraine")
    assert h.search(loyalty_api, code="102") == []
    (reject,) = [x for x in map(json.loads, rejected.read_text().splitlines()) if x.get("kind", "rejected") == "rejected"]
    assert reject["key"] == "102"
    assert any(line.startswith("Write summary") for line in result.logs)
    for call in loyalty_api.log.select(function="customers_batch"):
        assert "user_api_key" not in call.body  # travelled in the api_access_key header
    assert loyalty_api.api_key not in result.output


def test_check_reports_bad_key_and_missing_campaign_without_leaking_the_key(loyalty_api, helpers):
    h = helpers
    ok = run_connector(CMD, "check", config=h.config(loyalty_api))
    assert ok.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    assert loyalty_api.log.count(function="campaigns_list") == 1 and loyalty_api.log.count(function="customers_batch") == 0

    wrong_key = "wrong-key-that-must-not-leak-123"
    bad = run_connector(CMD, "check", config=h.config(loyalty_api, api_key=wrong_key))
    status = bad.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "Invalid user_id or user_api_key" in status["message"]
    assert wrong_key not in bad.output

    missing = run_connector(CMD, "check", config=h.config(loyalty_api, campaigns=[loyalty_api.campaign_ids[0], "404404"]))
    status = missing.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
    assert status["status"] == "FAILED" and "404404 not found" in status["message"]
    assert loyalty_api.api_key not in missing.output + ok.output


def test_discover_emits_destination_catalog_with_custom_fields(loyalty_api, helpers):
    result = run_connector(CMD, "discover", config=helpers.config(loyalty_api))
    assert result.returncode == 0, result.stderr[-2000:]
    (message,) = result.messages
    assert message["type"] == "DESTINATION_CATALOG"
    ops = message["destination_catalog"]["operations"]
    assert [(o["object_name"], o["sync_mode"]) for o in ops] == [("customers", "append"), ("customers", "append_dedup")]
    for op in ops:
        assert op["matching_keys"] == [["code"], ["card_number"]]
        props = op["json_schema"]["properties"]
        assert {"code", "card_number", "first_name", "email", "custom_date", "auto_add"} <= set(props)
        assert props["custom_field_2"]["title"] == "Member tier"
    assert loyalty_api.api_key not in result.output


def test_check_fails_on_a_rejected_records_path_that_cannot_be_appended_to(loyalty_api, helpers, tmp_path):
    for path, why in ((str(tmp_path), "it is a folder"), ("/proc/version", "cannot be used")):
        result = run_connector(CMD, "check", config=helpers.config(loyalty_api, rejected_records_path=path))
        status = result.of_type("CONNECTION_STATUS")[0]["connectionStatus"]
        assert status["status"] == "FAILED" and path in status["message"] and why in status["message"]


def test_undecodable_input_is_rejected_with_its_line_number_and_the_state_still_follows(loyalty_api, helpers, tmp_path):
    rejected = tmp_path / "rejected.jsonl"
    config = helpers.config(loyalty_api, rejected_records_path=str(rejected))
    stdin = helpers.messages(helpers.record({"code": "IN1"}), "this is not json {", helpers.record({"code": "IN2"}), helpers.state(1))
    result = run_connector(CMD, "write", config=config, catalog=helpers.catalog(), stdin=stdin)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [s["stream"]["stream_state"] for s in result.states] == [{"cursor": 1}]
    assert {"IN1", "IN2"} <= set(loyalty_api.customers)
    (bad,) = [x for x in map(json.loads, rejected.read_text().splitlines()) if x.get("kind", "rejected") == "rejected"]
    assert bad["key"] == "line 2" and bad["code"] == "input"
    assert "this is not json" not in "".join(result.logs)  # personal data never in the log
