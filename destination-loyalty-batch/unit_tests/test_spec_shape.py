"""Both destinations are configured alike: the fields they share read the same (title,
description apart from the API's own names, order relative to each other), and the record
mapping has one shape (preset + field_templates rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LOYALTY = ROOT / "destination-loyalty-batch" / "destination_loyalty_batch" / "spec.json"
CARTUM = ROOT / "destination-cartum-users" / "destination_cartum_users" / "spec.json"
SAME_TEXT = ("max_rejected_percent", "http_max_retries", "http_backoff_seconds", "request_timeout_seconds")
SHARED = ("batch_size", "mapping", "rejected_records_path") + SAME_TEXT
# the shared write loop's fields (issues 13 and 16): same names, titles, types and defaults
LOOP = ("max_concurrent_requests", "max_state_delay_seconds", "dry_run", "default_phone_region", "invalid_phone")


def props(path: Path) -> dict:
    return json.loads(path.read_text())["connectionSpecification"]["properties"]


@pytest.fixture(scope="module")
def both():
    if not CARTUM.exists():
        pytest.skip("destination-cartum-users is not beside this connector (e.g. in its image)")
    return props(LOYALTY), props(CARTUM)


def test_shared_fields_read_the_same_and_come_in_the_same_order(both):
    loyalty, cartum = both
    for name in SHARED:
        assert loyalty[name]["title"] == cartum[name]["title"], name
        assert loyalty[name]["type"] == cartum[name]["type"], name
    for name in SAME_TEXT:
        same = ("description", "default", "minimum", "maximum")
        assert {k: loyalty[name].get(k) for k in same} == {k: cartum[name].get(k) for k in same}, name
    for spec in both:
        assert sorted(SHARED, key=lambda n: spec[n]["order"]) == list(SHARED)
        assert min(spec, key=lambda n: spec[n]["order"]) in ("api_url", "shop_url")
        assert len({p["order"] for p in spec.values()}) == len(spec)


def test_mapping_has_one_shape(both):
    loyalty, cartum = both
    presets = {}
    for name, spec in (("loyalty", loyalty), ("cartum", cartum)):
        options = spec["mapping"]["oneOf"]
        presets[name] = [o["properties"]["preset"]["const"] for o in options]
        for option in options:
            rows = option["properties"]["field_templates"]
            assert rows["type"] == "array" and set(rows["items"]["properties"]) == {"field", "template"}
            assert option["required"] == (["preset", "field_templates"] if option["properties"]["preset"]["const"] == "custom" else ["preset"])
    assert presets["loyalty"] == ["cartum_user", "upgates_customer", "loyalty", "custom"]
    assert presets["cartum"] == ["cartum_user", "upgates_customer", "custom"]
    assert "record_mapping" not in loyalty and "field_templates" not in loyalty


def test_the_shared_loop_fields_read_the_same(both):
    loyalty, cartum = both
    for name in LOOP:
        same = ("title", "type", "default", "enum", "pattern")
        assert {k: loyalty[name].get(k) for k in same} == {k: cartum[name].get(k) for k in same}, name
    assert loyalty["max_concurrent_requests"]["default"] == 1 and loyalty["max_state_delay_seconds"]["default"] == 60
