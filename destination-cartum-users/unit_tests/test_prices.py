"""product_prices mapping and validation (seed 001 catalog/import), and JSON text decoding."""

from __future__ import annotations

import pytest

from destination_common import MappingError, Reject
from destination_cartum_users.mapping import decode_nested
from destination_cartum_users.prices import map_prices, validate_prices

LEVELS = {1, 2, 3, 4, 5}


def test_retail_entry_moves_into_price():
    out, moved = map_prices({"article": "A", "price_levels": [{"level_id": 2, "price": 10}, {"level_id": 3, "price": 8}]},
                            retail_level=2)
    assert moved and out == {"article": "A", "price": 10, "price_levels": [{"level_id": 3, "price": 8}]}
    out, moved = map_prices({"article": "A", "price": 10, "price_levels": {"2": "10"}}, retail_level=2)
    assert moved and out == {"article": "A", "price": 10}


def test_retail_entry_disagreeing_with_price_is_rejected():
    with pytest.raises(MappingError) as err:
        map_prices({"article": "A", "price": 11, "price_levels": [{"level_id": 2, "price": 10}]}, retail_level=2)
    assert err.value.code == 2 and "disagree" in err.value.reason


def test_shapes_and_numeric_text():
    out, _ = map_prices({"article": 12345, "price": "99.90", "price_old": "120",
                         "price_levels": '[{"level_id": "4", "price": "80"}]'}, retail_level=2)
    assert out == {"article": "12345", "price": 99.9, "price_old": 120, "price_levels": [{"level_id": 4, "price": 80}]}


@pytest.mark.parametrize("product,code,needle", [
    ({"price": 1}, 1, "missing mandatory field article"),
    ({"article": "A"}, 1, "nothing to import"),
    ({"article": "A", "price": -1}, 2, "not a number >= 0"),
    ({"article": "A", "price": True}, 2, "not a number"),
    ({"article": "A", "price_levels": [{"level_id": 9, "price": 1}]}, 2, "price level 9 does not exist"),
    ({"article": "A", "price_levels": [{"level_id": 3, "price": 1}, {"level_id": 3, "price": 2}]}, 2, "twice"),
    ({"article": "A", "price_levels": [{"level_id": 3, "price": "x"}]}, 2, "is not a number"),
])
def test_local_rejects(product, code, needle):
    with pytest.raises(Reject) as err:
        validate_prices(product, level_ids=LEVELS)
    assert err.value.code == code and needle in err.value.reason


def test_price_levels_without_b2b_are_rejected():
    with pytest.raises(Reject) as err:
        validate_prices({"article": "A", "price_levels": [{"level_id": 3, "price": 1}]}, level_ids=None)
    assert "no B2B module" in err.value.reason
    validate_prices({"article": "A", "price": 1}, level_ids=None)


def test_decode_nested_only_known_fields_and_only_json():
    rec = {"login": '{"email": "a@b.cz"}', "groups": '[{"id": 1, "name": "VIP"}]', "note": '["kept"]',
           "company": "[Brand] s.r.o.", "addresses": '{"billing": "{\\"country_id\\": \\"CZ\\"}"}'}
    out = decode_nested(rec)
    assert out["login"] == {"email": "a@b.cz"} and out["groups"] == [{"id": 1, "name": "VIP"}]
    assert out["note"] == '["kept"]' and out["company"] == "[Brand] s.r.o."
    assert out["addresses"] == {"billing": {"country_id": "CZ"}}
    plain = {"login": {"email": "a@b.cz"}}
    assert decode_nested(plain) is plain
