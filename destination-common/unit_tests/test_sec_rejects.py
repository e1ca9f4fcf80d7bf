"""RejectLog: corrections (note), kind on every line, verify_path for check, redaction of
every string of the rejected-records file (issue 11 item 3, issue 13 item 2)."""

import json
import logging
import os

import pytest

from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from harness.secrets_scan import assert_no_secrets
from destination_common import RejectLog
from destination_common.http import add_secret


def lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_note_writes_a_correction_line_and_is_never_a_rejection(tmp_path, caplog):
    path = tmp_path / "r.jsonl"
    log = RejectLog(str(path))
    with caplog.at_level(logging.INFO, logger="airbyte"):
        log.note("users", "a@b.cz", "phone", "normalised to E.164", {"email": "a@b.cz", "phone": "785 206 025"})
        log.note("users", "c@d.cz", "phone", "normalised to E.164", {"email": "c@d.cz"})
        log.note("users", "e@f.cz", "phone", "dropped: too short for CZ", {"email": "e@f.cz"})
        log.reject("users", "g@h.cz", 2, "bad e-mail", {"email": "g@h.cz"})
    log.close()
    assert (log.total, log.notes_total) == (1, 3)
    assert log.counts == {"code 2": 1}
    assert log.notes_by_reason() == "phone: normalised to E.164: 2, phone: dropped: too short for CZ: 1"
    got = lines(path)
    assert [g["kind"] for g in got] == ["correction", "correction", "correction", "rejected"]
    assert got[0] == {
        "kind": "correction",
        "stream": "users",
        "key": "a@b.cz",
        "field": "phone",
        "reason": "normalised to E.164",
        "record": {"email": "a@b.cz", "phone": "785 206 025"},
    }
    assert set(got[3]) == {"kind", "stream", "key", "code", "reason", "record"}
    assert "785 206 025" not in caplog.text  # logged by key only
    assert "Corrected record a@b.cz of stream users: phone: normalised to E.164" in caplog.text


def test_notes_by_reason_none_when_empty():
    assert RejectLog().notes_by_reason() == "none" and RejectLog().notes_total == 0


def test_rejects_file_is_redacted_like_the_log(tmp_path):
    """Key, reason and every string in the record, dict keys included, at any depth; secrets
    registered at runtime (a session token) as well as their URL-encoded forms."""
    token = "Tok-HSEC-4f9a/b+c=="
    password = "Pw-HSEC-rejects-31"
    add_secret(token)
    add_secret(password)
    path = tmp_path / "r.jsonl"
    log = RejectLog(str(path))
    record = {
        "email": f"x{password}@b.cz",
        "nested": {"list": [f"Bearer {token}", 5, None, {"k": password}], password: "as a key"},
        "enc": "token=Tok-HSEC-4f9a%2Fb%2Bc%3D%3D",
    }
    log.reject("users", f"key-{password}", 2, f"API said: bad token {token}", record)
    log.note("users", password, "phone", f"reason {token}", record)
    log.close()
    assert_no_secrets([token, password], paths=[tmp_path])
    got = lines(path)
    assert got[0]["key"] == "key-****" and got[0]["record"]["nested"]["list"][1:3] == [5, None]


def test_verify_path_accepts_a_new_file_in_new_folders_and_leaves_no_file(tmp_path):
    target = tmp_path / "a" / "b" / "rejected.jsonl"
    assert RejectLog.verify_path(str(target)) == str(target)
    assert target.parent.is_dir() and not target.exists()
    target.write_text("kept\n")
    RejectLog.verify_path(str(target))
    assert target.read_text() == "kept\n"
    assert RejectLog.verify_path("") is None and RejectLog.verify_path(None) is None
    assert RejectLog.verify_path(os.devnull) == os.devnull


@pytest.mark.parametrize(
    "make_path, words",
    [
        (lambda tmp: str(tmp), "folder"),
        (lambda tmp: "/proc/version", "/proc/version"),
        (lambda tmp: "/proc/hsec-no-such-dir/rejected.jsonl", "hsec-no-such-dir"),  # cannot create the folder
        (lambda tmp: str(_file(tmp)) + "/under-a-file.jsonl", "under-a-file"),
    ],
)
def test_verify_path_refuses_what_cannot_be_appended(tmp_path, make_path, words):
    path = make_path(tmp_path)
    with pytest.raises(AirbyteTracedException) as info:
        RejectLog.verify_path(path, field="rejected_records_path")
    exc = info.value
    assert exc.failure_type.value == "config_error"
    assert path in exc.message and words in exc.message and "rejected_records_path" in exc.message


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_verify_path_refuses_an_unwritable_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(AirbyteTracedException, match="ro/r.jsonl"):
            RejectLog.verify_path(str(folder / "r.jsonl"))
    finally:
        folder.chmod(0o700)


def test_unwritable_path_during_write_is_a_config_error_naming_it(tmp_path):
    log = RejectLog(str(tmp_path))  # a folder: check would have refused it
    with pytest.raises(AirbyteTracedException) as info:
        log.reject("users", "k", 2, "r", {})
    assert str(tmp_path) in info.value.message


def _file(tmp):
    f = tmp / "plain.txt"
    f.write_text("x")
    return f


def test_mask_fields_hide_secrets_that_are_data(tmp_path):
    path = tmp_path / "r.jsonl"
    log = RejectLog(str(path))
    log.mask_fields = {"customer_password", "customer_PIN"}
    record = {"email": "a@b.cz", "customer_password": "DataPw-HSEC-1", "nested": {"CUSTOMER_PIN": 98765432}, "customer_PIN": ""}
    log.reject("customers", "a@b.cz", 2, "bad", record)
    log.note("customers", "a@b.cz", "phone", "normalised", record)
    log.close()
    assert_no_secrets(["DataPw-HSEC-1", "98765432"], paths=[tmp_path])
    got = lines(path)[0]["record"]
    assert got == {"email": "a@b.cz", "customer_password": "****", "nested": {"CUSTOMER_PIN": "****"}, "customer_PIN": ""}


def test_a_line_cut_off_by_a_killed_run_is_dropped_before_appending(tmp_path, caplog):
    """A destination killed while writing leaves a cut-off last line; the next run's file must
    still be one JSON object per line (the cut record is re-sent: its STATE was never echoed)."""
    import json as _json

    from destination_common.rejects import RejectLog

    path = tmp_path / "rejected.jsonl"
    whole = _json.dumps({"kind": "rejected", "stream": "s", "key": "a@x", "code": 2, "reason": "r", "record": {}})
    path.write_text(whole + "\n" + whole[:40], encoding="utf-8")  # killed mid-line
    log = RejectLog(str(path))
    with caplog.at_level("WARNING", logger="airbyte"):
        log.reject("s", "b@x", 2, "again", {"email": "b@x"})
        log.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [_json.loads(line)["key"] for line in lines] == ["a@x", "b@x"]
    assert any("cut-off line" in r.getMessage() for r in caplog.records)


def test_a_whole_file_is_appended_to_unchanged(tmp_path):
    from destination_common.rejects import RejectLog

    path = tmp_path / "rejected.jsonl"
    path.write_text('{"key": "a"}\n', encoding="utf-8")
    log = RejectLog(str(path))
    log.reject("s", "b", 2, "r", {})
    log.close()
    assert path.read_text(encoding="utf-8").startswith('{"key": "a"}\n{')
