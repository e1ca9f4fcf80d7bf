"""What every emulator shares: an aiohttp app served on 127.0.0.1 from a background thread,
a compressible clock, a request log with counters, latency and fault injection.

An emulator subclass adds its routes in `add_routes(app)` and keeps its world (customers,
users, campaigns) as plain Python objects that tests read and change directly:

    with UpgatesEmulator(customers=500) as api:
        run_connector(config={"api_url": api.url, ...})
        assert api.log.count(path="/api/v2/customers") == 5

Everything here is test equipment: connectors never import it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from aiohttp import web

FAULT_KINDS = ("status", "timeout", "drop", "truncate", "cut", "redirect")
TIMER_SLACK = 0.001  # exact_latency(): the end of a hold is spent yielding to the event loop (hold_until)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class Clock:
    """The emulator's notion of now. `speed` compresses time (speed=3600 makes an hour pass in
    a second) and `advance()` jumps; quotas, token lifetimes and `Retry-After` dates use it."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        self._start = start or datetime.now(timezone.utc)
        self._mono = time.monotonic()
        self._offset = 0.0
        self.speed = speed
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._mono) * self.speed + self._offset
        return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def real_seconds(self, emulated_seconds: float) -> float:
        """How long a real wait of `emulated_seconds` of emulator time takes."""
        return emulated_seconds / self.speed if self.speed else emulated_seconds


@dataclass
class Fault:
    """One injected misbehaviour.

    kind: `status` (answer `status` with a small JSON body), `timeout` (sleep `delay` seconds
    before answering, so the client's read timeout fires), `drop` (close the connection without
    an answer), `truncate` (a complete HTTP 200 whose JSON body is cut in half), `cut` (headers
    announce the full body but the connection closes half way through it), `redirect`
    (answer `status` 301/302/303/307/308, default 302, with `Location: <location>`; a
    `{path}` in `location` is replaced by the request's path and query, so
    `location=trap.url + "{path}"` sends the client to the same place on a capture server).
    path: only requests whose path starts with it; None for any.
    times: how many matching requests it hits (then it is spent); `skip` lets that many
    matching requests through first. `rate` (0..1) instead hits matching requests at random
    (seeded) for as long as the fault stays armed.
    """

    kind: str
    status: int = 500
    delay: float = 30.0
    path: str | None = None
    times: int = 1
    skip: int = 0
    rate: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; use one of {FAULT_KINDS}")
        if self.kind == "redirect":
            if self.status == 500:
                self.status = 302
            if self.status not in REDIRECT_STATUSES:
                raise ValueError(f"a redirect answers one of {REDIRECT_STATUSES}, not {self.status}")
            if not self.location:
                raise ValueError("a redirect fault needs a location")

    def matches(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)

    @property
    def spent(self) -> bool:
        return self.rate is None and self.hits >= self.times


@dataclass
class LoggedRequest:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int
    fault: str | None
    started: float
    seconds: float
    function: str | None = None  # emulator-specific label, e.g. the Cartum function name
    outcome: str | None = None  # emulator-specific result, e.g. the Cartum envelope's status


# Where a handler finds its request's log entry: `request.get(LOG_ENTRY)`.
LOG_ENTRY: Any = web.RequestKey("log_entry", LoggedRequest) if hasattr(web, "RequestKey") else "log_entry"


