"""One way to point a CDK standard suite (`SourceTestSuiteBase`, `DestinationTestSuiteBase`) at
an emulator, for sources and destinations alike.

The CDK's standard tests read the configs that a connector's `acceptance-test-config.yml` names
under `secrets/` (git-ignored) at test time. A suite starts its emulator once per class and
writes those files from the checked-in `integration_tests/*.json` with the running emulator's
address (and whatever else the emulator decides, e.g. its login) set:

    from harness.standard import EmulatorSuite

    class TestDestinationCartumUsers(EmulatorSuite, DestinationTestSuiteBase):
        connector = DestinationCartumUsers

        @classmethod
        def start_emulator(cls):
            return CartumEmulator(users=5, orders=0)

        @classmethod
        def emulator_config(cls, api):
            return {"shop_url": api.url}

`EmulatorSuite` (put it before the CDK base) adds two autouse fixtures: image tests are skipped
without `--connector-image`, and a class-scoped one starts the emulator and writes the configs
(`serve_test_configs`). A source whose constructor takes the config uses `scenario_config`:

    @classmethod
    def create_connector(cls, scenario):
        return SourceCartum(config=scenario_config(cls, scenario))

`airbyte-cdk connector test` (the CDK's CLI) writes its own bare suite to
`<connector>/.tmp/integration_tests/test_airbyte_standards.py` and runs it with the connector
folder as root: a connector-root `conftest.py` gives that module the same emulator with

    globals().update(cli_suite_fixtures(ROOT, lambda: LoyaltyEmulator(), lambda api: {"api_url": api.url}))

(pytest.ini's `norecursedirs` holds `.tmp`: the repository's own run does not collect it.)

The lower-level pieces stay usable on their own: `write_test_configs(root, shop_url=api.url)`
and `skip_image_test_without_image(request)` (formerly destination_common.testing, same
behaviour), and `serve_test_configs(root, emulator, ...)` as a context manager.

Test equipment: connectors never import it.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, ClassVar, Iterable, Iterator, Mapping, TypeVar

import pytest

TEST_CONFIGS = (("sample_config.json", "config.json"), ("invalid_config.json", "invalid_config.json"))

E = TypeVar("E")


def write_test_configs(connector_root: Path, files: Iterable[tuple[str, str]] = TEST_CONFIGS, **overrides: Any) -> Path:
    """Write `secrets/<target>` from `integration_tests/<source>` for each (source, target)
    pair, with `overrides` (e.g. the emulator's URL) set; returns the secrets folder."""
    root = Path(connector_root)
    secrets = root / "secrets"
    secrets.mkdir(exist_ok=True)
    for source, target in files:
        config = json.loads((root / "integration_tests" / source).read_text())
        config.update(overrides)
        (secrets / target).write_text(json.dumps(config))
    return secrets


def skip_image_test_without_image(request: Any) -> None:
    """Skip a test marked `image_tests` when no `--connector-image` was given."""
    if request.node.get_closest_marker("image_tests") and not request.config.getoption("--connector-image"):
        pytest.skip("image test: build the image and pass --connector-image")


@contextmanager
def serve_test_configs(
    connector_root: Path,
    emulator: E,
    overrides: Mapping[str, Any] | Callable[[E], Mapping[str, Any]] | None = None,
    files: Iterable[tuple[str, str]] = TEST_CONFIGS,
) -> Iterator[E]:
    """Start `emulator` (an emulator not yet started), write the connector's `secrets/*.json`
    from its `integration_tests/*.json` with `overrides` set (a mapping, or a function of the
    running emulator returning one, e.g. `lambda api: {"api_url": api.url}`), yield the running
    emulator and stop it afterwards. The written files stay (the CDK reads them lazily)."""
    with emulator as api:  # type: ignore[attr-defined]
        values = overrides(api) if callable(overrides) else (overrides or {})
        write_test_configs(connector_root, files, **dict(values))
        yield api


def scenario_config(suite: Any, scenario: Any) -> dict[str, Any]:
    """The config dict of a CDK `ConnectorTestScenario` (or `{}` when there is none), read
    relative to the suite's connector root: what a source's `create_connector` passes on."""
    from airbyte_cdk.test.models import ConnectorTestScenario

    return dict(
        (scenario or ConnectorTestScenario()).get_config_dict(
            connector_root=suite.get_connector_root_dir(), empty_if_missing=True
        )
    )


class EmulatorSuite:
    """Mixin for a CDK standard test class (list it before the CDK base class).

    Override `start_emulator()` (return an emulator, not started) and `emulator_config(api)`
    (the values to set in every written config, from the running emulator); `config_files`
    names the (integration_tests/<source>, secrets/<target>) pairs. The running emulator is the
    class-scoped fixture `suite_emulator`.
    """

    config_files: ClassVar[Iterable[tuple[str, str]]] = TEST_CONFIGS

    @classmethod
    def start_emulator(cls) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError(f"{cls.__name__} must return its emulator from start_emulator()")

    @classmethod
    def emulator_config(cls, api: Any) -> Mapping[str, Any]:
        return {"api_url": api.url}

    @pytest.fixture(autouse=True)
    def _image_tests_need_an_image(self, request: pytest.FixtureRequest) -> None:
        """The CDK builds a Python connector's image only inside the Airbyte monorepo; here the
        image comes from the connector's Dockerfile and is passed with --connector-image."""
        skip_image_test_without_image(request)

    @classmethod
    @contextmanager
    def serve_emulator(cls) -> Iterator[Any]:
        """Start the suite's emulator and write its configs (what the fixture below does)."""
        root = cls.get_connector_root_dir()  # type: ignore[attr-defined]
        with serve_test_configs(root, cls.start_emulator(), cls.emulator_config, cls.config_files) as api:
            yield api

    @pytest.fixture(autouse=True, scope="class")
    def suite_emulator(self) -> Iterator[Any]:
        with type(self).serve_emulator() as api:
            yield api


def cli_suite_fixtures(
    connector_root: Path,
    start_emulator: Callable[[], Any],
    emulator_config: Callable[[Any], Mapping[str, Any]] = lambda api: {"api_url": api.url},
    files: Iterable[tuple[str, str]] = TEST_CONFIGS,
) -> dict[str, Any]:
    """The fixtures a connector-root conftest.py adds (`globals().update(...)`) so that the suite
    `airbyte-cdk connector test` generates under `<connector_root>/.tmp/` runs against an
    emulator as an `EmulatorSuite` does: for the modules under `.tmp/` only, the emulator
    started once per module with secrets/*.json written for it, and image tests skipped without
    `--connector-image`. Every other test of the folder is left alone."""
    root = Path(connector_root).resolve()
    cli_dir = root / ".tmp"

    def from_the_cli(request: pytest.FixtureRequest) -> bool:
        return Path(str(request.path)).resolve().is_relative_to(cli_dir)

    @pytest.fixture(autouse=True, scope="module")
    def _cli_suite_emulator(request: pytest.FixtureRequest) -> Iterator[Any]:
        if not from_the_cli(request):
            yield None
            return
        with serve_test_configs(root, start_emulator(), emulator_config, files) as api:
            yield api

    @pytest.fixture(autouse=True)
    def _cli_suite_image_tests(request: pytest.FixtureRequest) -> None:
        if from_the_cli(request):
            skip_image_test_without_image(request)

    return {"_cli_suite_emulator": _cli_suite_emulator, "_cli_suite_image_tests": _cli_suite_image_tests}


def run_connector_test_cli(connector_root: Path) -> dict[str, str]:
    """Run `airbyte-cdk connector test` as a connector's README says (from its folder, outside
    this pytest run) and return each standard test's outcome by name ("passed", "failed",
    "skipped") from the JUnit file the CLI writes. Asserts the CLI's exit code is 0."""
    import os
    import subprocess
    import sys
    import xml.etree.ElementTree as ET

    cli = Path(sys.executable).with_name("airbyte-cdk")
    junit = Path(connector_root) / "build" / "test-results" / "standard-tests-junit.xml"
    junit.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "XDIST"))}
    done = subprocess.run([str(cli), "connector", "test"], cwd=connector_root, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    outcome: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome[case.get("name", "")] = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
    assert "failed" not in outcome.values(), outcome
    return outcome


# What `airbyte-cdk connector test` must run against the emulator (passed, not skipped).
CLI_MUST_PASS = {
    "source": ("test_spec", "test_check['config' Test Scenario]", "test_check['invalid_config' Test Scenario]",
               "test_discover['config' Test Scenario]", "test_basic_read['config' Test Scenario]"),
    "destination": ("test_check['config' Test Scenario]", "test_check['invalid_config' Test Scenario]",
                    "test_config_matches_spec['config' Test Scenario]"),
}


def assert_connector_test_cli_passes(connector_root: Path) -> None:
    """`run_connector_test_cli`, then each test of CLI_MUST_PASS for the connector's kind
    (its folder name starts with source- or destination-) passed rather than skipped."""
    outcome = run_connector_test_cli(connector_root)
    kind = Path(connector_root).name.split("-", 1)[0]
    for name in CLI_MUST_PASS[kind]:
        assert outcome.get(name) == "passed", (name, outcome)
