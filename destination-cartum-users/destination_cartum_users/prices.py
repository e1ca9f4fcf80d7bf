"""Object `product_prices`: catalog/import with prices of several levels (seed 001).

A record: `article` (the product's key), `price` (retail), optional `price_old` and
`price_levels` (`[{level_id, price}]`, or an object `{level_id: price}`; JSON text is decoded).
Seed 001: the retail price goes only through `price`; a `price_levels` entry for the retail
level is refused by the shop ('Import of prices for level "2" … is performed in a different
way'), so the mapping moves it into `price`. Only the levels `price-levels/export` lists can
be sent. Nothing else of catalog/import is documented by the seeds, so nothing else is sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Optional

from destination_common import MappingError, Reject

from destination_cartum_users.mapping import decode_nested

NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")

PRICES_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["article"],
    "additionalProperties": False,
    "properties": {
        "article": {"type": "string", "description": "Product article (SKU): the product's key"},
        "price": {"type": "number", "minimum": 0, "description": "Retail price (the only way to send it)"},
        "price_old": {"type": "number", "minimum": 0, "description": "Old (crossed-out) price"},
        "price_levels": {
            "type": "array",
            "description": "Prices of the shop's price tiers (price-levels/export); an entry for the retail level "
            "is moved into price",
            "items": {
                "type": "object",
                "required": ["level_id", "price"],
                "properties": {
                    "level_id": {"type": "integer", "description": "Price level id (price-levels/export)"},
                    "price": {"type": "number", "minimum": 0},
                },
            },
        },
    },
}


def _number(value: Any) -> Any:
    """A number from a number or a numeric text ("1500", "899.90"); anything else as it is."""
    if isinstance(value, str) and NUMBER_RE.match(value.strip()):
        text = value.strip()
        return float(text) if "." in text else int(text)
    return value


def _level_id(value: Any) -> Any:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def map_prices(data: Mapping[str, Any], *, retail_level: int) -> tuple[dict, bool]:
    """(catalog/import product, whether a retail-level entry was moved into `price`)."""
    if not isinstance(data, Mapping):
        raise MappingError("the record is not an object")
    record = decode_nested(data)
    out: dict[str, Any] = {}
    article = record.get("article")
    if isinstance(article, (int, float)) and not isinstance(article, bool):
        article = str(article)
    if isinstance(article, str):
        article = article.strip()
    if article not in (None, ""):
        out["article"] = article
    for name in ("price", "price_old"):
        if record.get(name) is not None:
            out[name] = _number(record[name])
    levels = record.get("price_levels")
    moved = False
    if levels is not None:
        if isinstance(levels, Mapping):
            entries: Any = [{"level_id": k, "price": v} for k, v in levels.items()]
        else:
            entries = levels
        if not isinstance(entries, list):
            raise MappingError("price_levels must be an array of {level_id, price} or an object {level_id: price}", code=2)
        kept = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise MappingError("each price_levels entry must be an object {level_id, price}", code=2)
            item = {"level_id": _level_id(entry.get("level_id")), "price": _number(entry.get("price"))}
            if item["level_id"] == retail_level:
                if "price" in out and out["price"] != item["price"]:
                    raise MappingError(
                        f"price {out['price']} and the price_levels entry of the retail level {retail_level} "
                        f"({item['price']}) disagree; the retail price goes only in price",
                        code=2,
                    )
                out["price"] = item["price"]
                moved = True
                continue
            kept.append(item)
        if kept:
            out["price_levels"] = kept
    return out, moved


def problems(product: Mapping[str, Any], *, level_ids: Optional[Collection[int]]) -> list[tuple[int, str]]:
    """What catalog/import would refuse, as (code, message); `level_ids` None: the shop has no
    price levels to offer (no B2B module)."""
    out: list[tuple[int, str]] = []
    article = product.get("article")
    if article in (None, ""):
        out.append((1, "missing mandatory field article"))
    elif not isinstance(article, str):
        out.append((2, "article must be text"))
    for name in ("price", "price_old"):
        if name in product and not (_is_number(product[name]) and product[name] >= 0):
            out.append((2, f"{name} {product[name]!r} is not a number >= 0"))
    levels = product.get("price_levels") or []
    if not any(name in product for name in ("price", "price_old")) and not levels:
        out.append((1, "nothing to import: no price, price_old or price_levels"))
    seen: set[Any] = set()
    for entry in levels:
        lid, price = entry.get("level_id"), entry.get("price")
        if not (isinstance(lid, int) and not isinstance(lid, bool)):
            out.append((2, f"price_levels level_id {lid!r} is not an id"))
            continue
        if lid in seen:
            out.append((2, f"price_levels has level_id {lid} twice"))
        seen.add(lid)
        if level_ids is None:
            out.append((2, f"price level {lid}: the shop has no B2B module, so no price levels can be imported"))
        elif lid not in level_ids:
            known = ", ".join(str(i) for i in sorted(level_ids)) or "none"
            out.append((2, f"price level {lid} does not exist in the shop (price-levels/export lists {known})"))
        if not (_is_number(price) and price >= 0):
            out.append((2, f"price_levels price {price!r} of level {lid} is not a number >= 0"))
    return out


def validate_prices(product: Mapping[str, Any], *, level_ids: Optional[Collection[int]]) -> None:
    found = problems(product, level_ids=level_ids)
    if found:
        raise Reject(min(c for c, _ in found), "; ".join(m for _, m in found))
