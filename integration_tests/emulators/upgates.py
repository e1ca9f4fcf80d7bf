"""UPgates API v2 emulator: customers, groups, pricelists and status, as seed 002 and
API-NOTES §1 describe, limits included.

What it enforces, in the order a request meets it:

1. a moved shop (`moved_to`) answers every API call `301` (or `moved_status`: 302, 307, 308)
   with `Location`;
2. at most `max_concurrent` requests at once per API access, the next one gets `429`;
3. 5 failed logins in a floating hour from one address lock that address out: `403`;
4. HTTP Basic auth (login, API key): `401`;
5. the request quota per fixed calendar hour and day (shop time): `429` with a `Retry-After`
   HTTP date in GMT at the start of the next window; every answer carries the
   `X-Rate-Limit-*` headers;
6. the user's rights per endpoint (`rights`): `403`.

Switches for what the documentation leaves open (tests set them, both ways):

- `order`: list order of `/customers`: `id` (ascending customer_id, default),
  `last_update_time` (ascending), `id_desc`.
- `groups_shape`: a customer's `groups` as the Blueprint's object `{id: name}` (`object`,
  default) or the seed's `array` of `{id, name}`.
- `date_only_filters`: `accept` a `YYYY-MM-DD` filter value (midnight, shop time) or `reject`
  it with `400`.
- `naive_filter_timezone`: a filter value without offset is read in `shop` time (default) or
  `utc`.
- `status_counts`: whether `GET /status` counts against the quota (default False).
- `rejected_count`: whether answers 401/403/429 count against the quota (default False).
- `user_active`: False makes every call of this API user (`/status` included) answer `403`
  "the API user is inactive".
- `world`: `real` (default) seeds what real Czech/Slovak shops hold (see `RealWorld`): local
  phone formats, nulls and missing keys, postal addresses, per-language metas, e-mails that
  differ only in case, long names with diacritics, a few customers stamped years in the future,
  bulk imports registering many customers in the same second. `tidy` seeds the old uniform
  world (every field filled, `+420` phones, no future times, no shared seconds).
- `types_vary`: each answer picks its own JSON types where real APIs wobble: `groups` as an
  object, an array of objects, an array of ids or null; booleans as `0`/`1`/`"1"`; `turnover`
  as a number; `customer_id` as a string; meta values as numbers.
- `stall_seconds` (with `stall_times`, None = every request): the API accepts the connection
  and then sends nothing for that long (a stalled server) before answering.

Every answer carries a `Date` header with the emulator's clock (what the connector compares
record times with).

The world is plain Python: `customers` (customer_id -> record in API shape, times as aware
datetimes), `groups`, `pricelists`; `add_customer`, `update_customer`, `delete_customer` change
it the way the shop admin would (stamping `last_update_time` with the emulator's clock).
"""

from __future__ import annotations

import asyncio
import base64
import math
import random
import threading
import time
from collections import defaultdict, deque
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from emulators.base import LOG_ENTRY, Clock, Emulator
from emulators.upgates_write import UpgatesError, put_customers  # UpgatesError is re-exported here

PAGE_SIZE = 100
MAX_WRITE_ITEMS = 100
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(hours=1)
ENDPOINTS = ("customers", "groups", "pricelists")

FIRST_NAMES = ["Jana", "Petr", "Eva", "Martin", "Lucie", "Tomáš", "Zuzana", "Jakub", "Katarína", "Marek"]
SURNAMES = ["Nováková", "Svoboda", "Dvořáková", "Horváth", "Kováčová", "Černý", "Veselá", "Kučera", "Marková", "Pokorný"]
CITIES = [("Praha", "11000", "CZ"), ("Brno", "60200", "CZ"), ("Bratislava", "81101", "SK"), ("Košice", "04001", "SK")]
LANGUAGES = ["cs", "sk", "en"]
BOOL_TRUE = {"1", "true", "yes", "y"}
BOOL_FALSE = {"0", "false", "no", "n"}


def http_date(dt: datetime) -> str:
    """`Retry-After` as UPgates sends it: an HTTP date in GMT."""
    return format_datetime(dt.astimezone(timezone.utc), usegmt=True)


