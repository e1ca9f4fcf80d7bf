"""The shared emulator machinery: log, faults, clock."""

import json

import pytest
import requests
from aiohttp import web

from emulators.base import Clock, Emulator


class Echo(Emulator):
    name = "echo"

    def add_routes(self, app: web.Application) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.json_response({"items": list(range(50)), "path": request.path})

        app.router.add_route("*", "/{tail:.*}", handler)


@pytest.fixture
def echo():
    with Echo() as emu:
        yield emu


def test_serves_and_logs(echo):
    r = requests.get(f"{echo.url}/a/b", params={"x": "1"}, timeout=5)
    assert r.json()["path"] == "/a/b"
    assert echo.log.count(path="/a/b") == 1
    assert echo.log.items[0].query == {"x": "1"}


def test_status_fault_then_recovers(echo):
    echo.inject("status", status=503, path="/a", times=2)
    codes = [requests.get(f"{echo.url}/a", timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 200]


def test_skip_lets_requests_through_first(echo):
    echo.inject("status", status=500, skip=1)
    codes = [requests.get(f"{echo.url}/x", timeout=5).status_code for _ in range(3)]
    assert codes == [200, 500, 200]


def test_drop_closes_connection(echo):
    echo.inject("drop")
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{echo.url}/x", timeout=5)
    assert requests.get(f"{echo.url}/x", timeout=5).ok


def test_truncate_gives_invalid_json(echo):
    echo.inject("truncate")
    r = requests.get(f"{echo.url}/x", timeout=5)
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.text)


def test_cut_breaks_the_body(echo):
    echo.inject("cut")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{echo.url}/x", timeout=5).json()


def test_timeout_fault(echo):
    echo.inject("timeout", delay=2)
    with pytest.raises(requests.Timeout):
        requests.get(f"{echo.url}/x", timeout=0.3)


def test_clock_compresses_and_advances():
    clock = Clock(speed=3600)
    t0 = clock.now()
    clock.advance(7200)
    assert (clock.now() - t0).total_seconds() >= 7200
    assert clock.real_seconds(3600) == 1


# ---- redirect fault, capture server, secrets scan (issue 11 test equipment) ---------------
from emulators.base import Fault  # noqa: E402
from emulators.capture import CaptureServer  # noqa: E402
from harness.secrets_scan import assert_no_secrets, find_secrets, secret_forms  # noqa: E402


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_fault_answers_3xx_with_location(echo, status):
    echo.inject("redirect", status=status, location="http://127.0.0.1:9/moved{path}", path="/a")
    r = requests.post(f"{echo.url}/a/b?x=1", json={"k": 1}, timeout=5, allow_redirects=False)
    assert r.status_code == status
    assert r.headers["Location"] == "http://127.0.0.1:9/moved/a/b?x=1"
    assert echo.log.select(path="/a/b")[0].fault == "redirect"
    assert requests.get(f"{echo.url}/a/b", timeout=5).status_code == 200  # spent after one hit


def test_redirect_fault_needs_a_3xx_and_a_location():
    assert Fault("redirect", location="http://x/").status == 302
    with pytest.raises(ValueError):
        Fault("redirect", status=200, location="http://x/")
    with pytest.raises(ValueError):
        Fault("redirect")


def test_capture_server_records_what_a_followed_redirect_sends(echo):
    with CaptureServer() as trap:
        echo.inject("redirect", status=307, location=trap.url + "{path}")
        r = requests.post(f"{echo.url}/login", json={"password": "Pw-Capture-77"}, headers={"X-Key": "k1"}, timeout=5)
        assert r.status_code == 200 and r.json() == {}
        (req,) = trap.requests
        assert (req.method, req.path, req.headers["X-Key"]) == ("POST", "/login", "k1")
        assert json.loads(req.body) == {"password": "Pw-Capture-77"}
        with pytest.raises(AssertionError):
            assert_no_secrets(["Pw-Capture-77"], texts=trap.texts())
    trap.clear()
    assert trap.requests == []


def test_capture_server_answer_is_settable():
    with CaptureServer(status=201, body={"ok": True}, headers={"X-A": "1"}) as trap:
        r = requests.get(trap.url + "/p?q=2", timeout=5)
        assert (r.status_code, r.json(), r.headers["X-A"]) == (201, {"ok": True}, "1")
        assert trap.requests[0].query == {"q": "2"}


SECRET = "Zq9-Secret/Value+42 é"


@pytest.mark.parametrize("form", [name for name, _ in secret_forms(("shop-login", SECRET))])
def test_scan_finds_every_form(form, tmp_path):
    forms = dict(secret_forms(("shop-login", SECRET)))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "out.bin").write_bytes(b"\x00prefix " + forms[form] + b" suffix\xff")
    findings, scanned = find_secrets([("shop-login", SECRET)], paths=[tmp_path])
    assert findings and scanned > 0
    assert all(SECRET not in f for f in findings)  # the report never quotes the secret


def test_scan_decodes_basic_headers_of_unknown_logins():
    import base64

    header = "Authorization: Basic " + base64.b64encode(f"someone-else:{SECRET}".encode()).decode()
    with pytest.raises(AssertionError, match="base64 token"):
        assert_no_secrets([SECRET], texts=[header])


def test_scan_passes_clean_output_and_counts_bytes(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"key": "a@b.cz", "reason": "****"}\n')
    assert assert_no_secrets([SECRET, ("login", "Another-Secret-1")], texts=["all fine", b"bytes"], paths=[tmp_path]) > 40


def test_scan_refuses_short_secrets():
    with pytest.raises(ValueError):
        assert_no_secrets(["abc"], texts=["abc"])
