"""Canary of the CDK seam (customers_pass.py): every airbyte-cdk internal the connector uses is
where the seam reads it, in the installed CDK. When an upgrade moves one, these tests fail with
the installed airbyte-cdk version and the attribute's name, before a sync would."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from airbyte_cdk.models import FailureType
from airbyte_cdk.utils import AirbyteTracedException
from source_upgates_customers import customers_pass
from source_upgates_customers.customers_pass import INTERNALS, CustomersPageGenerator, PagePartition
from source_upgates_customers.source import SourceUpgatesCustomers

CONFIG = {"api_url": "http://127.0.0.1:9/api/v2", "login": "canary", "api_key": "canary-key", "read_timeout_seconds": 7}
CDK = importlib.metadata.version("airbyte-cdk")
PACKAGE = Path(customers_pass.__file__).parent


def manifest_streams(source: SourceUpgatesCustomers) -> dict[str, Any]:
    """The manifest's own streams, as the CDK builds them (before the pass replaces customers)."""
    return {s.name: s for s in super(SourceUpgatesCustomers, source).streams(CONFIG)}


def canary(name: str, check: Callable[[], Any]) -> Any:
    try:
        value = check()
    except AirbyteTracedException as error:  # the seam's own report: version and attribute
        pytest.fail(f"CDK seam canary, {name}: {error.message}")
    except Exception as error:  # pragma: no cover - a changed signature or type
        pytest.fail(f"CDK seam canary, {name}: airbyte-cdk {CDK} no longer fits: {type(error).__name__}: {error}")
    return value


def test_every_internal_the_seam_uses_is_there():
    source = SourceUpgatesCustomers(config=CONFIG)
    streams = manifest_streams(source)
    customers = streams["customers"]
    parts = lambda: customers_pass.declarative_parts(customers)  # noqa: E731
    requester = lambda: parts()[0].requester  # noqa: E731
    client = lambda: customers_pass.internal(requester(), "_http_client", "HttpRequester")  # noqa: E731

    def partition() -> PagePartition:
        retriever, schema_loader = parts()
        built, pass_ = customers_pass.customers_stream(
            source, customers, incremental=True, workers=2, restart_from=None, config=CONFIG
        )
        generator = customers_pass.internal(built, "_stream_partition_generator", "DefaultStream")
        assert isinstance(generator, CustomersPageGenerator) and generator.retriever is retriever
        return generator._partition(3)

    checks: dict[str, Callable[[], Any]] = {
        "ConcurrentDeclarativeSource._config": lambda: customers_pass.source_config(source),
        "ConcurrentDeclarativeSource._connector_state_manager": lambda: customers_pass.state_manager(source),
        "ConcurrentDeclarativeSource._message_repository": lambda: customers_pass.message_repository(source),
        "DefaultStream._stream_partition_generator": lambda: customers_pass.internal(customers, "_stream_partition_generator", "DefaultStream"),
        "StreamSlicerPartitionGenerator._partition_factory": lambda: customers_pass.internal(
            customers_pass.internal(customers, "_stream_partition_generator", "DefaultStream"), "_partition_factory", "StreamSlicerPartitionGenerator"
        ),
        "DeclarativePartitionFactory._retriever": lambda: parts()[0],
        "DeclarativePartitionFactory._schema_loader": lambda: parts()[1],
        "HttpRequester._http_client": client,
        "HttpClient._request_timeout": lambda: customers_pass.internal(client(), "_request_timeout", "HttpClient"),
        "HttpClient._session": lambda: customers_pass.internal(client(), "_session", "HttpClient"),
        "airbyte_secrets_utils.__SECRETS_FROM_CONFIG": customers_pass.registered_secrets,
    }
    partition_entry = next(name for name in INTERNALS if name.startswith("DeclarativePartition("))
    checks[partition_entry] = partition
    assert sorted(checks) == sorted(INTERNALS), "every internal listed in customers_pass.INTERNALS has a canary"

    values = {name: canary(name, check) for name, check in checks.items()}
    assert values["ConcurrentDeclarativeSource._config"]["login"] == "canary"
    assert hasattr(values["ConcurrentDeclarativeSource._connector_state_manager"], "get_stream_state")
    assert hasattr(values["ConcurrentDeclarativeSource._message_repository"], "emit_message")
    assert hasattr(values["DeclarativePartitionFactory._retriever"], "read_records")
    assert isinstance(values["HttpClient._session"], requests.Session)
    assert isinstance(values["airbyte_secrets_utils.__SECRETS_FROM_CONFIG"], list)
    page = values[partition_entry]
    assert page.page == 3 and page.to_slice()["page"] == 3 and page.stream_name() == "customers"


def test_the_seam_takes_effect_on_a_built_source():
    """What the seam sets is what requests uses: timeouts from the config, no redirect followed."""
    source = SourceUpgatesCustomers(config=CONFIG)
    for stream in source.streams(CONFIG):
        client = customers_pass.internal(customers_pass.declarative_parts(stream)[0].requester, "_http_client", "HttpRequester")
        assert client._request_timeout == (10.0, 7.0)
        assert client._session.max_redirects == 0 and client._session.get_redirect_target(requests.Response()) is None


def test_a_moved_internal_fails_naming_the_cdk_version_and_the_attribute():
    with pytest.raises(AirbyteTracedException) as caught:
        customers_pass.internal(object(), "_retriever", "DeclarativePartitionFactory")
    error = caught.value
    assert error.failure_type == FailureType.system_error
    assert f"airbyte-cdk {CDK}" in error.message and "DeclarativePartitionFactory._retriever" in error.message
    assert "customers_pass.py" in error.message


def test_no_other_module_reads_a_cdk_internal():
    """The seam is the only place: the other modules use the CDK's public API."""
    private = re.compile(
        r"\._(stream_partition_generator|partition_factory|retriever|schema_loader|http_client|session|request_timeout"
        r"|connector_state_manager|message_repository|config|queue|capped|field_path|kwargs)\b|__SECRETS_FROM_CONFIG"
    )
    offenders = []
    for path in sorted(PACKAGE.glob("*.py")):
        if path.name == "customers_pass.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if private.search(line):
                offenders.append(f"{path.name}:{number}: {line.strip()}")
    assert offenders == []
