"""Console entry point `source-upgates-customers`.

`spec` is answered from the manifest's spec without building the declarative source (it needs
no config; building the source would import the CDK's whole declarative machinery for nothing).
Every other command reads its files here first, so that a file that cannot be read is a
`config_error` naming the file and the field, then builds the declarative source from them (a
declarative source needs config, catalog and state in its constructor) and hands over to the
CDK's entrypoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, List, Optional

MANIFEST = Path(__file__).with_name("manifest.yaml")


class StartError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _trace_error(message: str, failure: str = "config_error") -> None:
    """The start-up rule shared with source-cartum: a file that cannot be used is an
    AirbyteTracedException config_error, printed as the CDK's entrypoint prints one (one TRACE
    line on stdout), then exit code 1 (the caller), no traceback."""
    from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException
    import orjson

    error = AirbyteTracedException(message=message, internal_message=message, failure_type=FailureType(failure))
    sys.stdout.write(orjson.dumps(AirbyteMessageSerializer.dump(error.as_airbyte_message())).decode() + "\n")
    sys.stdout.flush()


def _arg(args: List[str], flag: str) -> Optional[str]:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def _load(kind: str, path: str) -> Any:
    flag = f"--{kind}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise StartError(f"The {kind} file {path} cannot be read ({error.strerror or error}). Pass a readable JSON file with {flag}.")
    except UnicodeDecodeError:
        raise StartError(f"The {kind} file {path} is not UTF-8 text. Save it as UTF-8 JSON and pass it with {flag}.")
    try:
        return json.loads(text)
    except ValueError as error:  # the position only: a config holds secrets
        where = f"line {error.lineno}, column {error.colno}" if hasattr(error, "lineno") else "somewhere"
        raise StartError(
            f"The {kind} file {path} is not valid JSON ({where}). Fix the file at that position; its content is not "
            f"shown (a {kind} file can hold secrets)."
        )


def _check_config(path: str) -> dict:
    config = _load("config", path)
    if not isinstance(config, dict):
        raise StartError(
            f"The config file {path} must hold a JSON object of settings, not a {type(config).__name__}. "
            "Write the settings as one JSON object."
        )
    return config


def _check_catalog(path: str) -> dict:
    catalog = _load("catalog", path)
    if not isinstance(catalog, dict):
        raise StartError(f"The catalog file {path} must hold a JSON object with `streams`, not a {type(catalog).__name__}.")
    streams = catalog.get("streams")
    if not isinstance(streams, list):
        raise StartError(f"The catalog file {path}: the field `streams` must be a list of configured streams.")
    for i, entry in enumerate(streams):
        if not isinstance(entry, dict):
            raise StartError(f"The catalog file {path}: `streams[{i}]` must be an object.")
        for field in ("stream", "sync_mode", "destination_sync_mode"):
            if field not in entry:
                raise StartError(f"The catalog file {path}: `streams[{i}].{field}` is missing.")
        if not isinstance(entry["stream"], dict) or not isinstance(entry["stream"].get("name"), str):
            raise StartError(f"The catalog file {path}: `streams[{i}].stream.name` is missing or not text.")
        if entry["sync_mode"] not in ("full_refresh", "incremental"):
            raise StartError(f"The catalog file {path}: `streams[{i}].sync_mode` {entry['sync_mode']!r} is not full_refresh or incremental.")
    return catalog


def _check_state(path: str) -> Any:
    from source_upgates_customers.components import STREAM, state_problem

    state = _load("state", path)
    if state in (None, {}, []):
        return state
    if isinstance(state, dict):  # the legacy form: {stream name: stream state}
        entries = [("legacy", name, value) for name, value in state.items()]
    elif isinstance(state, list):
        entries = []
        for i, message in enumerate(state):
            if not isinstance(message, dict):
                raise StartError(f"The state file {path}: `[{i}]` must be a state message object.")
            if message.get("type", "STREAM") == "STREAM":
                stream = message.get("stream")
                if not isinstance(stream, dict) or not isinstance(stream.get("stream_descriptor"), dict):
                    raise StartError(f"The state file {path}: `[{i}].stream.stream_descriptor` is missing.")
                entries.append((f"[{i}]", stream["stream_descriptor"].get("name"), stream.get("stream_state")))
    else:
        raise StartError(f"The state file {path} must hold a list of state messages, not a {type(state).__name__}.")
    for where, name, value in entries:
        if name == STREAM and value is not None:
            problem = state_problem(value)
            if problem:
                raise StartError(f"The state file {path} ({where}): {problem}.")
    return state


def _spec() -> None:
    """The SPEC message from the manifest, without the declarative source."""
    import yaml

    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    spec = manifest["spec"]
    message = {"connectionSpecification": spec["connection_specification"]}
    if spec.get("documentation_url"):
        message["documentationUrl"] = spec["documentation_url"]
    if spec.get("advanced_auth"):
        message["advanced_auth"] = spec["advanced_auth"]
    message.update(supportsNormalization=False, supportsDBT=False)  # what the CDK's Spec writes
    _emit({"type": "SPEC", "spec": message})


def _get_source(args: List[str]) -> Any:
    """The source built from `--config/--catalog/--state`; on a file that cannot be used, a
    TRACE config_error naming the file and the field on stdout and None."""
    config_path, catalog_path, state_path = _arg(args, "--config"), _arg(args, "--catalog"), _arg(args, "--state")
    try:
        config = _check_config(config_path) if config_path else None
        if catalog_path:
            _check_catalog(catalog_path)
        if state_path:
            _check_state(state_path)
    except StartError as error:
        _trace_error(error.message)
        return None
    if config is not None:
        # before the CDK's spec validation, whose message would quote a URL's user-info and
        # does not name the field
        from source_upgates_customers.source import check_config
        from airbyte_cdk.utils.traced_exception import AirbyteTracedException

        try:
            check_config(config)
        except AirbyteTracedException as error:
            if args and args[0] == "check":
                _emit({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "FAILED", "message": error.message}})
                sys.exit(0)
            _trace_error(error.message or "The config is not valid.")
            return None
    from source_upgates_customers.source import SourceUpgatesCustomers

    try:
        return SourceUpgatesCustomers(
            catalog=SourceUpgatesCustomers.read_catalog(catalog_path) if catalog_path else None,
            config=config,
            state=SourceUpgatesCustomers.read_state(state_path) if state_path else None,
        )
    except Exception as error:  # the platform needs a TRACE message, not a traceback
        from airbyte_cdk.utils.airbyte_secrets_utils import filter_secrets

        _trace_error(filter_secrets(f"source-upgates-customers could not start: {error}"))
        return None


def run() -> None:
    args = sys.argv[1:]
    if args[:1] == ["spec"] and len(args) == 1:
        _spec()
        return
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    launch(source, args)


def launch(source: Any, args: List[str]) -> None:
    """The CDK's `launch`, flushing its print buffer at every STATE; a customers STATE then
    settles its page (the source buys a new page only while fewer than `num_workers` pages are
    bought and not settled, so a kill re-buys at most that many). Every line goes through the
    CDK's PRINT_BUFFER, whose lock the log handler shares: writing stdout beside it would let a
    worker thread's log line cut a record line in two (seen: a record lost to a long log line).

    Customers pages come prepared (`customers_pass.PreparedPage`): the worker that read a page
    serialized its RECORD lines, the CDK's main loop passes the page as one record message, and
    here that message's line is replaced by the page's lines. So the main thread, which every
    page's STATE (and the slot it frees) waits for, does per page what it did per record. The
    output means the same: the same RECORD lines (emitted_at: when the page was serialized), in
    the same place before the STATE that covers them; the entrypoint counts each page's records
    for `sourceStats.recordCount` (`_Entrypoint`), and the CDK's closing "Read N records" log
    line counts records, not pages (`_records_not_pages`)."""
    from airbyte_cdk.logger import PRINT_BUFFER
    from source_upgates_customers.customers_pass import PREPARED_KEY, PREPARED_LINE_PREFIX

    entrypoint = _entrypoint_class()(source)
    parsed = entrypoint.parse_args(args)
    source.settle_after_flush = True
    if parsed.command == "read":
        # A page's slot frees when its STATE is flushed, after a few handoffs of the GIL between
        # the worker that parsed it and the main thread; a thread waiting for the GIL waits up to
        # the switch interval (5 ms by default) each time. 1 ms: measured 1.13-1.17 instead of
        # 1.19-1.23 of the concurrency ideal (200 pages at 100 ms, 3 at once, load ~3).
        sys.setswitchinterval(0.001)
        source.prepare_pages()
        source.logger.addFilter(_records_not_pages(source))
    prefix, start = PREPARED_LINE_PREFIX, len(PREPARED_LINE_PREFIX)
    with PRINT_BUFFER:
        for message in entrypoint.run(parsed):
            if message.startswith(prefix):
                PRINT_BUFFER.write(source.take_prepared(message[start:message.index('"', start)]))
                continue
            if PREPARED_KEY in message and message.startswith('{"type":"RECORD"'):
                # an airbyte-cdk that serializes records differently (another 7.x than the lock's):
                # writing this line would put a placeholder where a page of customers belongs
                PRINT_BUFFER.flush()
                _trace_error(UNRECOGNISED_PAGE, failure="system_error")
                sys.exit(1)
            PRINT_BUFFER.write(f"{message}\n")
            if message.startswith('{"type":"STATE"'):
                PRINT_BUFFER.flush()
                if '"customers"' in message and json.loads(message)["state"].get("stream", {}).get("stream_descriptor", {}).get("name") == "customers":
                    source.state_flushed()


UNRECOGNISED_PAGE = (
    "source-upgates-customers: the installed airbyte-cdk serializes a page of customers in a form "
    "this version does not recognise; the sync stopped before writing it (nothing after the last "
    "STATE is lost: the next sync reads it again). Install the connector with the airbyte-cdk "
    "version of its lock file (requirements.lock.txt) or use its image."
)


def _entrypoint_class() -> Any:
    """The CDK's entrypoint, counting a prepared page's records (not 1) towards the next STATE's
    `sourceStats.recordCount` (the entrypoint calls `self.handle_record_counts` per message)."""
    from airbyte_cdk.entrypoint import AirbyteEntrypoint
    from airbyte_cdk.models import Type
    from airbyte_cdk.sources.connector_state_manager import HashableStreamDescriptor
    from source_upgates_customers.customers_pass import PREPARED_KEY

    class _Entrypoint(AirbyteEntrypoint):
        def handle_record_counts(self, message: Any, stream_message_count: Any) -> Any:  # type: ignore[override]
            record = message.record if message.type == Type.RECORD else None
            if record is not None and isinstance(record.data, dict) and PREPARED_KEY in record.data:
                extra = self.source.prepared_count(record.data[PREPARED_KEY]) - 1  # the base counts 1
                stream_message_count[HashableStreamDescriptor(name=record.stream, namespace=record.namespace)] += float(extra)
            return AirbyteEntrypoint.handle_record_counts(message, stream_message_count)

    return _Entrypoint


def _records_not_pages(source: Any) -> Any:
    """A logging filter: the CDK's "Read N records from customers stream" counts the items of
    its queue, with prepared pages pages; the filter makes it count the records again. (Built
    here, not at import: `spec` does not import logging.)"""
    import logging

    class _RecordsNotPages(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            message = record.msg
            if isinstance(message, str) and message.startswith("Read ") and message.endswith(" records from customers stream"):
                pages, records = source.prepared_totals()
                try:
                    counted = int(message[len("Read "):-len(" records from customers stream")])
                except ValueError:
                    return True
                record.msg = f"Read {counted - pages + records} records from customers stream"
            return True

    return _RecordsNotPages()


if __name__ == "__main__":
    run()
