"""Prepared pages (customers_pass.PreparedPage, run.py's launch): a page's RECORD lines,
serialized in the worker, are the lines the CDK's entrypoint writes for the same records; and
the error handler's shortcut for a good page resolves as the manifest's filters do."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import requests

from airbyte_cdk.entrypoint import AirbyteEntrypoint
from airbyte_cdk.sources.declarative.requesters.error_handlers.default_error_handler import DefaultErrorHandler
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.sources.types import Record
from airbyte_cdk.sources.utils.record_helper import stream_data_to_airbyte_message
from source_upgates_customers import customers_pass
from source_upgates_customers.customers_pass import PREPARED_KEY, PREPARED_LINE_PREFIX, CustomersPass, PreparedPage
from source_upgates_customers.source import SourceUpgatesCustomers

CONFIG = {"api_url": "http://127.0.0.1:9/api/v2", "login": "x", "api_key": "y"}
RECORDS = [
    {"customer_id": 1, "firstname": "Žofie", "groups": [{"id": 2, "name": "VIP"}], "turnover": "12.50", "newsletter_yn": True,
     "login": {"active_yn": False, "email": None}, "metas": [], "last_update_time": "2024-01-01T00:00:00+01:00"},
    {"customer_id": 2, "surname": "a \"quoted\" \\ name\n", "big": 2**70, "ratio": 0.1, "nothing": None, "emoji": "😀"},
    {},
]


def cdk_line(data: dict[str, Any], emitted_at: int) -> str:
    message = stream_data_to_airbyte_message(stream_name="customers", data_or_message=data)
    message.record.emitted_at = emitted_at
    return AirbyteEntrypoint.airbyte_message_to_string(message)


def test_a_prepared_page_holds_the_lines_the_cdk_writes_for_its_records():
    pass_ = CustomersPass(from_=None, message_repository=InMemoryMessageRepository(), logger=logging.getLogger("test"))
    page = pass_.prepare([Record(data=dict(r), stream_name="customers") for r in RECORDS], None)
    assert isinstance(page, PreparedPage) and set(page.data) == {PREPARED_KEY}
    assert page.records == RECORDS  # what the cursor observes
    key = page.data[PREPARED_KEY]
    assert pass_.prepared_count(key) == 3 and (pass_.prepared_pages, pass_.prepared_records) == (1, 3)
    lines = pass_.take_prepared(key).splitlines(keepends=True)
    assert len(lines) == 3 and all(line.endswith("\n") for line in lines)
    for line, data in zip(lines, RECORDS):
        emitted_at = json.loads(line)["record"]["emitted_at"]
        assert line == cdk_line(dict(data), emitted_at) + "\n"  # byte for byte, key order included
    with pytest.raises(RuntimeError):
        pass_.take_prepared(key)  # written once


def test_the_cdk_serializes_a_prepared_page_as_launch_recognises_it():
    page = PreparedPage("17", [], None)
    line = AirbyteEntrypoint.airbyte_message_to_string(stream_data_to_airbyte_message("customers", page.data))
    assert line.startswith(PREPARED_LINE_PREFIX) and line[len(PREPARED_LINE_PREFIX):].startswith('17"')


def response(status: int, body: bytes, content_type: str = "application/json") -> requests.Response:
    r = requests.Response()
    r.status_code, r._content, r.url = status, body, "http://127.0.0.1:9/api/v2/customers?page=1"
    r.headers["Content-Type"] = content_type
    r.request = requests.Request("GET", r.url).prepare()
    return r


@pytest.mark.parametrize("status,body", [
    (200, b'{"current_page": 1, "customers": []}'), (200, b"{}"), (200, b"[]"), (200, b"[1]"), (200, b"null"), (200, b"0"),
    (200, b'"x"'), (200, b""), (200, b"<html>proxy</html>"), (200, b'{"a": NaN}'), (200, b"\xef\xbb\xbf{\"a\": 1}"),
    (200, '{"a": "\u017e"}'.encode("utf-16")), (500, b'{"a": 1}'), (429, b"{}"), (403, b'{"messages": [{"message": "no"}]}'),
    (400, b'{"messages": [{"message": "bad"}]}'), (404, b"{}"), (401, b""),
])
def test_the_error_handlers_shortcut_resolves_a_page_as_the_manifests_filters_do(status, body):
    source = SourceUpgatesCustomers(config=CONFIG)
    stream = next(s for s in source.streams(CONFIG) if s.name == "customers")
    handler = customers_pass.declarative_parts(stream)[0].requester.error_handler
    got = handler.interpret_response(response(status, body))
    expected = DefaultErrorHandler.interpret_response(handler, response(status, body))
    assert (got.response_action, got.failure_type, got.error_message) == (
        expected.response_action, expected.failure_type, expected.error_message)


def test_a_page_the_error_handler_parsed_is_extracted_as_the_decoder_would():
    source = SourceUpgatesCustomers(config=CONFIG)
    stream = next(s for s in source.streams(CONFIG) if s.name == "customers")
    retriever = customers_pass.declarative_parts(stream)[0]
    extractor = retriever.record_selector.extractor
    body = json.dumps({"current_page": 1, "number_of_pages": 1, "customers": [
        {"customer_id": "5", "groups": {"2": "VIP"}, "newsletter_yn": "1", "last_update_time": "2024-01-01T00:00:00+01:00"},
        {"customer_id": 6, "groups": None}]}).encode()
    seen = response(200, body)
    assert retriever.requester.error_handler.interpret_response(seen).response_action.name == "SUCCESS"
    via_handler = list(extractor.extract_records(seen))
    assert "upgates_body" not in seen.__dict__  # used once
    assert via_handler == list(extractor.extract_records(response(200, body)))  # the decoder's way
    assert via_handler[0]["customer_id"] == 5 and via_handler[0]["groups"] == [{"id": 2, "name": "VIP"}]
