"""Cartum read functions: users/export, customer-groups/export, price-levels/export, orders/get.

Behaviour follows API-NOTES §2 and seed 001. Where the docs leave a question open, a switch in
`emulator.switches` picks the behaviour (defaults in brackets):

- `empty_response` ([]): the `response` of an EMPTY answer; `{}` or `{"message": ...}` also seen.
- `limit_cap` (500): the largest `limit` served (a bigger one is silently cut, as catalog/export does).
- `orders_date_field` ("created"): whether orders/get from/to filter on creation or update time.
- `users_filter_time` ("accept"): what users/export does with a time in from/to. "accept" is API
  3.30+ (' HH:MM:SS' honoured to the second). An older API accepts only dates: "reject" answers
  ERROR "Parameter from has invalid date format" (the most plausible: the formats were a fixed,
  validated list before 3.30, and this is what any unknown format gets), "ignore" drops the
  time part and filters by the date alone (a lenient parser).
- `force_status` ({}): function -> (status, message): answer that call with that envelope,
  e.g. {"orders/get": ("EXCEPTION", "Deadlock")}; `force_times` limits how often (default: always).
- `revoke_token_on_call` ({}): function -> n: the n-th call of that function finds every token
  revoked (AUTHORIZATION_ERROR before the token's time, as after a shop restart).
- `vary_types` (False): answers whose types vary, as PHP shops' do: numbers as strings
  (`balance` "122.00", `customer_group_id` "3", `total_sum` "3413.00"), `manager.phone` as a
  string, `payed` as a boolean.
- `users_order` ("id"): the order of users/export's answer, undocumented: "id" (ascending, as
  the ids grow with registration), "id_desc", or "email".
- `ignore_to` (False): from/to's upper bound is ignored (records stamped in the future come back).
- A silent page cap is `limit_cap` above; a stall is `emulator.stall(seconds, function)`.

Dates in from/to: 'YYYY-MM-DD' or 'DD.MM.YYYY', optionally with ' HH:MM:SS'; both inclusive
(a date alone means the whole day). They are shop-local, like every date the API writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from emulators.cartum_model import CartumError, Handler, registrar
from emulators.cartum_seed import DATE_FORMAT, ORDER_B2B_KEYS, USER_B2B_KEYS

if TYPE_CHECKING:  # pragma: no cover
    from emulators.cartum import CartumEmulator

# This module's gateway functions (emulators.cartum serves them).
FUNCTIONS: dict[str, Handler] = {}
B2B_FUNCTIONS: set[str] = set()
function = registrar(FUNCTIONS, B2B_FUNCTIONS)

_FORMATS = (("%Y-%m-%d %H:%M:%S", True), ("%d.%m.%Y %H:%M:%S", True), ("%Y-%m-%d", False), ("%d.%m.%Y", False))


def parse_bound(value: Any, *, upper: bool, name: str) -> str | None:
    """A from/to value as a comparable 'YYYY-MM-DD HH:MM:SS' string (None when absent)."""
    if value in (None, ""):
        return None
    for fmt, has_time in _FORMATS:
        try:
            parsed = datetime.strptime(str(value).strip(), fmt)
        except ValueError:
            continue
        if not has_time:
            parsed = parsed.replace(hour=23, minute=59, second=59) if upper else parsed
        return parsed.strftime(DATE_FORMAT)
    raise CartumError("ERROR", f"Parameter {name} has invalid date format: {value}")


def _int(value: Any, name: str) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise CartumError("ERROR", f"Parameter {name} must be an integer") from None
    if number < 0:
        raise CartumError("ERROR", f"Parameter {name} must not be negative")
    return number


def _page(emu: "CartumEmulator", items: list[Any], body: dict[str, Any]) -> list[Any]:
    limit = _int(body.get("limit"), "limit")
    if limit is None:  # offset only works together with limit
        return items
    cap = emu.switches.get("limit_cap", 500)
    if cap:
        limit = min(limit, cap)
    offset = _int(body.get("offset"), "offset") or 0
    return items[offset : offset + limit]


def _hooks(emu: "CartumEmulator", name: str) -> None:
    """The per-call switches (see the module doc)."""
    counts = emu.switches.setdefault("_calls", {})
    counts[name] = counts.get(name, 0) + 1
    if emu.switches.get("revoke_token_on_call", {}).get(name) == counts[name]:
        emu.expire_tokens()
        raise CartumError("AUTHORIZATION_ERROR", "Authorization token is invalid or expired")
    forced = emu.switches.get("force_status", {}).get(name)
    if forced:
        left = emu.switches.setdefault("force_times", {}).get(name)
        if left is None or left > 0:
            if left is not None:
                emu.switches["force_times"][name] = left - 1
            raise CartumError(forced[0], forced[1])


def _selected(emu: "CartumEmulator", key: tuple[Any, ...], select: Callable[[], list[Any]]) -> list[Any]:
    """`select()`, or its cached answer when the emulator serves reads from a ReadCache."""
    cache = emu.read_cache
    return select() if cache is None else cache.get(key, select)


def _frozen(values: set[int] | None) -> tuple[int, ...] | None:
    return None if values is None else tuple(sorted(values))


def _empty(emu: "CartumEmulator") -> tuple[str, Any]:
    return "EMPTY", emu.switches.get("empty_response", [])


def _date_only_api(emu: "CartumEmulator", value: Any, name: str) -> Any:
    """users/export from/to on a shop before API 3.30 (switch `users_filter_time`)."""
    mode = emu.switches.get("users_filter_time", "accept")
    if mode == "accept" or value in (None, "") or len(str(value).strip()) <= 10:
        return value
    if mode == "reject":
        raise CartumError("ERROR", f"Parameter {name} has invalid date format: {value}")
    return str(value).strip()[:10]  # "ignore": the date part only


@function("users/export")
def users_export(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    _hooks(emu, "users/export")
    low = parse_bound(_date_only_api(emu, body.get("from"), "from"), upper=False, name="from")
    high = parse_bound(_date_only_api(emu, body.get("to"), "to"), upper=True, name="to")
    if emu.switches.get("ignore_to"):
        high = None
    order = emu.switches.get("users_order", "id")

    def select() -> list[dict[str, Any]]:
        users = [
            u
            for u in emu.shop.users_by_id()
            if (low is None or u["registered"] >= low) and (high is None or u["registered"] <= high)
        ]
        if order == "id_desc":
            users.reverse()
        elif order == "email":
            users.sort(key=lambda u: u["email"])
        return users

    users = _selected(emu, ("users/export", low, high, order), select)
    page = _page(emu, users, body)
    if not page:
        return _empty(emu)
    if not emu.b2b:
        page = [{k: v for k, v in u.items() if k not in USER_B2B_KEYS} for u in page]
    else:
        page = [dict(u) for u in page]
    if emu.switches.get("vary_types"):
        page = [_vary_user(u) for u in page]
    return "OK", {"users": page}


def _vary_user(user: dict[str, Any]) -> dict[str, Any]:
    if isinstance(user.get("balance"), (int, float)):
        user["balance"] = f"{user['balance']:.2f}"
    if isinstance(user.get("customer_group_id"), int):
        user["customer_group_id"] = str(user["customer_group_id"])
    if isinstance(user.get("manager"), dict) and isinstance(user["manager"].get("phone"), int):
        user["manager"] = {**user["manager"], "phone": str(user["manager"]["phone"])}
    return user


@function("customer-groups/export", b2b=True)
def customer_groups_export(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    _hooks(emu, "customer-groups/export")
    if not emu.shop.customer_groups:
        return _empty(emu)
    return "OK", {"customer_groups": [dict(g) for g in emu.shop.customer_groups]}


@function("price-levels/export", b2b=True)
def price_levels_export(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    _hooks(emu, "price-levels/export")
    if not emu.shop.price_levels:
        return _empty(emu)
    return "OK", {"price_levels": [dict(p) for p in emu.shop.price_levels]}


def _statuses(value: Any) -> set[int] | None:
    if value in (None, "", []):
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError):
        raise CartumError("ERROR", "Parameter status must be an integer or an array of integers") from None


def _ids(value: Any) -> set[int] | None:
    if value in (None, "", []):
        return None
    values = value if isinstance(value, list) else [value]
    try:
        return {int(v) for v in values}
    except (TypeError, ValueError):
        raise CartumError("ERROR", "Parameter ids must be an array of integers") from None


@function("orders/get")
def orders_get(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    _hooks(emu, "orders/get")
    low = parse_bound(body.get("from"), upper=False, name="from")
    high = parse_bound(body.get("to"), upper=True, name="to")
    if emu.switches.get("ignore_to"):
        high = None
    statuses = _statuses(body.get("status"))
    ids = _ids(body.get("ids"))
    key = "_updated" if emu.switches.get("orders_date_field", "created") == "updated" else "stat_created"

    def select() -> list[dict[str, Any]]:
        return [
            o
            for o in sorted(emu.shop.orders, key=lambda o: o["order_id"])
            if (low is None or o[key] >= low)
            and (high is None or o[key] <= high)
            and (statuses is None or o["stat_status"] in statuses)
            and (ids is None or o["order_id"] in ids)
        ]

    orders = _selected(emu, ("orders/get", low, high, key, _frozen(statuses), _frozen(ids)), select)
    page = _page(emu, orders, body)
    if not page:
        return _empty(emu)
    drop = ("_updated",) if emu.b2b else ("_updated", *ORDER_B2B_KEYS)
    out = []
    for order in page:
        item = {k: v for k, v in order.items() if k not in drop}
        if not emu.b2b and isinstance(item.get("delivery_data"), dict):
            item["delivery_data"] = {k: v for k, v in item["delivery_data"].items() if k != "ownTTNPicked"}
        if emu.switches.get("vary_types"):
            item["total_sum"] = f"{item['total_sum']:.2f}" if isinstance(item.get("total_sum"), (int, float)) else item.get("total_sum")
            item["payed"] = bool(item.get("payed"))
        out.append(item)
    return "OK", {"orders": out}
