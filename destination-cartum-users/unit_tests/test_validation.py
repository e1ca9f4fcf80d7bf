import pytest

from destination_common import Reject
from destination_cartum_users.schema import phone_ok, problems, validate

GOOD = {"title": "Ivanov Ivan", "email": "ivan@mail.net", "phone": "+380631234567",
        "discount_card": {"discount": 3, "active": True, "date_limit": "2027-01-01", "status": 1},
        "customer_group_id": 3, "manager_id": 61, "balance": -5.5, "balance_currency": 1}


def test_good_user_passes():
    assert problems(GOOD, group_ids={2, 3}) == []


@pytest.mark.parametrize(
    "change,code",
    [
        ({"email": None}, 1),
        ({"title": ""}, 1),
        ({"email": "some@email"}, 2),
        ({"phone": "0631234567"}, 2),
        ({"phone": 380631234567}, 2),
        ({"discount_card": {"discount": 101}}, 2),
        ({"discount_card": {"discount": -1}}, 2),
        ({"discount_card": {"date_limit": "01.01.2027"}}, 2),
        ({"discount_card": {"date_limit": "2027-02-30"}}, 2),
        ({"discount_card": {"status": 4}}, 2),
        ({"discount_card": {"active": "yes"}}, 2),
        ({"customer_group_id": 99}, 2),
        ({"customer_group_id": "3"}, 2),
        ({"manager_id": "x"}, 2),
        ({"balance": "lots"}, 2),
        ({"newsletter_subscription": 2}, 2),
        ({"city": 5}, 2),
    ],
)
def test_problems_codes(change, code):
    with pytest.raises(Reject) as err:
        validate({**GOOD, **change}, group_ids={2, 3})
    assert err.value.code == code


def test_missing_title_allowed_for_updates_and_lowest_code_wins():
    validate({"email": "a@b.cz"}, require_title=False)
    with pytest.raises(Reject) as err:
        validate({"email": "bad", "phone": "1"})
    assert err.value.code == 1 and "title" in err.value.reason and "e-mail" in err.value.reason


def test_phone_formats():
    assert phone_ok("+380 (63) 123-45-67") and phone_ok("") and not phone_ok("+12") and not phone_ok("abc")


def test_phone_ok_equals_the_punctuation_stripped_check():
    """phone_ok tries the text as it is before stripping punctuation: the same answer as
    checking the stripped text alone, over E.164 phones, punctuated forms, line ends and junk."""
    import itertools
    import re

    from destination_cartum_users.schema import PHONE_RE

    def stripped_only(value):
        return value in ("", None) or (isinstance(value, str) and bool(PHONE_RE.match(re.sub(r"[\s\-().]", "", value))))

    parts = ["+", "380", "63", "1234567", "12345678901234", " ", "-", "(", ")", ".", "\n", "x", "٣", "/", "+1"]
    values = ["", None, 5, "+380631234567\n", "\n+380631234567", "+380631234567 ", "+3806312345678901"]
    values += ["".join(combo) for n in range(1, 5) for combo in itertools.product(parts, repeat=n)]
    for value in values:
        assert phone_ok(value) == stripped_only(value), repr(value)
