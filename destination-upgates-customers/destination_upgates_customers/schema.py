"""What PUT /api/v2/customers can write (seed 002): a customer matched by e-mail, its newsletter
consent and its custom fields (`metas`). Nothing else is documented as writable. The JSON
schema `discover` announces, and the local validation of a mapped payload (a record that
cannot succeed is rejected without a request)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any, Optional

from destination_common import Reject, is_email

NEWSLETTER_VALUES = ("notset", "no", "yes", "excluded")
META_VALUE_TYPES = (str, int, float, bool)

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


def validate(payload: Mapping[str, Any], *, meta_keys: Optional[Collection[str]] = None, refused: Collection[str] = ()) -> None:
    """Raise Reject (the first problem) for a payload PUT would not write: no or an invalid
    e-mail, an unknown newsletter value, a custom field the shop does not have (`meta_keys`,
    None: not checked) or refused earlier in this sync (`refused`), a value that is not text,
    nothing to update."""
    email = payload.get("email")
    if email is None or email == "":
        raise Reject("missing_email", "no e-mail: UPgates matches customers by e-mail")
    if not is_email(email):
        raise Reject("invalid_email", f"'{email}' is not an e-mail address")
    newsletter = payload.get("newsletter_accept")
    if newsletter is not None and newsletter not in NEWSLETTER_VALUES:
        raise Reject(
            "invalid_newsletter_accept",
            f"newsletter_accept {newsletter!r} is not one of {', '.join(NEWSLETTER_VALUES)}",
        )
    metas = payload.get("metas") or {}
    for key, value in metas.items():
        if not key.strip():
            raise Reject("invalid_metas", "a custom field without a key")
        if meta_keys is not None and key not in meta_keys:
            raise Reject(
                "unknown_meta_key",
                f"the shop has no customer custom field '{key}' (known: {', '.join(sorted(meta_keys)) or 'none'})",
            )
        if key in refused:
            raise Reject("unknown_meta_key", f"the shop refused the custom field '{key}' earlier in this sync")
        if not isinstance(value, META_VALUE_TYPES):
            raise Reject("invalid_metas", f"custom field '{key}' has a {type(value).__name__} value; give text")
    if newsletter is None and not metas:
        raise Reject("nothing_to_update", "neither newsletter_accept nor a custom field to write")
