"""The PUT body encoded ahead (CustomersPutHandler.prepare) is the request requests' own
`json=` encoding makes, byte for byte; _put() takes it for the very list prepared only."""

from __future__ import annotations

import json
import math

import pytest
import requests

from destination_common import Item
from destination_upgates_customers.handler import JSON_HEADERS, CustomersPutHandler, encode_body


def requests_body(body):
    return requests.Request("PUT", "http://127.0.0.1/api/v2/customers", json=body).prepare().body


@pytest.mark.parametrize("body", [
    {"customers": [{"login": {"email": "jana@example.cz"}, "newsletter_accept": "yes",
                    "metas": [{"key": "poznámka", "value": "Лисенко \" \\ 😀"}]}]},
    {"customers": []},
])
def test_encoded_body_is_the_bytes_requests_sends(body):
    assert encode_body(body) == requests_body(body)


@pytest.mark.parametrize("bad", [math.nan, {1, 2}, object()])
def test_what_json_refuses_is_not_encoded_ahead(bad):
    assert encode_body({"customers": [{"email": "a@b.cz", "x": bad}]}) is None


class RecordingClient:
    login = "u"
    base = "http://127.0.0.1/api/v2"

    def __init__(self):
        self.calls = []

    def request(self, method, path, *, what, **kwargs):
        self.calls.append(kwargs)
        data = kwargs.get("data")
        body = json.loads(data) if data is not None else kwargs["json"]
        response = requests.Response()
        response.status_code = 200
        response._content = json.dumps({"customers": [
            {"email": c.get("email") or c["login"]["email"], "updated_yn": True, "messages": []} for c in body["customers"]
        ]}).encode()
        return response


def item(email, **payload):
    return Item(stream="customers", key=email.lower(), payload={"email": email, "metas": {}, **payload}, record={})


def test_put_uses_what_prepare_encoded_for_the_same_list_only():
    client = RecordingClient()
    handler = CustomersPutHandler(client=client, mapper=dict)  # type: ignore[arg-type]
    batch = [item("a@x.cz", newsletter_accept="yes"), item("b@x.cz", metas={"k": True})]
    handler.prepare(batch)
    prepared = handler._prepared[id(batch)][1]
    assert [o.status for o in handler.send(batch)] == ["accepted", "accepted"]
    assert client.calls[-1] == {"data": prepared, "headers": JSON_HEADERS} and handler._prepared == {}
    assert prepared == requests_body({"customers": [handler.body_of(i.payload) for i in batch]})
    # a half (another list) is encoded by send() itself
    handler.prepare(batch)
    handler.send(batch[:1])
    assert client.calls[-1]["data"] == requests_body({"customers": [handler.body_of(batch[0].payload)]})


def test_a_batch_trimmed_of_a_refused_custom_field_is_encoded_without_it():
    client = RecordingClient()
    handler = CustomersPutHandler(client=client, mapper=dict)  # type: ignore[arg-type]
    batch = [item("a@x.cz", metas={"gone": 1}), item("b@x.cz")]
    handler.prepare(batch)
    handler.unknown_meta_keys.add("gone")
    out = handler.send(batch)
    assert [o.status for o in out] == ["rejected", "accepted"]
    assert json.loads(client.calls[-1]["data"]) == {"customers": [{"login": {"email": "b@x.cz"}}]}
    assert handler._prepared == {}


def test_a_body_json_cannot_hold_is_sent_with_json_as_before():
    client = RecordingClient()
    handler = CustomersPutHandler(client=client, mapper=dict)  # type: ignore[arg-type]
    handler.body_of = lambda payload: {"email": payload["email"], "x": math.nan}  # type: ignore[method-assign]
    batch = [item("a@x.cz")]
    handler.prepare(batch)
    assert handler._prepared == {}
    handler.send(batch)
    assert "json" in client.calls[-1] and "data" not in client.calls[-1]


def test_prepared_bodies_stay_bounded_and_a_batch_over_the_learnt_limit_is_not_prepared():
    from destination_upgates_customers.handler import MAX_PREPARED

    handler = CustomersPutHandler(client=RecordingClient(), mapper=dict)  # type: ignore[arg-type]
    batches = [[item(f"u{n}-{i}@x.cz") for i in range(2)] for n in range(MAX_PREPARED + 5)]
    for batch in batches:
        handler.prepare(batch)
    assert list(handler._prepared) == [id(b) for b in batches[-MAX_PREPARED:]]
    handler._prepared.clear()
    handler.learn_limit(1, "test")
    handler.prepare([item("a@x.cz"), item("b@x.cz")])
    assert handler._prepared == {}
