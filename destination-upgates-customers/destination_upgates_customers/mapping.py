"""Record mapping presets (the shapes this project produces) and custom field templates.

Every mapper returns the connector's own payload shape, which the handler turns into the API's:

    {"email": "a@b.cz", "newsletter_accept": "yes", "metas": {"cartum_user_id": "42"}}

Template targets: `email`, `newsletter_accept`, `metas.<custom-field key>`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from destination_common import MappingRegistry, field_templates, get_path

Mapper = Callable[[Mapping[str, Any]], dict]

DEFAULT_USER_ID_META = "cartum_user_id"
DEFAULT_CARD_META = "loyalty_card_number"
DEFAULT_CODE_META = "loyalty_code"


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value  # wrong type: validation reports it


def _email(record: Mapping[str, Any]) -> Any:
    email = record.get("email")
    if email is None:
        email = get_path(record, "login.email")
    return _text(email)


def _meta_key(mapping: Mapping[str, Any], name: str, default: str) -> str:
    value = mapping.get(name)
    return str(value).strip() if isinstance(value, str) and value.strip() else default


def cartum_user(config: Mapping[str, Any]) -> Mapper:
    """A Cartum user (source-cartum's `users`: id, email, newsletter_subscription, …): its id
    into the custom field `user_id_meta_key`; with `newsletter_from_subscription` on, its
    newsletter_subscription 1/0 as newsletter_accept yes/no."""
    mapping = config.get("mapping") or {}
    id_key = _meta_key(mapping, "user_id_meta_key", DEFAULT_USER_ID_META)
    newsletter = bool(mapping.get("newsletter_from_subscription", False))

    def mapper(record: Mapping[str, Any]) -> dict:
        out: dict[str, Any] = {"email": _email(record), "metas": {}}
        if record.get("id") is not None:
            out["metas"][id_key] = _text(record["id"])
        if newsletter and record.get("newsletter_subscription") is not None:
            sub = record["newsletter_subscription"]
            out["newsletter_accept"] = "yes" if str(sub).strip().lower() in ("1", "true", "yes") else "no"
        return out

    return mapper


def loyalty_customer(config: Mapping[str, Any]) -> Mapper:
    """A loyalty-platform customer (destination-loyalty-batch's input or its generated_ids file,
    customer_search answers): `email`, `card_number`, `code` → the custom fields
    `card_number_meta_key` and `code_meta_key` (empty values are not written)."""
    mapping = config.get("mapping") or {}
    card_key = _meta_key(mapping, "card_number_meta_key", DEFAULT_CARD_META)
    code_key = _meta_key(mapping, "code_meta_key", DEFAULT_CODE_META)

    def mapper(record: Mapping[str, Any]) -> dict:
        out: dict[str, Any] = {"email": _email(record), "metas": {}}
        for field, key in (("card_number", card_key), ("code", code_key)):
            value = _text(record.get(field))
            if value is not None:
                out["metas"][key] = value
        return out

    return mapper


def upgates_customer(config: Mapping[str, Any]) -> Mapper:
    """Already in target shape: `email` (or `login.email`, as source-upgates-customers reads
    it), `newsletter_accept`, `metas` as the API's array of `{key, value}` (per-language
    `values` are not written) or as an object {key: value}."""

    def mapper(record: Mapping[str, Any]) -> dict:
        out: dict[str, Any] = {"email": _email(record)}
        if record.get("newsletter_accept") is not None:
            out["newsletter_accept"] = record["newsletter_accept"]
        metas = record.get("metas")
        found: dict[str, Any] = {}
        if isinstance(metas, Mapping):
            found = {str(k): _text(v) for k, v in metas.items()}
        elif isinstance(metas, list):
            for meta in metas:
                if isinstance(meta, Mapping) and meta.get("key") and meta.get("value") is not None:
                    found[str(meta["key"])] = _text(meta.get("value"))
        out["metas"] = {k: v for k, v in found.items() if v is not None}
        return out

    return mapper


REGISTRY = MappingRegistry()
REGISTRY.register("cartum_user", cartum_user)
REGISTRY.register("loyalty_customer", loyalty_customer)
REGISTRY.register("upgates_customer", upgates_customer)


def build_mapper(config: Mapping[str, Any]) -> Mapper:
    """The configured mapping (default preset `cartum_user`) with its field templates on top
    (every template value is kept as text)."""
    mapping = config.get("mapping") or {"preset": "cartum_user"}
    templates = field_templates(mapping)
    types = {target: "string" for target in templates}
    return REGISTRY.build(mapping.get("preset") or "cartum_user", config=config, templates=templates, types=types)
