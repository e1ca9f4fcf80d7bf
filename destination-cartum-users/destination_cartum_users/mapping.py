"""Record mapping presets: "already a Cartum user", "UPgates customer"; custom templates come
from destination_common's TemplateMapper."""

from __future__ import annotations

import json
from importlib import resources
from collections.abc import Callable, Mapping
from typing import Any

from destination_common import MappingError, MappingRegistry, field_templates

from destination_cartum_users.phones import at_path
from destination_cartum_users.schema import B2B_KEYS, template_types

# Preset `upgates_customer`: UPgates writes an ISO 3166-1 alpha-2 code, Cartum shows a country
# name. (destination_common.phones reads the other way, a name or code -> region, for phones.)
COUNTRY_NAMES = {
    "AT": "Austria", "BE": "Belgium", "BG": "Bulgaria", "BY": "Belarus", "CH": "Switzerland",
    "CY": "Cyprus", "CZ": "Czech Republic", "DE": "Germany", "DK": "Denmark", "EE": "Estonia",
    "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "United Kingdom", "GR": "Greece",
    "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IS": "Iceland", "IT": "Italy",
    "LI": "Liechtenstein", "LT": "Lithuania", "LU": "Luxembourg", "LV": "Latvia", "MD": "Moldova",
    "MT": "Malta", "NL": "Netherlands", "NO": "Norway", "PL": "Poland", "PT": "Portugal",
    "RO": "Romania", "RS": "Serbia", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
    "UA": "Ukraine", "US": "United States", "CA": "Canada", "TR": "Turkey", "IL": "Israel",
    "GE": "Georgia", "AM": "Armenia", "AZ": "Azerbaijan", "KZ": "Kazakhstan", "BA": "Bosnia and Herzegovina",
    "ME": "Montenegro", "MK": "North Macedonia", "AL": "Albania", "CN": "China", "JP": "Japan",
}

CARTUM_FIELDS = ("title", "email", "phone", "country", "city", "address", "note")
# taken as they are (validation reports a wrong type)
PASSED_FIELDS = ("discount_card", "newsletter_subscription", "customer_group_id", "balance", "balance_currency",
                 "site_link", "company", "role")
# Nested fields of the shapes this project produces (UPgates customer, Cartum user, product
# prices). A warehouse, or PyAirbyte's DuckDB cache, hands them back as JSON text (issue 12.5).
NESTED_FIELDS = ("login", "communication", "addresses", "company", "groups", "metas", "manager",
                 "discount_card", "price_levels")


def _json_value(value: Any) -> Any:
    """`value` decoded when it is JSON text of an object or an array, else as it is."""
    if isinstance(value, str):
        text = value.strip()
        if text[:1] in ("{", "[") and text[-1:] in ("}", "]"):
            try:
                decoded = json.loads(text)
            except ValueError:
                return value
            if isinstance(decoded, (dict, list)):
                return decoded
    return value


def _may_be_json(value: Any) -> bool:
    """Whether `_json_value` could decode `value` (cheap test: a text that starts with { or [)."""
    return isinstance(value, str) and value.lstrip()[:1] in ("{", "[")


def _has_json_child(value: dict) -> bool:
    """Whether some child of `value` is `_may_be_json` (a loop: no generator per record)."""
    for child in value.values():
        if isinstance(child, str) and child.lstrip()[:1] in ("{", "["):
            return True
    return False


