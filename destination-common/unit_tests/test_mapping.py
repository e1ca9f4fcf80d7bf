import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import MappingError, MappingRegistry, get_path, is_iso_date, normalise_date
from destination_common.mapping import TemplateMapper


def test_templates_render_nested_and_missing_is_null():
    m = TemplateMapper(
        {
            "email": "{{ record.login.email }}",
            "title": "{{ record.firstname }} {{ record.surname }}",
            "phone": "{{ record.communication.phone }}",
            "city": "{{ record.nope.deeper }}",
            "discount_card.discount": "{{ record.d }}",
            "note": "{{ record.missing }}",
        },
        types={"phone": "string", "discount_card.discount": "integer"},
    )
    out = m({"login": {"email": "a@x.io"}, "firstname": "Jan", "surname": "Novák", "communication": {"phone": "+420123"}, "d": "5"})
    assert out == {"email": "a@x.io", "title": "Jan Novák", "phone": "+420123", "discount_card": {"discount": 5}}


def test_template_error_is_a_mapping_error_not_a_crash():
    m = TemplateMapper({"x": "{{ record.a / record.b }}"})
    with pytest.raises(MappingError) as err:
        m({"a": 1, "b": 0})
    assert "ZeroDivisionError" in err.value.reason and err.value.code == "mapping"


def test_type_error_in_template_is_a_mapping_error_not_the_raw_template():
    m = TemplateMapper({"x": "{{ record.a + 1 }}"})
    with pytest.raises(MappingError) as err:
        m({"a": "text"})
    assert "wrong type" in err.value.reason


def test_template_sandbox_blocks_unsafe_access():
    m = TemplateMapper({"x": "{{ record.__class__.__mro__ }}"})
    with pytest.raises(MappingError) as err:  # the CDK's sandbox refuses, this record is rejected
        m({"a": 1})
    assert "SecurityError" in err.value.reason


def test_template_syntax_error_is_config_error():
    with pytest.raises(AirbyteTracedException) as err:
        TemplateMapper({"x": "{{ record.a "})
    assert err.value.failure_type == FailureType.config_error and "'x'" in err.value.message


def test_registry_presets_custom_and_overrides():
    reg = MappingRegistry()
    reg.register("same", lambda config: (lambda r: dict(r)))
    assert reg.build("same", config={})({"a": 1}) == {"a": 1}
    combined = reg.build("same", config={}, templates={"b": "{{ record.a + 1 }}"})
    assert combined({"a": 1}) == {"a": 1, "b": 2}
    assert reg.build("custom", config={}, templates={"c": "{{ record.a }}"})({"a": "z"}) == {"c": "z"}
    with pytest.raises(AirbyteTracedException):
        reg.build("nope", config={})
    with pytest.raises(AirbyteTracedException):
        reg.build("custom", config={}, templates={})


@pytest.mark.parametrize(
    "value,expected",
    [
        ("2024-02-29", "2024-02-29"),
        ("2024-02-29T14:24:49+01:00", "2024-02-29"),
        ("2024-02-29 14:24:49", "2024-02-29"),
        ("29.02.2024", "2024-02-29"),
        ("20240229", "2024-02-29"),
        ("2024-02-29T14:24:49.123Z", "2024-02-29"),
        ("2024-02-29 14:24", "2024-02-29"),
        ("29. 02. 2024 10:11", "2024-02-29"),
        ("2024/02/29", "2024-02-29"),
        ("29/02/2024", "2024-02-29"),
        (None, None),
        ("", None),
        ("  ", None),
    ],
)
def test_normalise_date(value, expected):
    assert normalise_date(value) == expected


@pytest.mark.parametrize("value", ["29/02/2024", "04/03/2010 10:00"])
def test_normalise_date_can_refuse_the_ambiguous_slash_form(value):
    with pytest.raises(ValueError):
        normalise_date(value, slash_day_first=False)
    assert normalise_date("2024/02/29", slash_day_first=False) == "2024-02-29"


def test_normalise_date_refuses_garbage():
    for bad in ("2024-02-30", "2024-02-29Tnoon", "31.13.2020", "yesterday"):
        with pytest.raises(ValueError):
            normalise_date(bad)
    assert is_iso_date("2024-02-28") and not is_iso_date("2024-2-28") and not is_iso_date("2024-02-30")


def test_get_path():
    assert get_path({"a": {"b": [1, {"c": 2}]}}, "a.b.1.c") == 2
    assert get_path({"a": None}, "a.b", "d") == "d"


def test_field_templates_from_a_mapping_object():
    from destination_common import field_templates

    rows = [{"field": "a", "template": "{{ record.x }}"}, {"field": "b.c", "template": 1}, {"field": "a", "template": "last"}]
    assert field_templates({"preset": "custom", "field_templates": rows}) == {"a": "last", "b.c": 1}
    assert field_templates({"field_templates": {"a": "x"}}) == {"a": "x"}
    assert field_templates({"preset": "p"}) == {} and field_templates(None) == {}
