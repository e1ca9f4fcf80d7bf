"""Record mapping machinery: custom field templates through the CDK's sandboxed Jinja
interpolation, a preset registry, small shared parsers."""

from __future__ import annotations

import ast
import copy
import re
import sys
import time
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Callable, Iterable, Optional, Sequence

from destination_common.errors import config_error
from destination_common.outcomes import MappingError

Mapper = Callable[[Mapping[str, Any]], dict]

# Bounds of one field template's rendering (TemplateMapper's defaults).
MAX_OUTPUT_CHARS = 65_536
MAX_RENDER_SECONDS = 1.0
MAX_INT_BITS = 4_096  # ~1,233 decimal digits: no field holds a longer number

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


class TemplateRefused(Exception):
    """A template would exceed the rendering bounds (output length, number size, time)."""


_ENV: Any = None


class _OverBudget(Exception):
    pass


def deep_size(value: Any, budget: int) -> int:
    """The length `value` would have as text, roughly (strings by length, containers by their
    elements, shared elements counted each time they appear, as `str()` would write them),
    computed only up to `budget`: returns `budget + 1` as soon as it is exceeded, so a
    structure that doubles itself (`[x, x]` nested 40 times) costs nothing to measure."""
    memo: dict[int, int] = {}
    total = 0

    def size(v: Any) -> int:
        if isinstance(v, (str, bytes, bytearray)):
            return len(v)
        if v is None or isinstance(v, (bool, float)):
            return 5
        if isinstance(v, int):
            return v.bit_length() // 3 + 1
        key = id(v)
        if key in memo:
            return memo[key]
        if isinstance(v, Mapping):
            parts: Iterable[Any] = (x for kv in v.items() for x in kv)
        elif isinstance(v, (list, tuple, set, frozenset)):
            parts = v
        else:
            return 16
        n = 2
        for part in parts:
            n += size(part) + 2
            if n > budget:
                raise _OverBudget
        memo[key] = n
        return n

    try:
        total = size(value)
    except (_OverBudget, RecursionError):
        return budget + 1
    return total if total <= budget else budget + 1


