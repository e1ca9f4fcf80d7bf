"""HttpClient's direct transport (transport.py) against requests' own adapter: the same bytes
on the wire, the same answers and the same exceptions, each case run through both
(`direct=True` / `direct=False`); then what only the direct transport does itself (kept-alive
connections, a connection the server closed while idle, TLS)."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import ssl
import threading
import zlib
from pathlib import Path

import pytest
import requests

from destination_common import HttpClient
from destination_common import transport
from destination_common.http import TRANSIENT_EXCEPTIONS

LIVENESS = 10.0


class RawServer:
    """A loopback HTTP/1.1 server that answers each request with `reply(request_bytes)` (raw
    bytes, or None to close without answering) and records every request's bytes and the
    connection it came on."""

    def __init__(self, reply, *, tls: ssl.SSLContext | None = None, close_after_answer: bool = False) -> None:
        self.reply, self.tls, self.close_after_answer = reply, tls, close_after_answer
        self.requests: list[bytes] = []
        self.connections: list[int] = []
        self.accepted = 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._connection, args=(conn, self.accepted), daemon=True).start()

    def _connection(self, conn: socket.socket, number: int) -> None:
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            reader = conn.makefile("rb")
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = reader.readline()
                    if not line:
                        return
                    head += line
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                raw = head + reader.read(length)
                self.requests.append(raw)
                self.connections.append(number)
                answer = self.reply(raw)
                if answer is None:
                    return
                conn.sendall(answer)
                if self.close_after_answer:
                    return
        except (OSError, ssl.SSLError):
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def answer(status: str = "200 OK", body: bytes = b'{"ok": true}', headers: tuple[str, ...] = ("Content-Type: application/json",)) -> bytes:
    lines = [f"HTTP/1.1 {status}", *headers]
    if not any(h.lower().startswith(("content-length", "transfer-encoding")) for h in headers):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@pytest.fixture
def serve():
    servers = []

    def make(reply, **kwargs):
        server = RawServer(reply, **kwargs)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def client(direct: bool, **kwargs) -> HttpClient:
    return HttpClient(timeout=5, max_retries=0, direct=direct, **kwargs)


both = pytest.mark.parametrize("direct", [True, False], ids=["direct", "requests"])


def wire(raw: bytes) -> tuple[bytes, frozenset[bytes], bytes]:
    """A request as (request line, header lines, body): header order aside, what was sent."""
    head, _, body = raw.partition(b"\r\n\r\n")
    first, *headers = head.split(b"\r\n")
    return first, frozenset(headers), body


# ---- the same request on the wire -----------------------------------------------------------
def test_the_bytes_sent_are_those_requests_sends(serve):
    server = serve(lambda raw: answer())
    sent = {}
    for direct in (True, False):
        c = client(direct, user_agent="test-agent/1")
        c.post_json(server.url + "/api/users/import/", {"users": [{"name": "Žofie"}]}, what="import")
        c.request("POST", server.url + "/form", data="a=1&b=%C5%BD", headers={"Content-Type": "application/x-www-form-urlencoded"})
        c.request("GET", server.url + "/api/customers", params={"page": 2, "q": "a b"})
        c.session.auth = ("login", "key")
        c.request("PUT", server.url + "/api/customers", data=b'{"x":1}', headers={"Content-Type": "application/json"})
        sent[direct] = [wire(raw) for raw in server.requests]
        server.requests.clear()
    assert sent[True] == sent[False]
    assert len(sent[True]) == 4


# ---- the same answers -----------------------------------------------------------------------
@both
def test_status_headers_and_body_as_requests_gives_them(serve, direct):
    server = serve(lambda raw: answer("201 Created", "{\"name\": \"Žofie\"}".encode(),
                                      ("Content-Type: application/json; charset=utf-8", "X-Seen: a", "X-Seen: b")))
    response = client(direct).request("POST", server.url + "/x", json={})
    assert (response.status_code, response.reason, response.encoding) == (201, "Created", "utf-8")
    assert response.headers["x-seen"] == "a, b" and response.json() == {"name": "Žofie"}
    assert response.url == server.url + "/x" and response.request.method == "POST"


@both
def test_chunked_gzip_and_deflate_answers_are_decoded(serve, direct):
    body = b'{"imported": 3}'
    replies = iter([
        answer(body=b"f\r\n" + body + b"\r\n0\r\n\r\n", headers=("Transfer-Encoding: chunked",)),
        answer(body=gzip.compress(body), headers=("Content-Encoding: gzip",)),
        answer(body=zlib.compress(body), headers=("Content-Encoding: deflate",)),
    ])
    server = serve(lambda raw: next(replies))
    c = client(direct)
    assert [c.post_json(server.url, {}) for _ in range(3)] == [{"imported": 3}] * 3


@both
def test_a_cookie_the_server_sets_is_sent_back(serve, direct):
    server = serve(lambda raw: answer(headers=("Set-Cookie: sid=abc; Path=/",)))
    c = client(direct)
    c.post_json(server.url + "/a", {})
    c.post_json(server.url + "/b", {})
    assert b"Cookie: sid=abc" not in server.requests[0] and b"Cookie: sid=abc" in server.requests[1]


@both
def test_a_redirect_is_returned_not_followed(serve, direct):
    server = serve(lambda raw: answer("302 Found", b"", ("Location: /elsewhere",)))
    response = client(direct).session.post(server.url + "/login", data={"p": "w"}, allow_redirects=False, timeout=5)
    assert response.status_code == 302 and len(server.requests) == 1


@both
def test_http_client_turns_a_redirect_into_a_config_error_with_one_request(serve, direct):
    server = serve(lambda raw: answer("307 Temporary Redirect", b"", ("Location: /elsewhere",)))
    with pytest.raises(Exception, match="update the API URL"):
        client(direct).post_json(server.url + "/login", {"password": "x"})
    assert len(server.requests) == 1


# ---- the same exceptions --------------------------------------------------------------------
@both
def test_a_body_cut_short_is_a_transient_chunked_encoding_error(serve, direct):
    server = serve(lambda raw: answer(body=b'{"ok":', headers=("Content-Length: 100",)), close_after_answer=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError) as info:
        client(direct)._exchange("POST", server.url, {"json": {}, "timeout": 5})
    assert isinstance(info.value, TRANSIENT_EXCEPTIONS)


@both
def test_no_answer_at_all_is_a_transient_connection_error(serve, direct):
    server = serve(lambda raw: None)
    with pytest.raises(requests.exceptions.ConnectionError):
        client(direct)._exchange("POST", server.url, {"json": {}, "timeout": 5})


@both
def test_a_refused_connection_is_a_connection_error(direct):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(requests.exceptions.ConnectionError):
        client(direct)._exchange("GET", f"http://127.0.0.1:{port}/", {"timeout": 5})


@both
def test_a_stalled_answer_is_a_read_timeout(serve, direct):
    release = threading.Event()
    server = serve(lambda raw: (release.wait(LIVENESS), answer())[1])
    try:
        with pytest.raises(requests.exceptions.ReadTimeout):
            client(direct)._exchange("POST", server.url, {"json": {}, "timeout": (5, 0.2)})
    finally:
        release.set()


@both
def test_retries_after_a_cut_answer_then_succeeds(serve, direct):
    replies = iter([None, answer(body=b'{"ok":', headers=("Content-Length: 50",)), answer()])
    server = serve(lambda raw: next(replies), close_after_answer=True)
    c = HttpClient(timeout=5, max_retries=3, sleep=lambda s: None, direct=direct)
    assert c.post_json(server.url, {}) == {"ok": True}
    assert c.requests == 3 and c.retries == 2 and len(server.requests) == 3


# ---- what the direct transport does itself --------------------------------------------------
def test_one_kept_alive_connection_carries_request_after_request(serve):
    server = serve(lambda raw: answer())
    c = client(True)
    for _ in range(5):
        c.post_json(server.url, {})
    assert server.accepted == 1 and set(server.connections) == {1}


def test_a_connection_the_server_closed_while_idle_is_replaced_without_a_retry(serve):
    server = serve(lambda raw: answer(), close_after_answer=True)  # closes without saying so
    c = HttpClient(timeout=5, max_retries=0, direct=True)
    for _ in range(3):
        c.post_json(server.url, {})
        # the server's close reaches the client before its next request
        deadline = threading.Event()
        deadline.wait(0.05)
    assert c.retries == 0 and server.accepted == 3


def test_an_answer_that_says_close_is_not_kept(serve):
    server = serve(lambda raw: answer(headers=("Content-Type: application/json", "Connection: close")))
    c = client(True)
    c.post_json(server.url, {})
    c.post_json(server.url, {})
    assert server.accepted == 2


@pytest.mark.parametrize(
    "case",
    ["proxy", "adapter", "hook", "stream body", "client certificate"],
)
def test_requests_sends_what_the_direct_transport_would_send_differently(monkeypatch, case):
    session = requests.Session()
    url = "http://shop.example.com/api"
    settings = {"proxies": {}, "stream": False, "verify": True, "cert": None}
    prepared = requests.Request("POST", url, data=b"x").prepare()
    assert transport.usable(session, prepared, settings)
    if case == "proxy":
        settings["proxies"] = {"http": "http://proxy.invalid:3128"}
    elif case == "adapter":
        class Other(requests.adapters.HTTPAdapter):
            pass

        session.mount("http://", Other())
    elif case == "hook":
        prepared.hooks["response"].append(lambda r, **kw: r)
    elif case == "stream body":
        prepared.body = iter([b"x"])
    else:
        settings["cert"] = "/client.pem"
    assert not transport.usable(session, prepared, settings)


def test_a_proxy_from_the_environment_goes_through_requests(monkeypatch, serve):
    # the "proxy" is a loopback server: requests sends it the absolute URL, as to a proxy
    proxy = serve(lambda raw: answer())
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client(True).post_json("http://shop.example.com/api/x", {})
    assert proxy.requests[0].startswith(b"POST http://shop.example.com/api/x HTTP/1.1")


# ---- TLS ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (and not for any name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test shop")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return folder


@pytest.fixture(autouse=True)
def no_ca_bundle_from_the_environment(monkeypatch):
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over `session.verify`: these tests
    set the session's."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def tls_server(serve, certificate):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    server = serve(lambda raw: answer(), tls=context)
    server.url = f"https://127.0.0.1:{server.port}"
    return server


@both
def test_tls_with_the_shops_certificate_authority_works(tls_server, certificate, direct):
    c = client(direct)
    c.session.verify = str(certificate / "cert.pem")
    assert c.post_json(tls_server.url + "/x", {}) == {"ok": True}
    assert tls_server.requests


@both
def test_tls_with_an_unknown_certificate_is_refused_before_anything_is_sent(tls_server, direct):
    with pytest.raises(requests.exceptions.SSLError):
        client(direct)._exchange("POST", tls_server.url + "/x", {"json": {"password": "x"}, "timeout": 5})
    assert tls_server.requests == []


@both
def test_tls_to_a_name_the_certificate_does_not_carry_is_refused(serve, certificate, direct):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate / "cert.pem", certificate / "key.pem")
    server = serve(lambda raw: answer(), tls=context)
    c = client(direct)
    c.session.verify = str(certificate / "cert.pem")
    with pytest.raises(requests.exceptions.SSLError):  # the certificate is for 127.0.0.1, not localhost
        c._exchange("POST", f"https://localhost:{server.port}/x", {"json": {}, "timeout": 5})
    assert server.requests == []


@both
def test_tls_without_verification_when_the_session_says_so(tls_server, direct):
    c = client(direct)
    c.session.verify = False
    assert c.post_json(tls_server.url + "/x", {}) == {"ok": True}
