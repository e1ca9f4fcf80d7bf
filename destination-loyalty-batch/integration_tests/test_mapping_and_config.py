"""Presets and templates end to end, configured-catalog checks, configuration errors."""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_loyalty_batch import DestinationLoyaltyBatch
from destination_loyalty_batch.client import LoyaltyClient

UPGATES = {
    "customer_id": 5001, "type": "customer", "firstname": "Ján", "surname": "Kováč", "code": "ZAK-1",
    "login": {"email": "jan@example.sk", "active_yn": True}, "communication": {"phone": "+421 900 123 456"},
    "addresses": {"billing": {"street": "Hlavná 1", "city": "Košice", "state": "", "zip_code": "040 01", "country_id": "SK"}},
    "creation_time": "2024-02-29T14:24:49+01:00",
}


def test_upgates_preset_with_templates_for_custom_fields_by_label(loyalty_api, helpers, write_fast):
    templates = [
        {"field": "code", "template": "UPG-{{ record.customer_id }}"},
        {"field": "Member tier", "template": "{{ 'company' if record.company else 'retail' }}"},
        {"field": "custom_date", "template": "{{ record.creation_time }}"},
        {"field": "custom_field_1", "template": "{{ record.addresses.billing.city | upper }}"},
    ]
    result = write_fast(loyalty_api, [UPGATES], mapping={"preset": "upgates_customer", "field_templates": templates})
    assert result.error is None, result.error
    (got,) = helpers.search(loyalty_api, code="UPG-5001")
    assert {k: got[k] for k in ("first_name", "last_name", "email", "phone", "street1", "city", "postal_code", "country")} == {
        "first_name": "Ján", "last_name": "Kováč", "email": "jan@example.sk", "phone": "+421900123456",
        "street1": "Hlavná 1", "city": "Košice", "postal_code": "040 01", "country": "SK",
    }
    assert (got["custom_field_2"], got["custom_date"], got["custom_field_1"]) == ("retail", "2024-02-29", "KOŠICE")


def test_custom_templates_only_and_a_failing_template_rejects_that_record(loyalty_api, helpers, write_fast):
    templates = [
        {"field": "code", "template": "{{ record.ref }}"},
        {"field": "email", "template": "{{ record.mail }}"},
        {"field": "auto_add", "template": "{{ record.points * 2 }}"},
    ]
    records = [{"ref": "C1", "mail": "c1@example.com", "points": 5}, {"ref": "C2", "mail": "c2@example.com", "points": "x"}]
    result = write_fast(loyalty_api, records, mapping={"preset": "custom", "field_templates": templates})
    assert result.error is None, result.error
    assert loyalty_api.customers["C1"]["campaigns"] == {loyalty_api.campaign_ids[0]: 10}
    assert loyalty_api.customers["C1"]["email"] == "c1@example.com"
    assert "C2" not in loyalty_api.customers  # "x" * 2 = "xx" is no amount: the API refuses that line


def test_unknown_template_target_is_a_config_error(loyalty_api, write_fast):
    mapping = {"preset": "custom", "field_templates": [{"field": "shoe_size", "template": "{{ record.a }}"}]}
    result = write_fast(loyalty_api, [{"a": 1}], mapping=mapping)
    assert isinstance(result.error, AirbyteTracedException)
    assert result.error.failure_type == FailureType.config_error and "shoe_size" in result.error.message


def test_removed_record_mapping_and_field_templates_are_a_config_error_before_any_request(loyalty_api, write_fast):
    # The keys of the first drafts (accepted with a warning until 0.2.0) were removed in 0.2.1: a
    # config error that says how to write the mapping, never the default preset on unmapped records.
    templates = {"code": "UPG-{{ record.customer_id }}"}
    result = write_fast(loyalty_api, [UPGATES], mapping=None, record_mapping="upgates_customer", field_templates=templates)
    assert isinstance(result.error, AirbyteTracedException)
    assert result.error.failure_type == FailureType.config_error
    assert "record_mapping, field_templates were removed in version 0.2.1" in result.error.message
    assert '"mapping": {"preset": "upgates_customer", "field_templates": [' in result.error.message
    assert loyalty_api.log.count(function="customers_batch") == 0 and not loyalty_api.customers.get("UPG-5001")


def test_mapping_wins_over_deprecated_keys_and_says_so(loyalty_api, write_fast):
    result = write_fast(loyalty_api, [{"code": "W1", "first_name": "W"}], record_mapping="custom")  # mapping: loyalty preset
    assert result.error is None, result.error
    assert loyalty_api.customers["W1"]["first_name"] == "W"
    assert any("record_mapping are deprecated and ignored because 'mapping' is set" in x for x in result.logs)


@pytest.mark.parametrize(
    "catalog_kwargs, message",
    [({"mode": "overwrite"}, "supports only: append, append_dedup"), ({"object_name": "orders"}, "destination_object_name")],
)
def test_configured_catalog_checks(loyalty_api, helpers, catalog_kwargs, message):
    dest = DestinationLoyaltyBatch()
    from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer

    catalog = ConfiguredAirbyteCatalogSerializer.load(helpers.catalog(**catalog_kwargs))
    with pytest.raises(AirbyteTracedException) as err:
        list(dest.write(helpers.config(loyalty_api), catalog, iter([])))
    assert err.value.failure_type == FailureType.config_error and message in err.value.message


def test_plain_http_only_for_loopback(loyalty_api, helpers):
    with pytest.raises(AirbyteTracedException) as err:
        LoyaltyClient(helpers.config(loyalty_api, api_url="http://api.clienttoolbox.com"))
    assert err.value.failure_type == FailureType.config_error and "https" in err.value.message
    assert LoyaltyClient(helpers.config(loyalty_api, api_url=None)).url == "https://api.clienttoolbox.com"


def test_unknown_campaign_at_write_stops_with_a_config_error_without_bisecting(loyalty_api, write_fast):
    result = write_fast(loyalty_api, [{"code": f"U{i}"} for i in range(8)], campaigns=["404404"])
    assert isinstance(result.error, AirbyteTracedException)
    assert result.error.failure_type == FailureType.config_error and "Campaign '404404' not found" in result.error.message
    assert loyalty_api.log.count(function="customers_batch") == 1
    assert result.states == []


def test_append_dedup_collapses_repeated_codes_in_a_batch(loyalty_api, write_fast):
    records = [{"code": "D1", "first_name": "Old"}, {"code": "D1", "first_name": "New"}]
    result = write_fast(loyalty_api, records)
    assert result.error is None
    assert loyalty_api.customers["D1"]["first_name"] == "New"
    assert any("collapsed duplicates 1" in x for x in result.logs)


def test_check_on_an_unreachable_url_fails_fast_with_a_message(helpers, loyalty_api):
    import logging

    dead = helpers.config(loyalty_api, api_url="http://127.0.0.1:9", http_backoff_seconds=0)
    status = DestinationLoyaltyBatch().check(logging.getLogger("airbyte"), dead)
    assert status.status.name == "FAILED"
    assert "failed on campaigns_list after 2 attempts" in status.message and "Run the sync again later" in status.message
