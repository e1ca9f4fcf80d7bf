"""What `discover` shows: the one destination object `customers`, its sync modes and matching
keys, and the JSON schema of a customer (customers_batch's fields plus the account's custom
fields); and how a sync mode becomes the API's `overwrite_duplicates`."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

from destination_common import Operation

from destination_loyalty_batch.rows import STANDARD_FIELDS

OBJECT = "customers"
SYNC_MODES = ("append", "append_dedup")
MATCHING_KEYS = [["code"], ["card_number"]]
MODES = {"append": "ignore", "append_dedup": "update"}

FIELD_DESCRIPTIONS = {
    "code": "The sending system's unique customer id; matches existing customers. Without it the platform generates a 16-digit code.",
    "card_number": "Loyalty card number; matches existing customers when no code is sent.",
    "custom_date": "A date (birthday, anniversary...), sent as YYYY-MM-DD; ISO 8601 and DD.MM.YYYY are converted.",
    "auto_add": "Amount added to the first campaign (points, visits, dollars or product, by campaign type).",
    "customer_username": "API-only user name.",
    "customer_password": "Password for custom applications (customer hotsite).",
    "customer_PIN": "API-only PIN (physical terminals).",
}


def customer_schema(custom_fields: Optional[list[Mapping[str, Any]]] = None) -> dict[str, Any]:
    props: dict[str, Any] = {}
    for name in STANDARD_FIELDS:
        prop: dict[str, Any] = {"type": ["null", "number", "string"] if name == "auto_add" else ["null", "string"]}
        if name in FIELD_DESCRIPTIONS:
            prop["description"] = FIELD_DESCRIPTIONS[name]
        if name == "custom_date":
            prop["format"] = "date"
        props[name] = prop
    for field in custom_fields or []:
        prop = {"type": ["null", "string"], "title": str(field.get("label") or field["name"])}
        desc = f"Custom field '{field.get('label') or field['name']}'"
        if field.get("type"):
            desc += f" ({field['type']})"
        if str(field.get("required", "")).lower() in ("true", "yes", "1"):
            desc += ", required"
        prop["description"] = desc + "; may also be given by its label."
        props[str(field["name"])] = prop
    return {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "additionalProperties": True, "properties": props}


def operations(custom_fields: Optional[list[Mapping[str, Any]]] = None) -> List[Operation]:
    schema = customer_schema(custom_fields)
    return [Operation(OBJECT, mode, schema, MATCHING_KEYS) for mode in SYNC_MODES]


def duplicate_mode(sync_mode: str, duplicate_handling: str) -> str:
    """overwrite_duplicates for a stream: replace → yes (explicit only), else by sync mode."""
    if duplicate_handling == "replace":
        return "yes"
    return MODES[sync_mode]
