"""One JSON type per field (issue 12 item 5): every field of every stream has exactly one
non-null type in the schema, and every record validates against it, also when the shop sends
numbers as strings, booleans as 0/1, a phone as a number, or PHP's empty array `[]` for an
empty object (the emulator's switch `vary_types`, plus a few orders edited below for what the
switch does not send)."""

from __future__ import annotations

import logging
from typing import Any, Iterator

import jsonschema
import pytest

from harness.fixtures.cartum import cartum_config_for
from source_cartum import SourceCartum

STREAMS = ["users", "customer_groups", "price_levels", "orders"]


def schemas(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    catalog = SourceCartum(config=config).discover(logging.getLogger("test"), config)
    return {s.name: s.json_schema for s in catalog.streams}


def type_entries(schema: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every `type` in a JSON schema, with where it is (properties, items, definitions, anyOf...)."""
    if isinstance(schema, dict):
        if "type" in schema and not isinstance(schema["type"], dict):
            yield path or "<root>", schema["type"]
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                for name, sub in value.items():
                    yield from type_entries(sub, f"{path}.{name}" if path else name)
            elif key != "type":
                yield from type_entries(value, f"{path}/{key}" if path else key)
    elif isinstance(schema, list):
        for index, sub in enumerate(schema):
            yield from type_entries(sub, f"{path}[{index}]")


def several_types(schema: dict[str, Any]) -> list[str]:
    bad = []
    for where, declared in type_entries(schema):
        types = [declared] if isinstance(declared, str) else list(declared)
        if len([t for t in types if t != "null"]) != 1:
            bad.append(f"{where}: {declared}")
    bad += [f"{where}: {keyword}" for where, keyword in unions(schema)]
    return bad


def unions(schema: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """anyOf / oneOf anywhere: a union in another spelling."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key in ("anyOf", "oneOf"):
                yield path or "<root>", key
            yield from unions(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for sub in schema:
            yield from unions(sub, path)


def value_types(value: Any, path: str, seen: dict[str, set[str]]) -> None:
    """The Python type of every non-null value by field path (list items under `path[]`)."""
    if value is None:
        return
    seen.setdefault(path, set()).add(type(value).__name__)
    if isinstance(value, dict):
        for key, sub in value.items():
            value_types(sub, f"{path}.{key}" if path else key, seen)
    elif isinstance(value, list):
        for sub in value:
            value_types(sub, f"{path}[]", seen)


def test_checker_finds_a_field_with_two_types():
    schema = {"type": "object", "properties": {"a": {"type": ["null", "integer", "string"]},
                                                "b": {"type": "array", "items": {"type": ["string", "integer"]}},
                                                "c": {"type": ["null", "object"], "properties": {"d": {"type": ["boolean"]}}}}}
    assert several_types(schema) == ["a: ['null', 'integer', 'string']", "b/items: ['string', 'integer']"]


def test_every_field_of_every_stream_has_one_type(cartum_factory):
    api = cartum_factory(tidy=True, users=0, orders=0)
    found = schemas(cartum_config_for(api))
    assert set(STREAMS) <= set(found)
    for name in STREAMS:
        assert several_types(found[name]) == [], name
        assert found[name]["type"] == "object"


PAYED = {"1": True, "0": False, 0: False, 1: True, True: True, False: False, "": None, "true": True}


def _edit_orders(api, payed: bool) -> dict[int, tuple[Any, Any]]:
    """What PHP shops send and `vary_types` does not: `[]` for an empty delivery_data, payed as
    "0"/"1" strings (vary_types sends payed as Python's bool() of the value, which makes "0" true,
    so the payed edits are made only with vary_types off). Returns order_id -> (payed expected,
    delivery_data expected)."""
    orders = sorted(api.shop.orders, key=lambda o: o["order_id"])
    edits = [([], "1"), ([], 0), ({"ttn": "20400000000001"}, "0"), ([], ""), ({}, "true"), ([], True), ([], 1), ([], False)]
    expected = {}
    for order, (delivery, raw) in zip(orders, edits):
        order["delivery_data"] = delivery
        if payed:
            order["payed"] = raw
        expected[order["order_id"]] = (PAYED[raw] if payed else None, {} if delivery == [] else delivery)
    return expected


def test_records_validate_against_one_type_schemas_when_types_vary(sync, cartum_factory):
    api = cartum_factory(users=80, orders=120)  # the realistic world: nulls, empty strings, odd phones
    api.switches["vary_types"] = True
    config = cartum_config_for(api, page_size=500)
    expected = _edit_orders(api, payed=False)
    out = sync.run(config, STREAMS)
    assert not out.errors
    found = schemas(config)
    counts = {}
    for name in STREAMS:
        validator = jsonschema.Draft7Validator(found[name])
        got = sync.records(out, name)
        counts[name] = len(got)
        seen: dict[str, set[str]] = {}
        for record in got:
            errors = [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(record)]
            assert errors == [], (name, errors)
            value_types(record, "", seen)
        # jsonschema lets an int pass as a number: one Python type per field across all records too
        assert {path: types for path, types in seen.items() if len(types) > 1} == {}, name
    assert counts == {"users": 80, "customer_groups": 5, "price_levels": 5, "orders": 120}
    # the varied answers really were varied, and came back typed
    users = sync.records(out, "users")
    phones = [u["manager"]["phone"] for u in users if u.get("manager")]
    assert phones and all(isinstance(p, str) and p.isdigit() for p in phones)
    assert all(isinstance(u["customer_group_id"], int) for u in users if u.get("customer_group_id") is not None)
    assert all(isinstance(u["balance"], float) for u in users if u.get("balance") is not None)
    orders = {o["order_id"]: o for o in sync.records(out, "orders")}
    assert all(isinstance(o["payed"], bool) for o in orders.values() if o.get("payed") is not None)
    assert all(isinstance(o["delivery_data"], dict) for o in orders.values() if o.get("delivery_data") is not None)
    for order_id, (_, delivery) in expected.items():
        assert orders[order_id]["delivery_data"] == delivery
    assert all(isinstance(v, str) for g in sync.records(out, "customer_groups") for v in g["available_payment_methods"])


def test_payed_and_php_empty_arrays_become_one_type(sync, cartum_factory):
    api = cartum_factory(tidy=True, users=10, orders=20)
    config = cartum_config_for(api, page_size=500)
    expected = _edit_orders(api, payed=True)
    out = sync.run(config, ["orders"])
    assert not out.errors
    validator = jsonschema.Draft7Validator(schemas(config)["orders"])
    orders = {o["order_id"]: o for o in sync.records(out, "orders")}
    assert len(orders) == 20
    for order_id, (payed, delivery) in expected.items():
        assert orders[order_id].get("payed") is payed, (order_id, orders[order_id].get("payed"))
        assert orders[order_id]["delivery_data"] == delivery
        assert list(validator.iter_errors(orders[order_id])) == []


def test_the_same_shop_read_with_and_without_vary_types_gives_the_same_records(sync, cartum_factory):
    api = cartum_factory(users=60, orders=80)
    config = cartum_config_for(api, page_size=500)
    plain = sync.run(config, ["users", "orders"])
    api.switches["vary_types"] = True
    varied = sync.run(config, ["users", "orders"])
    assert not plain.errors and not varied.errors
    for name, key in (("users", "id"), ("orders", "order_id")):
        before = {r[key]: r for r in sync.records(plain, name)}
        after = {r[key]: r for r in sync.records(varied, name)}
        assert len(before) == len(after) > 0
        for record_id, record in before.items():
            # same values and same Python (JSON) types, field by field
            assert after[record_id] == record, (name, record_id)
            assert {k: type(v) for k, v in after[record_id].items()} == {k: type(v) for k, v in record.items()}, (name, record_id)
