import pytest
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import BatchRefused, Item, Status
from destination_cartum_users.handler import UsersImportHandler, outcome_of, parse_entry


@pytest.mark.parametrize(
    "entry,expected",
    [
        ({"info": [{"code": 0, "message": "User a update completed successfully!"}]}, (0, "User a update completed successfully!")),
        ({"info": [{"code": 1, "message": "m1"}, {"code": 2, "message": "m2"}]}, (1, "m1")),
        ({"info": [{"code": 0, "message": "ok"}, {"code": 2, "message": "bad phone"}, {"code": 2, "message": "bad city"}]}, (2, "bad phone; bad city")),
        ({"code": 3, "message": "boom"}, (3, "boom")),
        ({"code": "2", "message": "str code"}, (2, "str code")),
        ([{"code": 0, "message": "list form"}], (0, "list form")),
        ({"info": []}, (-1, "empty log entry")),
        ("garbage", (-1, "unreadable log entry: garbage")),
    ],
)
def test_parse_entry(entry, expected):
    assert parse_entry(entry) == expected


def test_outcomes():
    assert outcome_of({"code": 0}).status is Status.ACCEPTED
    assert outcome_of({"code": 3, "message": "x"}).status is Status.RETRY
    o = outcome_of({"info": [{"code": 2, "message": "The email field (x) is set incorrectly!"}]})
    assert (o.status, o.code, o.reason) == (Status.REJECTED, 2, "The email field (x) is set incorrectly!")
    assert outcome_of({"code": 7, "message": "?"}).code == "unknown"


class FakeClient:
    login = "u"
    base = "https://shop"

    def __init__(self, answer):
        self.answer = answer

    def call(self, function, body):
        return self.answer

    @staticmethod
    def message(response):
        return str(response.get("message")) if isinstance(response, dict) else str(response)


def items(n):
    return [Item("users", f"u{i}@x.io", {"email": f"u{i}@x.io"}, {}) for i in range(n)]


def test_send_aligns_outcomes_and_checks_length():
    h = UsersImportHandler(FakeClient(("WARNING", {"log": [{"code": 0}, {"info": [{"code": 2, "message": "bad"}]}]})), dict)
    assert [o.status for o in h.send(items(2))] == [Status.ACCEPTED, Status.REJECTED]
    with pytest.raises(AirbyteTracedException):
        h.send(items(3))


@pytest.mark.parametrize("status", ["ERROR", "EXCEPTION", "HTTP_ERROR"])
def test_whole_request_refusals_become_batch_refused(status):
    h = UsersImportHandler(FakeClient((status, {"message": "Too many users"})), dict)
    with pytest.raises(BatchRefused) as err:
        h.send(items(2))
    assert "Too many users" in err.value.reason and err.value.code == status


def test_forbidden_is_a_config_error():
    h = UsersImportHandler(FakeClient(("FORBIDDEN", {"message": "Use of the method is not allowed"})), dict)
    with pytest.raises(AirbyteTracedException) as err:
        h.send(items(1))
    assert "right to use users/import" in err.value.message


def test_key_is_normalised_email():
    h = UsersImportHandler(FakeClient(None), dict)
    assert h.key({"email": " A@B.cz "}, {}) == "A@B.cz"
    assert h.key(None, {"login": {"email": "X@y.cz"}}) == "X@y.cz"
