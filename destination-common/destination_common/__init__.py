"""Shared core of the repository's Airbyte destinations (see README.md for the interface)."""

from destination_common.errors import config_error, system_error, transient_error
from destination_common.discover import (
    DiscoverableDestination,
    Operation,
    ResolvedStream,
    connection_failed,
    destination_catalog_message,
    read_catalog_file,
    read_config_file,
    resolve_streams,
)
from destination_common.http import HttpClient, TransientResponse, add_secret, check_url, is_loopback_host, redact
from destination_common.mapping import (
    MappingRegistry,
    TemplateMapper,
    field_templates,
    get_path,
    is_email,
    is_iso_date,
    normalise_date,
    set_path,
)
from destination_common.input import DestinationStats, InputReject, InputStats, message_json, read_messages
from destination_common.outcomes import PLAN_ACTIONS, BatchRefused, Item, MappingError, Outcome, Reject, Status
from destination_common.rejects import RejectLog
from destination_common.writer import StreamHandler, WriteLoop, WriteStats

__all__ = [
    "BatchRefused",
    "DestinationStats",
    "DiscoverableDestination",
    "HttpClient",
    "InputReject",
    "InputStats",
    "Item",
    "MappingError",
    "MappingRegistry",
    "Operation",
    "PLAN_ACTIONS",
    "Outcome",
    "Reject",
    "RejectLog",
    "ResolvedStream",
    "Status",
    "StreamHandler",
    "TemplateMapper",
    "TransientResponse",
    "WriteLoop",
    "WriteStats",
    "add_secret",
    "check_url",
    "config_error",
    "connection_failed",
    "destination_catalog_message",
    "field_templates",
    "get_path",
    "is_email",
    "is_iso_date",
    "is_loopback_host",
    "message_json",
    "normalise_date",
    "read_catalog_file",
    "read_config_file",
    "read_messages",
    "redact",
    "resolve_streams",
    "set_path",
    "system_error",
    "transient_error",
]

# phones (H-sec): E.164 normalisation with phonenumbers, country field -> region
from destination_common.phones import INVALID_PHONE_CHOICES, PhoneResult, normalise_phone, region_for_country  # noqa: E402

__all__ += ["INVALID_PHONE_CHOICES", "PhoneResult", "normalise_phone", "region_for_country"]

# security helpers (H-sec): issue 11
from destination_common.http import add_basic_secret, register_secret_forms, url_for_message  # noqa: E402
from destination_common.mapping import config_for_templates, secret_paths_of  # noqa: E402

__all__ += ["add_basic_secret", "config_for_templates", "register_secret_forms", "secret_paths_of", "url_for_message"]
