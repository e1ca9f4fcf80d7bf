"""The per-record shortcuts of issue 16 answer what the general code answers: the accepted-log
shortcut of outcome_of, decode_nested's "no JSON text inside" test, and the users handler
decoding each record once for its mapping and its phone policy."""

import json

import pytest

from destination_common import Outcome
from destination_cartum_users.handler import UsersImportHandler, _all_ok, outcome_of, parse_entry
from destination_cartum_users.mapping import _json_value, build_mapper, decode_nested
from destination_cartum_users.phones import PhonePolicy

ENTRIES = [
    {"info": [{"code": 0, "message": "User a update completed successfully!"}]},
    {"info": [{"code": 0}, {"code": 0, "message": "x"}]},
    {"info": [{"code": 0}, {"code": 2, "message": "bad phone"}]},
    {"info": [{"code": "0", "message": "text code"}]},
    {"info": [{"code": False, "message": "bool code"}]},
    {"info": [{"code": True, "message": "bool code"}]},
    {"info": [{"code": 0.0}]},
    {"info": [{"code": None}]},
    {"info": [{"code": 0}, "not an object"]},
    {"info": []},
    {"info": "text"},
    {"code": 0, "message": "flat"},
    [{"code": 0}],
    "garbage",
    None,
]


@pytest.mark.parametrize("entry", ENTRIES)
def test_outcome_shortcut_is_the_general_answer(entry):
    if _all_ok(entry):
        assert parse_entry(entry)[0] == 0
    code, message = parse_entry(entry)
    general = Outcome.accepted() if code == 0 else None
    if general is not None:
        assert outcome_of(entry) == general
    else:
        assert outcome_of(entry).status != "accepted"


def _decode_nested_general(record):
    """decode_nested as it was written before the shortcut (every object's children tried)."""
    from destination_cartum_users.mapping import NESTED_FIELDS

    changed = {}
    for name in NESTED_FIELDS:
        value = record.get(name)
        decoded = _json_value(value)
        if isinstance(decoded, dict):
            inner = {k: _json_value(v) for k, v in decoded.items()}
            if any(inner[k] is not decoded[k] for k in inner):
                decoded = inner
        if decoded is not value:
            changed[name] = decoded
    return {**record, **changed} if changed else record


RECORDS = [
    {"email": "a@b.cz", "manager": {"id": 61, "name": "Олександр", "phone": 380994565789}},
    {"email": "a@b.cz", "manager": json.dumps({"id": 62, "name": "Ірина"})},
    {"email": "a@b.cz", "addresses": {"billing": json.dumps({"country_id": "SK"}), "delivery": "  [1, 2] "}},
    {"email": "a@b.cz", "addresses": {"billing": "{not json", "note": "[VIP]"}},
    {"email": "a@b.cz", "login": " {\"email\": \"x@y.cz\"} ", "groups": "[]", "company": "[VIP] s.r.o."},
    {"email": "a@b.cz", "discount_card": '{"discount": 5, "active": true}', "note": '{"kept": "text"}'},
    {"email": "a@b.cz", "metas": [{"key": "x"}], "price_levels": "  "},
]


@pytest.mark.parametrize("record", RECORDS)
def test_decode_nested_is_the_general_answer(record):
    expected = _decode_nested_general(record)
    got = decode_nested(record)
    assert got == expected
    assert (got is record) == (expected is record)


@pytest.mark.parametrize("config", [{}, {"b2b": False}, {"mapping": {"preset": "upgates_customer"}}])
@pytest.mark.parametrize("record", RECORDS + [
    {"email": " X@Y.cz ", "title": " Jana ", "phone": "0777 123 456", "country": "Česko", "balance": 5, "role": ""},
    {"login": {"email": "c@d.cz"}, "communication": '{"phone": "+420 777 123 456"}', "addresses": {"billing": {"country_id": "CZ"}}},
])
def test_users_handler_maps_as_the_mapper_and_policy_did(config, record):
    mapper = build_mapper(config)
    handler = UsersImportHandler(None, mapper, phones=PhonePolicy({}))
    expected = mapper(record)
    notes = []
    PhonePolicy({}).apply(expected, decode_nested(record), lambda *a: notes.append(a))
    assert handler.map(record) == expected
    assert handler.take_notes() == notes


@pytest.mark.parametrize("record", [
    {"company": {"name": " ACME "}, "login": {"email": "a@b.cz"}, "communication": {"phone": 420777123456},
     "addresses": {"billing": {"country_id": "CZ", "city": "Brno", "street": "Hlavní 1"}}},
    {"company": None, "login": ["a@b.cz"], "communication": "text", "addresses": {"billing": None}},
    {"addresses": {"billing": [{"country_id": "SK"}]}, "login": {"email": None}},
    {},
])
def test_pre_split_paths_read_what_get_path_reads(record):
    from destination_common import get_path
    from destination_cartum_users import mapping, phones

    assert mapping.at_path is phones.at_path  # one reader of pre-split paths for the package
    paths = ["company.name", "login.email", "communication.phone", "addresses.billing.country_id",
             "addresses.billing.city", "addresses.billing.street", "addresses.delivery.country_id", "country_id", "country"]
    for path in paths:
        steps = tuple(path.split("."))
        assert phones.at_path(record, steps) == get_path(record, path)
