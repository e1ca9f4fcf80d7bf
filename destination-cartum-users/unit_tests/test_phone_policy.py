"""Which region a user's phone is read in, and what happens to an unreadable one."""

from __future__ import annotations

import json

import pytest

from destination_common import Reject
from destination_cartum_users.handler import UsersImportHandler
from destination_cartum_users.mapping import build_mapper
from destination_cartum_users.phones import PhonePolicy


def handler(**config):
    notes = []
    h = UsersImportHandler(None, build_mapper({"mapping": {"preset": "upgates_customer"}, **config}),
                           phones=PhonePolicy(config))
    h._note = lambda field, reason: notes.append((field, reason))
    return h, notes


def customer(phone, country_id="SK", as_text=False):
    addresses = {"billing": {"country_id": country_id}} if country_id else {"billing": {}}
    return {"login": {"email": "a@b.sk"}, "firstname": "A", "communication": {"phone": phone},
            "addresses": json.dumps(addresses) if as_text else addresses}


@pytest.mark.parametrize("as_text", [False, True])
def test_region_from_the_records_country_also_as_json_text(as_text):
    h, notes = handler()
    assert h.map(customer("0905 123 456", as_text=as_text))["phone"] == "+421905123456"
    assert notes == [("phone", "normalised to E.164 (region SK)")]


def test_default_region_only_when_the_record_has_no_country():
    h, _ = handler(default_phone_region="CZ")
    assert h.map(customer("602 123 456", country_id=None))["phone"] == "+420602123456"
    assert h.map(customer("0905 123 456", country_id="SK"))["phone"] == "+421905123456"


def test_unreadable_phone_dropped_or_rejected():
    h, notes = handler()
    out = h.map(customer("12"))
    assert "phone" not in out and notes[0][0] == "phone" and notes[0][1].startswith("dropped: ")
    h, _ = handler(invalid_phone="reject_record")
    with pytest.raises(Reject) as err:
        h.map(customer("12"))
    assert err.value.code == 2 and "phone" in err.value.reason and "12" not in err.value.reason.replace("region", "")


def test_empty_phone_is_not_sent_and_e164_is_left_alone():
    h, notes = handler()
    assert "phone" not in h.map(customer("  "))
    assert h.map(customer("+421905123456"))["phone"] == "+421905123456" and notes == []