class UpgatesEmulator(Emulator):
    name = "upgates"
    prefix = "/api/v2"

    def __init__(
        self,
        *,
        customers: int = 0,
        login: str = "api-login",
        api_key: str = "api-key-secret",
        hourly_quota: int | None = None,
        daily_quota: int | None = None,
        max_concurrent: int = 3,
        service_time: float = 0.0,
        timezone_name: str = "Europe/Prague",
        rights: set[str] | None = None,
        order: str = "id",
        groups_shape: str = "object",
        date_only_filters: str = "accept",
        naive_filter_timezone: str = "shop",
        status_counts: bool = False,
        rejected_count: bool = False,
        moved_to: str | None = None,
        moved_status: int = 301,
        user_active: bool = True,
        world: str = "real",
        types_vary: bool = False,
        stall_seconds: float = 0.0,
        stall_times: int | None = None,
        clock: Clock | None = None,
        latency: float = 0.0,
        seed: int = 1,
    ) -> None:
        super().__init__(latency=latency, seed=seed, clock=clock)
        self.login = login
        self.api_key = api_key
        self.hourly_quota = hourly_quota
        self.daily_quota = daily_quota
        self.max_concurrent = max_concurrent
        self.service_time = service_time
        self.tz = ZoneInfo(timezone_name)
        self.rights = set(ENDPOINTS) if rights is None else set(rights)
        self.order = order
        self.groups_shape = groups_shape
        self.date_only_filters = date_only_filters
        self.naive_filter_timezone = naive_filter_timezone
        self.status_counts = status_counts
        self.rejected_count = rejected_count
        self.moved_to = moved_to
        self.moved_status = moved_status
        self.user_active = user_active
        if world not in ("real", "tidy"):
            raise ValueError(f"unknown world {world!r}: use 'real' or 'tidy'")
        self.world = world
        self.types_vary = types_vary
        self.stall_seconds = stall_seconds
        self.stall_times = stall_times
        self.lock = threading.RLock()
        # world
        self.customers: dict[int, dict[str, Any]] = {}
        self.passwords: dict[int, str] = {}
        self.groups: dict[int, str] = {1: "Maloobchod", 2: "Veľkoobchod", 3: "VIP"}
        self.pricelists: list[dict[str, Any]] = [
            {"id": 1, "name": "Základný", "percent": 0, "default_yn": True},
            {"id": 2, "name": "Veľkoobchod", "percent": -10, "default_yn": False},
        ]
        self.next_customer_id = 1
        # limits
        self.in_flight = 0
        self.peak_in_flight = 0
        self.failed_logins: dict[str, deque[datetime]] = defaultdict(deque)
        self.used: dict[tuple[str, str], int] = defaultdict(int)  # (window kind, window key) -> requests
        # fast path (benchmarks): see `cache_reads()`
        self.version = 0  # bumped by every world change made through the methods below
        self._list_cache: dict[Any, tuple[int, list[dict[str, Any]]]] | None = None
        self._render_cache: dict[int, tuple[int, dict[str, Any]]] = {}
        if customers:
            self.generate_customers(customers)

    # ---- time ---------------------------------------------------------------------------
    def local_now(self) -> datetime:
        return self.clock.now().astimezone(self.tz).replace(microsecond=0)

    def fmt(self, dt: datetime) -> str:
        """A date as the API writes it: ISO 8601 with the shop's offset."""
        return dt.astimezone(self.tz).replace(microsecond=0).isoformat()

    # ---- world --------------------------------------------------------------------------
    def generate_customers(self, count: int, *, span_days: int = 720) -> list[dict[str, Any]]:
        """`count` customers created over the last `span_days`, each updated some time after.
        In the real world some arrive as bulk imports (tens to hundreds in one second) and a
        few are stamped years in the future."""
        now = self.local_now()
        out: list[dict[str, Any]] = []
        while len(out) < count:
            left = count - len(out)
            if self.world == "real" and left >= 20 and self.random.random() < 0.03:
                moment = now - timedelta(seconds=self.random.randrange(1, span_days * 86400))
                for _ in range(min(left, self.random.randrange(20, 200))):  # a bulk import
                    out.append(self.add_customer(creation_time=moment, last_update_time=moment))
                continue
            created = now - timedelta(seconds=self.random.randrange(1, span_days * 86400))
            updated = created + timedelta(seconds=self.random.randrange(0, max(1, int((now - created).total_seconds()))))
            out.append(self.add_customer(creation_time=created, last_update_time=updated))
        if self.world == "real" and count >= 20:
            for record in self.random.sample(out, max(1, count // 250)):
                self.stamp_future(record["customer_id"])
        return out

    def stamp_future(self, customer_id: int, days: int | None = None) -> dict[str, Any]:
        """Stamp a customer's `last_update_time` in the future (years ahead unless `days`), as a
        shop with a bad import or a wrong clock does."""
        with self.lock:
            record = self.customers[customer_id]
            ahead = days if days is not None else self.random.randrange(365, 3650)
            record["last_update_time"] = self.local_now() + timedelta(days=ahead)
            self.version += 1
            return record

    def add_customer(self, **fields: Any) -> dict[str, Any]:
        if self.world == "real":
            with self.lock:
                return self._add(RealWorld(self).customer(self.next_customer_id), fields)
        with self.lock:
            cid = self.next_customer_id
            self.next_customer_id += 1
            rng = self.random
            first, last = rng.choice(FIRST_NAMES), rng.choice(SURNAMES)
            city, zip_code, country = rng.choice(CITIES)
            kind = rng.choice(["contact", "customer", "customer", "company"])
            now = self.local_now()
            group_ids = sorted(rng.sample(sorted(self.groups), rng.randrange(0, 3)))
            record: dict[str, Any] = {
                "customer_id": cid,
                "type": kind,
                "degree": rng.choice(["", "", "Ing.", "Mgr."]),
                "firstname": first,
                "surname": last,
                "nickname": "",
                "code": f"C{cid:06d}",
                "language": rng.choice(LANGUAGES),
                "newsletter_yn": False,
                "newsletter_accept": rng.choice(["notset", "no", "yes", "yes", "excluded"]),
                "pricelist": "Základný",
                "turnover": f"{rng.randrange(0, 500000) / 100:.2f}",
                "company": {
                    "name": f"{last} s.r.o." if kind == "company" else "",
                    "company_number": f"{rng.randrange(10**7, 10**8)}" if kind == "company" else "",
                    "vat_number": f"CZ{rng.randrange(10**7, 10**8)}" if kind == "company" else "",
                },
                "communication": {"phone": f"+420 {rng.randrange(600000000, 799999999)}", "fax": "", "im": ""},
                "login": {"active_yn": kind != "contact", "blocked_yn": False, "email": f"customer{cid}@example.cz"},
                "group_ids": group_ids,
                "addresses": {
                    "billing": {"street": f"Hlavná {rng.randrange(1, 200)}", "city": city, "state": "", "zip_code": zip_code, "country_id": country},
                    "postal": [],
                },
                "metas": [{"key": "source", "type": "input", "value": rng.choice(["web", "shop", "phone"]), "values": []}],
                "creation_time": now,
                "last_update_time": now,
            }
            record["newsletter_yn"] = record["newsletter_accept"] == "yes"
            self.next_customer_id -= 1
            return self._add(record, fields)

    def _add(self, record: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            cid = record["customer_id"]
            self.next_customer_id = max(self.next_customer_id, cid + 1)
            for key, value in fields.items():
                if key == "email":
                    record["login"]["email"] = value
                elif isinstance(value, dict) and isinstance(record.get(key), dict):
                    record[key] = {**record[key], **value}
                else:
                    record[key] = value
            self.customers[cid] = record
            self.version += 1
            return record

    def update_customer(self, customer_id: int, **changes: Any) -> dict[str, Any]:
        """Change a customer as the shop admin would: `last_update_time` becomes now."""
        with self.lock:
            record = self.customers[customer_id]
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(record.get(key), dict):
                    record[key] = {**record[key], **value}
                else:
                    record[key] = value
            record["last_update_time"] = self.local_now()
            self.version += 1
            return record

    def delete_customer(self, customer_id: int) -> None:
        with self.lock:
            self.customers.pop(customer_id, None)
            self.version += 1

    # ---- fast path for benchmark sizes -----------------------------------------------------
    def cache_reads(self) -> "UpgatesEmulator":
        """Serve `/customers` from caches: the filtered and sorted list per filter and each
        rendered customer, both kept until the world changes through the methods above
        (`version`). At 100,000 customers a page otherwise costs about 0.5 s of filtering and
        sorting the whole world again. Answers stay byte-identical; a world changed by hand
        (`customers[...]` edited directly) is not seen, so only benchmarks turn this on.
        Not with `types_vary` (its answers differ on every call)."""
        if self.types_vary:
            raise ValueError("cache_reads() cannot serve types_vary answers (they differ per call)")
        self._list_cache = {}
        return self

    def bulk_seed(self, count: int, *, span_days: int = 720, templates: int = 500) -> None:
        """Add `count` customers fast (benchmark sizes): `templates` made by `generate_customers`,
        the rest cloned from them with their own id, code, e-mail, creation and update times
        (same distribution), about 30 times faster than generating each."""
        first = min(count, templates)
        made = self.generate_customers(first, span_days=span_days)
        rng = random.Random(self.random.random())
        now = self.local_now()
        span = span_days * 86400
        with self.lock:
            for i in range(count - first):
                t = made[i % first]
                cid = self.next_customer_id
                self.next_customer_id += 1
                back = 1 + int(rng.random() * (span - 1))
                created = now - timedelta(seconds=back)
                updated = created + timedelta(seconds=int(rng.random() * back))
                rec = dict(t)
                rec["customer_id"] = cid
                rec["code"] = f"C{cid:06d}"
                rec["company"] = dict(t["company"]) if t.get("company") is not None else None
                rec["communication"] = dict(t["communication"]) if t.get("communication") is not None else None
                rec["login"] = {**t["login"], "email": f"customer{cid}@example.cz"}
                rec["group_ids"] = list(t["group_ids"])
                billing = (t.get("addresses") or {}).get("billing")
                rec["addresses"] = {"billing": dict(billing) if billing is not None else None,
                                    "postal": list((t.get("addresses") or {}).get("postal") or [])}
                rec["metas"] = [dict(m) for m in t["metas"]]
                rec["creation_time"] = created
                rec["last_update_time"] = updated
                self.customers[cid] = rec
            self.version += 1

    def _matching(self, query: Any) -> list[dict[str, Any]]:
        """The customers a `/customers` query selects, in the list order (cached with cache_reads)."""
        if self._list_cache is None:
            keep = self._customer_filter(query)
            return self._sorted([c for c in self.customers.values() if keep(c)])
        key = tuple(sorted((k, v) for k, v in query.items() if k != "page"))
        hit = self._list_cache.get(key)
        if hit is None or hit[0] != self.version:
            keep = self._customer_filter(query)
            self._list_cache[key] = hit = (self.version, self._sorted([c for c in self.customers.values() if keep(c)]))
        return hit[1]

    def _rendered(self, record: dict[str, Any]) -> dict[str, Any]:
        if self._list_cache is None:
            return self.render_customer(record)
        cid = record["customer_id"]
        hit = self._render_cache.get(cid)
        if hit is None or hit[0] != self.version:
            hit = self._render_cache[cid] = (self.version, self.render_customer(record))
        return hit[1]

    def render_customer(self, record: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in record.items() if k != "group_ids"}
        shape = self.groups_shape
        if self.types_vary:
            shape = self.random.choice(["object", "array", "ids", "null"])
        if shape == "array":
            out["groups"] = [{"id": g, "name": self.groups.get(g, "")} for g in record["group_ids"]]
        elif shape == "ids":
            out["groups"] = list(record["group_ids"])
        elif shape == "null" and not record["group_ids"]:
            out["groups"] = None
        else:
            out["groups"] = {str(g): self.groups.get(g, "") for g in record["group_ids"]}
        out["creation_time"] = self.fmt(record["creation_time"]) if record.get("creation_time") else None
        out["last_update_time"] = self.fmt(record["last_update_time"])
        out["admin_url"] = f"{self.url if self.port else ''}/admin/customers/{record['customer_id']}"
        if self.types_vary:
            out = self._vary_types(out)
        return out

    def _vary_types(self, out: dict[str, Any]) -> dict[str, Any]:
        """The same customer with the JSON types an answer may wobble between."""
        import copy

        out = copy.deepcopy(out)
        rng = self.random
        if rng.random() < 0.5:
            out["customer_id"] = str(out["customer_id"])
        if "newsletter_yn" in out and rng.random() < 0.5:
            out["newsletter_yn"] = rng.choice([int(bool(out["newsletter_yn"])), str(int(bool(out["newsletter_yn"])))])
        login = out.get("login")
        if isinstance(login, dict):
            for key in ("active_yn", "blocked_yn"):
                if key in login and rng.random() < 0.5:
                    login[key] = rng.choice([int(bool(login[key])), str(int(bool(login[key])))])
        if isinstance(out.get("turnover"), str) and rng.random() < 0.5:
            try:
                out["turnover"] = float(out["turnover"])
            except ValueError:
                pass
        for meta in out.get("metas") or []:
            if isinstance(meta, dict) and isinstance(meta.get("value"), str) and meta["value"].isdigit() and rng.random() < 0.5:
                meta["value"] = int(meta["value"])
        return out

    # ---- quota --------------------------------------------------------------------------
    def windows(self) -> dict[str, tuple[str, datetime]]:
        """The current fixed calendar windows in shop time: kind -> (key, start of the next)."""
        now = self.local_now()
        hour = now.replace(minute=0, second=0)
        day = hour.replace(hour=0)
        return {
            "hour": (hour.isoformat(), hour + timedelta(hours=1)),
            "day": (day.isoformat(), day + timedelta(days=1)),
        }

    def remaining(self) -> dict[str, int | None]:
        wins = self.windows()
        out: dict[str, int | None] = {}
        for kind, limit in (("hour", self.hourly_quota), ("day", self.daily_quota)):
            out[kind] = None if limit is None else max(0, limit - self.used[(kind, wins[kind][0])])
        return out

    def rate_headers(self) -> dict[str, str]:
        rem = self.remaining()
        headers: dict[str, str] = {}
        if self.hourly_quota is not None:
            headers["X-Rate-Limit-Hour"] = str(self.hourly_quota)
            headers["X-Rate-Limit-Hour-Remaining"] = str(rem["hour"])
        if self.daily_quota is not None:
            headers["X-Rate-Limit-Day"] = str(self.daily_quota)
            headers["X-Rate-Limit-Day-Remaining"] = str(rem["day"])
        known = [v for v in rem.values() if v is not None]
        if known:
            headers["X-Rate-Limit-Total-Remaining"] = str(min(known))
        return headers

    def _spend(self) -> None:
        for kind, (key, _) in self.windows().items():
            self.used[(kind, key)] += 1

    def _check_quota(self) -> None:
        wins = self.windows()
        rem = self.remaining()
        for kind in ("day", "hour"):
            if rem[kind] == 0:
                raise UpgatesError(
                    429,
                    f"Request limit per {kind} exceeded",
                    headers={"Retry-After": http_date(wins[kind][1])},
                )

    def reset_quota(self) -> None:
        with self.lock:
            self.used.clear()

    def requests_used(self, kind: str = "day") -> int:
        return self.used[(kind, self.windows()[kind][0])]

    # ---- request guard ------------------------------------------------------------------
    def _authenticate(self, request: web.Request) -> None:
        ip = request.remote or "?"
        now = self.clock.now()
        failures = self.failed_logins[ip]
        while failures and now - failures[0] > LOCKOUT_WINDOW:
            failures.popleft()
        if len(failures) >= LOCKOUT_FAILURES:
            raise UpgatesError(403, "Too many failed login attempts; access is blocked for one hour")
        header = request.headers.get("Authorization", "")
        ok = False
        if header.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(header[6:]).decode("utf-8").partition(":")
                ok = user == self.login and key == self.api_key
            except (ValueError, UnicodeDecodeError):
                ok = False
        if not ok:
            failures.append(now)
            raise UpgatesError(401, "Unauthorized: wrong API login or key")

    def _take_stall(self) -> bool:
        with self.lock:
            if not self.stall_seconds:
                return False
            if self.stall_times is None:
                return True
            if self.stall_times > 0:
                self.stall_times -= 1
                return True
            return False

    def date_header(self) -> dict[str, str]:
        return {"Date": http_date(self.clock.now())}

    async def _guarded(self, request: web.Request, endpoint: str | None, fn) -> web.Response:
        arrived = time.monotonic()
        if self._take_stall():
            await asyncio.sleep(self.stall_seconds)
        if self.moved_to:
            location = self.moved_to.rstrip("/") + request.path_qs[len(self.prefix):]
            return web.json_response({"messages": []}, status=self.moved_status, headers={"Location": location, **self.date_header()})
        counted = False
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            over = self.in_flight > self.max_concurrent
        try:
            with self.lock:
                if over:
                    raise UpgatesError(
                        429,
                        f"Too many concurrent requests (at most {self.max_concurrent})",
                        headers={"Retry-After": http_date(self.clock.now() + timedelta(seconds=1))},
                    )
                self._authenticate(request)
                if not self.user_active:
                    raise UpgatesError(403, "The API user is inactive")
                counts = endpoint is not None or self.status_counts
                if counts:
                    self._check_quota()
                    self._spend()
                    counted = True
                if endpoint is not None and endpoint not in self.rights:
                    raise UpgatesError(403, f"The API user has no right to the endpoint {endpoint}")
            body = await self._json_body(request)
            exact = self.service_time and self.latency_from_arrival
            if self.service_time and not exact:
                await asyncio.sleep(self.service_time)
            with self.lock:
                status, answer = fn(request, body)
            response = web.json_response(answer, status=status, headers={**self.rate_headers(), **self.date_header()})
            if exact:  # exact_latency(): the answer leaves service_time after the request arrived, work included
                entry = request.get(LOG_ENTRY)
                await self.hold_until(entry.started if entry is not None else arrived, self.service_time)
            return response
        except UpgatesError as err:
            if self.rejected_count and not counted and err.status in (401, 403, 429):
                with self.lock:
                    self._spend()
            return web.json_response(err.body, status=err.status, headers={**self.rate_headers(), **self.date_header(), **err.headers})
        finally:
            with self.lock:
                self.in_flight -= 1

    @staticmethod
    async def _json_body(request: web.Request) -> Any:
        if request.method not in ("PUT", "POST") or not request.body_exists:
            return None
        try:
            return await request.json()
        except ValueError:
            raise UpgatesError(400, "Request body is not valid JSON")

    # ---- routes -------------------------------------------------------------------------
    def add_routes(self, app: web.Application) -> None:
        routes = [
            ("GET", "customers", "customers", self._list_customers),
            ("PUT", "customers", "customers", self._put_customers),
            ("DELETE", "customers", "customers", self._delete_customers),
            ("POST", "customers/login", "customers", self._customer_login),
            ("GET", "groups", "groups", self._list_groups),
            ("GET", "pricelists", "pricelists", self._list_pricelists),
            ("GET", "status", None, self._status),
        ]
        for method, path, endpoint, fn in routes:
            handler = self._route(endpoint, fn)
            app.router.add_route(method, f"{self.prefix}/{path}", handler)
            app.router.add_route(method, f"{self.prefix}/{path}/", handler)

    def _route(self, endpoint: str | None, fn):
        async def handler(request: web.Request) -> web.Response:
            return await self._guarded(request, endpoint, fn)

        return handler

    def label(self, request: web.Request, body: Any) -> str | None:
        path = request.path[len(self.prefix):].strip("/") if request.path.startswith(self.prefix) else None
        return f"{request.method} {path}" if path else None

    # ---- parsing ------------------------------------------------------------------------
    def parse_filter_date(self, name: str, value: str) -> datetime:
        value = value.strip()
        try:
            if len(value) == 10:
                if self.date_only_filters != "accept":
                    raise ValueError("date without time")
                return datetime.combine(date.fromisoformat(value), datetime.min.time(), self.tz)
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UpgatesError(400, f"Invalid date in parameter {name}: {value!r}", obj="query", prop=name)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=self.tz if self.naive_filter_timezone == "shop" else timezone.utc)
        return parsed

    @staticmethod
    def parse_bool(name: str, value: str) -> bool:
        low = value.strip().lower()
        if low in BOOL_TRUE:
            return True
        if low in BOOL_FALSE:
            return False
        raise UpgatesError(400, f"Invalid boolean in parameter {name}: {value!r}", obj="query", prop=name)

    @staticmethod
    def parse_page(request: web.Request) -> int:
        raw = request.query.get("page", "1")
        try:
            page = int(raw)
        except ValueError:
            raise UpgatesError(400, f"Invalid page {raw!r}", obj="query", prop="page")
        if page < 1:
            raise UpgatesError(400, f"Invalid page {raw!r}", obj="query", prop="page")
        return page

    @staticmethod
    def page_of(items: list[Any], page: int) -> tuple[list[Any], dict[str, int]]:
        chunk = items[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return chunk, {
            "current_page": page,
            "current_page_items": len(chunk),
            "number_of_pages": math.ceil(len(items) / PAGE_SIZE),
            "number_of_items": len(items),
        }

    # ---- customers ----------------------------------------------------------------------
    def _customer_filter(self, query: Any):
        checks = []
        for name in ("creation_time_from", "last_update_time_from"):
            if query.get(name):
                since = self.parse_filter_date(name, query[name])
                field = name[: -len("_from")]
                checks.append(lambda c, f=field, s=since: c[f] >= s)
        if query.get("ids"):
            try:
                ids = {int(x) for x in query["ids"].split(";") if x.strip()}
            except ValueError:
                raise UpgatesError(400, "Invalid ids", obj="query", prop="ids")
            checks.append(lambda c: c["customer_id"] in ids)
        if query.get("customer_id"):
            checks.append(lambda c, v=query["customer_id"]: str(c["customer_id"]) == v)
        for name in ("active_yn", "blocked_yn"):
            if query.get(name):
                flag = self.parse_bool(name, query[name])
                checks.append(lambda c, n=name, v=flag: c["login"][n] == v)
        def at(*path: str):
            def get(c: dict[str, Any]) -> Any:
                value: Any = c
                for key in path:
                    value = value.get(key) if isinstance(value, dict) else None
                return value
            return get

        plain = {
            "code": at("code"),
            "language": at("language"),
            "pricelist": at("pricelist"),
            "email": at("login", "email"),
            "phone": at("communication", "phone"),
            "company_name": at("company", "name"),
            "company_number": at("company", "company_number"),
            "company_vat_number": at("company", "vat_number"),
            "newsletter_accept": at("newsletter_accept"),
        }
        for name, get in plain.items():
            if query.get(name):
                checks.append(lambda c, g=get, v=query[name]: g(c) == v)
        return lambda c: all(check(c) for check in checks)

    def _sorted(self, customers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.order == "last_update_time":
            return sorted(customers, key=lambda c: (c["last_update_time"], c["customer_id"]))
        if self.order == "id_desc":
            return sorted(customers, key=lambda c: c["customer_id"], reverse=True)
        return sorted(customers, key=lambda c: c["customer_id"])

    def _list_customers(self, request: web.Request, body: Any) -> tuple[int, Any]:
        page = self.parse_page(request)
        matched = self._matching(request.query)
        chunk, meta = self.page_of(matched, page)
        return 200, {**meta, "customers": [self._rendered(c) for c in chunk]}

    def _put_customers(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return put_customers(self, request, body)  # seed 002 write-back: emulators/upgates_write.py

    def _delete_customers(self, request: web.Request, body: Any) -> tuple[int, Any]:
        raw = request.query.get("ids", "")
        try:
            ids = [int(x) for x in raw.split(";") if x.strip()]
        except ValueError:
            raise UpgatesError(400, "Invalid ids", obj="query", prop="ids")
        for cid in ids:
            self.delete_customer(cid)
        return 200, {"messages": []}

    def _customer_login(self, request: web.Request, body: Any) -> tuple[int, Any]:
        body = body if isinstance(body, dict) else {}
        email = str(body.get("email", "")).lower()
        match = next((c for c in self.customers.values() if c["login"]["email"].lower() == email), None)
        ok = match is not None and self.passwords.get(match["customer_id"]) == body.get("password")
        return 200, {"authenticated": ok, "messages": []}

    # ---- other endpoints ----------------------------------------------------------------
    def _list_groups(self, request: web.Request, body: Any) -> tuple[int, Any]:
        page = self.parse_page(request)
        groups = [{"id": gid, "name": name} for gid, name in sorted(self.groups.items())]
        if request.query.get("name"):
            groups = [g for g in groups if g["name"] == request.query["name"]]
        if request.query.get("ids"):
            wanted = {x.strip() for x in request.query["ids"].split(";")}
            groups = [g for g in groups if str(g["id"]) in wanted]
        chunk, meta = self.page_of(groups, page)
        return 200, {**meta, "groups": chunk}

    def _list_pricelists(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {"pricelists": list(self.pricelists)}

    def _status(self, request: web.Request, body: Any) -> tuple[int, Any]:
        return 200, {
            "endpoints": [
                {"endpoint": e, "read_yn": e in self.rights, "write_yn": e in self.rights} for e in ENDPOINTS
            ]
        }


# ---- the real world -------------------------------------------------------------------------

REAL_FIRST = ["Jana", "Petr", "Eva", "Martin", "Lucie", "Tomáš", "Zuzana", "Jakub", "Katarína", "Marek",
              "Ľubomír", "Šárka", "Radoslav", "Božena", "Jiří", "Dagmar", "Ondřej", "Mária", "Štefan", "Alžbeta"]
REAL_SURNAMES = ["Nováková", "Svoboda", "Dvořáková", "Horváth", "Kováčová", "Černý", "Veselá", "Kučera",
                 "Marková", "Pokorný", "Šťastný", "Kráľová", "Růžička", "Ďurica", "Žák", "Vlčková", "Hrušovský"]
REAL_CITIES = [
    ("Praha 4", "140 00", "CZ"), ("Brno", "602 00", "CZ"), ("Ostrava", "70200", "CZ"), ("České Budějovice", "370 01", "CZ"),
    ("Plzeň", "301 00", "CZ"), ("Bratislava", "811 01", "SK"), ("Košice", "04001", "SK"), ("Žilina", "010 01", "SK"),
    ("Banská Bystrica", "974 01", "SK"),
]
DOMAINS = ["seznam.cz", "email.cz", "gmail.com", "centrum.sk", "azet.sk", "post.cz", "firma.cz"]
ASCII = str.maketrans("áäčďéěíľĺňóôřŕšťúůýžÁÄČĎÉĚÍĽĹŇÓÔŘŔŠŤÚŮÝŽ", "aacdeeillnoorrstuuyzAACDEEILLNOORRSTUUYZ")


class RealWorld:
    """One customer as a real Czech/Slovak shop holds it (seeded by the emulator's random)."""

    def __init__(self, api: "UpgatesEmulator") -> None:
        self.api = api
        self.rng = api.random

    def phone(self, country: str) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.06:
            return rng.choice([None, ""])
        if country == "SK":
            digits = f"9{rng.randrange(0, 100000000):08d}"  # 9xx xxx xxx, written 09xx locally
            prefix = "421"
        else:
            digits = f"{rng.choice('67')}{rng.randrange(0, 100000000):08d}"
            prefix = "420"
        spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
        forms = [
            spaced,  # 785 206 025
            digits,  # 785206025
            f"0{digits}",  # 0785206025 (the leading trunk 0, as Slovaks write it)
            f"0{digits[:3]} {digits[3:6]} {digits[6:]}",
            f"+{prefix} {spaced}",
            f"+{prefix}{digits}",
            f"00{prefix} {spaced}",
            f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        ]
        return rng.choice(forms)

    def email(self, cid: int, first: str, last: str) -> str:
        rng = self.rng
        seen: set[str] = self.api.__dict__.setdefault("_real_emails", set())  # exact e-mails given so far
        earlier = self.api.customers.get(rng.randrange(1, cid)) if cid > 1 else None
        other = (earlier or {}).get("login", {}).get("email")
        twin = None
        if other and rng.random() < 0.02:
            # the same address as another customer but for its case (a second account); never
            # an exact duplicate (a login e-mail is unique in the shop)
            variant = other.upper() if other != other.upper() else other.lower()
            twin = variant if variant != other else other.title()
        local = f"{first}.{last}".translate(ASCII).lower().replace(" ", "")
        name = f"{local}{cid}@{rng.choice(DOMAINS)}"
        name = name.capitalize() if rng.random() < 0.1 else name
        chosen = twin if twin and twin not in seen else name
        seen.add(chosen)
        return chosen

    def customer(self, cid: int) -> dict[str, Any]:
        rng, api = self.rng, self.api
        first, last = rng.choice(REAL_FIRST), rng.choice(REAL_SURNAMES)
        short = last
        if rng.random() < 0.01:
            last = ("Dvořáková-Šťastná-" * 20)[:300]  # a 300-character name (its e-mail stays short)
        city, zip_code, country = rng.choice(REAL_CITIES)
        kind = rng.choice(["contact", "customer", "customer", "company"])
        now = api.local_now()
        group_ids = sorted(rng.sample(sorted(api.groups), rng.randrange(0, 3)))
        company: Any = {"name": f"{last} s.r.o.", "company_number": f"{rng.randrange(10**7, 10**8)}",
                        "vat_number": f"{country}{rng.randrange(10**7, 10**8)}"} if kind == "company" else rng.choice([None, {"name": "", "company_number": "", "vat_number": ""}])
        postal = []
        for _ in range(rng.choice([0, 0, 0, 1, 1, 2])):
            pcity, pzip, pcountry = rng.choice(REAL_CITIES)
            postal.append({"company_name": rng.choice(["", None]), "firstname": first, "surname": last,
                           "street": f"{rng.choice(['Dlouhá', 'Hlavná', 'Nádražní', 'Štúrova'])} {rng.randrange(1, 300)}/{rng.randrange(1, 30)}",
                           "city": pcity, "state": rng.choice(["", None]), "zip_code": pzip, "country_id": pcountry})
        metas = [{"key": "source", "type": "input", "value": rng.choice(["web", "shop", "phone", None]), "values": []}]
        if rng.random() < 0.4:
            metas.append({"key": "note", "type": "textarea", "value": None, "values": [
                {"language": "cs", "value": rng.choice(["Stálý zákazník", "Platí převodem", ""])},
                {"language": "sk", "value": rng.choice(["Stály zákazník", "Platí prevodom", None])},
            ]})
        if rng.random() < 0.2:
            metas.append({"key": "loyalty_card", "type": "number", "value": str(rng.randrange(100000, 999999)), "values": []})
        accept = rng.choice(["notset", "no", "yes", "yes", "excluded"])
        record: dict[str, Any] = {
            "customer_id": cid,
            "type": kind,
            "degree": rng.choice(["", "", None, "Ing.", "Mgr.", "MUDr.", "Bc."]),
            "firstname": first,
            "surname": last,
            "code": f"C{cid:06d}" if rng.random() < 0.9 else None,
            "language": rng.choice(["cs", "cs", "sk", "sk", "en"]),
            "newsletter_yn": accept == "yes",
            "newsletter_accept": accept,
            "pricelist": rng.choice(["Základný", "Základný", "Veľkoobchod"]),
            "turnover": f"{rng.randrange(0, 500000) / 100:.2f}",
            "company": company,
            "communication": {"phone": self.phone(country), "fax": rng.choice(["", None]), "im": None},
            "login": {"active_yn": kind != "contact", "blocked_yn": rng.random() < 0.03, "email": self.email(cid, first, short)},
            "group_ids": group_ids,
            "addresses": {
                "billing": {"street": f"{rng.choice(['Hlavná', 'Dlouhá', 'Palackého', 'Ružová'])} {rng.randrange(1, 200)}",
                            "city": city, "state": rng.choice(["", None]), "zip_code": zip_code, "country_id": country},
                "postal": postal,
            },
            "metas": metas,
            "creation_time": now,
            "last_update_time": now,
        }
        if rng.random() < 0.7:
            record["nickname"] = rng.choice(["", None])  # sometimes the key is missing altogether
        if rng.random() < 0.03:
            record["addresses"]["billing"] = None  # a contact without a billing address
        return record
