"""Issue 11 items 3 and 5 in destination-common's templates: no secrets in scope, bounded
rendering, a copy of the record, a genuine "None" kept."""

import json
import subprocess
import sys
import time

import pytest
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.airbyte_secrets_utils import add_to_secrets
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from harness.secrets_scan import assert_no_secrets

from destination_common import MappingError, MappingRegistry, RejectLog, StreamHandler, WriteLoop
from destination_common.mapping import MAX_OUTPUT_CHARS, TemplateMapper, config_for_templates, secret_paths_of

PASSWORD = "Pw-HSEC-template-5tT"


def _nested_times(expr, n):
    for _ in range(n):
        expr = f"[{expr}] * 2"
    return expr

API_KEY = "Key-HSEC-template-9wW"
TOKEN = "Tok-HSEC-template-2zZ"
SPEC = {
    "connectionSpecification": {
        "type": "object",
        "properties": {
            "shop_url": {"type": "string"},
            "login": {"type": "string"},
            "pass_phrase": {"type": "string", "airbyte_secret": True},
            "auth": {"type": "object", "oneOf": [{"properties": {"code": {"type": "string", "airbyte_secret": True}}}]},
        },
    }
}
CONFIG = {
    "shop_url": "https://shop.example.com",
    "login": "shop-login",
    "pass_phrase": PASSWORD,  # secret by the spec only: the name says nothing
    "auth": {"code": TOKEN},
    "api_key": API_KEY,  # secret by its name
    "mapping": {"preset": "custom"},
}


@pytest.mark.parametrize(
    "template",
    [
        "{{ config.pass_phrase }}",
        "{{ config.api_key }}",
        "{{ config.auth.code }}",
        "{{ config }}",
        "{{ config | tojson }}",
        "{{ config.items() | list }}",
        "{% for k in config %}{{ config[k] }}{% endfor %}",
    ],
)
def test_templates_never_see_the_configs_secrets(template):
    mapper = TemplateMapper({"note": template}, config=CONFIG, spec=SPEC, types={"note": "string"})
    out = mapper({"email": "a@b.cz"})
    assert_no_secrets([PASSWORD, API_KEY, TOKEN], texts=[json.dumps(out)])


def test_templates_still_see_the_plain_config_fields():
    mapper = TemplateMapper({"src": "{{ config.shop_url }} {{ config.login }}"}, config=CONFIG, spec=SPEC)
    assert mapper({}) == {"src": "https://shop.example.com shop-login"}


def test_a_value_registered_as_secret_is_hidden_without_a_spec():
    """At run time the CDK registers the config's airbyte_secret values before check/write."""
    add_to_secrets("Registered-HSEC-7")
    assert config_for_templates({"odd_name": "Registered-HSEC-7", "keep": 1}) == {"keep": 1}


def test_secret_paths_of_the_spec_and_the_registry_passes_them_on():
    assert sorted(secret_paths_of(SPEC)) == [["auth", "code"], ["pass_phrase"]]
    reg = MappingRegistry()
    reg.register("plain", lambda config: (lambda r: {"all": dict(config)}))
    mapper = reg.build("plain", config=CONFIG, spec=SPEC, templates={"note": "{{ config }}"}, types={"note": "string"})
    out = mapper({})
    assert out["all"]["pass_phrase"] == PASSWORD  # presets are code and get the whole config
    assert_no_secrets([PASSWORD, API_KEY, TOKEN], texts=[out["note"]])


