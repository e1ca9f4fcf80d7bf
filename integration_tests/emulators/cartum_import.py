"""Cartum users/import (seed 000 + the B2B fields of seed 001), write side of the emulator.

Upsert by e-mail: a new e-mail creates a user with the next id, registered now (shop-local),
in exactly the users/export shape (cartum_seed.make_user's keys, plus `discount_card` when
given), so users/export reads back what was imported; a known e-mail updates only the fields
given. Each request answers `OK` (every user code 0) or `WARNING` with `response.log[i]`
aligned with `users[i]`.

Per-user codes: 0 imported/updated · 1 missing mandatory field (`email`; `title` for a new
user) · 2 field validation error (e-mail, phone with country code, strings, discount 0..100,
active bool, date_limit YYYY-MM-DD, status 1..3, newsletter_subscription 0/1, balance number,
unknown customer_group_id / manager_id / balance_currency) · 3 unhandled error. One user may
get several entries (every failed field); nothing of a user with a non-zero code is stored.

Switches in `emulator.switches` (defaults in brackets):
- `import_log_shape` ("nested"): "nested" = seed 000's `log[i].info[{code, message}]`;
  "flat" = `log[i] = {code, message}` (the seed's parameter table).
- `import_max_users` (None): the most users one request may carry; more are refused as a
  whole, nothing imported, the way `import_oversize` says:
  "error" → `{status: ERROR, response: {message}}` · "http413" → HTTP 413. The message
  names the limit ("… (at most 10)") unless `import_oversize_names_limit` is False.
- `import_unhandled` ({}): e-mail → how many times that user gets code 3 (None: always).
- `import_poison` (set()): e-mails whose presence makes the whole request fail with
  `status: EXCEPTION` (nothing imported): a request refused for a non-transient cause.
- `import_expire_tokens_after` (None): after that many users/import calls every token is
  invalidated (token expiry in the middle of a write). Token lifetime and the clock work too.
- `import_title_required_on_update` (False): code 1 also for an update without title.
- `import_default_group` (2): customer_group_id of a user created without one.
Imported `newsletter_subscription` and `note` are kept in `emulator.user_extras[email]`
(users/export does not show them).

`catalog/import` with prices (seed 001 "Import products into catalog"): `products[]` of
`{article, price, price_old, price_levels: [{level_id, price}]}`, answered like users/import
(`OK`/`WARNING`, `response.log[i]` aligned with `products[i]`, same codes and log shapes).
Prices are kept in `emulator.products[article]` = `{article, title, price, price_old,
price_levels: {level_id: price}}`, seeded with cartum_seed.PRODUCTS. Rules: `article`
mandatory (code 1); prices numbers >= 0 (code 2); a `price_levels` entry for the retail level
(switch `catalog_retail_level`, default 2) is refused with the seed's message, code 2, nothing
of that product stored; a level_id that price-levels/export does not list: code 2; price
levels on a shop without the B2B module: code 2. What the seeds leave open, as switches:
- `catalog_unknown_article` ("error"): an article the shop does not have → code 1 (a new
  product needs more than prices); "create": a product is created with the prices.
- `catalog_retail_level_error` ("log"): the retail-level error as the product's log entry;
  "request": the whole request refused (`ERROR`, nothing imported).
- `catalog_max_products` (None): more products in one request → `ERROR` "Too many products
  … (at most N)", nothing imported.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulators.cartum_model import CartumError, Handler, registrar
from emulators.cartum_seed import DATE_FORMAT, PRODUCTS

if TYPE_CHECKING:  # pragma: no cover
    from emulators.cartum import CartumEmulator

# This module's gateway functions (emulators.cartum serves them).
FUNCTIONS: dict[str, Handler] = {}
B2B_FUNCTIONS: set[str] = set()
function = registrar(FUNCTIONS, B2B_FUNCTIONS)

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+\d{7,15}$")
STRING_FIELDS = ("title", "country", "city", "address", "note")
B2B_STRING_FIELDS = ("site_link", "company", "role")
B2B_FIELDS = ("customer_group_id", "balance", "balance_currency", "manager_id", *B2B_STRING_FIELDS)


def phone_ok(value: Any) -> bool:
    """Empty, or `+` and 7..15 digits once spaces, dashes, dots and brackets are removed."""
    if value in ("", None):
        return True
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return False
    text = re.sub(r"[\s\-().]", "", str(value))
    return bool(PHONE_RE.match(text))


def date_ok(value: Any) -> bool:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad(field: str, value: Any) -> tuple[int, str]:
    return 2, f"The {field} field ({value}) is set incorrectly!"


def check_user(emu: "CartumEmulator", user: Any) -> list[tuple[int, str]]:
    """Every problem of one user as (code, message); [] when it can be imported."""
    if not isinstance(user, dict):
        return [(2, "User entry must be an object")]
    problems: list[tuple[int, str]] = []
    email = user.get("email")
    exists = isinstance(email, str) and email in emu.shop.users
    if email in (None, ""):
        problems.append((1, "Missing mandatory field: email"))
    title_needed = not exists or emu.switches.get("import_title_required_on_update", False)
    if title_needed and user.get("title") in (None, ""):
        problems.append((1, "Missing mandatory field: title"))
    if email not in (None, "") and not (isinstance(email, str) and EMAIL_RE.match(email)):
        problems.append(_bad("email", email))
    if "phone" in user and not phone_ok(user["phone"]):
        problems.append(_bad("phone", user["phone"]))
    for name in STRING_FIELDS:
        if name in user and user[name] is not None and not isinstance(user[name], str):
            problems.append(_bad(name, user[name]))
    if "newsletter_subscription" in user and user["newsletter_subscription"] not in (0, 1, "0", "1", True, False):
        problems.append(_bad("newsletter_subscription", user["newsletter_subscription"]))
    card = user.get("discount_card")
    if card is not None:
        if not isinstance(card, dict):
            problems.append(_bad("discount_card", card))
        else:
            if "discount" in card and not (_is_number(card["discount"]) and 0 <= card["discount"] <= 100):
                problems.append(_bad("discount_card.discount", card["discount"]))
            if "active" in card and card["active"] not in (True, False, 0, 1):
                problems.append(_bad("discount_card.active", card["active"]))
            if "date_limit" in card and card["date_limit"] not in (None, "") and not date_ok(card["date_limit"]):
                problems.append(_bad("discount_card.date_limit", card["date_limit"]))
            if "status" in card and card["status"] not in (1, 2, 3):
                problems.append(_bad("discount_card.status", card["status"]))
    if emu.b2b:
        if "customer_group_id" in user and user["customer_group_id"] is not None:
            gid = user["customer_group_id"]
            if not _is_int(gid) or not any(g["id"] == gid for g in emu.shop.customer_groups):
                problems.append(_bad("customer_group_id", gid))
        if "manager_id" in user and user["manager_id"] not in (None, 0):
            mid = user["manager_id"]
            if not _is_int(mid) or mid not in emu.shop.managers:
                problems.append(_bad("manager_id", mid))
        if "balance_currency" in user and user["balance_currency"] is not None:
            cur = user["balance_currency"]
            if not _is_int(cur) or cur not in emu.shop.currencies:
                problems.append(_bad("balance_currency", cur))
        if "balance" in user and user["balance"] is not None and not _is_number(user["balance"]):
            problems.append(_bad("balance", user["balance"]))
        for name in B2B_STRING_FIELDS:
            if name in user and user[name] is not None and not isinstance(user[name], str):
                problems.append(_bad(name, user[name]))
    return problems


def store_user(emu: "CartumEmulator", user: dict[str, Any]) -> bool:
    """Create or update; True when created."""
    shop = emu.shop
    email = user["email"]
    current = shop.users.get(email)
    created = current is None
    if created:
        current = {
            "id": shop.next_user_id,
            "title": "",
            "email": email,
            "phone": "",
            "country": "",
            "city": "",
            "address": "",
            "registered": emu.local_now().strftime(DATE_FORMAT),
            "customer_group_id": emu.switches.get("import_default_group", 2),
            "balance": 0,
            "balance_currency": 1,
            "manager": None,
            "site_link": "",
            "company": "",
            "role": "",
        }
        shop.next_user_id += 1
    for name in ("title", "phone", "country", "city", "address"):
        if name in user and user[name] is not None:
            current[name] = str(user[name])
    if "discount_card" in user and isinstance(user["discount_card"], dict):
        current["discount_card"] = {**current.get("discount_card", {}), **user["discount_card"]}
    if emu.b2b:
        for name in ("customer_group_id", "balance", "balance_currency", *B2B_STRING_FIELDS):
            if name in user and user[name] is not None:
                current[name] = user[name]
        if "manager_id" in user:
            mid = user["manager_id"]
            current["manager"] = dict(shop.managers[mid]) if mid else None
    extras = {k: user[k] for k in ("newsletter_subscription", "note") if k in user}
    if extras:
        emu.user_extras.setdefault(email, {}).update(extras)
    shop.users[email] = current
    return created


def _entry(emu: "CartumEmulator", items: list[tuple[int, str]]) -> dict[str, Any]:
    if emu.switches.get("import_log_shape", "nested") == "flat":
        return {"code": items[0][0], "message": " ".join(m for _, m in items)}
    return {"info": [{"code": c, "message": m} for c, m in items]}


@function("users/import")
def users_import(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    if not hasattr(emu, "user_extras"):
        emu.user_extras = {}
    emu.import_calls = getattr(emu, "import_calls", 0) + 1
    kept = set(emu.shop.users) if emu.forget_imports else None
    try:
        return _import(emu, body)
    finally:
        after = emu.switches.get("import_expire_tokens_after")
        if after and emu.import_calls >= after:
            emu.switches["import_expire_tokens_after"] = None
            emu.expire_tokens()
        if kept is not None:  # a benchmark's sink (CartumEmulator.forget_imports)
            for email in set(emu.shop.users) - kept:
                del emu.shop.users[email]
            emu.user_extras.clear()


def _import(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    users = body.get("users")
    if not isinstance(users, list) or not users:
        raise CartumError("ERROR", "Parameter users is required and must be a non-empty array")
    limit = emu.switches.get("import_max_users")
    if limit and len(users) > limit:
        message = f"Too many users in one request: {len(users)}"
        if emu.switches.get("import_oversize_names_limit", True):
            message += f" (at most {limit})"
        if emu.switches.get("import_oversize", "error") == "http413":
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=len(users), text=message)
        raise CartumError("ERROR", message)
    poison = emu.switches.get("import_poison") or set()
    if any(isinstance(u, dict) and u.get("email") in poison for u in users):
        raise CartumError("EXCEPTION", "Unhandled exception while importing users")
    unhandled: dict[str, Any] = emu.switches.setdefault("import_unhandled", {})
    log = []
    all_ok = True
    for user in users:
        problems = check_user(emu, user)
        email = user.get("email") if isinstance(user, dict) else None
        if not problems and email in unhandled:
            left = unhandled[email]
            if left is None or left > 0:
                if left is not None:
                    unhandled[email] = left - 1
                problems = [(3, f"Unhandled error while importing user {email}")]
        if problems:
            all_ok = False
            log.append(_entry(emu, problems))
            continue
        created = store_user(emu, user)
        verb = "import" if created else "update"
        log.append(_entry(emu, [(0, f"User {email} {verb} completed successfully!")]))
    return ("OK" if all_ok else "WARNING"), {"log": log}


# ---- catalog/import (prices) ------------------------------------------------------------
def products_of(emu: "CartumEmulator") -> dict[str, dict[str, Any]]:
    """The shop's products by article (created on first use from cartum_seed.PRODUCTS)."""
    if not hasattr(emu, "products"):
        emu.products = {
            art: {"article": art, "title": title, "price": price, "price_old": 0, "price_levels": {}}
            for art, title, price in PRODUCTS
        }
    return emu.products


