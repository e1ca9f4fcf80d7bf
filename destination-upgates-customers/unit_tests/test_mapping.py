"""Presets, field templates and local validation: what never costs a request."""

from __future__ import annotations

import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import Reject
from destination_upgates_customers.handler import CustomersPutHandler
from destination_upgates_customers.mapping import build_mapper


def handler(mapping=None, **kw):
    config = {"mapping": mapping} if mapping is not None else {}
    return CustomersPutHandler(client=None, mapper=build_mapper(config), **kw)  # type: ignore[arg-type]


def mapped(mapping, record, **kw):
    h = handler(mapping, **kw)
    payload = h.map(record)
    h.validate(payload)
    return payload


def test_cartum_user_is_the_default_preset_and_writes_the_id():
    record = {"id": 42, "title": "Jana", "email": " Jana@Example.cz ", "phone": "+420777", "newsletter_subscription": 1}
    assert mapped(None, record) == {"email": "Jana@Example.cz", "metas": {"cartum_user_id": "42"}}
    h = handler()
    assert h.key(h.map(record), record) == "jana@example.cz"


def test_cartum_user_options_key_and_newsletter():
    mapping = {"preset": "cartum_user", "user_id_meta_key": "b2b_id", "newsletter_from_subscription": True}
    assert mapped(mapping, {"id": 7, "email": "a@b.cz", "newsletter_subscription": 0}) == {
        "email": "a@b.cz", "newsletter_accept": "no", "metas": {"b2b_id": "7"}}
    assert mapped(mapping, {"id": 7, "email": "a@b.cz", "newsletter_subscription": 1})["newsletter_accept"] == "yes"


def test_loyalty_customer_card_and_code():
    mapping = {"preset": "loyalty_customer"}
    got = mapped(mapping, {"email": "a@b.cz", "card_number": 123456, "code": "C-1", "first_name": "X"})
    assert got == {"email": "a@b.cz", "metas": {"loyalty_card_number": "123456", "loyalty_code": "C-1"}}
    got = mapped({**mapping, "card_number_meta_key": "card", "code_meta_key": "kod"}, {"email": "a@b.cz", "code": "C-2", "card_number": ""})
    assert got == {"email": "a@b.cz", "metas": {"kod": "C-2"}}


def test_upgates_customer_shape_array_or_object():
    record = {"login": {"email": "a@b.cz"}, "newsletter_accept": "Yes",
              "metas": [{"key": "source", "type": "input", "value": "web"}, {"key": "multi", "values": [{"language": "cs", "value": "x"}]}]}
    assert mapped({"preset": "upgates_customer"}, record) == {"email": "a@b.cz", "newsletter_accept": "yes", "metas": {"source": "web"}}
    assert mapped({"preset": "upgates_customer"}, {"email": "a@b.cz", "metas": {"k": 5}})["metas"] == {"k": "5"}


def test_templates_override_and_add_metas():
    mapping = {"preset": "cartum_user", "field_templates": [
        {"field": "metas.cartum_user_id", "template": "U{{ record.id }}"},
        {"field": "metas.city", "template": "{{ record.city }}"},
        {"field": "newsletter_accept", "template": "{{ 'yes' if record.newsletter_subscription else 'no' }}"},
    ]}
    got = mapped(mapping, {"id": 3, "email": "a@b.cz", "city": "Brno", "newsletter_subscription": 1})
    assert got == {"email": "a@b.cz", "newsletter_accept": "yes", "metas": {"cartum_user_id": "U3", "city": "Brno"}}
    # a missing value gives no field
    got = mapped(mapping, {"id": 3, "email": "a@b.cz"})
    assert got["metas"] == {"cartum_user_id": "U3"}


def test_custom_templates_keep_text():
    mapping = {"preset": "custom", "field_templates": [
        {"field": "email", "template": "{{ record.mail | lower }}"},
        {"field": "metas.zip", "template": "{{ record.zip }}"},
    ]}
    assert mapped(mapping, {"mail": "A@B.CZ", "zip": "01234"}) == {"email": "a@b.cz", "metas": {"zip": "01234"}}


def test_custom_without_templates_and_bad_jinja_are_config_errors():
    with pytest.raises(AirbyteTracedException, match="no field templates"):
        build_mapper({"mapping": {"preset": "custom"}})
    with pytest.raises(AirbyteTracedException, match="not valid Jinja"):
        build_mapper({"mapping": {"preset": "custom", "field_templates": [{"field": "email", "template": "{{ x"}]}})
    with pytest.raises(AirbyteTracedException, match="Unknown record mapping preset"):
        build_mapper({"mapping": {"preset": "nope"}})


@pytest.mark.parametrize(
    "record,code",
    [
        ({"id": 1}, "missing_email"),
        ({"id": 1, "email": "not-an-email"}, "invalid_email"),
        ({"email": "a@b.cz"}, "nothing_to_update"),
    ],
)
def test_records_that_cannot_succeed_are_rejected_locally(record, code):
    with pytest.raises(Reject) as err:
        mapped(None, record)
    assert err.value.code == code


@pytest.mark.parametrize("value", ["maybe", "1", "true", ""])
def test_invalid_newsletter_value_is_rejected(value):
    mapping = {"preset": "upgates_customer"}
    if value == "":
        # an empty value is "no value": nothing else to write → nothing_to_update
        with pytest.raises(Reject, match="neither"):
            mapped(mapping, {"email": "a@b.cz", "newsletter_accept": None})
        return
    with pytest.raises(Reject) as err:
        mapped(mapping, {"email": "a@b.cz", "newsletter_accept": value})
    assert err.value.code == "invalid_newsletter_accept" and "notset, no, yes, excluded" in err.value.reason


@pytest.mark.parametrize("value", ["notset", "no", "yes", "excluded", " YES "])
def test_valid_newsletter_values(value):
    assert mapped({"preset": "upgates_customer"}, {"email": "a@b.cz", "newsletter_accept": value})["newsletter_accept"] == value.strip().lower()


def test_unknown_meta_key_rejected_when_the_shop_keys_are_known():
    with pytest.raises(Reject) as err:
        mapped(None, {"id": 1, "email": "a@b.cz"}, meta_keys={"loyalty_code"})
    assert err.value.code == "unknown_meta_key" and "cartum_user_id" in err.value.reason
    assert mapped(None, {"id": 1, "email": "a@b.cz"}, meta_keys={"cartum_user_id"})["metas"] == {"cartum_user_id": "1"}


def test_meta_value_must_be_text_like():
    with pytest.raises(Reject) as err:
        mapped({"preset": "upgates_customer"}, {"email": "a@b.cz", "metas": {"k": {"nested": 1}}})
    assert err.value.code == "invalid_metas"


def test_loyalty_generated_ids_line_maps_as_is():
    """A line of destination-loyalty-batch's <rejected>.generated_ids.jsonl file."""
    line = {"stream": "customers", "key": "email jana@example.cz", "email": "jana@example.cz", "code": "4821000011112222",
            "card_number": "7301000099998888", "generated": ["code", "card_number"]}
    assert mapped({"preset": "loyalty_customer"}, line) == {
        "email": "jana@example.cz", "metas": {"loyalty_card_number": "7301000099998888", "loyalty_code": "4821000011112222"}}
