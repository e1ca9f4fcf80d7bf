"""Record mapping: the presets (a source record → a loyalty customer `{header: value}`), the
`mapping` configuration, the account's custom fields, and `build_mapper`; custom templates come
from destination_common's TemplateMapper.

Presets return plain dicts keyed by customers_batch header names; custom fields may be keyed
by their `custom_field_N` name or by their label (resolved against the account's field list
by `resolve_custom_fields`). Values are left as they come; cleaning happens later.
"""

from __future__ import annotations

import json
import logging
from importlib.resources import files
from typing import Any, Callable, Mapping, Optional

from destination_common import MappingError, MappingRegistry, config_error, field_templates, get_path

from destination_loyalty_batch.rows import STANDARD_FIELDS, is_header

_STANDARD = frozenset(STANDARD_FIELDS)

logger = logging.getLogger("airbyte")

Preset = Callable[[Mapping[str, Any]], dict]


def _first(record: Mapping[str, Any], *paths: str) -> Any:
    for path in paths:
        value = get_path(record, path)
        if value not in (None, ""):
            return value
    return None


def split_name(title: Any) -> tuple[Optional[str], Optional[str]]:
    """`"Jane Doe"` → ("Jane", "Doe"); `"Mary Ann Smith"` → ("Mary", "Ann Smith"); one word →
    first name only. White space runs count as one."""
    words = str(title or "").split()
    if not words:
        return None, None
    return words[0], (" ".join(words[1:]) or None)


def cartum_user(record: Mapping[str, Any]) -> dict:
    """A Cartum (Horoshop B2B) `users/export` user: id, title, email, phone, city, address, country."""
    user_id = _first(record, "id", "user_id")
    if user_id is None:
        raise MappingError("the Cartum user has no id (needed as the customer code)")
    first, last = split_name(record.get("title"))
    return {
        "code": str(user_id),
        "first_name": first,
        "last_name": last,
        "email": _first(record, "email"),
        "phone": _first(record, "phone"),
        "city": _first(record, "city"),
        "street1": _first(record, "address"),
        "country": _first(record, "country"),
    }


def upgates_customer(record: Mapping[str, Any]) -> dict:
    """An UPgates v2 customer, nested as the API gives it or flattened: customer_id, firstname,
    surname, login.email (or email), communication.phone (or phone), billing address."""
    customer_id = _first(record, "customer_id", "id")
    if customer_id is None:
        raise MappingError("the UPgates customer has no customer_id (needed as the customer code)")
    billing = "addresses.billing"
    return {
        "code": str(customer_id),
        "first_name": _first(record, "firstname", f"{billing}.firstname"),
        "last_name": _first(record, "surname", f"{billing}.surname"),
        "email": _first(record, "login.email", "email"),
        "phone": _first(record, "communication.phone", "phone"),
        "street1": _first(record, f"{billing}.street", "billing.street", "street"),
        "city": _first(record, f"{billing}.city", "billing.city", "city"),
        "state": _first(record, f"{billing}.state", "billing.state", "state"),
        "postal_code": _first(record, f"{billing}.zip_code", "billing.zip_code", "zip_code", "postal_code"),
        "country": _first(record, f"{billing}.country_id", "billing.country_id", "country_id", "country"),
    }


def loyalty_shape(record: Mapping[str, Any]) -> dict:
    """Already in loyalty shape: header-named keys are taken as they are; other keys are kept
    too (they may be custom field labels) and checked by `resolve_custom_fields`. A nested
    `custom_fields` object {name or label: value} is flattened."""
    out = {k: v for k, v in record.items() if k != "custom_fields"}
    nested = record.get("custom_fields")
    if isinstance(nested, Mapping):
        out.update(nested)
    return out


PRESETS: dict[str, Preset] = {
    "cartum_user": cartum_user,
    "upgates_customer": upgates_customer,
    "loyalty": loyalty_shape,
}
PRESET_TITLES = {
    "cartum_user": "Cartum user",
    "upgates_customer": "UPgates customer",
    "loyalty": "Already in loyalty shape",
    "custom": "Custom templates",
}


class MappingConfigError(ValueError):
    """A `mapping` value of the wrong shape (the destination turns it into a config error)."""


DEFAULT_MAPPING = {"preset": "loyalty"}
# The top-level keys of the first drafts, accepted with a warning in 0.1.x/0.2.0, removed in 0.2.1.
LEGACY_KEYS = ("record_mapping", "field_templates")


