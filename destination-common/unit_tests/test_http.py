import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import update_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import HttpClient, add_secret, check_url, redact
from destination_common_helpers import reply_json


class Server:
    """A tiny loopback server answering a scripted list of (status, body) or 'drop'."""

    def __init__(self, script):
        self.script = list(script)
        self.hits = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.hits += 1
                step = outer.script.pop(0) if outer.script else (200, {"ok": True})
                if step == "drop":
                    self.connection.close()
                    return
                status, body = step
                reply_json(self, status, body)

        self.httpd = HTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/x"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server_factory():
    servers = []

    def make(script):
        s = Server(script)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()


def client(**kw):
    sleeps = []
    c = HttpClient(backoff_base=0.5, max_retries=3, sleep=sleeps.append, timeout=5, **kw)
    return c, sleeps


def test_retries_5xx_drop_and_bad_json_then_succeeds(server_factory):
    srv = server_factory([(503, {}), "drop", (200, b'{"cut":'), (200, {"ok": 1})])
    c, sleeps = client()
    assert c.post_json(srv.url, {"a": 1}) == {"ok": 1}
    assert srv.hits == 4 and c.requests == 4 and c.retries == 3
    assert len(sleeps) == 3 and sleeps[0] <= 0.5 < sleeps[2] <= 2.0  # exponential with jitter


def test_4xx_is_not_retried(server_factory):
    srv = server_factory([(400, {"bad": 1}), (200, {"ok": 1})])
    c, _ = client()
    with pytest.raises(requests.HTTPError):
        c.post_json(srv.url, {})
    assert srv.hits == 1 and c.retries == 0


def test_gives_up_with_transient_error(server_factory):
    srv = server_factory([(500, {})] * 10)
    c, _ = client(service="Test API")
    with pytest.raises(AirbyteTracedException) as err:
        c.post_json(srv.url, {}, what="users/import")
    assert err.value.failure_type == FailureType.transient_error
    assert "Test API failed on users/import after 4 attempts (last: HTTP 500)" in err.value.message
    assert srv.hits == 4


def test_timeout_is_retried(server_factory):
    srv = server_factory([])
    c, sleeps = client()
    calls = {"n": 0}
    real = c.session.request

    def flaky(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise requests.exceptions.ReadTimeout("slow")
        return real(*a, **kw)

    c.session.request = flaky
    assert c.post_json(srv.url, {}) == {"ok": True}
    assert c.retries == 1


def test_retry_after_number_is_honoured(server_factory):
    c, _ = client()

    class R:
        headers = {"Retry-After": "3"}

    assert c.backoff(0, R()) == 3


@pytest.mark.parametrize(
    "url", ["https://shop.example.com", "http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "http://127.5.0.1"]
)
def test_url_rule_accepts(url):
    assert check_url(url + "/") == url


@pytest.mark.parametrize("url", ["http://shop.example.com", "ftp://x", "shop.example.com", "", "http://10.0.0.1"])
def test_url_rule_refuses(url):
    with pytest.raises(AirbyteTracedException) as err:
        check_url(url, field="shop_url")
    assert err.value.failure_type == FailureType.config_error and "shop_url" in err.value.message


def test_redaction():
    update_secrets(["p4ss"])
    add_secret("tok123")
    assert redact("login with p4ss and tok123 and extra", extra=["extra"]) == "login with **** and **** and ****"
    update_secrets([])