class RequestLog:
    """Every request the emulator saw, with counters for the tests' request-economy checks."""

    def __init__(self, keep_bodies: bool = True) -> None:
        self._items: list[LoggedRequest] = []
        self._lock = threading.Lock()
        # False: entries keep no request bodies (a benchmark's million records would otherwise
        # stay in memory once more).
        self.keep_bodies = keep_bodies

    def add(self, item: LoggedRequest) -> None:
        if not self.keep_bodies:
            item.body = None
        with self._lock:
            self._items.append(item)

    @property
    def items(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def select(
        self,
        path: str | None = None,
        method: str | None = None,
        status: int | None = None,
        function: str | None = None,
    ) -> list[LoggedRequest]:
        return [
            r
            for r in self.items
            if (path is None or r.path.rstrip("/") == path.rstrip("/"))
            and (method is None or r.method == method)
            and (status is None or r.status == status)
            and (function is None or r.function == function)
        ]

    def count(self, **kwargs: Any) -> int:
        return len(self.select(**kwargs))

    def outcomes(self, function: str | None = None, path: str | None = None) -> list[str | None]:
        """The outcomes of the selected requests in the order they were answered (e.g. the
        Cartum envelope statuses of one function: ["OK", "AUTHORIZATION_ERROR", "OK"])."""
        return [r.outcome for r in self.select(path=path, function=function)]

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.items:
            key = r.function or f"{r.method} {r.path}"
            out[key] = out.get(key, 0) + 1
        return out


class Emulator:
    """Base of the three API emulators. Subclasses implement `add_routes(app)`."""

    name = "emulator"

    def __init__(self, *, latency: float = 0.0, seed: int = 1, clock: Clock | None = None) -> None:
        self.latency = latency
        self.latency_from_arrival = False  # exact_latency(): `latency` counts the emulator's own work
        self.clock = clock or Clock()
        self.log = RequestLog()
        self.faults: list[Fault] = []
        self.random = random.Random(seed)
        self._faults_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        self.host = "127.0.0.1"

    # ---- to implement -------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def label(self, request: web.Request, body: Any) -> str | None:
        """An emulator-specific name of the call for the log (default: none)."""
        return None

    def exact_latency(self) -> "Emulator":
        """Answer `latency` seconds after the request arrived, the emulator's own work (reading
        and parsing the body, the handler, encoding the answer) included: the handler runs first
        and the answer is held for what is left of `latency`. Stock, the emulator sleeps
        `latency` and then works, so an answer "at 50 ms" took 53-66 ms on the bench machine,
        more with requests in flight (one event loop does all the work) — time no client can
        save, which made the bench's batch/latency ideal unreachable. Answers are the same;
        only when the handler's effect becomes visible moves (at arrival instead of after the
        wait), so only benchmarks turn this on (bench/worlds.py).

        Also, from start() to stop(), what the process holds when the emulator starts (its
        world above all) is kept out of the cyclic garbage collector (`gc.freeze()`): a full
        collection over a 20,000-customer world paused the event loop for 70-400 ms, and every
        answer due meanwhile left that much late (bench item 3 measured it)."""
        self.latency_from_arrival = True
        return self

    async def hold_until(self, started: float, seconds: float) -> None:
        """Sleep until `seconds` after `started` (time.monotonic()); at once if that has passed.
        asyncio's timers fire late (on the bench machine 0.4 ms on average, up to a
        millisecond: the event loop waits in epoll, whose timeout is whole milliseconds), and
        so did answers "at 50 ms" (50.9 ms on average with the other work of the loop). So the
        hold sleeps until `TIMER_SLACK` before its end and passes the rest yielding to the event
        loop (other requests are served meanwhile); it costs at most TIMER_SLACK of CPU per
        answer, and only with exact_latency()."""
        deadline = started + seconds
        coarse = deadline - TIMER_SLACK - time.monotonic()
        if coarse > 0:
            await asyncio.sleep(coarse)
        while time.monotonic() < deadline:
            await asyncio.sleep(0)

    # ---- faults -------------------------------------------------------------------------
    def inject(self, kind: str, **kwargs: Any) -> Fault:
        fault = Fault(kind=kind, **kwargs)
        with self._faults_lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._faults_lock:
            self.faults.clear()

    def _take_fault(self, path: str) -> Fault | None:
        with self._faults_lock:
            for fault in self.faults:
                if fault.spent or not fault.matches(path):
                    continue
                if fault.rate is not None:
                    if self.random.random() < fault.rate:
                        fault.hits += 1
                        return fault
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                fault.hits += 1
                return fault
        return None

    # ---- server -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError(f"{self.name} emulator is not started")
        return f"http://{self.host}:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=64 * 1024 * 1024)
        app.router.add_get("/_emulator/stats", self._stats)
        self.add_routes(app)
        return app

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"requests": self.log.summary(), "now": self.clock.now().isoformat()})

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable) -> web.StreamResponse:
        started = time.monotonic()
        raw = await request.read()
        body: Any = None
        if raw:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            elif ctype == "application/x-www-form-urlencoded":
                body = dict(await request.post())
            else:
                body = raw.decode("utf-8", "replace")
        is_control = request.path.startswith("/_emulator/")
        fault = None if is_control else self._take_fault(request.path)
        entry = LoggedRequest(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=body,
            status=0,
            fault=fault.kind if fault else None,
            started=started,
            seconds=0.0,
            function=None if is_control else self.label(request, body),
        )
        request[LOG_ENTRY] = entry  # a handler may set `outcome`
        delay = self.latency if not is_control else 0.0
        try:
            if delay and (not self.latency_from_arrival or fault is not None):
                await asyncio.sleep(delay)
                delay = 0.0
            if fault is not None and fault.kind in ("status", "timeout", "drop", "redirect"):
                return await self._apply_fault(request, fault, entry)
            response = await handler(request)
            if delay:  # exact_latency(): what is left of `latency` after the work
                await self.hold_until(started, delay)
            entry.status = response.status
            if fault is not None and fault.kind in ("truncate", "cut"):
                return await self._truncate(request, response, fault, entry)
            return response
        except web.HTTPException as exc:
            entry.status = exc.status
            raise
        finally:
            entry.seconds = time.monotonic() - started
            if not is_control:
                self.log.add(entry)

    async def _apply_fault(self, request: web.Request, fault: Fault, entry: LoggedRequest) -> web.StreamResponse:
        if fault.kind == "status":
            entry.status = fault.status
            return web.json_response(
                {"messages": [{"level": "fatal_error", "message": f"injected error {fault.status}"}]},
                status=fault.status,
                headers=fault.headers,
            )
        if fault.kind == "redirect":
            entry.status = fault.status
            location = (fault.location or "").replace("{path}", request.path_qs)
            return web.json_response(
                {"moved": location}, status=fault.status, headers={**fault.headers, "Location": location}
            )
        if fault.kind == "timeout":
            entry.status = 504
            await asyncio.sleep(fault.delay)
            return web.json_response({"error": "late answer"}, status=504)
        # drop
        entry.status = -1
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError()

    async def _truncate(
        self, request: web.Request, response: web.StreamResponse, fault: Fault, entry: LoggedRequest
    ) -> web.StreamResponse:
        body = getattr(response, "body", None) or b""
        if isinstance(body, str):
            body = body.encode()
        elif not isinstance(body, (bytes, bytearray)):
            body = bytes(getattr(body, "_value", b""))
        half = bytes(body[: max(1, len(body) // 2)])
        if fault.kind == "truncate":
            return web.Response(body=half, status=response.status, content_type="application/json")
        # cut: announce the full length, send half, close.
        entry.status = -2
        stream = web.StreamResponse(status=response.status, headers={"Content-Type": "application/json"})
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(half)
        if request.transport is not None:
            request.transport.abort()
        return stream

    def start(self, port: int = 0) -> "Emulator":
        if self.latency_from_arrival:  # exact_latency(): no collector pauses over the world
            gc.collect()
            gc.freeze()
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                runner = web.AppRunner(self.build_app(), access_log=None, handle_signals=False)
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, self.host, port, reuse_address=True)
                loop.run_until_complete(site.start())
                self._runner = runner
                sockets = site._server.sockets  # type: ignore[union-attr]
                self.port = sockets[0].getsockname()[1]
            except BaseException as exc:  # pragma: no cover - surfaced to the caller
                errors.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=f"{self.name}-emulator", daemon=True)
        self._thread.start()
        ready.wait(10)
        if errors:
            raise errors[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = None
        self._thread = None
        self.port = None
        if self.latency_from_arrival:
            gc.unfreeze()  # the world can be collected again once dropped

    def call(self, fn: Callable[[], Any]) -> Any:
        """Run `fn` on the server's loop (for world changes that must not race a request)."""
        if self._loop is None:
            return fn()
        fut = asyncio.run_coroutine_threadsafe(self._async_call(fn), self._loop)
        return fut.result(10)

    @staticmethod
    async def _async_call(fn: Callable[[], Any]) -> Any:
        return fn()

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def pick(rng: random.Random, items: Iterable[Any]) -> Any:
    seq = list(items)
    return seq[rng.randrange(len(seq))]
