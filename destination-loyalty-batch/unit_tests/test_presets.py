import pytest

from destination_common import MappingError
from destination_loyalty_batch.mapping import (
    CustomFields,
    cartum_user,
    loyalty_shape,
    resolve_custom_fields,
    split_name,
    upgates_customer,
)

FIELDS = CustomFields([{"name": "custom_field_1", "label": "Favourite store"}, {"name": "custom_field_2", "label": "Member tier"}])


def test_split_name():
    assert split_name("Jane Doe") == ("Jane", "Doe")
    assert split_name("  Mary   Ann Smith ") == ("Mary", "Ann Smith")
    assert split_name("Cher") == ("Cher", None)
    assert split_name(None) == (None, None)


def test_cartum_user():
    rec = {"id": 17, "title": "Jane Doe", "email": "j@x.cz", "phone": "+420 1", "city": "Brno", "address": "Main 1", "country": "CZ", "registered": "2024-01-01 10:00:00"}
    assert cartum_user(rec) == {
        "code": "17", "first_name": "Jane", "last_name": "Doe", "email": "j@x.cz", "phone": "+420 1",
        "city": "Brno", "street1": "Main 1", "country": "CZ",
    }
    with pytest.raises(MappingError):
        cartum_user({"title": "No Id"})


def test_upgates_customer_nested_and_flat():
    nested = {
        "customer_id": 5, "firstname": "Jan", "surname": "Novák", "login": {"email": "jan@x.sk"},
        "communication": {"phone": "+421 900"},
        "addresses": {"billing": {"street": "Hlavná 1", "city": "Košice", "zip_code": "04001", "country_id": "SK", "state": ""}},
    }
    out = upgates_customer(nested)
    assert out["code"] == "5" and out["email"] == "jan@x.sk" and out["phone"] == "+421 900"
    assert (out["street1"], out["city"], out["postal_code"], out["country"], out["state"]) == ("Hlavná 1", "Košice", "04001", "SK", None)
    flat = upgates_customer({"customer_id": 6, "email": "f@x.sk", "phone": "1", "zip_code": "123"})
    assert (flat["email"], flat["phone"], flat["postal_code"]) == ("f@x.sk", "1", "123")


def test_loyalty_shape_flattens_custom_fields_and_labels_resolve():
    rec = {"code": "1", "email": "a@b.cz", "custom_fields": {"Member tier": "gold"}, "custom_field_1": "Brno"}
    out = resolve_custom_fields(loyalty_shape(rec), FIELDS, strict=False)
    assert out == {"code": "1", "email": "a@b.cz", "custom_field_2": "gold", "custom_field_1": "Brno"}


def test_unknown_fields_dropped_or_refused():
    assert resolve_custom_fields({"code": "1", "noise": 1}, FIELDS, strict=False) == {"code": "1"}
    with pytest.raises(MappingError):
        resolve_custom_fields({"code": "1", "noise": 1}, FIELDS, strict=True)
    with pytest.raises(MappingError):
        resolve_custom_fields({"custom_field_9": "x"}, FIELDS, strict=False)
    with pytest.raises(MappingError):
        resolve_custom_fields({"custom_field_2": "a", "member tier": "b"}, FIELDS, strict=False)


def test_mapping_config_shape_default_and_removed_keys(caplog):
    from destination_loyalty_batch.mapping import MappingConfigError, mapping_config

    assert mapping_config({}) == {"preset": "loyalty"}
    rows = [{"field": "code", "template": "{{ record.id }}"}]
    assert mapping_config({"mapping": {"preset": "custom", "field_templates": rows}}) == {"preset": "custom", "field_templates": rows}
    # the top-level keys of the first drafts were removed in 0.2.1: an error that says how to write them
    with pytest.raises(MappingConfigError) as removed:
        mapping_config({"record_mapping": "cartum_user", "field_templates": {"code": "{{ record.id }}"}})
    message = str(removed.value)
    assert "record_mapping, field_templates were removed in version 0.2.1" in message
    assert '"mapping": {"preset": "cartum_user", "field_templates": [{"field": ..., "template": ...}]}' in message
    with pytest.raises(MappingConfigError, match=r'keys record_mapping were removed .*"mapping": \{"preset": "upgates_customer"\} as'):
        mapping_config({"record_mapping": "upgates_customer"})
    with pytest.raises(MappingConfigError, match=r'keys field_templates were removed .*"preset": "loyalty", "field_templates"'):
        mapping_config({"field_templates": {"code": "x"}})
    # beside a `mapping` they are ignored, with a warning
    with caplog.at_level("WARNING", logger="airbyte"):
        kept = mapping_config({"mapping": {"preset": "cartum_user"}, "record_mapping": "custom", "field_templates": {"code": "x"}})
    assert kept == {"preset": "cartum_user"}
    assert "record_mapping, field_templates are deprecated and ignored because 'mapping' is set" in caplog.text
    with pytest.raises(MappingConfigError):
        mapping_config({"mapping": "cartum_user"})
    with pytest.raises(MappingConfigError):
        mapping_config({"field_templates": [{"field": "code", "template": "x"}]})