def retail_message(level: Any) -> str:
    return (f'Import of prices for level "{level}" ("level_id") of the "price_levels" array object '
            "is performed in a different way")


def check_product(emu: "CartumEmulator", product: Any) -> list[tuple[int, str]]:
    if not isinstance(product, dict):
        return [(2, "Product entry must be an object")]
    problems: list[tuple[int, str]] = []
    article = product.get("article")
    if article in (None, ""):
        return [(1, "Missing mandatory field: article")]
    if not isinstance(article, str):
        problems.append(_bad("article", article))
    elif article not in products_of(emu) and emu.switches.get("catalog_unknown_article", "error") == "error":
        problems.append((1, f"Product with article {article} not found; a new product needs a title"))
    for name in ("price", "price_old"):
        if name in product and not (_is_number(product[name]) and product[name] >= 0):
            problems.append(_bad(name, product[name]))
    levels = product.get("price_levels")
    if levels is not None:
        known = {lv["id"] for lv in emu.shop.price_levels}
        retail = emu.switches.get("catalog_retail_level", 2)
        if not isinstance(levels, list):
            problems.append(_bad("price_levels", levels))
            levels = []
        for entry in levels:
            lid = entry.get("level_id") if isinstance(entry, dict) else None
            if not emu.b2b:
                problems.append((2, "Price levels are available only with the B2B module"))
                break
            if lid == retail:
                problems.append((2, retail_message(lid)))
            elif not _is_int(lid) or lid not in known:
                problems.append((2, f'Price level "{lid}" not found'))
            elif not (_is_number(entry.get("price")) and entry["price"] >= 0):
                problems.append(_bad("price_levels.price", entry.get("price")))
    return problems


