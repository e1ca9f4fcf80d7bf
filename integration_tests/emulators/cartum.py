"""Cartum (Horoshop B2B) API emulator: the gateway, the token, the envelope and the shop.

The read functions (`users/export`, `customer-groups/export`, `price-levels/export`,
`orders/get`) live in `cartum_read.py`, the write functions (`users/import`, `catalog/import`)
in `cartum_import.py`; this module collects their tables into `FUNCTIONS`. The shop's world and
the error type are in `cartum_model.py`, the seeded world in `cartum_seed.py`; imports go one
way (model <- seed <- read, import <- cartum). Everything answers HTTP 200 with
`{"status": …, "response": …}` as API-NOTES §2 describes.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from emulators import cartum_import, cartum_read
from emulators.base import LOG_ENTRY, Clock, Emulator
from emulators.cartum_model import CartumError, Handler, ReadCache, Shop, registrar
from emulators.cartum_seed import make_order, make_user, seed_shop

__all__ = ["B2B_FUNCTIONS", "FUNCTIONS", "CartumEmulator", "CartumError", "Handler", "Shop", "Token", "function"]

# Every gateway function: function name ("users/export") -> handler(emulator, body) -> (status,
# response); `function(name, b2b=...)` registers one more.
FUNCTIONS: dict[str, Handler] = {**cartum_read.FUNCTIONS, **cartum_import.FUNCTIONS}
B2B_FUNCTIONS: set[str] = cartum_read.B2B_FUNCTIONS | cartum_import.B2B_FUNCTIONS
function = registrar(FUNCTIONS, B2B_FUNCTIONS)


@dataclass
class Token:
    value: str
    expires: datetime


class CartumEmulator(Emulator):
    name = "cartum"

    def __init__(
        self,
        *,
        login: str = "api-user",
        password: str = "api-password",
        b2b: bool = True,
        token_lifetime: float = 600.0,
        timezone: str = "Europe/Kyiv",
        clock: Clock | None = None,
        latency: float = 0.0,
        seed: int = 1,
        users: int = 200,
        orders: int = 300,
        tidy: bool = False,
    ) -> None:
        super().__init__(latency=latency, seed=seed, clock=clock)
        self.login = login
        self.password = password
        self.b2b = b2b
        self.token_lifetime = token_lifetime
        self.tz = ZoneInfo(timezone)
        self.shop = Shop()
        # The seeded world (cartum_seed.py): groups, price levels, managers, users, orders.
        # tidy=False (default): a world like a real shop's (bulk imports in one second, local
        # phones, nulls, case-twin e-mails, long names, a few future-stamped users and orders).
        self.tidy = tidy
        seed_shop(self.shop, self.random, self.local_now(), users=users, orders=orders, tidy=tidy)
        self.tokens: dict[str, Token] = {}
        self.lock = threading.RLock()
        # Switches for behaviour the docs leave open, set by tests (see the read/import modules).
        self.switches: dict[str, Any] = {}
        # Fast paths for benchmark sizes (off by default): `cache_reads()`, `sink()`.
        self.read_cache: ReadCache | None = None
        self.forget_imports = False

    # ---- time ---------------------------------------------------------------------------
    def local_now(self) -> datetime:
        """Now in the shop's time zone, naive, as the API writes dates."""
        return self.clock.now().astimezone(self.tz).replace(tzinfo=None, microsecond=0)

    # ---- world changes between syncs (cartum_seed.py builds the dicts) -------------------
    def add_user(self, registered: datetime | None = None, **fields: Any) -> dict[str, Any]:
        """A new user in export shape, registered now (shop-local) unless told otherwise."""
        with self.lock:
            return make_user(self.shop, self.random, registered or self.local_now(), **fields)

    def add_order(self, created: datetime | None = None, user_id: int | None = None, **fields: Any) -> dict[str, Any]:
        """A new order of user `user_id` (default: a random user), created now unless told otherwise."""
        with self.lock:
            users = self.shop.users_by_id()
            if user_id is not None:
                user = next((u for u in users if u["id"] == user_id), None)
            else:
                user = self.random.choice(users) if users else None
            return make_order(self.shop, self.random, created or self.local_now(), user, **fields)

    def add_orders(self, count: int, moments: list[datetime] | None = None) -> None:
        """`count` new orders by random users (created now, or at `moments`), as `add_order()`
        makes them, without sorting the user list for each one (minutes at 100,000 users)."""
        with self.lock:
            users = self.shop.users_by_id()
            for i in range(count):
                user = self.random.choice(users) if users else None
                make_order(self.shop, self.random, moments[i] if moments else self.local_now(), user)

    # ---- fast paths for benchmark sizes ---------------------------------------------------
    def cache_reads(self) -> "CartumEmulator":
        """users/export and orders/get answer from a `ReadCache` (same answers; a world that
        only grows through the methods here): for benchmarks at 100,000 users or orders."""
        self.read_cache = ReadCache(self)
        return self

    def sink(self) -> "CartumEmulator":
        """users/import checks and answers every request as usual, then forgets the users it
        created (and the imported extras): a benchmark's write target whose memory stays flat."""
        self.forget_imports = True
        return self

    def stall(self, seconds: float, function: str | None = None, times: int = 1) -> Any:
        """The next `times` calls (of `function`, or any) answer only after `seconds` (a stalled API)."""
        return self.inject("timeout", delay=seconds, path=f"/api/{function}" if function else "/api/", times=times)

    def bulk_import(self, count: int, registered: datetime | None = None, **fields: Any) -> list[dict[str, Any]]:
        """`count` users registered in one second, as one users/import of that size does."""
        when = registered or self.local_now()
        return [self.add_user(registered=when, **fields) for _ in range(count)]

    # ---- tokens -------------------------------------------------------------------------
    def issue_token(self) -> str:
        value = secrets.token_hex(16)
        self.tokens[value] = Token(value, self.clock.now() + timedelta(seconds=self.token_lifetime))
        return value

    def expire_tokens(self) -> None:
        """Invalidate every token now (a token rejected before its time)."""
        self.tokens.clear()

    def token_valid(self, value: Any) -> bool:
        token = self.tokens.get(value) if isinstance(value, str) else None
        return token is not None and token.expires > self.clock.now()

    # ---- gateway ------------------------------------------------------------------------
    def label(self, request: web.Request, body: Any) -> str | None:
        return request.match_info.get("function") or None

    def add_routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{function:.+?}/", self._gateway)
        app.router.add_route("*", "/api/{function:.+?}", self._gateway)

    async def _gateway(self, request: web.Request) -> web.Response:
        status, response = await self._answer(request)
        entry = request.get(LOG_ENTRY)
        if entry is not None:
            entry.outcome = status  # the request log shows each call's envelope status
        return self.envelope(status, response)

    async def _answer(self, request: web.Request) -> tuple[str, Any]:
        name = request.match_info["function"].strip("/")
        raw = await request.read()
        if request.method == "GET":
            body: Any = dict(request.query)
        else:
            try:
                body = json.loads(raw or b"{}")
            except ValueError as exc:
                return "HTTP_ERROR", {"code": 400, "message": f"Payload is not valid JSON: {exc}"}
            if not isinstance(body, dict):
                return "HTTP_ERROR", {"code": 400, "message": "Payload must be a JSON object"}
        if name == "auth":
            return self._auth(body)
        handler = FUNCTIONS.get(name)
        if handler is None:
            return "UNDEFINED_FUNCTION", {"message": f"Function {name} is not defined"}
        if not self.token_valid(body.get("token")):
            status = "AUTHORIZATION_ERROR" if body.get("token") else "UNAUTHORIZED"
            return status, {"message": "Authorization token is invalid or expired"}
        if name in B2B_FUNCTIONS and not self.b2b:
            return "FORBIDDEN", {"message": "Use of the method is not allowed"}
        try:
            with self.lock:
                return handler(self, body)
        except CartumError as err:
            return err.status, err.response

    def _auth(self, body: dict[str, Any]) -> tuple[str, Any]:
        if body.get("login") != self.login or body.get("password") != self.password:
            return "ERROR", {"message": "Incorrect login or password"}
        return "OK", {"token": self.issue_token()}

    @staticmethod
    def envelope(status: str, response: Any) -> web.Response:
        return web.json_response({"status": status, "response": response}, dumps=lambda o: json.dumps(o, ensure_ascii=False))