def _template_env() -> Any:
    """The bounded sandbox, built on first use (the Jinja and declarative imports stay out of
    `spec`): Jinja's ImmutableSandboxedEnvironment (no attribute starting with `_`, no
    method that changes a dict or list, e.g. `record.clear()`) with the CDK's filters and
    macros (the same ones as declarative manifests), without `range`, `lipsum`, `cycler`,
    `joiner`, `namespace`; the operators `*`, `**`, `+`, `%` and the str methods and filters
    that widen text check the size of their result BEFORE computing it (Jinja would otherwise
    fold `7 ** 1000000000` while compiling: intercepted operators are never folded); `None`
    renders as an empty string (so a genuine text "None" stays "None")."""
    global _ENV
    if _ENV is not None:
        return _ENV
    from airbyte_cdk.sources.declarative.interpolation.filters import filters as cdk_filters
    from airbyte_cdk.sources.declarative.interpolation.macros import macros as cdk_macros
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def too_big(what: str) -> SecurityError:
        return SecurityError(f"{what} (templates are bounded to {MAX_OUTPUT_CHARS} characters and {MAX_INT_BITS}-bit numbers)")

    def check_len(n: int, what: str = "the text would be too long") -> None:
        if n > MAX_OUTPUT_CHARS:
            raise too_big(what)

    def check_format(fmt: Any, *args: Any, **kwargs: Any) -> None:
        """Widths written in a format (`%99999d`, `{:>99999}`) or given to it as arguments
        (`%*d`, `{:{w}}`) are bounded."""
        if isinstance(fmt, str):
            for digits in re.findall(r"\d+", fmt):
                if len(digits) > 6 or int(digits) > MAX_OUTPUT_CHARS:
                    raise too_big("a format width is too large")
        values = list(args) + list(kwargs.values())
        if len(values) == 1 and isinstance(values[0], (tuple, list)):
            values = list(values[0])
        elif len(values) == 1 and isinstance(values[0], Mapping):
            values = list(values[0].values())
        text = str(fmt)
        width_from_args = re.search(r"%[-+ #0]*(?:\*|\d*\.\*)", text) or re.search(r"\{[^{}]*:[^{}]*\{", text)
        if width_from_args and any(is_int(v) and abs(v) > MAX_OUTPUT_CHARS for v in values):
            raise too_big("a format width is too large")

    def sized(value: Any) -> Optional[int]:
        if isinstance(value, (str, bytes, list, tuple)):
            return deep_size(value, MAX_OUTPUT_CHARS)
        return None

    def bounded_value(value: Any) -> Any:
        """Wraps every `{% set %}` / `{% with %}` value: no name holds more than the bound."""
        if deep_size(value, MAX_OUTPUT_CHARS) > MAX_OUTPUT_CHARS:
            raise too_big("the value would be too long")
        return value

    def finalize(value: Any) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str) and deep_size(value, MAX_OUTPUT_CHARS) > MAX_OUTPUT_CHARS:
            raise too_big("the value would be too long")
        return value

    def is_int(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**", "+", "%"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(left, (int, float)) and isinstance(right, (int, float)):
                if is_int(left) and is_int(right) and right > 0 and abs(left) > 1:
                    if right * max(1, abs(left).bit_length() - 1) > MAX_INT_BITS:
                        raise too_big("the number would be too large")
            elif operator == "*":
                if is_int(left) and is_int(right):
                    if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                        raise too_big("the number would be too large")
                else:
                    for seq, times in ((left, right), (right, left)):
                        n = sized(seq)
                        if n is not None and is_int(times):
                            check_len(n * max(times, 0))
            elif operator == "+":
                a, b = sized(left), sized(right)
                if a is not None and b is not None:
                    check_len(a + b)
            elif operator == "%" and isinstance(left, str):
                check_format(left, right)
            return super().call_binop(context, operator, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
            target = getattr(__obj, "__wrapped__", __obj)
            owner = getattr(target, "__self__", None)
            name = getattr(target, "__name__", "")
            if isinstance(owner, str):
                if name in ("format", "format_map"):
                    check_format(owner, *args, **kwargs)
                elif name in ("ljust", "rjust", "center", "zfill") and args and is_int(args[0]):
                    check_len(args[0])
                elif name == "expandtabs":
                    size = args[0] if args else kwargs.get("tabsize", 8)
                    if is_int(size):
                        check_len(owner.count("\t") * size + len(owner))
                elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                    old, new = args[0], args[1]
                    count = owner.count(old) if old else len(owner) + 1
                    if len(args) > 2 and is_int(args[2]) and args[2] >= 0:
                        count = min(count, args[2])
                    check_len(len(owner) + count * max(0, len(new) - len(old)))
            return super().call(__context, __obj, *args, **kwargs)

    env = BoundedEnvironment(finalize=finalize)
    env.globals[_BOUNDED_VALUE] = bounded_value
    env.filters.update(**cdk_filters)
    env.globals.update(**cdk_macros)
    for name in ("range", "lipsum", "cycler", "joiner", "namespace"):
        env.globals.pop(name, None)

    def guard_filter(name: str, check: Callable[..., None]) -> None:
        original = env.filters.get(name)
        if original is None:
            return

        skip = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0  # context/env first

        def guarded(*args: Any, **kwargs: Any) -> Any:
            check(*args[skip:], **kwargs)
            return original(*args, **kwargs)

        for attr in ("jinja_pass_arg",):  # keep Jinja's pass_context/pass_eval_context marks
            if hasattr(original, attr):
                setattr(guarded, attr, getattr(original, attr))
        env.filters[name] = guarded

    def width_arg(position: int, key: str) -> Callable[..., None]:
        def check(*args: Any, **kwargs: Any) -> None:
            width = args[position] if len(args) > position else kwargs.get(key)
            if is_int(width):
                check_len(width)
            elif isinstance(width, str):
                check_len(len(width))
        return check

    def center_check(value: Any, width: Any = 80) -> None:
        if is_int(width):
            check_len(width)

    def indent_check(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> None:
        w = width if is_int(width) else len(width) if isinstance(width, str) else 0
        check_len(len(str(s)) + str(s).count("\n") * max(0, w) + max(0, w))

    def replace_check(*args: Any, **kwargs: Any) -> None:
        values = list(args)
        if len(values) >= 3:
            s, old, new = str(values[0]), str(values[1]), str(values[2])
            count = s.count(old) if old else len(s) + 1
            check_len(len(s) + count * max(0, len(new) - len(old)))

    def format_check(value: Any, *args: Any, **kwargs: Any) -> None:
        check_format(value, *args, **kwargs)

    def count_check(value: Any, count: Any = 1, *args: Any, **kwargs: Any) -> None:
        if is_int(count):  # batch(linecount, fill_with) pads with fill_with, slice(slices) loops
            check_len(count)

    guard_filter("center", center_check)
    guard_filter("indent", indent_check)
    guard_filter("replace", replace_check)
    guard_filter("format", format_check)
    guard_filter("wordwrap", width_arg(1, "width"))
    def regex_replace_check(value: Any, regex: Any = "", replacement: Any = "", *args: Any, **kwargs: Any) -> None:
        text, repl = str(value), str(replacement)
        count = 0
        for _ in re.finditer(str(regex), text):
            count += 1
            if count > MAX_OUTPUT_CHARS:
                break
        grows = len(repl) + (len(text) if "\\" in repl else 0)  # a backreference may copy the text
        check_len(len(text) + count * grows)

    guard_filter("regex_replace", regex_replace_check)
    guard_filter("batch", count_check)
    guard_filter("slice", count_check)
    _ENV = env
    return env


_BOUNDED_VALUE = "bounded_value__"


def _bound_assignments(ast_root: Any) -> Any:
    """Wrap the value of every `{% set x = … %}` and `{% with x = … %}` in the environment's
    size guard, so that no name can double itself past the bound."""
    from jinja2 import nodes

    def guard(node: Any) -> Any:
        return nodes.Call(nodes.Name(_BOUNDED_VALUE, "load"), [node], [], None, None, lineno=node.lineno)

    for node in ast_root.find_all((nodes.Assign, nodes.With)):
        if isinstance(node, nodes.Assign):
            node.node = guard(node.node)
        else:
            node.values = [guard(v) for v in node.values]
    return ast_root


_FORBIDDEN_NODES = {
    "AssignBlock": "set blocks ({% set x %}…{% endset %})",
    "FilterBlock": "filter blocks",
    "Macro": "macro definitions",
    "CallBlock": "call blocks",
    "Include": "include",
    "Import": "import",
    "FromImport": "import",
    "Extends": "extends",
    "NSRef": "namespace assignments",
}


def _check_template_ast(ast_root: Any) -> Optional[str]:
    """What a field template may not contain (recursion, accumulation across loop rounds,
    other templates), or None."""
    from jinja2 import nodes

    for node in ast_root.find_all(nodes.Node):
        kind = type(node).__name__
        if kind in _FORBIDDEN_NODES:
            return _FORBIDDEN_NODES[kind]
        if kind == "For" and getattr(node, "recursive", False):
            return "recursive loops"
    return None


def _has_loop(ast_root: Any) -> bool:
    from jinja2 import nodes

    return any(True for _ in ast_root.find_all(nodes.For))


class _Deadline:
    """Abort rendering after `seconds` of Python work inside the template's code (loops):
    a trace function on the template's frames only, checked every 256 line events. C-level
    work (big numbers, long strings) is bounded by the environment's size checks instead."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds
        self.events = 0

    def local(self, frame: Any, event: str, arg: Any) -> Any:
        self.events += 1
        if not self.events & 255 and time.monotonic() > self.end:
            raise TemplateRefused(f"rendering took longer than {self.seconds:g} s")
        return self.local

    def __call__(self, frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename == "<template>":
            return self.local
        return None


def _looks_secret(name: str) -> bool:
    n = name.lower().replace("-", "_")
    words = ("password", "passwd", "secret", "token", "apikey", "api_key", "access_key", "private_key", "credential")
    return any(w in n for w in words) or n in ("pin", "key") or n.endswith("_pin")


def secret_paths_of(spec: Any) -> list[list[str]]:
    """The config paths of the fields a spec marks `airbyte_secret` (a connector's whole
    spec as dict, its `connectionSpecification`, or the ConnectorSpecification that
    `Destination.spec(logger)` returns), as the CDK computes them."""
    if not spec:
        return []
    from airbyte_cdk.utils.airbyte_secrets_utils import get_secret_paths

    if hasattr(spec, "connectionSpecification"):  # the CDK's ConnectorSpecification (Destination.spec())
        spec = spec.connectionSpecification
    schema = spec.get("connectionSpecification", spec)
    return get_secret_paths(schema.get("properties", {}))


def config_for_templates(config: Optional[Mapping[str, Any]], secret_paths: Iterable[Any] = ()) -> dict:
    """A deep copy of `config` without what templates must not read: the fields at
    `secret_paths` (the spec's `airbyte_secret` fields; dotted strings or lists of keys), any
    value equal to a secret registered with the CDK's filter (the CDK registers the
    config's airbyte_secret values before check/write; add_secret adds runtime ones), and
    any field whose name says it is a credential (password, secret, token, api_key,
    access_key, private_key, credential, pin)."""
    from destination_common.http import _registered

    out = copy.deepcopy(dict(config or {}))
    for path in secret_paths or ():
        parts = path.split(".") if isinstance(path, str) else list(path)
        _drop_path(out, parts)
    registered = set(_registered())

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: clean(v)
                for k, v in value.items()
                if not _looks_secret(str(k)) and not (isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) in registered)
            }
        if isinstance(value, list):
            return [clean(v) for v in value if not (isinstance(v, str) and v in registered)]
        return value

    return clean(out)


def _drop_path(obj: Any, parts: list[str]) -> None:
    if not parts:
        return
    if isinstance(obj, list):
        for item in obj:  # a oneOf / array of objects: the path applies to each
            _drop_path(item, parts)
        return
    if not isinstance(obj, dict) or parts[0] not in obj:
        return
    if len(parts) == 1:
        obj.pop(parts[0], None)
    else:
        _drop_path(obj[parts[0]], parts[1:])


def _literal(result: str, valid: Optional[tuple[type, ...]]) -> Any:
    """The CDK's interpolation semantics: a rendered Python literal becomes its value ("3" →
    3, "[1, 2]" → list, "True" → True), unless `valid` types refuse it. "None" stays text:
    a None value renders as "" here, so a rendered "None" was a genuine text."""
    if result == "None":
        return result
    try:
        evaluated = ast.literal_eval(result)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return result
    if (not valid and not isinstance(evaluated, complex)) or (valid and isinstance(evaluated, valid)):
        return evaluated
    return result


class TemplateMapper:
    """Custom field templates: `{"target.field": "{{ record.a.b }}", ...}`.

    Each template is rendered in a bounded Jinja sandbox with the CDK's filters and macros
    (the same as declarative manifests) with `record` (a deep copy of the record's data) and
    `config` (the config WITHOUT its secrets: see `config_for_templates`) in scope. Missing
    values give `None` (null), never an error. Dotted target names build nested objects
    (`discount_card.discount`). `types` (target → `string`, `integer`, `number`, `boolean`,
    `any`) keeps a rendered value of that type: a phone `+380…` stays a string for a `string`
    field; without a type, Python literals are evaluated as the CDK does (`"3"` → 3). Values
    that render to None or "" are left out unless `keep_nulls`; a genuine text "None" stays.

    Bounds: one template's output is at most `max_output_chars` characters, its numbers at
    most MAX_INT_BITS bits, its loops at most `max_render_seconds` of work; a template that
    exceeds them rejects that record (MappingError with the reason). Templates may not
    define macros or call blocks, assign namespaces, use recursive loops or include other
    templates (config_error at construction).

    Construction raises a config_error AirbyteTracedException for a template with a syntax
    error, a forbidden construct, an unknown name, or one that the bounds refuse even
    without a record (`{{ 7 ** 1000000000 }}`: refused at once, so `check` fails on it);
    rendering errors (e.g. a filter on the wrong type) raise MappingError, so the record is
    rejected with a reason and the sync goes on.
    """

    def __init__(
        self,
        templates: Mapping[str, Any],
        *,
        config: Optional[Mapping[str, Any]] = None,
        types: Optional[Mapping[str, str]] = None,
        keep_nulls: bool = False,
        secret_paths: Iterable[Any] = (),
        spec: Any = None,
        max_output_chars: int = MAX_OUTPUT_CHARS,
        max_render_seconds: float = MAX_RENDER_SECONDS,
    ) -> None:
        self.templates = dict(templates)
        self.config = config_for_templates(config, [*secret_paths_of(spec), *(secret_paths or ())])
        self.types = dict(types or {})
        self.keep_nulls = keep_nulls
        self.max_output_chars = min(int(max_output_chars), MAX_OUTPUT_CHARS) if max_output_chars else MAX_OUTPUT_CHARS
        self.max_render_seconds = float(max_render_seconds)
        self._compiled: dict[str, Any] = {}
        self._loops: dict[str, bool] = {}
        for target, template in self.templates.items():
            if isinstance(template, str):
                self._prepare(target, target, template)

    def _prepare(self, key: str, target: str, template: str) -> None:
        """Parse, check, compile and probe one template under `key` (config_error naming
        `target` when it is refused)."""
        from jinja2 import TemplateSyntaxError, meta

        env = _template_env()
        known = {"record", "config", *(g for g in env.globals if g != _BOUNDED_VALUE)}
        try:
            parsed = env.parse(template)
        except TemplateSyntaxError as exc:
            raise config_error(f"The mapping template for field '{target}' is not valid Jinja: {exc.message}. Fix it in the record mapping.")
        forbidden = _check_template_ast(parsed)
        if forbidden:
            raise config_error(
                f"The mapping template for field '{target}' uses {forbidden}, which field templates do not allow. "
                "Write the field as an expression with filters."
            )
        unknown = sorted(meta.find_undeclared_variables(parsed) - known)
        if unknown:
            raise config_error(
                f"The mapping template for field '{target}' uses unknown names: {', '.join(unknown)}. "
                "Templates see `record` (the record's data) and `config` (without its secrets)."
            )
        try:
            code = env.compile(_bound_assignments(parsed), name=None, filename="<template>")
            self._compiled[key] = env.template_class.from_code(env, code, env.make_globals(None), None)
        except TemplateSyntaxError as exc:
            raise config_error(f"The mapping template for field '{target}' is not valid Jinja: {exc.message}. Fix it in the record mapping.")
        self._loops[key] = _has_loop(parsed)
        # A probe without a record: what the bounds refuse for any record (a constant
        # 7 ** 1000000000) fails here, i.e. in `check`, not on every record of the sync.
        try:
            self._render_text(key, {})
        except TemplateRefused as exc:
            self._compiled.pop(key, None)
            raise config_error(f"The mapping template for field '{target}' is refused: {exc}. Fix it in the record mapping.")
        except Exception:  # noqa: BLE001 - other errors depend on the record's data
            pass

    def _render_text(self, target: str, record: Any) -> Optional[str]:
        from jinja2.exceptions import SecurityError, UndefinedError

        template = self._compiled[target]
        context = {"config": self.config, "record": record}
        tracer = _Deadline(self.max_render_seconds) if self._loops.get(target) else None
        previous = sys.gettrace() if tracer else None
        if tracer:
            sys.settrace(tracer)
        try:
            pieces: list[str] = []
            size = 0
            for piece in template.generate(context):
                size += len(piece)
                if size > self.max_output_chars:
                    raise TemplateRefused(f"the value would be longer than {self.max_output_chars} characters")
                pieces.append(piece)
            return "".join(pieces)
        except UndefinedError:
            return None
        except SecurityError as exc:
            if "bounded to" in str(exc):
                raise TemplateRefused(str(exc).split(" (templates are")[0]) from None
            raise
        except (MemoryError, RecursionError, OverflowError) as exc:
            raise TemplateRefused(f"{type(exc).__name__} while rendering") from None
        finally:
            if tracer:
                sys.settrace(previous)

    def _render(self, template: Any, record: Any, target: str, key: Optional[str] = None) -> Any:
        if not isinstance(template, str):
            return template  # a constant (number, bool, null) given in the config
        valid = _TYPES.get(self.types.get(target, ""), None) or None
        try:
            text = self._render_text(target if key is None else key, record)
        except TemplateRefused as exc:
            raise MappingError(f"template for '{target}' refused: {exc}") from None
        except TypeError as exc:
            raise MappingError(f"template for '{target}' failed: a value has the wrong type for the expression ({_short(exc)})") from None
        except Exception as exc:  # noqa: BLE001 - any template failure rejects this record only
            raise MappingError(f"template for '{target}' failed: {type(exc).__name__}: {_short(exc)}") from None
        if text is None or text == "":
            return None
        value = _literal(text, valid)
        if valid == (str,) and value is not None and not isinstance(value, str):
            value = str(value)
        return value

    def render(self, template: Any, record: Mapping[str, Any], target: str = "") -> Any:
        """One field's value for `record` (rendered on a deep copy of it), typed as `target`;
        `template` may be one not configured (it is checked and compiled like the others, and
        a refusal is a config_error)."""
        key = target
        if isinstance(template, str) and self.templates.get(target) != template:
            key = "\0" + template
            if key not in self._compiled:
                self._prepare(key, target, template)
        return self._render(template, copy.deepcopy(record), target, key)

    def __call__(self, record: Mapping[str, Any]) -> dict:
        data = copy.deepcopy(record)  # a template never changes what the loop keeps
        out: dict = {}
        for target, template in self.templates.items():
            value = self._render(template, data, target)
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
        secret_paths: Iterable[Any] = (),
        spec: Any = None,
    ) -> Mapper:
        """The named preset, or `custom` → TemplateMapper(templates). Templates given with a
        preset override/add the preset's fields (rendered on the original record). Presets get
        the whole config; templates get it without secrets (`secret_paths`, `spec`: see
        TemplateMapper)."""
        if name == "custom":
            if not templates:
                raise config_error("The record mapping is 'custom' but no field templates are given. Add at least one template.")
            return TemplateMapper(templates, config=config, types=types, secret_paths=secret_paths, spec=spec)
        if name not in self._presets:
            raise config_error(f"Unknown record mapping preset '{name}'. Use one of: {', '.join(self.names + ['custom'])}.")
        preset = self._presets[name](config)
        if not templates:
            return preset
        overrides = TemplateMapper(templates, config=config, types=types, keep_nulls=False, secret_paths=secret_paths, spec=spec)

        def combined(record: Mapping[str, Any]) -> dict:
            out = preset(record)
            for key, value in overrides(record).items():
                if isinstance(value, dict) and isinstance(out.get(key), dict):
                    out[key] = {**out[key], **value}
                else:
                    out[key] = value
            return out

        return combined
