"""The import body encoded ahead (ImportHandler.prepare, client.EncodedBody) is the request
requests' own `json=` encoding makes, byte for byte; send() takes what prepare() encoded for
the same list only; the User-Agent carries the package's version (pyproject.toml's)."""

import json
import math
import tomllib
from pathlib import Path

import pytest
import requests

from destination_common import Item
from destination_cartum_users import __version__
from destination_cartum_users.client import USER_AGENT, CartumClient, EncodedBody
from destination_cartum_users.handler import ProductPricesHandler, UsersImportHandler

ROOT = Path(__file__).resolve().parents[1]

PAYLOADS = [
    {"email": "jana@example.cz", "title": "Лисенко Андрій", "phone": "+380970702635", "balance": -1500.5,
     "discount_card": {"discount": 5, "active": True, "date_limit": None}, "note": 'quote " backslash \\ tab \t 😀'},
    {"email": "b@example.cz", "customer_group_id": 5, "newsletter_subscription": 0, "balance": 1e16},
]


def requests_body(body):
    return requests.Request("POST", "http://127.0.0.1/api/users/import/", json=body).prepare().body


@pytest.mark.parametrize("token", ["tok-123", "ключ\"x", None])
def test_encoded_body_is_the_bytes_requests_sends(token):
    encoded = EncodedBody.of("users", PAYLOADS)
    assert encoded.with_token(token) == requests_body({"users": PAYLOADS, "token": token})
    assert json.loads(encoded.with_token(token)) == {"users": PAYLOADS, "token": token}


@pytest.mark.parametrize("bad", [math.nan, math.inf, {1, 2}, object()])
def test_what_json_refuses_is_not_encoded_ahead(bad):
    assert EncodedBody.of("users", [{"email": "a@b.cz", "balance": bad}]) is None


class RecordingClient:
    login = "u"
    base = "https://shop"

    def __init__(self):
        self.bodies = []

    def call(self, function, body):
        self.bodies.append(body)
        return "OK", {"log": [{"code": 0}] * len(json.loads(body.with_token("t"))["users" if function == "users/import" else "products"])
                      if isinstance(body, EncodedBody) else [{"code": 0}] * len(next(iter(body.values())))}

    @staticmethod
    def message(response):
        return str(response)


def items(n, start=0):
    return [Item("users", f"u{i}@x.io", {"email": f"u{i}@x.io"}, {}) for i in range(start, start + n)]


def test_send_uses_what_prepare_encoded_for_the_same_list_only():
    client = RecordingClient()
    handler = UsersImportHandler(client, dict)
    batch = items(4)
    handler.prepare(batch)
    prepared = handler._prepared[id(batch)][1]
    handler.send(batch)
    assert client.bodies[-1] is prepared and handler._prepared == {}
    # a half of a refused batch (another list) is encoded by send() itself, with its own items
    handler.prepare(batch)
    half = batch[:2]
    handler.send(half)
    assert client.bodies[-1] is not prepared
    assert client.bodies[-1].with_token("t") == requests_body({"users": [i.payload for i in half], "token": "t"})
    # never prepared: the same bytes as prepared
    fresh = items(3, start=10)
    handler.send(fresh)
    handler.prepare(fresh)
    assert client.bodies[-1].with_token("t") == handler._prepared[id(fresh)][1].with_token("t")


def test_a_payload_json_cannot_hold_is_sent_as_the_mapping():
    client = RecordingClient()
    handler = ProductPricesHandler(client, level_ids=None, retail_level=2)
    batch = [Item("product_prices", "A1", {"article": "A1", "price": math.nan}, {})]
    handler.prepare(batch)
    assert handler._prepared == {}
    handler.send(batch)
    assert client.bodies[-1] == {"products": [{"article": "A1", "price": math.nan}]}


def test_version_is_pyprojects_and_in_the_user_agent():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]
    assert USER_AGENT == f"airbyte-destination-cartum-users/{__version__}"
    client = CartumClient({"shop_url": "http://127.0.0.1:9"})
    assert client.http.session.headers["User-Agent"] == USER_AGENT


def test_prepared_bodies_stay_bounded_and_a_batch_over_the_learnt_limit_is_not_prepared():
    from destination_cartum_users.handler import MAX_PREPARED

    handler = UsersImportHandler(RecordingClient(), dict)
    batches = [items(2, start=10 * n) for n in range(MAX_PREPARED + 5)]  # prepared, never sent (a stopped sync)
    for batch in batches:
        handler.prepare(batch)
    assert list(handler._prepared) == [id(b) for b in batches[-MAX_PREPARED:]]
    handler._prepared.clear()
    handler.learn_limit(1, "test")
    handler.prepare(items(2))
    assert handler._prepared == {}
