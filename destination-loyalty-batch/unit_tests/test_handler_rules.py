import pytest

from destination_loyalty_batch.client import is_config_error
from destination_loyalty_batch.schema import duplicate_mode


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


def test_generated_ids_file_sits_beside_the_rejected_records_file():
    from destination_loyalty_batch.generated_ids import generated_ids_path

    assert generated_ids_path("/local/loyalty-rejected.jsonl") == "/local/loyalty-rejected.generated_ids.jsonl"
    assert generated_ids_path("out/rejects") == "out/rejects.generated_ids.jsonl"
    assert generated_ids_path("") is None and generated_ids_path(None) is None


def test_mask_hides_customer_secrets_by_value_and_by_field_name():
    from destination_loyalty_batch.masking import mask

    record = {"id": "7", "pin": "12", "nested": {"terminal": "771903", "note": "code 771903 given"}, "tags": ["771903"], "n": 771903}
    out = mask(record, ["771903", "12"])
    assert out == {"id": "7", "pin": "****", "nested": {"terminal": "****", "note": "code **** given"}, "tags": ["****"], "n": "****"}
    assert mask("line 12 of 120", ["12"]) == "line 12 of 120"  # a short secret is masked only as a whole value


def test_scrub_masks_the_key_and_batch_secrets_url_encoded():
    from destination_loyalty_batch.client import scrub

    text = "user_api_key=Lk9%2FZr%2Bq%26Key&customer_PIN=908172&x=Lk9/Zr+q&Key"
    out = scrub(text, ["Lk9/Zr+q&Key", "908172"])
    assert "Lk9" not in out and "908172" not in out


def test_batch_group_is_the_field_set_only_in_update_mode_with_keep_existing():
    from destination_loyalty_batch.handler import LoyaltyHandler

    def handler(mode, blanks="keep_existing"):
        return LoyaltyHandler(client=None, mapper=dict, strict_fields=False, custom_fields=None, mode=mode,
                              campaigns=["1"], blank_values_in_update=blanks)

    payload = {"email": "a@b.cz", "code": "1", "custom_field_2": "x", "phone": "+420777000111"}
    assert handler("update").batch_group(payload) == ("code", "email", "phone", "custom_field_2")
    assert handler("update", "send_blank").batch_group(payload) is None
    assert handler("ignore").batch_group(payload) is None and handler("yes").batch_group(payload) is None
