"""The customers filters a config leaves unset are removed from the manifest the source builds
(source.without_unset_filters): every request's parameters stay what the full manifest gives."""

from __future__ import annotations

from typing import Any

import pytest

from airbyte_cdk.sources.declarative.interpolation.interpolated_mapping import InterpolatedMapping
from source_upgates_customers.source import load_manifest

BASE = {"api_url": "http://127.0.0.1:9/api/v2", "login": "x", "api_key": "y"}


def params(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["definitions"]["customers_stream"]["retriever"]["requester"]["request_parameters"]


def sent(manifest: dict[str, Any], config: dict[str, Any], stream_slice: dict[str, Any]) -> dict[str, Any]:
    values = InterpolatedMapping(params(manifest), parameters={}).eval(config, stream_slice=stream_slice)
    return {k: v for k, v in values.items() if v is not None}  # what the CDK sends


@pytest.mark.parametrize("extra", [
    {},
    {"active_only": True, "language": "cs"},
    {"active": "inactive", "blocked": "not_blocked", "newsletter_accept": "yes", "pricelist": "VIP", "code": "1e5",
     "email": "a@b.cz", "phone": "+420 1", "company_name": "True", "company_number": "1", "company_vat_number": "CZ1",
     "customer_ids": [1, 2], "creation_time_from": "2024-01-01T00:00:00+01:00"},
    {"active": "any", "blocked": "any", "newsletter_accept": "any", "language": "", "customer_ids": []},
])
def test_unset_filters_are_left_out_and_every_request_sends_the_same(extra):
    config = {**BASE, **extra}
    full, pruned = load_manifest(), load_manifest(config)
    assert {"page", "last_update_time_from"} <= set(params(pruned))  # they depend on the request
    for stream_slice in ({"page": 1}, {"page": 7, "from": "2024-01-01T00:00:00+01:00"}):
        assert sent(pruned, config, stream_slice) == sent(full, config, stream_slice)
    unset = {k for k, v in sent(full, config, {"page": 1}).items()} | {"page", "last_update_time_from"}
    assert set(params(pruned)) == unset