def test_a_huge_constant_is_refused_at_construction_within_a_second():
    """`{{ 7 ** 1000000000 }}` hung check: Jinja folds constants while compiling. Run in a
    subprocess so that a regression fails by timeout instead of hanging the suite."""
    code = (
        "from destination_common.mapping import TemplateMapper\n"
        "from airbyte_cdk.utils.traced_exception import AirbyteTracedException\n"
        "try:\n    TemplateMapper({'x': '{{ 7 ** 1000000000 }}'})\nexcept AirbyteTracedException as e:\n"
        "    print(e.failure_type.value, e.message)\n"
    )
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.startswith("config_error"), proc.stderr[-2000:]
    assert "'x'" in proc.stdout and "too large" in proc.stdout
    # The refusal itself (not the interpreter start) is immediate:
    t0 = time.monotonic()
    with pytest.raises(AirbyteTracedException) as info:
        TemplateMapper({"x": "{{ 7 ** 1000000000 }}"})
    assert time.monotonic() - t0 < 1.0 and info.value.failure_type == FailureType.config_error
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "template, record",
    [
        ("{{ record.first_name * 20000000 }}", {"first_name": "Jan"}),
        ("{{ record.first_name.ljust(100000000) }}", {"first_name": "Jan"}),
        ("{{ record.first_name | replace('', record.pad) | replace('', record.pad) | replace('', record.pad) }}",
         {"first_name": "J" * 100, "pad": "x" * 40}),
        ("{{ record.n ** record.e }}", {"n": 7, "e": 1000000000}),
        ("{% set x = record.s %}" + "{% set x = x ~ x %}" * 40 + "{{ x | length }}", {"s": "ab"}),
        ("{% with x = record.s ~ record.s %}{% with y = x ~ x %}{{ y }}{% endwith %}{% endwith %}",
         {"s": "y" * (MAX_OUTPUT_CHARS // 3)}),
        ("{{ record.s | list }}", {"s": "y" * 100_000}),
        ("{{ '%*d' % (record.w, 1) }}", {"w": 10**9}),
        ("{{ '{:{w}}'.format(1, w=record.w) }}", {"w": 10**9}),
        ("{{ '%*d' | format(record.w, 1) }}", {"w": 10**9}),
        ("{{ record.s | batch(record.n, 'x') | list }}", {"s": "ab", "n": 10**8}),
        ("{{ record.s | slice(record.n) | list | length }}", {"s": "ab", "n": 10**9}),
        ("{{ record.s | wordwrap(record.n) }}", {"s": "ab", "n": 10**9}),
        ("{{ record.s | regex_replace('', record.pad) | regex_replace('', record.pad) | regex_replace('', record.pad) }}",
         {"s": "J" * 100, "pad": "x" * 40}),
        ("{{ record.s | regex_replace('(.)', '\\\\1\\\\1') | regex_replace('(.)', '\\\\1\\\\1') }}", {"s": "J" * 40_000}),
        ("{{ record.first_name ~ record.first_name }}", {"first_name": "J" * (MAX_OUTPUT_CHARS // 2 + 1)}),
        ("{% for a in record.s %}{% for b in record.s %}{% for c in record.s %}{{ a }}{% endfor %}{% endfor %}{% endfor %}",
         {"s": "x" * 200}),
        ("{% for a in record.s %}{% for b in record.s %}{% for c in record.s %}{% for d in record.s %}{% endfor %}"
         "{% endfor %}{% endfor %}{% endfor %}", {"s": "x" * 500}),
    ],
)
def test_a_record_over_the_bounds_is_rejected_with_a_reason(template, record):
    mapper = TemplateMapper({"note": template}, max_render_seconds=0.5)
    with pytest.raises(MappingError) as info:
        mapper(record)
    assert "template for 'note' refused" in info.value.reason


@pytest.mark.parametrize(
    "template, words",
    [
        ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", "macro"),
        ("{% set ns = namespace(x='a') %}{% for i in record.s %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}", "namespace"),
        ("{% for x in record.s recursive %}{{ loop(x) }}{% endfor %}", "recursive"),
        ("{{ '%0999999999d' % 1 }}", "format width"),
        ("{{ record.first_name | center(100000000) }}", "too long"),  # refused whatever the record
        ("{% set x %}{{ record.s }}{% endset %}{{ x }}", "set blocks"),
        ("{% filter upper %}{{ record.s }}{% endfilter %}", "filter blocks"),
        ("{% set x = [record.s] %}" + "{% set x = [x, x] %}" * 45 + "{{ x }}", "too long"),  # shared, doubled
        ("{{ " + _nested_times("record.s", 40) + " }}", "too long"),
        ("{{ '{:>999999999}'.format(1) }}", "format width"),
        ("{{ stream_state }}", "unknown names"),
    ],
)
def test_constructs_that_cannot_be_bounded_are_config_errors(template, words):
    with pytest.raises(AirbyteTracedException) as info:
        TemplateMapper({"note": template})
    assert info.value.failure_type == FailureType.config_error and words in info.value.message


def test_templates_render_on_a_copy_and_the_rejects_file_keeps_the_record(tmp_path):
    class Handler(StreamHandler):
        def __init__(self):
            self.mapper = TemplateMapper({"a": "{{ record.clear() }}", "b": "{{ record.tags.append(1) }}"})

        def map(self, data):
            return self.mapper(data)

        def key(self, payload, data):
            return data.get("email")

        def send(self, items):  # pragma: no cover - every record is rejected in map()
            raise AssertionError

    path = tmp_path / "r.jsonl"
    loop = WriteLoop({"users": Handler()}, batch_size=10, rejects=RejectLog(str(path)))
    from airbyte_cdk.models import AirbyteMessage, AirbyteRecordMessage, Type

    data = {"email": "a@b.cz", "tags": ["x"], "name": "Jan"}
    msg = AirbyteMessage(type=Type.RECORD, record=AirbyteRecordMessage(stream="users", data=data, emitted_at=0))
    list(loop.run([msg]))
    (line,) = [json.loads(x) for x in path.read_text().splitlines()]
    assert line["record"] == {"email": "a@b.cz", "tags": ["x"], "name": "Jan"}
    assert line["key"] == "a@b.cz" and "unsafe" in line["reason"]


def test_a_template_cannot_change_the_callers_record_even_where_the_sandbox_allows():
    mapper = TemplateMapper({"a": "{{ record.inner }}"})
    record = {"inner": {"k": [1, 2]}}
    out = mapper(record)
    out["a"]["k"].append(3)
    assert record == {"inner": {"k": [1, 2]}}


@pytest.mark.parametrize("types", [{}, {"surname": "string"}])
def test_a_genuine_none_text_stays_none(types):
    mapper = TemplateMapper({"surname": "{{ record.surname }}", "title": "Mr {{ record.surname }}"}, types=types)
    assert mapper({"surname": "None"}) == {"surname": "None", "title": "Mr None"}
    assert mapper({"surname": None}) == {"title": "Mr "}  # a null renders as nothing, not "None"
    assert mapper({}) == {"title": "Mr "}


def test_plain_templates_keep_their_results():
    mapper = TemplateMapper(
        {
            "n": "{{ record.n * 3 }}",
            "p": "{{ 2 ** 10 }}",
            "d": "{{ record.x | default(100000) }}",
            "s": "{{ record.a ~ '-' ~ record.b }}",
            "v": "{% set u = record.a | upper %}{% with w = u ~ u %}{{ w }}{% endwith %}",
            "l": "{% for t in record.tags %}{{ t }}{% if not loop.last %},{% endif %}{% endfor %}",
            "f": "{{ '{} {}'.format(record.a, 100000000) }}|{{ '%s-%d' % (record.a, 5) }}",
            "b": "{{ record.tags | batch(1) | list | length }}",
            "r": "{{ record.a | regex_replace('x', 'yy') }}",
        }
    )
    out = mapper({"n": 7, "a": "x", "b": "y", "tags": ["a", "b"]})
    assert out == {"n": 21, "p": 1024, "d": 100000, "s": "x-y", "v": "XX", "l": "a,b", "f": "x 100000000|x-5", "b": 2, "r": "yy"}


def test_secret_paths_of_a_connector_specification_object():
    """What Destination.spec(logger) returns."""
    from airbyte_cdk.models import ConnectorSpecification

    spec = ConnectorSpecification(connectionSpecification=SPEC["connectionSpecification"])
    assert sorted(secret_paths_of(spec)) == [["auth", "code"], ["pass_phrase"]]


def test_render_of_a_template_not_configured_is_checked_like_the_others():
    mapper = TemplateMapper({"a": "{{ record.a }}"}, types={"z": "string"})
    assert mapper.render("{{ record.a }}-{{ record.b }}", {"a": 1, "b": 2}, "z") == "1-2"
    assert mapper.render(5, {}, "k") == 5
    with pytest.raises(AirbyteTracedException):
        mapper.render("{{ 7 ** 1000000000 }}", {}, "z")
