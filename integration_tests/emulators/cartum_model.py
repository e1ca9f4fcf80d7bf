"""What the Cartum emulator's modules share, at the bottom of their imports: the shop's world
(`Shop`), the error a gateway function raises (`CartumError`) and the function registry.

The modules import one way: cartum_model <- cartum_seed (the seeded world) <- cartum_read,
cartum_import (the gateway functions, plain functions of the emulator and the request body)
<- cartum (the emulator: gateway, token, envelope; it collects the functions' tables).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from emulators.cartum import CartumEmulator

# function name ("users/export") -> handler(emulator, body) -> (status, response)
Handler = Callable[["CartumEmulator", dict[str, Any]], tuple[str, Any]]


def registrar(functions: dict[str, Handler], b2b_functions: set[str]) -> Callable[..., Callable[[Handler], Handler]]:
    """A `@function(name, b2b=False)` decorator that registers into the given table.
    `b2b=True`: FORBIDDEN on a shop without the B2B module."""

    def function(name: str, *, b2b: bool = False) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            functions[name] = fn
            if b2b:
                b2b_functions.add(name)
            return fn

        return register

    return function


class CartumError(Exception):
    """Raise from a handler to answer `{status, response: {message}}`."""

    def __init__(self, status: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.response = {"message": message, **extra}


@dataclass
class Shop:
    """The shop's world. Users are keyed by e-mail (the import's unique key); ids ascend."""

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    customer_groups: list[dict[str, Any]] = field(default_factory=list)
    price_levels: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    managers: dict[int, dict[str, Any]] = field(default_factory=dict)
    currencies: dict[int, str] = field(default_factory=lambda: {1: "UAH", 2: "USD", 3: "EUR"})
    next_user_id: int = 1
    next_order_id: int = 1

    def users_by_id(self) -> list[dict[str, Any]]:
        return sorted(self.users.values(), key=lambda u: u["id"])


class ReadCache:
    """The fast path of the read functions for benchmark sizes (`CartumEmulator.cache_reads()`):
    a filtered and ordered list is kept per query until the shop grows or shrinks (users,
    orders, next ids). An edit of a user or order in place is not seen, so only a benchmark,
    whose world only grows, turns it on. users/export and orders/get otherwise filter and sort
    the whole shop on every call: about 0.1 s a call at 100,000."""

    def __init__(self, emulator: "CartumEmulator") -> None:
        self.emulator = emulator
        self._items: dict[tuple[Any, ...], list[Any]] = {}

    def get(self, key: tuple[Any, ...], compute: Callable[[], list[Any]]) -> list[Any]:
        shop = self.emulator.shop
        key = key + (len(shop.users), shop.next_user_id, len(shop.orders), shop.next_order_id)
        hit = self._items.get(key)
        if hit is None:
            if len(self._items) > 64:
                self._items.clear()
            hit = self._items[key] = compute()
        return hit
