"""Local validation: what users/import would answer with code 1 or 2, found before a request
is spent. The rules follow seed 000/001 and API-NOTES §2."""

from __future__ import annotations

import re
from typing import Any, Collection, Mapping, Optional

from destination_common import Reject, is_email, is_iso_date

PHONE_RE = re.compile(r"^\+\d{7,15}$")
STRING_FIELDS = ("title", "phone", "country", "city", "address", "note", "site_link", "company", "role")


def phone_ok(value: Any) -> bool:
    """Empty, or `+` with 7..15 digits once spaces, dashes, dots and brackets are removed."""
    if value in ("", None):
        return True
    if not isinstance(value, str):
        return False
    return bool(PHONE_RE.match(re.sub(r"[\s\-().]", "", value)))


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def problems(
    user: Mapping[str, Any],
    *,
    require_title: bool = True,
    group_ids: Optional[Collection[int]] = None,
) -> list[tuple[int, str]]:
    """Every (code, message) the API would give this user; [] if it looks importable.
    `group_ids`: the shop's customer groups (None: not checked)."""
    out: list[tuple[int, str]] = []
    email = user.get("email")
    if email in (None, ""):
        out.append((1, "missing mandatory field email"))
    elif not is_email(email):
        out.append((2, f"e-mail '{email}' is not valid"))
    if require_title and user.get("title") in (None, ""):
        out.append((1, "missing mandatory field title (needed to create a user)"))
    for name in STRING_FIELDS:
        if name in user and user[name] is not None and not isinstance(user[name], str):
            out.append((2, f"{name} must be text"))
    if "phone" in user and isinstance(user["phone"], str) and not phone_ok(user["phone"]):
        out.append((2, "phone must be + and 7 to 15 digits (with country code)"))
    if "newsletter_subscription" in user and user["newsletter_subscription"] not in (0, 1):
        out.append((2, "newsletter_subscription must be 0 or 1"))
    card = user.get("discount_card")
    if card is not None:
        if not isinstance(card, Mapping):
            out.append((2, "discount_card must be an object"))
        else:
            if "discount" in card and not (_num(card["discount"]) and 0 <= card["discount"] <= 100):
                out.append((2, f"discount_card.discount {card['discount']!r} is not a number from 0 to 100"))
            if "active" in card and card["active"] not in (True, False):
                out.append((2, "discount_card.active must be true or false"))
            if "date_limit" in card and card["date_limit"] not in (None, "") and not is_iso_date(card["date_limit"]):
                out.append((2, f"discount_card.date_limit {card['date_limit']!r} is not a date YYYY-MM-DD"))
            if "status" in card and card["status"] not in (1, 2, 3):
                out.append((2, f"discount_card.status {card['status']!r} is not 1, 2 or 3"))
    if "customer_group_id" in user and user["customer_group_id"] is not None:
        gid = user["customer_group_id"]
        if not _int(gid):
            out.append((2, f"customer_group_id {gid!r} is not an integer"))
        elif group_ids is not None and gid not in group_ids:
            out.append((2, f"customer_group_id {gid} does not exist in the shop"))
    for name in ("manager_id", "balance_currency"):
        if name in user and user[name] is not None and not (_int(user[name]) and user[name] >= 0):
            out.append((2, f"{name} {user[name]!r} is not an id"))
    if "balance" in user and user["balance"] is not None and not _num(user["balance"]):
        out.append((2, f"balance {user['balance']!r} is not a number"))
    return out


def validate(user: Mapping[str, Any], **kwargs: Any) -> None:
    """Raise Reject with the lowest code and every message, as the API would."""
    found = problems(user, **kwargs)
    if found:
        code = min(c for c, _ in found)
        raise Reject(code, "; ".join(m for _, m in found))
