"""Console script `source-cartum`: spec, check, discover, read (as the Airbyte platform calls it).

`spec` is answered from the manifest's spec alone (no declarative machinery is imported for it).

Start-up rule (shared with source-upgates-customers): a config, catalog or state file that cannot
be used is an AirbyteTracedException config_error whose message names the file (and the field)
and says what to do, printed as the CDK's entrypoint prints one (one TRACE line on stdout), then
exit code 1, no traceback; a file's content is never quoted (a config holds secrets). A config
file that is readable JSON but has a field `check` can report is answered by `check` with a
FAILED connection status instead, as the platform expects."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, List, Optional

CURSORS = {"users": "registered_at", "orders": "stat_created_at"}
CURSOR_FORMATS = ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")


class InputError(Exception):
    """What the user must fix in a file passed on the command line."""


class FileError(InputError):
    """The file itself cannot be used (unreadable, not UTF-8, not JSON, not the right shape)."""


def _option(args: List[str], name: str) -> Optional[str]:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def _load(path: str, what: str) -> Any:
    flag = f"--{what}"
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise FileError(f"The {what} file {path} cannot be read ({error.strerror or error}). Pass a readable JSON file with {flag}.") from None
    except UnicodeDecodeError:
        raise FileError(f"The {what} file {path} is not UTF-8 text. Save it as UTF-8 JSON and pass it with {flag}.") from None
    try:
        return json.loads(text)
    except ValueError as error:  # the position only: a config file holds secrets
        where = f"line {error.lineno}, column {error.colno}" if hasattr(error, "lineno") else "somewhere"
        raise FileError(
            f"The {what} file {path} is not valid JSON ({where}). Fix the file at that position; its content is not "
            f"shown (a {what} file can hold secrets)."
        ) from None


def _cursor_ok(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    for fmt in CURSOR_FORMATS:
        try:
            datetime.strptime(value.strip(), fmt)
            return True
        except ValueError:
            continue
    return False


def check_inputs(args: List[str]) -> None:
    """Raise InputError naming the file and the field for what the CDK would report as a bug."""
    config_path, catalog_path, state_path = (_option(args, f) for f in ("--config", "--catalog", "--state"))
    if config_path:
        config = _load(config_path, "config")
        if not isinstance(config, dict):
            raise FileError(
                f"The config file {config_path} must hold a JSON object of settings, not a {type(config).__name__}. "
                "Write the settings as one JSON object."
            )
        start = config.get("start_date")
        if isinstance(start, str):
            try:
                datetime.strptime(start, "%Y-%m-%d")
            except ValueError:
                raise InputError(f"The config file {config_path}, field 'start_date': {start[:20]!r} is not a date (YYYY-MM-DD).") from None
        zone = config.get("shop_timezone")
        if isinstance(zone, str) and zone:
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(zone)
            except (ValueError, KeyError, OSError):
                raise InputError(f"The config file {config_path}, field 'shop_timezone': {zone[:40]!r} is not an IANA time zone (e.g. Europe/Kyiv).") from None
        if isinstance(config.get("shop_url"), str):
            # Before the CDK's spec validation, whose message would quote a URL's user-info.
            from airbyte_cdk.utils.traced_exception import AirbyteTracedException
            from source_cartum.components import check_shop_url

            try:
                check_shop_url(config["shop_url"])
            except AirbyteTracedException as error:
                raise InputError(f"The config file {config_path}, field 'shop_url': {error.message}") from None
    if catalog_path:
        catalog = _load(catalog_path, "catalog")
        if not isinstance(catalog, dict) or not isinstance(catalog.get("streams"), list):
            raise InputError(f"The catalog file {catalog_path} must hold a JSON object with a 'streams' list.")
        for i, item in enumerate(catalog["streams"]):
            if not isinstance(item, dict) or not isinstance(item.get("stream"), dict) or not isinstance(item["stream"].get("name"), str):
                raise InputError(f"The catalog file {catalog_path}: streams[{i}] has no stream.name.")
    if state_path:
        state = _load(state_path, "state")
        if isinstance(state, dict):
            state = [state] if "type" in state else [{"type": "STREAM", "stream": {"stream_descriptor": {"name": k}, "stream_state": v}} for k, v in state.items()]
        if not isinstance(state, list):
            raise InputError(f"The state file {state_path} must hold a JSON list of state messages.")
        for i, message in enumerate(state):
            stream = message.get("stream") if isinstance(message, dict) else None
            if not isinstance(stream, dict):
                if isinstance(message, dict) and message.get("type") in ("GLOBAL", "LEGACY"):
                    continue
                raise InputError(f"The state file {state_path}: entry [{i}] is not a stream state message.")
            name = (stream.get("stream_descriptor") or {}).get("name")
            values = stream.get("stream_state")
            if values is None:
                continue
            if not isinstance(values, dict):
                raise InputError(f"The state file {state_path}: stream {name!r}: stream_state must be an object.")
            field = CURSORS.get(name)
            if field and field in values and not _cursor_ok(values[field]):
                raise InputError(
                    f"The state file {state_path}: stream {name!r}, field {field!r}: {str(values[field])[:40]!r} is not a "
                    "date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS+HHMM). Fix or remove the state to read from start_date."
                )
            if name == "users" and "ids_at_cursor" in values and not isinstance(values["ids_at_cursor"], list):
                raise InputError(f"The state file {state_path}: stream 'users', field 'ids_at_cursor' must be a list of ids.")


def _emit_error(message: str, internal: str, failure: str) -> None:
    """One TRACE error line on stdout, as the CDK's entrypoint prints an AirbyteTracedException."""
    import orjson

    from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    error = AirbyteTracedException(message=message, internal_message=internal, failure_type=FailureType(failure))
    sys.stdout.write(orjson.dumps(AirbyteMessageSerializer.dump(error.as_airbyte_message())).decode() + "\n")
    sys.stdout.flush()


