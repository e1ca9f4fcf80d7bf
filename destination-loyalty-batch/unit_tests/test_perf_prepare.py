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

    def call(self, kind, fields, secrets=()):
        self.forms.append(fields)
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
