"""The importable fields of a Cartum user (users/import, seeds 000 and 001)."""

from __future__ import annotations

from typing import Any

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
