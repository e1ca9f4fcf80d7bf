"""The importable fields of a Cartum user (users/import, seeds 000 and 001): the JSON schema
`discover` announces, the types custom templates render to, and the local validation (what
users/import would answer with code 1 or 2, found before a request is spent; the rules follow
seeds 000/001 and API-NOTES §2)."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, Optional

from destination_common import Reject, is_email, is_iso_date

BASE_FIELDS: dict[str, Any] = {
    "title": {"type": "string", "description": "Full name (mandatory to create a user)"},
    "email": {"type": "string", "format": "email", "description": "E-mail: the unique key (upsert)"},
    "phone": {"type": "string", "description": "Phone with country code, e.g. +380631234567"},
    "country": {"type": "string", "description": "Default delivery country"},
    "city": {"type": "string", "description": "Default delivery city"},
    "address": {"type": "string", "description": "Default delivery address"},
    "discount_card": {
        "type": "object",
        "description": "Personal discount",
        "properties": {
            "discount": {"type": "number", "minimum": 0, "maximum": 100, "description": "Discount in %"},
            "active": {"type": "boolean"},
            "date_limit": {"type": "string", "format": "date", "description": "Valid until, YYYY-MM-DD"},
            "status": {"type": "integer", "enum": [1, 2, 3], "description": "1 confirmed, 2 pending, 3 rejected"},
        },
    },
    "newsletter_subscription": {"type": "integer", "enum": [0, 1]},
    "note": {"type": "string"},
}

B2B_FIELDS: dict[str, Any] = {
    "customer_group_id": {"type": "integer", "description": "Customer group id (customer-groups/export)"},
    "balance": {"type": "number", "description": "Account balance, may be negative"},
    "balance_currency": {"type": "integer", "description": "Currency id of the balance"},
    "manager_id": {"type": "integer", "description": "Id of the shop manager assigned to the user"},
    "site_link": {"type": "string", "description": "The user's website"},
    "company": {"type": "string", "description": "Company name"},
    "role": {"type": "string", "description": "Position in the company"},
}

B2B_KEYS = tuple(B2B_FIELDS)


def user_schema(b2b: bool) -> dict[str, Any]:
    props = dict(BASE_FIELDS)
    if b2b:
        props.update(B2B_FIELDS)
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["email", "title"],
        "additionalProperties": False,
        "properties": props,
    }


def template_types(b2b: bool = True) -> dict[str, str]:
    """Field → type for custom templates (keeps phones strings, makes ids integers)."""
    out: dict[str, str] = {}
    fields = {**BASE_FIELDS, **(B2B_FIELDS if b2b else {})}
    for name, spec in fields.items():
        if spec["type"] == "object":
            for sub, subspec in spec["properties"].items():
                out[f"{name}.{sub}"] = subspec["type"]
        else:
            out[name] = spec["type"]
    return out


# ---- local validation ------------------------------------------------------------------------
PHONE_RE = re.compile(r"^\+\d{7,15}$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-().]")
STRING_FIELDS = ("title", "phone", "country", "city", "address", "note", "site_link", "company", "role")


def phone_ok(value: Any) -> bool:
    """Empty, or `+` with 7..15 digits once spaces, dashes, dots and brackets are removed."""
    if value in ("", None):
        return True
    if not isinstance(value, str):
        return False
    # a phone already in E.164 (the phone policy's answer) matches as it is; removing
    # punctuation from a text that matches leaves one that matches
    return bool(PHONE_RE.match(value) or PHONE_RE.match(_PHONE_PUNCTUATION.sub("", value)))


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
