"""Record mapping machinery: custom field templates through the CDK's sandboxed Jinja
interpolation, a preset registry, small shared parsers."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Callable, Mapping, Optional, Sequence

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.interpolation.jinja import JinjaInterpolation
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from jinja2 import TemplateSyntaxError

from destination_common.outcomes import MappingError

Mapper = Callable[[Mapping[str, Any]], dict]

_JINJA = JinjaInterpolation()

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "any": (),
}


def get_path(record: Any, path: str | Sequence[str], default: Any = None) -> Any:
    """`record["a"]["b"]` for path `a.b` (or ["a", "b"]); `default` when any step is missing."""
    parts = path.split(".") if isinstance(path, str) else list(path)
    cur = record
    for part in parts:
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return default
    return cur


def set_path(target: dict, path: str, value: Any) -> None:
    """`target["a"]["b"] = value` for path `a.b`, creating the inner objects."""
    parts = path.split(".")
    cur = target
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


class TemplateMapper:
    """Custom field templates: `{"target.field": "{{ record.a.b }}", ...}`.

    Each template is rendered with the CDK's sandboxed Jinja interpolation (the same engine
    as declarative manifests: its filters and macros work) with `record` (the record's data)
    and `config` in scope. Missing values give `None` (null), never an error. Dotted target
    names build nested objects (`discount_card.discount`). `types` (target → `string`,
    `integer`, `number`, `boolean`, `any`) keeps a rendered value of that type: a phone
    `+380…` stays a string for a `string` field; without a type, Python literals are
    evaluated as the CDK does (`"3"` → 3). Values that render to None are left out unless
    `keep_nulls`.

    Construction raises a config_error AirbyteTracedException for a template with a syntax
    error; rendering errors (e.g. a filter on the wrong type) raise MappingError, so the
    record is rejected with a reason and the sync goes on.
    """

    def __init__(
        self,
        templates: Mapping[str, Any],
        *,
        config: Optional[Mapping[str, Any]] = None,
        types: Optional[Mapping[str, str]] = None,
        keep_nulls: bool = False,
    ) -> None:
        self.templates = dict(templates)
        self.config = dict(config or {})
        self.types = dict(types or {})
        self.keep_nulls = keep_nulls
        for target, template in self.templates.items():
            if not isinstance(template, str):
                continue
            try:
                _JINJA._find_undeclared_variables(template)
            except TemplateSyntaxError as exc:
                msg = f"The mapping template for field '{target}' is not valid Jinja: {exc.message}. Fix it in the record mapping."
                raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)

    def render(self, template: Any, record: Mapping[str, Any], target: str = "") -> Any:
        if not isinstance(template, str):
            return template  # a constant (number, bool, null) given in the config
        valid = _TYPES.get(self.types.get(target, ""), None)
        try:
            value = _JINJA.eval(template, self.config, default=None, valid_types=valid or None, record=record)
        except Exception as exc:  # noqa: BLE001 - any template failure rejects this record only
            raise MappingError(f"template for '{target}' failed: {type(exc).__name__}: {_short(exc)}") from None
        if isinstance(value, str) and value == template and ("{{" in template or "{%" in template):
            # The CDK's JinjaInterpolation answers a TypeError while rendering (e.g. "a" + 1)
            # with the raw template text: never send that as data.
            raise MappingError(f"template for '{target}' failed: a value has the wrong type for the expression")
        if value == "None" or value == "":
            return None
        if valid == (str,) and value is not None and not isinstance(value, str):
            value = str(value)
        return value

    def __call__(self, record: Mapping[str, Any]) -> dict:
        out: dict = {}
        for target, template in self.templates.items():
            value = self.render(template, record, target)
            if value is None and not self.keep_nulls:
                continue
            set_path(out, target, value)
        return out


def _short(exc: Exception) -> str:
    text = str(exc)
    # Jinja's undeclared-variable error quotes the whole context (config included): cut it.
    text = text.split(" Context:")[0]
    return text[:200]


_TIME = r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_LOCAL_TIME = r"(?: \d{1,2}:\d{2}(?::\d{2})?)?"
_DATE_FORMS = (
    (re.compile(rf"^(\d{{4}})-(\d{{1,2}})-(\d{{1,2}}){_TIME}$"), (1, 2, 3)),  # ISO 8601 date or date-time
    (re.compile(rf"^(\d{{4}})/(\d{{1,2}})/(\d{{1,2}}){_TIME}$"), (1, 2, 3)),  # YYYY/MM/DD
    (re.compile(rf"^(\d{{1,2}})\.\s?(\d{{1,2}})\.\s?(\d{{4}}){_LOCAL_TIME}$"), (3, 2, 1)),  # DD.MM.YYYY
    (re.compile(r"^(\d{4})(\d{2})(\d{2})$"), (1, 2, 3)),  # YYYYMMDD
)
_SLASH_DAY_FIRST = (re.compile(rf"^(\d{{1,2}})/(\d{{1,2}})/(\d{{4}}){_LOCAL_TIME}$"), (3, 2, 1))  # DD/MM/YYYY


def normalise_date(value: Any, *, slash_day_first: bool = True) -> Optional[str]:
    """A date as `YYYY-MM-DD`, from a date/datetime, an ISO 8601 date or date-time (`T` or
    space, with or without seconds, fraction and offset: the date part as written is kept,
    not shifted to UTC), `YYYY/MM/DD`, `DD.MM.YYYY` (also `DD. MM. YYYY`, also with a time),
    `YYYYMMDD`, and `DD/MM/YYYY` unless `slash_day_first=False` (then that ambiguous form is
    refused, as for an API whose own documentation refuses to guess day/month order).
    None, "" or blanks → None. Anything else, or an impossible date, raises ValueError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    forms = _DATE_FORMS + ((_SLASH_DAY_FIRST,) if slash_day_first else ())
    for pattern, (yi, mi, di) in forms:
        m = pattern.match(text)
        if m:
            try:
                return date(int(m.group(yi)), int(m.group(mi)), int(m.group(di))).isoformat()
            except ValueError:
                break
    raise ValueError(f"'{value}' is not a date (expected YYYY-MM-DD, DD.MM.YYYY or ISO 8601)")


def is_iso_date(value: Any) -> bool:
    """True for a valid calendar date written exactly `YYYY-MM-DD`."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        return False
    return True


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def is_email(value: Any) -> bool:
    return isinstance(value, str) and bool(EMAIL_RE.match(value))


def field_templates(mapping: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The `field_templates` of a `mapping` config object as {field: template}: the spec's
    array of `{"field", "template"}` rows (a later row for the same field wins); an object
    {field: template} is taken as it is. None/absent → {}."""
    rows = (mapping or {}).get("field_templates") or []
    if isinstance(rows, Mapping):
        return {str(k): v for k, v in rows.items()}
    return {str(r["field"]): r["template"] for r in rows}


class MappingRegistry:
    """Presets by name plus the custom-template mapper; `build(name, templates, config)` gives
    the mapping function for a stream. Connectors register their presets:

        registry = MappingRegistry()
        registry.register("cartum_user", lambda config: map_cartum_user)
        mapper = registry.build(config["mapping"]["preset"], templates=..., config=config)
    """

    def __init__(self) -> None:
        self._presets: dict[str, Callable[[Mapping[str, Any]], Mapper]] = {}

    def register(self, name: str, factory: Callable[[Mapping[str, Any]], Mapper]) -> None:
        self._presets[name] = factory

    @property
    def names(self) -> list[str]:
        return list(self._presets)

    def build(
        self,
        name: str,
        *,
        config: Mapping[str, Any],
        templates: Optional[Mapping[str, Any]] = None,
        types: Optional[Mapping[str, str]] = None,
    ) -> Mapper:
        """The named preset, or `custom` → TemplateMapper(templates). Templates given with a
        preset override/add the preset's fields (rendered on the original record)."""
        if name == "custom":
            if not templates:
                msg = "The record mapping is 'custom' but no field templates are given. Add at least one template."
                raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
            return TemplateMapper(templates, config=config, types=types)
        if name not in self._presets:
            msg = f"Unknown record mapping preset '{name}'. Use one of: {', '.join(self.names + ['custom'])}."
            raise AirbyteTracedException(message=msg, internal_message=msg, failure_type=FailureType.config_error)
        preset = self._presets[name](config)
        if not templates:
            return preset
        overrides = TemplateMapper(templates, config=config, types=types, keep_nulls=False)

        def combined(record: Mapping[str, Any]) -> dict:
            out = preset(record)
            for key, value in overrides(record).items():
                if isinstance(value, dict) and isinstance(out.get(key), dict):
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
            return out

        return combined
