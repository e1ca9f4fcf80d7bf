import pytest

from destination_loyalty_batch.client import is_config_error
from destination_loyalty_batch.handler import duplicate_mode


@pytest.mark.parametrize(
    "sync_mode, handling, expected",
    [("append", "from_sync_mode", "ignore"), ("append_dedup", "from_sync_mode", "update"),
     ("append", "replace", "yes"), ("append_dedup", "replace", "yes")],
)
def test_duplicate_mode_follows_sync_mode_and_replace_only_when_chosen(sync_mode, handling, expected):
    assert duplicate_mode(sync_mode, handling) == expected


@pytest.mark.parametrize(
    "message, config",
    [
        ("Invalid user_id or user_api_key", True),
        ("Unknown account_id 'x'", True),
        ("Campaign '404' not found in account greatwidgets", True),
        ("Unknown header 'shoe_size'", True),
        ("delimiter must be pipe, comma or tab", True),
        ("Line 3: email 'x' is not a valid address; nothing was imported", False),
        ("Line 2: 5 fields found, the headers define 6; nothing was imported", False),
        ("Too many lines in batch: 600 (maximum 500)", False),
        ("Duplicate e-mail", False),
        ("E-mail already used by another account", False),
        ("Account not found", True),
    ],
)
def test_which_batch_errors_stop_the_sync(message, config):
    assert is_config_error(message) is config
