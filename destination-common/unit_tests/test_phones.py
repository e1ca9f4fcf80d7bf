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


# ---- the fast path for phones already in E.164 -----------------------------------------------
def _both_ways(value, region):
    """normalise_phone with its E.164 fast path, then without it (the full parse)."""
    from destination_common import phones

    fast = phones.normalise_phone(value, region)
    saved = phones._already_e164
    phones._already_e164 = lambda text, pn: None
    try:
        full = phones.normalise_phone(value, region)
    finally:
        phones._already_e164 = saved
    return fast, full


def _e164_like_inputs():
    """'+' + digits over every calling code phonenumbers knows (and some it does not), national
    numbers of 0-18 digits starting with every digit (national prefixes written after the code:
    +44 0..., +7 8..., +1 1..., +380 0...; Italian leading zeros), with seeded random tails."""
    import random

    import phonenumbers

    rng = random.Random(16)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE) + [0, 999, 969, 210, 28]
    inputs = []
    for code in codes:
        for length in range(0, 19):
            for first in "0123456789":
                if length == 0 and first != "0":
                    continue
                tail = "".join(rng.choice("0123456789") for _ in range(max(length - 1, 0)))
                national = (first + tail) if length else ""
                inputs.append(f"+{code}{national}")
        # numbers that really exist in the region (valid examples) and their prefixed forms
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
            example = phonenumbers.example_number(region) if region != "001" else None
            if example is not None:
                nsn = phonenumbers.national_significant_number(example)
                metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
                prefix = (metadata.national_prefix or "") if metadata else ""
                inputs += [f"+{code}{nsn}", f"+{code}{prefix}{nsn}", f"+{code}0{nsn}", f"+{code}00{nsn}"]
    return inputs


def test_fast_path_for_e164_gives_the_full_parse_answer_for_every_calling_code_and_length():
    import phonenumbers

    from destination_common import phones

    fast_hits = 0
    inputs = _e164_like_inputs()
    assert len(inputs) > 40_000
    for text in inputs:
        fast, full = _both_ways(text, None)
        assert fast == full, text
        if phones._already_e164(text, phonenumbers) is not None:
            fast_hits += 1
            assert fast.e164 == text
    # the fast path is really taken (most E.164 texts of a possible length), and refuses the rest
    assert fast_hits > 5_000
    for text in ("+440207946000", "+79161234567"[:2] + "8" + "9161234567", "+11234567890", "+390612345678", "+80012345678"):
        assert phones._already_e164(text, phonenumbers) is None, text


@pytest.mark.parametrize("region", [None, "CZ", "UA", "GB", "US", "RU", "IT", "Narnia", "Česká republika"])
def test_fast_path_equals_full_parse_whatever_the_region(region):
    inputs = _e164_like_inputs()[::37]
    inputs += [" +420785206025 ", "+420785206025\n", "+420 785206025", "++420785206025", "+420785206025x1",
               "+４２０785206025", "+420785206025;ext=1", "+442079460000", "+4402079460000", "+12125550123",
               "+112125550123", "+390612345678", "+3906123456", "+380501234567", "+3800501234567",
               "+78001234567", "+79161234567", "+89161234567"]
    for text in inputs:
        fast, full = _both_ways(text, region)
        assert fast == full, (text, region)
    for number in (420785206025, 380501234567, 442079460000, 12125550123, 4402079460000):
        fast, full = _both_ways(number, region)
        assert fast == full, (number, region)


def test_fast_path_equals_full_parse_over_this_files_corpus():
    """Every value the tests above use, through both paths."""
    import sys

    module = sys.modules[__name__]
    for name in dir(module):
        marks = getattr(getattr(module, name), "pytestmark", [])
        for mark in marks:
            if mark.name != "parametrize":
                continue
            for case in mark.args[1]:
                case = case if isinstance(case, tuple) else (case,)
                value = case[0]
                region = case[1] if len(case) > 1 and (case[1] is None or isinstance(case[1], str)) else None
                for reg in {region, None}:
                    fast, full = _both_ways(value, reg)
                    assert fast == full, (value, reg)
