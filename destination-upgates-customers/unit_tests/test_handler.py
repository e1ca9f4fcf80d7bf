"""Answer parsing (by e-mail, not by position), learnt limits, learnt unknown custom fields,
the request body's e-mail field, Retry-After parsing."""

from __future__ import annotations

from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

import pytest

from destination_common import Item, Reject, Status
from destination_upgates_customers.client import seconds_until_retry, without_userinfo
from destination_upgates_customers.handler import CustomersPutHandler


def h(**kw):
    return CustomersPutHandler(client=None, mapper=lambda r: dict(r), **kw)  # type: ignore[arg-type]


def item(email, **payload):
    return Item(stream="customers", key=email.lower(), payload={"email": email, "metas": {}, **payload}, record={})


def test_outcomes_match_by_email_in_any_order_and_case():
    handler = h()
    items = [item("A@x.cz"), item("b@x.cz"), item("c@x.cz")]
    answer = [
        {"email": "c@x.cz", "updated_yn": True, "messages": []},
        {"email": "B@X.CZ", "updated_yn": False, "messages": [{"object": "customer", "property": "login.email", "message": "Customer not found"}]},
        {"email": "a@x.cz", "updated_yn": True, "messages": []},
    ]
    out = handler.outcomes(items, answer)
    assert [o.status for o in out] == [Status.ACCEPTED, Status.REJECTED, Status.ACCEPTED]
    assert out[1].code == "not_updated" and out[1].reason == "login.email: Customer not found"
    assert (handler.updated, handler.not_updated) == (2, 1)


def test_a_customer_missing_from_the_answer_is_retried_not_counted_written():
    out = h().outcomes([item("a@x.cz"), item("b@x.cz")], [{"email": "a@x.cz", "updated_yn": True}])
    assert [o.status for o in out] == [Status.ACCEPTED, Status.RETRY]


def test_updated_yn_must_be_true_not_truthy():
    out = h().outcomes([item("a@x.cz")], [{"email": "a@x.cz", "updated_yn": "false"}])
    assert out[0].status is Status.REJECTED and out[0].reason == "not updated (no message)"


def test_unknown_meta_key_is_learnt_from_the_answer():
    handler = h()
    it = item("a@x.cz", metas={"card": "1", "fine": "2"})
    handler.outcomes([it], [{"email": "a@x.cz", "updated_yn": False, "messages": [
        {"object": "customer", "property": "metas.key", "message": "Unknown custom field 'card'"}]}])
    assert handler.unknown_meta_keys == {"card"}
    with pytest.raises(Reject) as err:
        handler.validate({"email": "b@x.cz", "metas": {"card": "9"}})
    assert err.value.code == "unknown_meta_key"
    handler.validate({"email": "b@x.cz", "metas": {"fine": "9"}})


@pytest.mark.parametrize(
    "size,text,limit",
    [(100, "At most 25 customers per request; nothing was processed", 25), (40, "Request Entity Too Large", 20),
     (150, "too large", 100), (2, "", 1)],
)
def test_learnt_limit(size, text, limit):
    handler = h()
    handler.learn_from_refusal(size, text)
    assert handler.max_batch == limit and handler.refused_as_too_large == 1


def test_learnt_limit_only_goes_down():
    handler = h()
    handler.learn_from_refusal(100, "at most 10")
    handler.learn_from_refusal(50, "at most 30")
    assert handler.max_batch == 10


@pytest.mark.parametrize(
    "field,expected",
    [
        ("login.email", {"login": {"email": "a@x.cz"}}),
        ("email", {"email": "a@x.cz"}),
        ("both", {"login": {"email": "a@x.cz"}, "email": "a@x.cz"}),
    ],
)
def test_body_email_field(field, expected):
    body = h(email_field=field).body_of({"email": "a@x.cz", "newsletter_accept": "yes", "metas": {"k": 5, "b": True}})
    assert body == {**expected, "newsletter_accept": "yes", "metas": [{"key": "k", "value": "5"}, {"key": "b", "value": "1"}]}


def test_retry_after_http_date_and_seconds():
    now = datetime(2026, 3, 1, 10, 59, 30, tzinfo=timezone.utc)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert seconds_until_retry(date, now.timestamp()) == pytest.approx(30)
    assert seconds_until_retry("12", now.timestamp()) == 12
    assert seconds_until_retry("soon", now.timestamp()) is None
    assert seconds_until_retry(None, now.timestamp()) is None


def test_without_userinfo():
    assert without_userinfo("https://user:pw@shop.example.com:8443/api/v2?x=1") == "https://shop.example.com:8443/api/v2"
