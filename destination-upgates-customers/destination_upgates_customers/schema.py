"""What PUT /api/v2/customers can write (seed 002): a customer matched by e-mail, its newsletter
consent and its custom fields (`metas`). Nothing else is documented as writable."""

from __future__ import annotations

from typing import Any, Iterable, Optional

NEWSLETTER_VALUES = ("notset", "no", "yes", "excluded")

CUSTOMER_FIELDS: dict[str, Any] = {
    "email": {
        "type": "string",
        "format": "email",
        "description": "E-mail of an existing customer: the matching key (a customer the shop does not know is not created)",
    },
    "newsletter_accept": {
        "type": "string",
        "enum": list(NEWSLETTER_VALUES),
        "description": "Newsletter consent: notset, no, yes or excluded",
    },
    "metas": {
        "type": "object",
        "description": "Custom fields of the customer: custom-field key -> value (written as text)",
        "additionalProperties": {"type": ["string", "number", "integer", "boolean"]},
    },
}


def customer_schema(meta_keys: Optional[Iterable[str]] = None) -> dict[str, Any]:
    """The JSON schema of the object `customers`; with the shop's custom-field keys known, `metas`
    lists exactly those keys and allows no other."""
    props = {k: dict(v) for k, v in CUSTOMER_FIELDS.items()}
    keys = sorted({str(k) for k in meta_keys or () if str(k).strip()})
    if keys:
        props["metas"] = {
            **props["metas"],
            "properties": {k: {"type": ["string", "number", "integer", "boolean"]} for k in keys},
            "additionalProperties": False,
        }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "required": ["email"],
        "additionalProperties": False,
        "properties": props,
    }