def _spec() -> None:
    """SPEC from the manifest, without importing the declarative machinery."""
    from importlib import resources

    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    manifest = yaml.load(resources.files("source_cartum").joinpath("manifest.yaml").read_text(encoding="utf-8"), Loader=loader)
    spec = manifest["spec"]
    # The same message as the CDK's `spec` (checked by unit_tests/test_run.py).
    out: dict = {}
    if spec.get("documentation_url"):
        out["documentationUrl"] = spec["documentation_url"]
    out.update({"connectionSpecification": spec["connection_specification"], "supportsNormalization": False, "supportsDBT": False})
    print(json.dumps({"type": "SPEC", "spec": out}, ensure_ascii=False), flush=True)


def _get_source(args: List[str]) -> Any:
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException
    from source_cartum.source import SourceCartum

    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    try:
        return SourceCartum(
            catalog=SourceCartum.read_catalog(catalog_path) if catalog_path else None,
            config=SourceCartum.read_config(config_path) if config_path else None,
            state=SourceCartum.read_state(state_path) if state_path else None,
        )
    except AirbyteTracedException as error:  # keeps its failure type (config_error...) and message
        _emit_error(error.message or str(error), error.internal_message or "", (error.failure_type or FailureType.system_error).value)
    except Exception as error:  # the platform needs a TRACE message, not a bare traceback
        _emit_error(f"source-cartum could not start: {error}", repr(error), "system_error")
    return None


def run() -> None:
    args = sys.argv[1:]
    if args[:1] == ["spec"]:
        _spec()
        return
    try:
        check_inputs(args)
    except InputError as error:
        if args[:1] == ["check"] and not isinstance(error, FileError):  # check answers with its status, as the platform expects
            print(json.dumps({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": str(error)}}), flush=True)
            return
        _emit_error(str(error), str(error), "config_error")
        sys.exit(1)
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    from airbyte_cdk.entrypoint import launch

    launch(source, args)


if __name__ == "__main__":
    run()
