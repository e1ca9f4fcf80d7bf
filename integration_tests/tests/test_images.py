"""Image tier: build the five connector images and run them the way users and the Airbyte
platform run them, against the emulators on the host, comparing every answer with the same
command run from the virtualenv.

- `scripts/images.sh` builds the images (engine chosen and set up by
  `scripts/container-engine.sh`: docker where a daemon answers, else podman).
- Config, catalog and state are files in a folder mounted read-only at /config, named as the
  platform names them (source_config.json, source_catalog.json, input_state.json,
  destination_config.json, destination_catalog.json); the container runs with host
  networking, so it reaches the emulators on 127.0.0.1.
- Compared with the virtualenv run: SPEC, CONNECTION_STATUS, CATALOG / DESTINATION_CATALOG,
  records (without emitted_at), final states and error traces of a read, the STATE echo of a
  write, the requests each run made to its emulator. LOG lines are not compared (they carry
  timings); an image must still not print an error the venv run does not.

A connector whose folder does not exist yet is skipped; one that exists must build and pass.
Deselect the tier with `-m "not image_tests"`.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import json
import os
import re
import shlex
import subprocess
import tempfile
import threading
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml
from packaging.markers import Marker

from harness.runner import RunResult, parse_messages, run_connector
from harness.runner import script as script_path

# The first test also sets up the engine and builds the images: on a fresh machine (podman
# installed with apt, base image made with debootstrap) that alone can pass pytest.ini's 600 s.
pytestmark = [pytest.mark.image_tests, pytest.mark.timeout(2400), pytest.mark.xdist_group("integration_tests/test_images.py")]

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["source-upgates-customers", "source-cartum"]
DESTINATIONS = ["destination-cartum-users", "destination-loyalty-batch", "destination-upgates-customers"]
CONNECTORS = SOURCES + DESTINATIONS
BUILD_TIMEOUT = 1500
# Our own image namespace (Docker Hub's `airbyte/` is Airbyte's, where we cannot publish).
NAMESPACE = "commerceconnectors"


# ---- engine and images ------------------------------------------------------------------
@dataclass
class Engine:
    kind: str
    command: list[str]
    run_flags: list[str]


def _parse_assignments(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        parts = shlex.split(line)
        if len(parts) == 1 and "=" in parts[0]:
            key, value = parts[0].split("=", 1)
            out[key] = value
    return out


@pytest.fixture(scope="session")
def engine(built: dict[str, Any]) -> Engine:
    # After `built`: images.sh sets the engine up itself (the base image is made while the
    # wheelhouse is collected), so this call only reads the settings.
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/container-engine.sh")], capture_output=True, text=True, timeout=1500
    )
    if proc.returncode != 0:
        pytest.fail(f"no container engine for the image tests:\n{proc.stderr[-3000:]}", pytrace=False)
    env = _parse_assignments(proc.stdout)
    return Engine(env["CONTAINER_KIND"], shlex.split(env["CONTAINER_ENGINE"]), shlex.split(env["CONTAINER_RUN_FLAGS"]))


@pytest.fixture(scope="session")
def built() -> dict[str, Any]:
    """Builds every connector that has a folder, once per session: {connector: image} and, for
    a failed build, the tail of its log."""
    present = [c for c in CONNECTORS if (ROOT / c).is_dir()]
    if not present:
        return {}
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts/images.sh"), *present], capture_output=True, text=True, timeout=BUILD_TIMEOUT
    )
    images = {}
    for line in proc.stdout.splitlines():
        name, _, image = line.partition("=")
        if name in present and image:
            images[name] = image
    return {"images": images, "stderr": proc.stderr}


def connector_dir(name: str) -> Path:
    path = ROOT / name
    if not path.is_dir():
        pytest.skip(f"{name}/ does not exist yet (its connector has not landed): nothing to build")
    return path


def image_of(name: str, built: dict[str, Any]) -> str:
    connector_dir(name)
    image = built.get("images", {}).get(name)
    if not image:
        pytest.fail(f"the image of {name} did not build:\n{built.get('stderr', '')[-4000:]}", pytrace=False)
    return image


def pyproject_version(name: str) -> str:
    return tomllib.loads((ROOT / name / "pyproject.toml").read_text())["project"]["version"]


def console_script(name: str) -> str:
    scripts = tomllib.loads((ROOT / name / "pyproject.toml").read_text())["project"].get("scripts", {})
    assert name in scripts, f"{name}/pyproject.toml declares no console script `{name}`"
    return name


# ---- running a container like the platform does ------------------------------------------
_RUN_IDS = itertools.count()
PLATFORM_FILES = {
    "source": {"config": "source_config.json", "catalog": "source_catalog.json", "state": "input_state.json"},
    "destination": {"config": "destination_config.json", "catalog": "destination_catalog.json"},
}


def run_image(
    engine: Engine,
    image: str,
    verb: str,
    *,
    kind: str,
    config: dict | None = None,
    catalog: dict | None = None,
    state: list | None = None,
    stdin: str | None = None,
    timeout: float = 300,
) -> RunResult:
    names = PLATFORM_FILES[kind]
    with tempfile.TemporaryDirectory(prefix="airbyte-image-run-") as tmp:
        # The image runs as a non-root user: the mounted files must be readable by it.
        os.chmod(tmp, 0o755)
        cname = f"image-test-{os.getpid()}-{next(_RUN_IDS)}"
        args = [*engine.command, "run", "--rm", "-i", "--name", cname, *engine.run_flags, "-v", f"{tmp}:/config:ro", image, verb]
        for key, value in (("config", config), ("catalog", catalog), ("state", state)):
            if value is None:
                continue
            path = Path(tmp) / names[key]
            path.write_text(json.dumps(value))
            path.chmod(0o644)
            args += [f"--{key}", f"/config/{names[key]}"]
        try:
            proc = subprocess.run(args, input=(stdin or "").encode(), capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            subprocess.run([*engine.command, "rm", "-f", cname], capture_output=True, timeout=60)
            raise
    messages, noise = parse_messages(proc.stdout.decode("utf-8", "replace").splitlines())
    return RunResult(args, proc.returncode, messages, proc.stderr.decode("utf-8", "replace"), noise)


def both(venv: Callable[[], RunResult], image: Callable[[], RunResult]) -> tuple[RunResult, RunResult]:
    """Runs the venv command and the container side by side (the tier's wall time halves)."""
    out: dict[str, Any] = {}

    def go(key: str, fn: Callable[[], RunResult]) -> None:
        try:
            out[key] = fn()
        except BaseException as exc:  # surfaced below
            out[key] = exc

    threads = [threading.Thread(target=go, args=(k, f)) for k, f in (("venv", venv), ("image", image))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for key in ("venv", "image"):
        if isinstance(out[key], BaseException):
            raise out[key]
    return out["venv"], out["image"]


def run_both(engine: Engine, name: str, image: str, kind: str, verb: str, **kw: Any) -> tuple[RunResult, RunResult]:
    venv, img = both(
        lambda: run_connector(console_script(name), verb, **kw),
        lambda: run_image(engine, image, verb, kind=kind, **kw),
    )
    detail = f"\n--- venv stderr:\n{venv.stderr[-1500:]}\n--- image stderr:\n{img.stderr[-1500:]}"
    assert img.returncode == venv.returncode, f"{name} {verb}: exit {img.returncode} in the image, {venv.returncode} in the venv{detail}"
    assert not img.stdout_noise, f"{name} {verb}: the image printed non-protocol lines on stdout: {img.stdout_noise[:5]}"
    return venv, img


# ---- normalising output for comparison ------------------------------------------------------
def strip_times(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_times(v) for k, v in value.items() if k != "emitted_at"}
    if isinstance(value, list):
        return [strip_times(v) for v in value]
    return value


def one(result: RunResult, kind: str) -> dict[str, Any]:
    found = result.of_type(kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}: {[m.get('type') for m in result.messages]}"
    return strip_times(found[0])


def records(result: RunResult) -> list[str]:
    return sorted(
        json.dumps([m["record"]["stream"], m["record"]["data"]], sort_keys=True, ensure_ascii=False)
        for m in result.of_type("RECORD")
    )


def final_states(result: RunResult) -> dict[str, Any]:
    """The last state per stream (or the global one), without timings, keyed by stream."""
    out: dict[str, Any] = {}
    for state in result.last_state() or []:
        if state.get("type") == "STREAM":
            desc = state["stream"]["stream_descriptor"]
            out[f"{desc.get('namespace')}/{desc['name']}"] = strip_times(state)
        else:
            out["__global__"] = strip_times(state)
    return out


def error_messages(result: RunResult) -> list[str]:
    return sorted(str(e.get("message")) for e in result.errors)


def error_logs(result: RunResult) -> list[str]:
    return sorted(m["log"]["message"] for m in result.of_type("LOG") if m["log"].get("level") in ("ERROR", "FATAL"))


def assert_same_spec(engine: Engine, name: str, image: str, kind: str) -> None:
    venv, img = run_both(engine, name, image, kind, "spec")
    assert one(img, "SPEC") == one(venv, "SPEC")


def assert_same_check(engine: Engine, name: str, image: str, kind: str, config: dict, secret: str) -> None:
    venv, img = run_both(engine, name, image, kind, "check", config=config)
    status = one(img, "CONNECTION_STATUS")
    assert status == one(venv, "CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED", status
    assert secret not in img.output


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())


# ---- image properties -------------------------------------------------------------------------
@pytest.mark.parametrize("name", CONNECTORS)
def test_image_is_built_as_airbyte_expects(engine: Engine, built: dict[str, Any], name: str) -> None:
    """Entrypoint = the console script, AIRBYTE_ENTRYPOINT the same command, non-root user,
    version label = pyproject version = metadata dockerImageTag, no pip / sources / caches."""
    image = image_of(name, built)
    version = pyproject_version(name)
    proc = subprocess.run([*engine.command, "image", "inspect", image], capture_output=True, text=True, check=True)
    config = json.loads(proc.stdout)[0]["Config"]
    env = dict(e.split("=", 1) for e in config.get("Env") or [])
    assert config["Entrypoint"] == [f"/airbyte/venv/bin/{name}"]
    assert env.get("AIRBYTE_ENTRYPOINT") == " ".join(config["Entrypoint"])
    assert config.get("User") not in (None, "", "root", "0"), "the image must not run as root"
    assert (config.get("Labels") or {}).get("io.airbyte.version") == version
    assert (config.get("Labels") or {}).get("io.airbyte.name") == f"{NAMESPACE}/{name}"

    check = (
        "set -e; u=$(id -u); [ \"$u\" != 0 ]; "
        "[ ! -e /airbyte/venv/bin/pip ]; [ ! -e /tmp/src ]; [ ! -e /tmp/lock ]; [ ! -e /tmp/shared.txt ]; "
        "[ ! -w /airbyte/venv ]; ! command -v gcc; ! ls -d /root/.cache/pip 2>/dev/null; "
        "/airbyte/venv/bin/python -c 'import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata[\"Name\"]: d.version for d in m.distributions()}))'"
    )
    proc = subprocess.run(
        [*engine.command, "run", "--rm", *engine.run_flags, "--entrypoint", "sh", image, "-c", check],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"image hygiene check failed:\n{proc.stdout}\n{proc.stderr}"
    installed = {norm(k): v for k, v in json.loads(proc.stdout.strip().splitlines()[-1]).items()}
    assert installed.pop(name) == version
    # Exactly the lock (requirements.lock.txt, exported from uv.lock), nothing more or less: the
    # image has the dependencies the tests ran with.
    if name.startswith("destination-"):
        assert installed.pop("destination-common") == pyproject_version("destination-common")
    assert installed == lock_pins(name)


def norm(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


def lock_pins(name: str, *, lock: str = "requirements.lock.txt") -> dict[str, str]:
    """{package: version} of a lock file, for Linux x86_64 / CPython 3.11 (the images, CI)."""
    env = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
           "platform_python_implementation": "CPython", "implementation_name": "cpython",
           "python_version": "3.11", "python_full_version": "3.11.0"}
    out = {}
    for line in (ROOT / name / lock).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;([^\\]*))?", line)
        if m and (not m.group(3) or Marker(m.group(3).strip()).evaluate(env)):
            out[norm(m.group(1))] = m.group(2)
    return out


def test_lock_files_are_current_and_the_tests_run_on_them() -> None:
    """`scripts/locks.sh check` passes (no pyproject.toml changed without `make lock`), and the
    virtualenv running these tests has each locked package at the locked version: the CDK of
    the images is the CDK of the tests."""
    proc = subprocess.run(["bash", str(ROOT / "scripts/locks.sh"), "check"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    here = {norm(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    for name in CONNECTORS:
        if (ROOT / name).is_dir():
            pins = lock_pins(name)
            assert pins.get("airbyte-cdk"), f"{name}: no airbyte-cdk in its lock"
            assert {k: here.get(k) for k in pins} == pins, f"the test venv differs from {name}'s lock: run make setup"


@pytest.mark.parametrize("name", CONNECTORS)
def test_metadata_is_in_step_with_the_package_and_image(name: str) -> None:
    folder = connector_dir(name)
    meta_path = folder / "metadata.yaml"
    assert meta_path.exists(), f"{name}/metadata.yaml is missing"
    data = yaml.safe_load(meta_path.read_text())["data"]
    required = ["definitionId", "name", "dockerRepository", "dockerImageTag", "connectorType", "connectorSubtype",
                "releaseStage", "supportLevel", "license", "tags", "allowedHosts",
                "connectorBuildOptions"]
    assert [k for k in required if not data.get(k)] == [], f"{name}/metadata.yaml lacks keys"
    assert data["connectorType"] == ("source" if name.startswith("source-") else "destination")
    assert "language:python" in data["tags"] and any(t.startswith("cdk:") for t in data["tags"]), data["tags"]
    assert data["dockerRepository"] == f"{NAMESPACE}/{name}"
    # No dead documentation link: the repository has no public address yet (docs/images.md).
    assert "documentationUrl" not in data or not data["documentationUrl"].startswith("https://docs.airbyte.com/")
    # Destinations write into existing API objects and answer discover: Airbyte's data activation.
    assert data.get("supportsDataActivation", False) is (name.startswith("destination-"))
    assert str(data["dockerImageTag"]) == pyproject_version(name), "dockerImageTag must equal the pyproject version"
    dockerfile = (folder / "Dockerfile").read_text()
    default_base = next(l.split("=", 1)[1] for l in dockerfile.splitlines() if l.startswith("ARG BASE_IMAGE="))
    assert data.get("connectorBuildOptions", {}).get("baseImage") == default_base


# ---- sources ------------------------------------------------------------------------------------
def source_setup(name: str):
    """(emulator context manager, config builder, secret) for a source."""
    if name == "source-upgates-customers":
        from harness.fixtures.upgates import upgates_config_for
        from emulators.upgates import UpgatesEmulator

        # Two runs at once against one emulator: allow their concurrent requests. The tidy world:
        # the realistic one stamps a customer in the future, so the saved cursor is the time of
        # the answer, which differs by a second or two between the two runs (the connector's
        # behaviour is tested on the realistic world in its own tests; here only packaging).
        api = UpgatesEmulator(customers=120, max_concurrent=10, world="tidy")
        return api, lambda a: upgates_config_for(a), lambda a: a.api_key
    if name == "source-cartum":
        from emulators.cartum import CartumEmulator
        from harness.fixtures.cartum import cartum_config_for

        api = CartumEmulator(users=60, orders=80, tidy=True)  # no future stamps: see above
        return api, lambda a: cartum_config_for(a), lambda a: a.password
    raise AssertionError(name)


@pytest.mark.parametrize("name", SOURCES)
def test_source_image_answers_as_the_venv(engine: Engine, built: dict[str, Any], name: str) -> None:
    image = image_of(name, built)
    api, make_config, secret_of = source_setup(name)
    with api:
        config, secret = make_config(api), secret_of(api)
        assert_same_spec(engine, name, image, "source")
        assert_same_check(engine, name, image, "source", config, secret)

        venv, img = run_both(engine, name, image, "source", "discover", config=config)
        assert one(img, "CATALOG") == one(venv, "CATALOG")

        catalog = load_json(ROOT / name / "integration_tests" / "configured_catalog.json")
        venv, img = run_both(engine, name, image, "source", "read", config=config, catalog=catalog)
        assert img.records(), "the image read no record"
        assert records(img) == records(venv)
        assert final_states(img) == final_states(venv)
        assert error_messages(img) == error_messages(venv) == []
        assert error_logs(img) == error_logs(venv)
        assert secret not in img.output

        # The next sync starts from the state the platform stored: the same in both.
        state = venv.last_state()
        if state:
            venv2, img2 = run_both(engine, name, image, "source", "read", config=config, catalog=catalog, state=state)
            assert records(img2) == records(venv2)
            assert final_states(img2) == final_states(venv2)
            assert error_messages(img2) == error_messages(venv2) == []


# ---- destinations -------------------------------------------------------------------------------
def _record(stream: str, data: dict) -> str:
    return json.dumps({"type": "RECORD", "record": {"stream": stream, "data": data, "emitted_at": 0}}, ensure_ascii=False)


def _state(stream: str, value: Any) -> str:
    return json.dumps(
        {"type": "STATE", "state": {"type": "STREAM", "stream": {"stream_descriptor": {"name": stream}, "stream_state": {"cursor": value}}}}
    )


def destination_setup(name: str):
    """(emulator factory, config builder, secret, catalog, stdin) for a destination."""
    if name == "destination-cartum-users":
        from emulators.cartum import CartumEmulator
        from harness.fixtures.cartum_import import cartum_write_config

        catalog = load_json(ROOT / name / "integration_tests" / "configured_catalog.json")
        stream = catalog["streams"][0]["stream"]["name"]
        users = [{"title": f"Image Test {i}", "email": f"image{i}@example.com", "phone": f"+38050{i:07d}"} for i in range(6)]
        lines = [_record(stream, u) for u in users[:3]] + [_state(stream, 1)]
        lines += [_record(stream, {"title": "Bad phone", "email": "bad@example.com", "phone": "x"})]
        lines += [_record(stream, u) for u in users[3:]] + [_state(stream, 2)]
        return (
            lambda: CartumEmulator(users=5, orders=0),
            lambda a: cartum_write_config(a, batch_size=2, max_rejected_percent=50),
            lambda a: a.password,
            catalog,
            "\n".join(lines) + "\n",
        )
    if name == "destination-loyalty-batch":
        from emulators.loyalty import LoyaltyEmulator

        def config(a: Any) -> dict:
            return {
                "api_url": a.url,
                "user_id": a.user_id,
                "api_key": a.api_key,
                "account_id": a.account_id,
                "campaigns": a.campaign_ids[:1],
                "max_rejected_percent": 50,
                "http_max_retries": 3,
                "http_backoff_seconds": 0.01,
                "request_timeout_seconds": 10,
            }

        catalog = load_json(ROOT / name / "integration_tests" / "configured_catalog.json")
        stream = catalog["streams"][0]["stream"]["name"]
        people = [
            {"code": f"IMG{i:03d}", "first_name": f"Name{i}", "last_name": "Image", "email": f"img{i}@example.com"}
            for i in range(6)
        ]
        lines = [_record(stream, p) for p in people[:3]] + [_state(stream, "a")]
        lines += [_record(stream, p) for p in people[3:]] + [_state(stream, "b")]
        return (LoyaltyEmulator, config, lambda a: a.api_key, catalog, "\n".join(lines) + "\n")
    if name == "destination-upgates-customers":
        from harness.fixtures.upgates_write import make_upgates_write, upgates_write_config

        catalog = load_json(ROOT / name / "integration_tests" / "configured_catalog.json")
        stream = catalog["streams"][0]["stream"]["name"]
        # Two runs at once against one emulator (spec/check/discover): allow their requests.
        make = lambda: make_upgates_write(customers=12, world="tidy", max_concurrent=10)  # noqa: E731
        shop = [c["login"]["email"] for _, c in sorted(make().customers.items())]
        users = [{"id": 500 + i, "title": f"Image Test {i}", "email": e} for i, e in enumerate(shop[:6])]
        lines = [_record(stream, u) for u in users[:3]] + [_state(stream, 1)]
        lines += [_record(stream, {"id": 999, "email": "stranger@example.org"})]
        lines += [_record(stream, u) for u in users[3:]] + [_state(stream, 2)]
        return (
            make,
            lambda a: upgates_write_config(a, batch_size=2, max_rejected_percent=50),
            lambda a: a.api_key,
            catalog,
            "\n".join(lines) + "\n",
        )
    raise AssertionError(name)


@pytest.mark.parametrize("name", DESTINATIONS)
def test_destination_image_answers_as_the_venv(engine: Engine, built: dict[str, Any], name: str) -> None:
    image = image_of(name, built)
    make_api, make_config, secret_of, catalog, stdin = destination_setup(name)
    with make_api() as api:
        config, secret = make_config(api), secret_of(api)
        assert_same_spec(engine, name, image, "destination")
        assert_same_check(engine, name, image, "destination", config, secret)
        venv, img = run_both(engine, name, image, "destination", "discover", config=config)
        assert one(img, "DESTINATION_CATALOG") == one(venv, "DESTINATION_CATALOG")

    # A write changes the emulator's world: each run gets its own, identically seeded emulator,
    # and both must make the same requests and echo the same states.
    with make_api() as api_venv, make_api() as api_img:
        venv, img = both(
            lambda: run_connector(console_script(name), "write", config=make_config(api_venv), catalog=catalog, stdin=stdin),
            lambda: run_image(engine, image, "write", kind="destination", config=make_config(api_img), catalog=catalog, stdin=stdin),
        )
        assert img.returncode == venv.returncode == 0, f"{img.stderr[-2000:]}\n{venv.stderr[-2000:]}"
        assert img.states, "the image echoed no state"
        assert img.states == venv.states
        assert error_messages(img) == error_messages(venv) == []
        assert api_img.log.summary() == api_venv.log.summary()
        assert secret_of(api_img) not in img.output


# ---- a connection: source image piped into destination image --------------------------------
def _pipe(src_args: list[str], dst_args: list[str], timeout: float = 300) -> tuple[int, int, RunResult]:
    """`source read | destination write` through an OS pipe, as in docs/images.md."""
    src = subprocess.Popen(src_args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dst = subprocess.Popen(dst_args, stdin=src.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert src.stdout is not None
    src.stdout.close()  # the destination holds the read end now
    out, err = dst.communicate(timeout=timeout)
    src_rc = src.wait(timeout=60)
    messages, noise = parse_messages(out.decode("utf-8", "replace").splitlines())
    return src_rc, dst.returncode, RunResult(dst_args, dst.returncode, messages, err.decode("utf-8", "replace"), noise)


def test_connection_of_images_matches_the_venv_connection(engine: Engine, built: dict[str, Any]) -> None:
    """UPgates customers into a Cartum shop, images piped together as the docs show, against
    the same pipe of console scripts: the same states echoed, the same users in the shop."""
    src_name, dst_name = "source-upgates-customers", "destination-cartum-users"
    src_image, dst_image = image_of(src_name, built), image_of(dst_name, built)
    from emulators.cartum import CartumEmulator
    from harness.fixtures.cartum_import import cartum_write_config
    from harness.fixtures.upgates import upgates_config_for
    from harness.runner import configured_catalog
    from emulators.upgates import UpgatesEmulator

    with UpgatesEmulator(customers=40, max_concurrent=10, world="tidy") as upgates, \
            CartumEmulator(users=5, orders=0) as shop_venv, CartumEmulator(users=5, orders=0) as shop_img:
        src_config = upgates_config_for(upgates)
        discovered = run_connector(console_script(src_name), "discover", config=src_config)
        streams = [s for s in one(discovered, "CATALOG")["catalog"]["streams"] if s["name"] == "customers"]
        catalog = configured_catalog(streams, "incremental", "append_dedup")
        for entry in catalog["streams"]:
            entry["destination_object_name"] = "users"

        def dst_config(shop: Any) -> dict:
            return cartum_write_config(shop, mapping={"preset": "upgates_customer", "default_customer_group_id": 2})

        with tempfile.TemporaryDirectory(prefix="image-pipe-") as tmp:
            os.chmod(tmp, 0o755)
            files = {
                "source_config.json": src_config, "source_catalog.json": catalog,
                "destination_config.json": dst_config(shop_img), "destination_catalog.json": catalog,
                "venv_destination_config.json": dst_config(shop_venv),
            }
            for fname, value in files.items():
                (Path(tmp) / fname).write_text(json.dumps(value))
                (Path(tmp) / fname).chmod(0o644)

            def container(image: str, *args: str) -> list[str]:
                return [*engine.command, "run", "--rm", "-i", *engine.run_flags, "-v", f"{tmp}:/config:ro", image, *args]

            venv_run, image_run = both(
                lambda: _pipe(
                    [script_path(src_name), "read", "--config", f"{tmp}/source_config.json", "--catalog", f"{tmp}/source_catalog.json"],
                    [script_path(dst_name), "write", "--config", f"{tmp}/venv_destination_config.json", "--catalog", f"{tmp}/source_catalog.json"],
                ),
                lambda: _pipe(
                    container(src_image, "read", "--config", "/config/source_config.json", "--catalog", "/config/source_catalog.json"),
                    container(dst_image, "write", "--config", "/config/destination_config.json", "--catalog", "/config/destination_catalog.json"),
                ),
            )
        (v_src, v_dst, venv), (i_src, i_dst, img) = venv_run, image_run
        assert (i_src, i_dst) == (v_src, v_dst) == (0, 0), f"{img.stderr[-2000:]}\n{venv.stderr[-2000:]}"
        assert img.states and [strip_times(s) for s in img.states] == [strip_times(s) for s in venv.states]
        assert error_messages(img) == error_messages(venv) == []

        def users(shop: Any) -> dict:
            keep = ("title", "email", "phone", "country", "city", "address", "customer_group_id")
            return {email: {k: u.get(k) for k in keep} for email, u in shop.shop.users.items()}

        imported = {c["login"]["email"] for c in upgates.customers.values()}
        assert imported <= set(users(shop_img)), "customers missing from the shop written by the image"
        assert users(shop_img) == users(shop_venv)