def store_product(emu: "CartumEmulator", product: dict[str, Any]) -> bool:
    products = products_of(emu)
    current = products.get(product["article"])
    created = current is None
    if created:
        current = {"article": product["article"], "title": "", "price": 0, "price_old": 0, "price_levels": {}}
        products[product["article"]] = current
    for name in ("price", "price_old"):
        if name in product:
            current[name] = product[name]
    for entry in product.get("price_levels") or []:
        current["price_levels"][entry["level_id"]] = entry["price"]
    return created


@function("catalog/import")
def catalog_import(emu: "CartumEmulator", body: dict[str, Any]) -> tuple[str, Any]:
    products = body.get("products")
    if not isinstance(products, list) or not products:
        raise CartumError("ERROR", "Parameter products is required and must be a non-empty array")
    limit = emu.switches.get("catalog_max_products")
    if limit and len(products) > limit:
        raise CartumError("ERROR", f"Too many products in one request: {len(products)} (at most {limit})")
    checked = [check_product(emu, p) for p in products]
    if emu.switches.get("catalog_retail_level_error", "log") == "request":
        for found in checked:
            for code, message in found:
                if message.startswith("Import of prices for level"):
                    raise CartumError("ERROR", message)
    log = []
    all_ok = True
    for product, found in zip(products, checked):
        if found:
            all_ok = False
            log.append(_entry(emu, found))
            continue
        created = store_product(emu, product)
        verb = "created" if created else "updated"
        log.append(_entry(emu, [(0, f"Product {product['article']} {verb} successfully")]))
    return ("OK" if all_ok else "WARNING"), {"log": log}
