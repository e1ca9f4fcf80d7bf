"""The bench's emulators: the stock emulators with their fast paths for benchmark sizes turned on
(the answers stay the ones the tests see; only work a benchmark does not need is taken away):

- `BenchUpgates(...)`: `UpgatesEmulator(...).cache_reads()` (the filtered and sorted customer
  list and each rendered customer cached until the world changes); `bulk_seed(n)` clones
  customers the emulator generated itself, about 30 times faster than generating each.
- `BenchCartum(...)`: `CartumEmulator(...).cache_reads()` (users/export and orders/get keep
  each filtered list until the shop grows); `add_orders()` adds many orders at once.
- `SinkCartum(...)`: `CartumEmulator(users=0, orders=0).sink()`: users/import answers as usual,
  then forgets the users it created.
- `SinkLoyalty(...)`: `LoyaltyEmulator(...).sink()`: customers_batch answers as usual, then
  forgets what it stored, so every batch costs the same.
- `lean_log(emulator)`: its request log keeps no request bodies (1,000,000 records would
  otherwise stay in the bench process twice).
- All four hold their answers with `exact_latency()`: an answer "at 50 ms" (`latency`, and
  UPgates' `service_time`) leaves 50 ms after its request arrived, the emulator's own work
  included. Stock, the emulator sleeps and then works (53-66 ms measured), so the ideal
  batch/latency was out of any connector's reach; the bench still prints the measured answer time.

Items 1-5 run on the tidy worlds (comparable run to run, every record sent); item 7
(bench/goals.py) runs the real-shop default worlds.
"""

from __future__ import annotations

import math
from typing import Any

from emulators.cartum import CartumEmulator
from emulators.loyalty import LoyaltyEmulator
from emulators.upgates import UpgatesEmulator, UpgatesError


def BenchUpgates(**kwargs: Any) -> UpgatesEmulator:  # noqa: N802 - reads like the class it was
    return UpgatesEmulator(**{"world": "tidy", **kwargs}).cache_reads().exact_latency()


def BenchCartum(**kwargs: Any) -> CartumEmulator:  # noqa: N802
    return CartumEmulator(**{"tidy": True, **kwargs}).cache_reads().exact_latency()


def SinkCartum(**kwargs: Any) -> CartumEmulator:  # noqa: N802
    return CartumEmulator(**{"users": 0, "orders": 0, **kwargs}).sink().exact_latency()


def SinkLoyalty(**kwargs: Any) -> LoyaltyEmulator:  # noqa: N802
    return LoyaltyEmulator(**kwargs).sink().exact_latency()


def lean_log(emulator: Any) -> Any:
    emulator.log.keep_bodies = False
    return emulator


def upgates_pages(customers: int) -> int:
    return math.ceil(customers / 100)


__all__ = ["BenchCartum", "BenchUpgates", "SinkCartum", "SinkLoyalty", "lean_log", "UpgatesError", "upgates_pages"]
