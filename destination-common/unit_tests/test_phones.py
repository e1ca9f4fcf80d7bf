"""destination_common.phones: local formats of Czech, Slovak and Ukrainian shops to E.164,
country fields to regions, junk refused with a reason that never quotes the number."""

import pytest

from destination_common.phones import INVALID_PHONE_CHOICES, PhoneResult, normalise_phone, region_for_country


@pytest.mark.parametrize(
    "value, region, e164",
    [
        ("785 206 025", "CZ", "+420785206025"),
        ("785206025", "CZ", "+420785206025"),
        ("+420 785 206 025", None, "+420785206025"),
        ("+420785206025", "UA", "+420785206025"),  # an explicit country code wins over the region
        ("00420785206025", "CZ", "+420785206025"),
        ("00420 785 206 025", None, "+420785206025"),
        ("0631234567", "UA", "+380631234567"),
        ("(063) 123 45 67", "UA", "+380631234567"),
        ("+380 63 123 4567", None, "+380631234567"),
        ("0905 123 456", "SK", "+421905123456"),
        ("00421 905 123 456", "SK", "+421905123456"),
        ("785 206 025", "Česká republika", "+420785206025"),  # a country name as region
        ("785 206 025", "cz", "+420785206025"),
        (785206025, "CZ", "+420785206025"),  # a number typed as an integer
        (420785206025, None, "+420785206025"),
        ("0785206025", "CZ", "+420785206025"),  # a trunk 0 written out of habit where CZ has none
        ("0785 206 025", "CZ", "+420785206025"),
        ("+420 0785 206 025", None, "+420785206025"),
        ("(785) 206-025", "CZ", "+420785206025"),
        ("0905123456", "SK", "+421905123456"),
        ("06 12345678", "IT", "+390612345678"),  # Italy's leading 0 belongs to the number
    ],
)
def test_local_and_international_forms_become_e164(value, region, e164):
    result = normalise_phone(value, region)
    assert result == PhoneResult(e164, e164 != str(value), None)


def test_already_e164_is_not_changed():
    assert normalise_phone("+420785206025", None) == PhoneResult("+420785206025", False, None)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_empty_is_no_phone_and_no_reason(value):
    assert normalise_phone(value, "CZ") == PhoneResult(None, False, None)


@pytest.mark.parametrize(
    "value, region, words",
    [
        ("junk", "CZ", "not a phone number"),
        ("12", "CZ", "too short"),
        ("1234567890123456789", "CZ", "too long"),
        ("+38063123456789012", None, "too long"),
        ("785206025", None, "default_phone_region"),  # local form, no country known
        ("+999 123 456", None, "country code"),
        ("x" * 500, "CZ", "longer than"),
        (True, "CZ", "not text"),
        ({"a": 1}, "CZ", "not text"),
        (7.5, "CZ", "fractional"),
    ],
)
def test_junk_gives_a_reason_without_the_number(value, region, words):
    result = normalise_phone(value, region)
    assert result.e164 is None and result.changed is False
    assert words in result.reason
    for digits in ("785206025", "38063123456789012", "1234567890123456789", "junk"):
        assert digits not in result.reason


def test_unknown_region_is_treated_as_none():
    assert normalise_phone("785206025", "Narnia").e164 is None
    assert normalise_phone("+420785206025", "Narnia").e164 == "+420785206025"


@pytest.mark.parametrize(
    "value, region",
    [
        ("CZ", "CZ"),  # UPgates country_id
        ("SK", "SK"),
        ("sk", "SK"),
        (" cz ", "CZ"),
        ("CZE", "CZ"),
        ("UKR", "UA"),
        ("+420", "CZ"),
        ("421", "SK"),
        ("Česká republika", "CZ"),
        ("ceska republika", "CZ"),
        ("Česko", "CZ"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Чехія", "CZ"),
        ("Slovensko", "SK"),
        ("Slovenská republika", "SK"),
        ("Slovakia", "SK"),
        ("Словаччина", "SK"),
        ("Україна", "UA"),
        ("Украина", "UA"),
        ("Ukrajina", "UA"),
        ("Ukraine", "UA"),
        ("Polsko", "PL"),
        ("Deutschland", "DE"),
        ("UK", "GB"),
    ],
)
def test_region_for_country(value, region):
    assert region_for_country(value) == region


@pytest.mark.parametrize("value", [None, "", "XX", "Narnia", "+999", True, "a" * 200])
def test_region_for_unknown_country_is_none(value):
    assert region_for_country(value) is None


def test_invalid_phone_choices():
    assert INVALID_PHONE_CHOICES == ("drop_field", "reject_record")


def test_every_local_form_of_the_emulators_real_world_lands_on_the_same_number():
    """The forms the UPgates emulator's realistic world writes (issue 13): each one becomes
    +420/+421 and the same nine digits."""
    for country, prefix in (("CZ", "420"), ("SK", "421")):
        digits = "785206025" if country == "CZ" else "905123456"
        spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        forms = [spaced, digits, f"0{digits}", f"0{digits[:3]} {digits[3:6]} {digits[6:]}", f"+{prefix} {spaced}",
                 f"+{prefix}{digits}", f"00{prefix} {spaced}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"]
        for form in forms:
            assert normalise_phone(form, country).e164 == f"+{prefix}{digits}", form


@pytest.mark.parametrize(
    "value, region",
    [
        ("0501234567", "UA"),
        ("050 123 45 67", "Україна"),
        ("(050) 123-45-67", "UA"),
        ("+38 (050) 123-45-67", None),
        ("380501234567", "UA"),
        ("380501234567", None),  # the country code without its +, read so because the result is valid
        ("380501234567", "CZ"),  # a Ukrainian phone of a Czech customer: not valid in CZ, valid as +380
        ("+380501234567", "CZ"),
        (380501234567, None),
    ],
)
def test_the_cartum_worlds_ukrainian_forms(value, region):
    assert normalise_phone(value, region).e164 == "+380501234567"


def test_digits_without_plus_are_not_guessed_into_an_invalid_number():
    result = normalise_phone("1234567890", None)
    assert result.e164 is None and "default_phone_region" in result.reason


def test_shipped_country_names_equal_what_phonenumbers_gives():
    """country_names.json is phonenumbers' locale data cut to our languages (importing that data
    costs ~95 MB): after a phonenumbers upgrade, `python -m destination_common.phones` rewrites it."""
    import json

    from destination_common import phones

    shipped = json.loads(phones._NAMES_FILE.read_text(encoding="utf-8"))
    assert shipped == phones.build_names_table()