def decode_nested(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """The record with its known nested fields (and their direct children) decoded from JSON
    text; the record itself when nothing needed decoding. Other strings are never touched
    (a note "[VIP]" stays text). (Runs for every record: an object whose children hold no
    JSON text is not copied.)"""
    changed: dict[str, Any] = {}
    for name in NESTED_FIELDS:
        value = record.get(name)
        if value is None:
            continue
        decoded = _json_value(value)
        if isinstance(decoded, dict) and _has_json_child(decoded):
            inner = {k: _json_value(v) for k, v in decoded.items()}
            if any(inner[k] is not decoded[k] for k in inner):
                decoded = inner
        if decoded is not value:
            changed[name] = decoded
    return {**record, **changed} if changed else record


def _text(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return value  # wrong type: validation reports it


def cartum_user(config: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], dict]:
    """users/export (seed 001) or users/import shaped records → users/import payload."""

    def mapper(record: Mapping[str, Any]) -> dict:
        out: dict[str, Any] = {}
        get = record.get
        for name in CARTUM_FIELDS:
            value = get(name)
            if value is not None:
                out[name] = value.strip() if type(value) is str else _text(value)
        for name in PASSED_FIELDS:
            value = get(name)
            if value is not None:
                out[name] = value
        manager = record.get("manager")
        if isinstance(manager, Mapping) and manager.get("id") is not None:
            out["manager_id"] = manager["id"]
        elif record.get("manager_id") is not None:
            out["manager_id"] = record["manager_id"]
        return out

    return mapper


def _group_keys(groups: Any) -> list[str]:
    """Ids and names of UPgates `groups`: an object {id: name}, or an array of ids or of
    {id, name} objects (API-NOTES §1: accept both)."""
    keys: list[str] = []
    if isinstance(groups, Mapping):
        for gid, name in groups.items():
            keys += [str(gid), str(name)]
    elif isinstance(groups, list):
        for g in groups:
            if isinstance(g, Mapping):
                keys += [str(g.get("id")), str(g.get("name"))]
            elif g is not None:
                keys.append(str(g))
    return keys


def _steps(path: str) -> tuple[str, ...]:
    steps = tuple(path.split("."))
    assert not any(step.isdigit() for step in steps), path  # object keys only: see phones.at_path
    return steps


COMPANY_NAME = _steps("company.name")
LOGIN_EMAIL = _steps("login.email")
COMMUNICATION_PHONE = _steps("communication.phone")
BILLING_COUNTRY = _steps("addresses.billing.country_id")
BILLING_TEXTS = (("city", _steps("addresses.billing.city")), ("address", _steps("addresses.billing.street")))


def upgates_customer(config: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], dict]:
    mapping = config.get("mapping") or {}
    table = [
        (str(row["upgates"]).strip(), int(row["customer_group_id"]))
        for row in mapping.get("group_mapping") or []
    ]
    default_group = mapping.get("default_customer_group_id")
    countries = dict(COUNTRY_NAMES)
    countries.update({str(r["code"]).upper(): r["name"] for r in mapping.get("country_names") or []})

    def mapper(record: Mapping[str, Any]) -> dict:
        out: dict[str, Any] = {}
        company = _text(at_path(record, COMPANY_NAME)) or ""
        names = " ".join(p for p in (_text(record.get("firstname")) or "", _text(record.get("surname")) or "") if p)
        if record.get("type") == "company" and company:
            title = company
        else:
            title = names or company
        if title:
            out["title"] = title
        email = _text(at_path(record, LOGIN_EMAIL)) or _text(record.get("email"))
        if email:
            out["email"] = email
        phone = _text(at_path(record, COMMUNICATION_PHONE))
        if phone:
            out["phone"] = phone
        code = at_path(record, BILLING_COUNTRY)
        if code:
            out["country"] = countries.get(str(code).upper(), str(code))
        for target, steps in BILLING_TEXTS:
            value = _text(at_path(record, steps))
            if value:
                out[target] = value
        accept = record.get("newsletter_accept")
        if accept in ("yes", "no", "excluded"):
            out["newsletter_subscription"] = 1 if accept == "yes" else 0
        if company:
            out["company"] = company
        candidates = _group_keys(record.get("groups"))
        pricelist = record.get("pricelist")
        group = None
        for key, gid in table:
            if key in candidates or (pricelist is not None and key == str(pricelist)):
                group = gid
                break
        if group is None:
            group = default_group
        if group is not None:
            out["customer_group_id"] = int(group)
        return out

    return mapper


REGISTRY = MappingRegistry()
REGISTRY.register("cartum_user", cartum_user)
REGISTRY.register("upgates_customer", upgates_customer)


def templates_of(config: Mapping[str, Any]) -> dict[str, str]:
    return field_templates(config.get("mapping"))


def connector_spec() -> dict[str, Any]:
    """spec.json: its `airbyte_secret` fields are what templates never see."""
    return json.loads(resources.files("destination_cartum_users").joinpath("spec.json").read_text(encoding="utf-8"))


def build_mapper(config: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], dict]:
    """The configured mapping, B2B fields dropped when the shop has no B2B module. Templates
    see the config without its secret fields (the password)."""
    mapping = config.get("mapping") or {"preset": "cartum_user"}
    b2b = bool(config.get("b2b", True))
    inner = REGISTRY.build(
        mapping.get("preset", "cartum_user"),
        config=config,
        templates=templates_of(config),
        types=template_types(b2b=True),
        spec=connector_spec(),
    )

    def map_decoded(record: Mapping[str, Any]) -> dict:
        """The mapping of a record `decode_nested` already decoded."""
        out = inner(record)
        if not b2b:
            for key in B2B_KEYS:
                out.pop(key, None)
        if isinstance(out.get("email"), str):
            out["email"] = out["email"].strip()
        return out

    def mapper(record: Mapping[str, Any]) -> dict:
        if not isinstance(record, Mapping):
            raise MappingError("the record is not an object")
        return map_decoded(decode_nested(record))

    # the users handler decodes each record once for the mapping and its phone policy
    mapper.map_decoded = map_decoded  # type: ignore[attr-defined]
    return mapper
