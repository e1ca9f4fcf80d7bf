from datetime import date, datetime

import pytest

from destination_loyalty_batch.rows import (
    build_headers,
    choose_delimiter,
    clean_value,
    encode_rows,
    header_params,
    normalise_date,
    plan_requests,
    usable_delimiters,
)


def test_headers_follow_documented_order_then_custom_fields_by_number():
    rows = [{"email": "a@b.cz", "custom_field_10": "x"}, {"code": "1", "custom_field_2": "y", "auto_add": "5"}]
    headers = build_headers(rows)
    assert headers == ["code", "email", "auto_add", "custom_field_2", "custom_field_10"]
    assert header_params(headers) == {
        "profiles_header_1": "code",
        "profiles_header_2": "email",
        "profiles_header_3": "auto_add",
        "profiles_header_4": "custom_field_2",
        "profiles_header_5": "custom_field_10",
    }


def test_unknown_header_and_empty_header_list_refused():
    with pytest.raises(ValueError):
        build_headers([{"shoe_size": "42"}])
    with pytest.raises(ValueError):
        header_params([])


@pytest.mark.parametrize(
    "values, preferred, expected",
    [
        (["plain"], "pipe", "pipe"),
        (["a|b"], "pipe", "comma"),
        (["a|b", "c,d"], "pipe", "tab"),
        (["a,b"], "comma", "pipe"),
        (["a\tb"], "tab", "pipe"),
        (["a|b,c\td"], "pipe", None),
    ],
)
def test_delimiter_choice_prefers_configured_one(values, preferred, expected):
    rows = [{"city": v} for v in values]
    assert choose_delimiter(rows, preferred) == expected


def test_clean_value_replaces_line_breaks_and_counts_them():
    assert clean_value("a\r\nb\nc\rd\u2028e") == clean_value("a b c d e").__class__("a b c d e", 4)
    assert clean_value(None).value == ""
    assert clean_value(True).value == "1"
    assert clean_value(25.0).value == "25"
    assert clean_value(2.5).value == "2.5"
    assert clean_value("  x  ").value == "x"


def test_encode_rows_blank_for_missing_and_refuses_corrupting_values():
    rows = [{"code": "1", "city": "Brno, north"}, {"code": "2"}]
    assert encode_rows(rows, ["code", "city"], "pipe") == "1|Brno, north\n2|\n"
    with pytest.raises(ValueError):
        encode_rows(rows, ["code", "city"], "comma")
    with pytest.raises(ValueError):
        encode_rows([{"code": "a\nb"}], ["code"], "pipe")


def test_plan_groups_by_field_set_in_update_mode_only():
    rows = [{"code": "1", "email": "a@x.cz"}, {"code": "2"}, {"code": "3", "email": "c@x.cz"}]
    plans = plan_requests(rows, "pipe", group_by_fields=True)
    assert [(p.indexes, p.headers) for p in plans] == [([0, 2], ["code", "email"]), ([1], ["code"])]
    (one,) = plan_requests(rows, "pipe", group_by_fields=False)
    assert one.indexes == [0, 1, 2] and one.data == "1|a@x.cz\n2|\n3|c@x.cz\n"


def test_plan_splits_a_batch_that_uses_every_delimiter():
    rows = [{"code": "1", "city": "a|b"}, {"code": "2", "city": "c,d"}, {"code": "3", "city": "e\tf"}, {"code": "4"}]
    plans = plan_requests(rows, "pipe", group_by_fields=False)
    assert sorted(i for p in plans for i in p.indexes) == [0, 1, 2, 3]
    for p in plans:
        assert all(usable for usable in (p.delimiter in usable_delimiters(rows[i]) for i in p.indexes))
    assert len(plans) == 2


@pytest.mark.parametrize(
    "value, expected",
    [
        ("1970-07-14", "1970-07-14"),
        ("1970-07-14T23:30:00+01:00", "1970-07-14"),
        ("1970-07-14T23:30:00.123Z", "1970-07-14"),
        ("1970-07-14 08:00:00", "1970-07-14"),
        ("1970-07-14 08:00", "1970-07-14"),
        ("14.07.1970", "1970-07-14"),
        ("14.07.1970 10:11:12", "1970-07-14"),
        ("14. 07. 1970", "1970-07-14"),
        ("1970/07/14", "1970-07-14"),
        ("19700714", "1970-07-14"),
        (date(1970, 7, 14), "1970-07-14"),
        (datetime(1970, 7, 14, 5), "1970-07-14"),
        (None, None),
        ("", None),
    ],
)
def test_normalise_date(value, expected):
    assert normalise_date(value) == expected


@pytest.mark.parametrize("value", ["04-03-2010", "04/06/05", "2020-02-30", "yesterday", "31.13.2020"])
def test_normalise_date_refuses_ambiguous_or_invalid(value):
    with pytest.raises(ValueError):
        normalise_date(value)
