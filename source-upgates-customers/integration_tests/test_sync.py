"""What a read costs and delivers: check and discover, full and incremental reads (one request
per page, the cursor second), progress messages, filters sent to customers only, the 3-at-once
limit, broken answers retried, list shapes, full refresh, one JSON type per field, whole stdout
lines."""

from __future__ import annotations


import pytest

from harness.fixtures.upgates import upgates_config_for
from harness.runner import run_connector
from emulators.upgates import UpgatesEmulator
from upgates_console import SOURCE, catalog, customer_ids, customers_state, discovered_streams, read


def test_check_costs_one_request_and_discover_none(upgates, upgates_config):
    check = run_connector(SOURCE, "check", config=upgates_config)
    assert check.of_type("CONNECTION_STATUS")[0]["connectionStatus"]["status"] == "SUCCEEDED"
    assert upgates.log.summary() == {"GET status": 1}  # /status, not counted against the quota
    assert upgates.requests_used("hour") == 0
    discover = run_connector(SOURCE, "discover", config=upgates_config)
    streams = {s["name"]: s for s in discover.of_type("CATALOG")[0]["catalog"]["streams"]}
    assert set(streams) == {"customers", "customer_groups", "pricelists"}
    assert streams["customers"]["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert streams["customers"]["default_cursor_field"] == ["last_update_time"]
    assert upgates.log.count() == 1


def test_full_read_spends_one_request_per_page_and_no_more(upgates, upgates_config):
    cat = catalog(upgates_config)
    result = read(upgates, upgates_config, cat)
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert len(result.records("customer_groups")) == 3 and len(result.records("pricelists")) == 2
    # 250 customers = pages 1..3, no trailing empty page; one page each for groups and pricelists
    assert upgates.log.summary() == {"GET customers": 3, "GET groups": 1, "GET pricelists": 1}
    assert sorted(r.query.get("page") for r in upgates.log.select(path="/api/v2/customers")) == ["1", "2", "3"]
    assert upgates_config["api_key"] not in result.output


def test_incremental_reads_only_what_changed(upgates):
    config = upgates_config_for(upgates, lookback_minutes=0)
    cat = catalog(config, "customers")
    first = read(upgates, config, cat)
    state = first.last_state()
    cursor = state[0]["stream"]["stream_state"]["last_update_time"]
    upgates.clock.advance(2)  # the cursor is second-granular: the edits below are stamped 2 s after it
    upgates.update_customer(5, surname="Nová")
    upgates.update_customer(180, login={"email": "nova.adresa@example.cz"})
    added = upgates.add_customer()
    second = read(upgates, config, cat, state=state)
    assert second.returncode == 0, second.errors
    got = customer_ids(second)
    assert {5, 180, added["customer_id"]} <= got
    assert len(got) <= 4  # at most the one customer that sits on the saved cursor is read again
    assert upgates.log.count() == 1
    assert upgates.log.items[0].query["last_update_time_from"].startswith(cursor[:19])
    assert second.last_state()[0]["stream"]["stream_state"]["last_update_time"] > cursor


def test_customers_on_the_cursor_second_are_never_lost_between_syncs():
    with UpgatesEmulator(customers=250, world="tidy") as upgates:  # no customer stamped in the future
        config = upgates_config_for(upgates, lookback_minutes=0)
        cat = catalog(config, "customers")
        same = upgates.local_now()
        for cid in range(1, 6):  # five customers share the newest second
            upgates.customers[cid]["last_update_time"] = same
        first = read(upgates, config, cat)
        assert customers_state(first)["last_update_time"] == upgates.fmt(same)
        late = upgates.add_customer(last_update_time=same)  # changed in the same second, after the sync
        second = read(upgates, config, cat, state=first.last_state())
        assert second.returncode == 0, second.errors
        assert {1, 2, 3, 4, 5, late["customer_id"]} <= customer_ids(second)
        assert upgates.log.count() == 1


def test_progress_estimate_and_log_lines(upgates, upgates_config):
    result = read(upgates, upgates_config, catalog(upgates_config, "customers"))
    estimates = [t["estimate"] for t in result.traces if t.get("type") == "ESTIMATE"]
    assert estimates == [{"name": "customers", "type": "STREAM", "row_estimate": 250}]
    assert any("pages read" in line and "0 left" in line for line in result.logs)


def test_server_side_filters_go_to_customers_only(upgates):
    config = upgates_config_for(upgates, active_only=True, language="sk", pricelist="Základný")
    result = read(upgates, config, catalog(config))
    assert result.returncode == 0, result.errors
    expected = {c["customer_id"] for c in upgates.customers.values()
                if c["login"]["active_yn"] and c["language"] == "sk" and c["pricelist"] == "Základný"}
    assert customer_ids(result) == expected
    query = upgates.log.select(path="/api/v2/customers")[0].query
    assert (query["active_yn"], query["language"], query["pricelist"]) == ("1", "sk", "Základný")
    assert all("language" not in r.query for r in upgates.log.select(path="/api/v2/groups"))


@pytest.mark.slow
def test_concurrency_limit_is_respected_and_429s_are_waited_out():
    with UpgatesEmulator(customers=250, service_time=0.3) as api:
        config = upgates_config_for(api, num_workers=3)
        result = read(api, config, catalog(config))
        assert result.returncode == 0 and api.peak_in_flight <= 3 and api.log.count(status=429) == 0
    with UpgatesEmulator(customers=250, service_time=0.3, max_concurrent=1) as api:
        config = upgates_config_for(api, num_workers=3)
        result = read(api, config, catalog(config))
        assert result.returncode == 0, result.errors
        assert customer_ids(result) == set(api.customers)
        assert api.log.count(status=429) >= 1  # the shop said "one at a time"; waited and retried


@pytest.mark.parametrize("kind", ["truncate", "cut", "drop", "status"])
def test_a_broken_answer_is_retried_and_nothing_is_lost(upgates, upgates_config, kind):
    upgates.inject(kind, path="/api/v2/customers", skip=1, status=502)
    result = read(upgates, upgates_config, catalog(upgates_config, "customers"))
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert upgates.log.count(path="/api/v2/customers") == 4  # three pages and the one retried


@pytest.mark.slow
def test_groups_as_an_array_and_other_list_orders_read_the_same():
    for switches in ({"groups_shape": "array"}, {"order": "last_update_time"}, {"order": "id_desc"}):
        with UpgatesEmulator(customers=150, **switches) as api:
            config = upgates_config_for(api)
            result = read(api, config, catalog(config, "customers"))
            assert result.returncode == 0, (switches, result.errors)
            assert customer_ids(result) == set(api.customers), switches


def test_full_refresh_reads_the_same_pages_and_ignores_a_saved_pass(upgates):
    config = upgates_config_for(upgates)
    cat = catalog(config, "customers", mode="full_refresh")
    saved = [{"type": "STREAM", "stream": {"stream_descriptor": {"name": "customers"}, "stream_state": {
        "last_update_time": "2099-01-01T00:00:00+01:00", "pass": {"from": "2099-01-01T00:00:00+01:00", "pages_done": 2}}}}]
    result = read(upgates, config, cat, state=saved)
    assert result.returncode == 0, result.errors
    assert customer_ids(result) == set(upgates.customers)
    assert upgates.log.count(path="/api/v2/customers") == 3
    assert customers_state(result) == {"__ab_no_cursor_state_message": True}


def test_answers_whose_types_vary_give_records_of_one_type_per_field():
    import jsonschema

    with UpgatesEmulator(customers=300, types_vary=True) as api:
        config = upgates_config_for(api)
        schema = next(s for s in discovered_streams() if s["name"] == "customers")["json_schema"]
        result = read(api, config, catalog(config, "customers"))
        assert result.returncode == 0, result.errors
        records = result.records("customers")
        assert {r["customer_id"] for r in records} == set(api.customers)
        for r in records:
            jsonschema.validate(r, schema)
            assert isinstance(r["groups"], list) and all(isinstance(g, dict) and isinstance(g["id"], int) for g in r["groups"])
        expected = {c["customer_id"]: sorted(c["group_ids"]) for c in api.customers.values()}
        assert {r["customer_id"]: sorted(g["id"] for g in r["groups"]) for r in records} == expected


def test_log_lines_of_worker_threads_never_cut_a_record_line():
    # A retried answer makes a worker thread log a long line (the CDK logs the answer's body)
    # while the main thread prints records: every stdout line must stay whole JSON.
    for attempt in range(10):
        with UpgatesEmulator(customers=250) as api:
            config = upgates_config_for(api)
            api.inject("truncate", path="/api/v2/customers", skip=1)
            result = read(api, config, catalog(config, "customers"))
            assert result.returncode == 0, result.errors
            assert result.stdout_noise == [], (attempt, [n[:200] for n in result.stdout_noise])
            assert customer_ids(result) == set(api.customers), attempt


def _declared_types(schema, path=""):
    """Every `type` in a JSON schema with where it stands (properties and array items)."""
    if isinstance(schema, dict):
        if isinstance(schema.get("type"), (str, list)):
            yield path or "<root>", schema["type"]
        for name, sub in (schema.get("properties") or {}).items():
            yield from _declared_types(sub, f"{path}.{name}" if path else name)
        if isinstance(schema.get("items"), dict):
            yield from _declared_types(schema["items"], f"{path}[]")
        for key in ("anyOf", "oneOf"):
            if key in schema:
                yield path or "<root>", key


def test_every_field_of_every_stream_declares_one_type():
    """Issue 12 item 5: a warehouse or PyAirbyte's cache maps each column one way across runs."""
    several = []
    for stream in discovered_streams():
        for where, declared in _declared_types(stream["json_schema"]):
            types = [declared] if isinstance(declared, str) else declared
            if declared in ("anyOf", "oneOf") or len([t for t in types if t != "null"]) != 1:
                several.append(f"{stream['name']}: {where}: {declared}")
    assert several == []


@pytest.mark.parametrize("mode", ["incremental", "full_refresh"])
def test_prepared_pages_reach_stdout_as_records_counted_in_every_state(mode):
    """The console script writes each customers page as lines serialized in the worker
    (customers_pass.PreparedPage): the reader sees plain RECORD lines, every STATE's
    `sourceStats.recordCount` is the number of records of its stream since the previous STATE
    of that stream, and the CDK's closing log line counts records."""
    with UpgatesEmulator(customers=1030, world="tidy") as api:  # 11 pages, the last one short
        config = upgates_config_for(api, num_workers=3)
        result = read(api, config, catalog(config, mode=mode))
        assert result.returncode == 0, result.errors
        assert result.stdout_noise == []
        assert "__upgates_prepared_page__" not in result.output
        records = result.records("customers")
        assert len(records) == len(api.customers) and customer_ids(result) == set(api.customers)
        since: dict[str, int] = {}
        for message in result.messages:
            if message["type"] == "RECORD":
                stream = message["record"]["stream"]
                since[stream] = since.get(stream, 0) + 1
                assert set(message["record"]) == {"stream", "data", "emitted_at"}
            elif message["type"] == "STATE":
                stream = message["state"]["stream"]["stream_descriptor"]["name"]
                assert message["state"]["sourceStats"]["recordCount"] == since.pop(stream, 0), (stream, message)
        assert f"Read {len(api.customers)} records from customers stream" in result.logs
        if mode == "incremental":
            assert len([s for s in result.states if s["stream"]["stream_descriptor"]["name"] == "customers"]) == 11
