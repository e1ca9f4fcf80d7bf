"""The shared emulator machinery: log, faults, clock."""

import json

import pytest
import requests
from aiohttp import web

from commerce_emulators.base import Clock, Emulator


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
