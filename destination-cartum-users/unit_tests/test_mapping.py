import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import MappingError
from destination_cartum_users.mapping import build_mapper

UPGATES = {
    "customer_id": 7,
    "type": "customer",
    "firstname": "Ján",
    "surname": "Novák",
    "pricelist": "VIP",
    "company": {"name": "Novák s.r.o.", "company_number": "123"},
    "communication": {"phone": "+421 905 123 456"},
    "login": {"email": "jan.novak@example.sk", "active_yn": True},
    "groups": {"4": "Wholesale", "9": "Newsletter"},
    "newsletter_accept": "yes",
    "addresses": {"billing": {"street": "Hlavná 12", "city": "Košice", "zip_code": "04001", "country_id": "SK"}},
}


def upgates_config(**mapping):
    return {"b2b": True, "mapping": {"preset": "upgates_customer", **mapping}}


def test_upgates_customer_preset():
    m = build_mapper(upgates_config(group_mapping=[{"upgates": "Wholesale", "customer_group_id": 3}]))
    assert m(UPGATES) == {
        "title": "Ján Novák",
        "email": "jan.novak@example.sk",
        "phone": "+421 905 123 456",
        "country": "Slovakia",
        "city": "Košice",
        "address": "Hlavná 12",
        "newsletter_subscription": 1,
        "company": "Novák s.r.o.",
        "customer_group_id": 3,
    }


def test_upgates_company_title_group_forms_pricelist_and_default():
    company = {**UPGATES, "type": "company", "groups": [{"id": 4, "name": "Wholesale"}]}
    m = build_mapper(upgates_config(group_mapping=[{"upgates": "4", "customer_group_id": 5}]))
    out = m(company)
    assert out["title"] == "Novák s.r.o." and out["customer_group_id"] == 5
    # first matching row wins; the pricelist matches too
    m = build_mapper(upgates_config(group_mapping=[{"upgates": "VIP", "customer_group_id": 4}, {"upgates": "Wholesale", "customer_group_id": 3}]))
    assert m({**UPGATES, "groups": [9]})["customer_group_id"] == 4
    m = build_mapper(upgates_config(group_mapping=[{"upgates": "Retail", "customer_group_id": 4}], default_customer_group_id=2))
    assert m(UPGATES)["customer_group_id"] == 2
    m = build_mapper(upgates_config())
    assert "customer_group_id" not in m(UPGATES)


def test_upgates_country_override_and_missing_parts():
    m = build_mapper(upgates_config(country_names=[{"code": "sk", "name": "Slovensko"}]))
    assert m(UPGATES)["country"] == "Slovensko"
    bare = build_mapper(upgates_config())({"login": {"email": "x@y.cz"}, "addresses": None, "company": None})
    assert bare == {"email": "x@y.cz"}


def test_b2b_off_drops_b2b_fields():
    config = upgates_config(group_mapping=[{"upgates": "Wholesale", "customer_group_id": 3}])
    config["b2b"] = False
    out = build_mapper(config)(UPGATES)
    assert "company" not in out and "customer_group_id" not in out and out["title"] == "Ján Novák"


EXPORTED = {
    "id": 12,
    "title": "Шевченко Олена",
    "email": " olena@ukr.net ",
    "phone": "+380501234567",
    "country": "Україна",
    "city": "Київ",
    "address": "вул. Хрещатик, 22",
    "registered": "2025-01-16 15:42:27",
    "customer_group_id": 3,
    "balance": -1500,
    "balance_currency": 2,
    "manager": {"id": 61, "name": "Олександр", "phone": 380994565789},
    "site_link": "https://x.com.ua",
    "company": "ТОВ «Агроторг»",
    "role": "Директор",
    "discount_card": {"discount": 3, "active": True, "date_limit": "2027-01-01", "status": 1},
}


def test_cartum_user_preset_from_export_shape():
    out = build_mapper({"b2b": True, "mapping": {"preset": "cartum_user"}})(EXPORTED)
    assert out == {
        "title": "Шевченко Олена",
        "email": "olena@ukr.net",
        "phone": "+380501234567",
        "country": "Україна",
        "city": "Київ",
        "address": "вул. Хрещатик, 22",
        "discount_card": EXPORTED["discount_card"],
        "customer_group_id": 3,
        "balance": -1500,
        "balance_currency": 2,
        "site_link": "https://x.com.ua",
        "company": "ТОВ «Агроторг»",
        "role": "Директор",
        "manager_id": 61,
    }
    assert "manager_id" not in build_mapper({"mapping": {"preset": "cartum_user"}})({**EXPORTED, "manager": None})


def test_custom_templates_and_overrides():
    config = {
        "b2b": True,
        "mapping": {
            "preset": "custom",
            "field_templates": [
                {"field": "email", "template": "{{ record.contact.mail | lower }}"},
                {"field": "title", "template": "{{ record.first }} {{ record.last }}"},
                {"field": "phone", "template": "{{ record.tel }}"},
                {"field": "customer_group_id", "template": "{{ 3 if record.vip else 2 }}"},
                {"field": "discount_card.discount", "template": "{{ record.disc }}"},
                {"field": "discount_card.date_limit", "template": "{{ record.until }}"},
            ],
        },
    }
    out = build_mapper(config)({"contact": {"mail": "A@B.CZ"}, "first": "A", "last": "B", "tel": "+420777123456", "vip": True, "disc": "5", "until": "2027-01-01"})
    assert out == {
        "email": "a@b.cz",
        "title": "A B",
        "phone": "+420777123456",
        "customer_group_id": 3,
        "discount_card": {"discount": 5, "date_limit": "2027-01-01"},
    }
    # an override on a preset
    config = {"mapping": {"preset": "cartum_user", "field_templates": [{"field": "note", "template": "id {{ record.id }}"}]}}
    assert build_mapper(config)(EXPORTED)["note"] == "id 12"


def test_template_errors():
    config = {"mapping": {"preset": "custom", "field_templates": [{"field": "title", "template": "{{ record.a.upper() + 1 }}"}]}}
    with pytest.raises(MappingError):
        build_mapper(config)({"a": "x"})
    with pytest.raises(AirbyteTracedException):
        build_mapper({"mapping": {"preset": "custom", "field_templates": [{"field": "title", "template": "{% if %}"}]}})
