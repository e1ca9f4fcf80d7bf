"""The batch's request plans are made in the loop's main thread (`prepare`) while the request
before it is in flight, and send() of the same items uses them (issue 16 item 1); a half of a
refused batch, never prepared, is planned by send() itself."""

from types import SimpleNamespace

import destination_loyalty_batch.handler as handler_module
from destination_loyalty_batch.handler import LoyaltyHandler

from destination_common import Item, Status


class FakeClient:
    account_id = "1"

    def __init__(self):
        self.forms = []
        self.bodies = []

    def encode_form(self, kind, fields):
        return f"encoded {kind} {len(fields)}"

    def call(self, kind, fields, secrets=(), body=None):
        self.forms.append(fields)
        self.bodies.append(body)
        n = len(fields["profiles_data"].strip("\n").split("\n"))  # one line per row (headers are form fields)
        return SimpleNamespace(batch_status="imported", new=n, updated=0, ignored=0, line_errors=[], generated=[],
                               raw="", accounted=lambda: n)

    def scrub(self, text, secrets=()):
        return str(text)

    def log_raw(self, what, raw, secrets=()):
        pass


def _items(n):
    return [Item(stream="customers", key=f"u{i}@x.io", payload={"email": f"u{i}@x.io", "code": f"C{i}"},
                 record={}, seq=i, segment=None) for i in range(n)]


def test_send_uses_the_plans_prepared_for_the_same_items(monkeypatch):
    calls = []
    real = handler_module.plan_requests

    def counting(rows, *args, **kwargs):
        calls.append(len(rows))
        return real(rows, *args, **kwargs)

    monkeypatch.setattr(handler_module, "plan_requests", counting)
    client = FakeClient()
    handler = LoyaltyHandler(client=client, mapper=dict, strict_fields=False, custom_fields=None, mode="update",
                             campaigns=["1"], blank_values_in_update="send_blank")
    items = _items(4)
    handler.prepare(items)
    assert calls == [4]
    outcomes = handler.send(items)
    assert calls == [4]  # planned once, in prepare()
    assert [o.status for o in outcomes] == [Status.ACCEPTED] * 4
    assert len(client.forms[0]["profiles_data"].strip("\n").split("\n")) == 4  # one line per row
    half = items[:2]  # same objects, other batch (a half after a refusal): planned by send()
    handler.send(half)
    assert calls == [4, 2]
    handler.send(list(items))  # prepared plans are used once
    assert calls == [4, 2, 4]


def test_send_passes_the_body_prepare_encoded_with_its_form():
    client = FakeClient()
    handler = LoyaltyHandler(client=client, mapper=dict, strict_fields=False, custom_fields=None, mode="update",
                             campaigns=["1"], blank_values_in_update="send_blank")
    items = _items(3)
    handler.prepare(items)
    handler.send(items)
    assert client.bodies == [f"encoded customers_batch {len(client.forms[0])}"]
    handler.send(items[:2])  # not prepared: the client encodes the form itself
    assert client.bodies[1] is None


def test_the_encoded_body_is_what_requests_sends_for_the_form():
    import requests

    from destination_loyalty_batch.client import FORM, LoyaltyClient
    from destination_loyalty_batch.rows import plan_requests

    client = LoyaltyClient({"api_url": "http://127.0.0.1:9", "user_id": "john", "api_key": "k&y=1 +x", "account_id": "acc"})
    handler = LoyaltyHandler(client=client, mapper=dict, strict_fields=False, custom_fields=None, mode="update",
                             campaigns=["1", "2"], card_number_generate=8, undo=False)
    rows = [{"code": "C1", "first_name": "Žofie & Co", "email": "a+b@x.io"}, {"code": "C2", "city": "Kyiv | Київ"}]
    plan = plan_requests(rows, "pipe", group_by_fields=False)[0]
    form = client.form("customers_batch", handler.form(plan))
    sent = requests.Request("POST", client.url, data=form).prepare()
    assert client.encode_form("customers_batch", handler.form(plan)) == sent.body
    assert sent.headers["Content-Type"] == FORM


def test_clean_text_is_clean_value():
    from datetime import date, datetime

    from destination_loyalty_batch.rows import clean_text, clean_value

    for value in [None, "", " a ", "a\r\nb\nc\u2028d", True, False, 3, 3.0, 3.5, date(2020, 1, 2),
                  datetime(2020, 1, 2, 3, 4), "x\x0by", ["l"], {"k": 1}]:
        cleaned = clean_value(value)
        assert clean_text(value) == (cleaned.value, cleaned.line_breaks)


def test_the_delimiter_rule_rejects_only_rows_that_use_all_three(monkeypatch):
    import itertools

    import pytest

    from destination_common import Reject

    handler = LoyaltyHandler(client=FakeClient(), mapper=dict, strict_fields=False, custom_fields=None, mode="update",
                             campaigns=["1"])
    parts = ["a|b", "a,b", "a\tb", "ab", "|,", ",\t", "|\t", "|,\t"]
    for a, b in itertools.product(parts, repeat=2):
        payload = {"code": a, "city": b}
        every = all(any(ch in v for v in payload.values()) for ch in "|,\t")
        if every:
            with pytest.raises(Reject):
                handler.validate(payload)
        else:
            handler.validate(payload)


def test_batch_group_is_the_sorted_field_set_whatever_the_key_order():
    from destination_loyalty_batch.rows import header_sort_key

    handler = LoyaltyHandler(client=FakeClient(), mapper=dict, strict_fields=False, custom_fields=None, mode="update",
                             campaigns=["1"])
    for payload in [{"email": "e", "code": "c"}, {"code": "c", "email": "e"}, {"city": "x", "code": "c"},
                    {"email": "e", "code": "c"}]:
        assert handler.batch_group(payload) == tuple(sorted(payload, key=header_sort_key))
    assert handler.stats.field_sets == {("code", "email"), ("code", "city")}


def test_a_printable_text_holds_no_line_break():
    """clean_text and encode_rows skip the line-break pattern for printable text: every
    character the pattern matches must be unprintable."""
    from destination_loyalty_batch.rows import LINE_BREAKS, clean_text

    assert not [i for i in range(0x110000) if chr(i).isprintable() and LINE_BREAKS.search(chr(i))]
    for text, expected in [(" a\u2028b\x85c\x0bd\x0ce\r\nf ", ("a b c d e f", 5)), ("  x y  ", ("x y", 0)), ("\tx\t", ("x", 0))]:
        assert clean_text(text) == expected
