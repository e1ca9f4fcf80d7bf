"""Shared core of the repository's Airbyte destinations (see README.md for the interface).

The top-level names are what the destinations use; everything else stays importable from its
module (`destination_common.writer`, `.routing`, `.settlement`, `.reporting`, `.outcomes`,
`.errors`, `.rejects`, `.http`, `.mapping`, `.phones`, `.discover`, `.input`)."""

from destination_common.discover import DiscoverableDestination, Operation, connection_failed, resolve_streams
from destination_common.errors import config_error, system_error, transient_error
from destination_common.http import HttpClient, TransientResponse, add_basic_secret, add_secret, check_url, redact
from destination_common.mapping import MappingRegistry, field_templates, get_path, is_email, is_iso_date, normalise_date
from destination_common.console import run_destination
from destination_common.outcomes import BatchRefused, Item, MappingError, Outcome, Reject, Status
from destination_common.phones import INVALID_PHONE_CHOICES, normalise_phone, region_for_country
from destination_common.rejects import RejectLog
from destination_common.writer import StreamHandler, WriteLoop

__all__ = [
    "run_destination",
    # the write loop and its protocol
    "WriteLoop",
    "StreamHandler",
    "Item",
    "Outcome",
    "Status",
    "Reject",
    "MappingError",
    "BatchRefused",
    "RejectLog",
    # errors
    "config_error",
    "system_error",
    "transient_error",
    # HTTP and secrets
    "HttpClient",
    "TransientResponse",
    "add_basic_secret",
    "add_secret",
    "check_url",
    "redact",
    # mapping
    "MappingRegistry",
    "field_templates",
    "get_path",
    "is_email",
    "is_iso_date",
    "normalise_date",
    # phones
    "INVALID_PHONE_CHOICES",
    "normalise_phone",
    "region_for_country",
    # destination commands
    "DiscoverableDestination",
    "Operation",
    "connection_failed",
    "resolve_streams",
]