def mapping_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `mapping` object of the configuration (the shape destination-cartum-users uses):
    `{"preset": "cartum_user"|"upgates_customer"|"loyalty"|"custom", "field_templates":
    [{"field", "template"}]}`; absent → the `loyalty` preset.

    The earlier top-level `record_mapping` (preset name) and `field_templates` ({field:
    template}) keys were removed in 0.2.1: without `mapping` they are a configuration error
    that says how to write them (never silently the `loyalty` preset, which would send the
    records unmapped); beside a `mapping` they are ignored, with a warning."""
    legacy = [k for k in LEGACY_KEYS if config.get(k) not in (None, "", {})]
    mapping = config.get("mapping")
    if mapping is not None:
        if not isinstance(mapping, Mapping):
            raise MappingConfigError(
                f"The record mapping must be an object such as {{\"preset\": \"loyalty\"}}, not {type(mapping).__name__}."
            )
        if legacy:
            logger.warning(
                f"Configuration keys {', '.join(legacy)} are deprecated and ignored because 'mapping' is set: "
                "remove them (the preset and field templates now live in 'mapping')."
            )
        return dict(mapping)
    if not legacy:
        return dict(DEFAULT_MAPPING)
    preset = str(config.get("record_mapping") or "loyalty")
    raise MappingConfigError(
        f"Configuration keys {', '.join(legacy)} were removed in version 0.2.1: "
        f"write the mapping as \"mapping\": {{\"preset\": \"{preset}\""
        + (', "field_templates": [{"field": ..., "template": ...}]' if config.get("field_templates") not in (None, "", {}) else "")
        + "} as in destination-cartum-users."
    )


class CustomFields:
    """The account's custom fields (from manage_fields list): name ↔ label."""

    def __init__(self, fields: list[Mapping[str, Any]]) -> None:
        self.fields = [dict(f) for f in fields]
        self.names = {str(f["name"]) for f in fields}
        self.by_label = {str(f.get("label", "")).strip().lower(): str(f["name"]) for f in fields if f.get("label")}

    def resolve(self, key: str) -> Optional[str]:
        if key in self.names:
            return key
        return self.by_label.get(key.strip().lower())


def resolve_custom_fields(customer: Mapping[str, Any], fields: Optional[CustomFields], *, strict: bool) -> dict:
    """Keys → header names. Standard headers stay; a custom field given by name or label becomes
    its `custom_field_N`; a `custom_field_N` the account does not have, or (with `strict`) any
    other unknown key, raises MappingError. Without `strict` (presets that return extra source
    fields) unknown keys are dropped."""
    out: dict = {}
    for key, value in customer.items():
        if key in _STANDARD:
            out[key] = value
            continue
        name = fields.resolve(key) if fields is not None else (key if is_header(key) else None)
        if name is None:
            if strict or is_header(key):
                raise MappingError(f"'{key}' is neither a customer field nor a custom field of this account")
            continue
        if name in out and out[name] not in (None, "") and value not in (None, ""):
            raise MappingError(f"custom field '{name}' is given twice (by name and by label)")
        out[name] = value
    return out


def connector_spec() -> dict[str, Any]:
    return json.loads(files("destination_loyalty_batch").joinpath("spec.json").read_text(encoding="utf-8"))


def build_mapper(config: Mapping[str, Any], fields: Optional[CustomFields]) -> tuple[Any, bool]:
    """The record → customer function for the configured mapping, and whether unknown keys
    are an error (custom templates, whose targets the user named) or dropped (presets)."""
    try:
        mapping = mapping_config(config)
    except MappingConfigError as exc:
        raise config_error(str(exc)) from None
    name = str(mapping.get("preset") or "loyalty")
    templates = field_templates(mapping)
    for target in templates:
        if target in STANDARD_FIELDS or is_header(target) and (fields is None or target in fields.names):
            continue
        if fields is not None and fields.resolve(target):
            continue
        known = ", ".join(sorted(fields.names)) if fields else "custom_field_N"
        raise config_error(
            f"The field template target '{target}' is neither a customers_batch field nor a custom field of this account "
            f"(custom fields: {known}). Rename it in the record mapping."
        )
    registry = MappingRegistry()
    for preset, fn in PRESETS.items():
        registry.register(preset, lambda _config, fn=fn: fn)
    # templates see the config without the spec's airbyte_secret fields (the API key)
    mapper = registry.build(
        name, config=config, templates=templates, types={t: "string" for t in templates}, spec=connector_spec()
    )
    return mapper, name == "custom"
