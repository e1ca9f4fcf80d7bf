"""Synthetic destination input: Airbyte RECORD lines already in the shape of a destination's
mapping preset, with a STATE line every `state_every` records (a multiple of the batch size,
so the input itself never forces a short batch), written once to a file under .bench/data and
reused: the destination reads it from stdin and nothing in the bench process competes with it
for the CPU while it runs.

- Cartum users (preset `cartum_user`): users/export records made by the Cartum emulator's own
  seed code, each with its own e-mail (the import's key).
- Loyalty (preset `loyalty`): customers_batch fields, each with its own code (the key).
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

MARK = "@@I@@"


def _cartum_templates(count: int = 200) -> list[dict[str, Any]]:
    from emulators.cartum_model import Shop
    from emulators.cartum_seed import CUSTOMER_GROUPS, MANAGERS, PRICE_LEVELS, make_user

    shop = Shop(customer_groups=[dict(g) for g in CUSTOMER_GROUPS], price_levels=[dict(p) for p in PRICE_LEVELS],
                managers={k: dict(v) for k, v in MANAGERS.items()})
    rng = random.Random(11)
    out = []
    for _ in range(count):
        user = make_user(shop, rng, datetime(2025, 3, 1, 12, 0, 0))
        user["id"] = MARK
        user["email"] = f"bench.{MARK}@example.com.ua"
        out.append(user)
    return out


def _loyalty_templates(count: int = 200) -> list[dict[str, Any]]:
    rng = random.Random(12)
    firsts = ["Anna", "Jan", "Eva", "Petr", "Lucie", "Marek", "Olena", "Taras"]
    lasts = ["Novak", "Svoboda", "Dvorak", "Kral", "Shevchenko", "Melnyk"]
    cities = [("Brno", "60200", "CZ"), ("Praha", "11000", "CZ"), ("Kyiv", "01001", "UA")]
    out = []
    for _ in range(count):
        city, postal, country = rng.choice(cities)
        out.append({
            "code": f"B{MARK}",
            "first_name": rng.choice(firsts),
            "last_name": rng.choice(lasts),
            "email": f"member.{MARK}@example.com",
            "phone": f"+420{rng.randrange(600000000, 799999999)}",
            "city": city,
            "street1": f"Hlavni {rng.randrange(1, 200)}",
            "postal_code": postal,
            "country": country,
        })
    return out


TEMPLATES = {"cartum_user": _cartum_templates, "loyalty": _loyalty_templates}


def record_file(directory: Path, preset: str, stream: str, count: int, state_every: int) -> Path:
    """The input file for `count` records (made once, then reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{preset}-{stream}-{count}-s{state_every}.jsonl"
    if path.exists():
        return path
    lines = []
    for data in TEMPLATES[preset]():
        msg = {"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 1767225600000}}
        lines.append(json.dumps(msg, ensure_ascii=False).replace(f'"{MARK}"', MARK))
    state = json.dumps({"type": "STATE", "state": {"type": "STREAM", "stream": {
        "stream_descriptor": {"name": stream}, "stream_state": {"cursor": 0}}}}).replace('"cursor": 0', f'"cursor": {MARK}')
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        chunk: list[str] = []
        k = len(lines)
        for i in range(1, count + 1):
            chunk.append(lines[i % k].replace(MARK, str(i)))
            if i % state_every == 0 or i == count:
                chunk.append(state.replace(MARK, str(i)))
            if len(chunk) >= 20000:
                out.write("\n".join(chunk) + "\n")
                chunk = []
        if chunk:
            out.write("\n".join(chunk) + "\n")
    tmp.replace(path)
    return path
