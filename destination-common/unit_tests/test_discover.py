import json
import subprocess
import sys
from pathlib import Path

import pytest
from airbyte_cdk.models import ConfiguredAirbyteCatalogSerializer, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from destination_common import Operation, resolve_streams
from destination_common.discover import destination_catalog_message

OPS = [
    Operation("users", "append_dedup", {"type": "object", "properties": {"email": {"type": "string"}}}, [["email"]]),
]


def catalog(name="customers", mode="append_dedup", object_name=None):
    stream = {
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh"]},
        "sync_mode": "full_refresh",
        "destination_sync_mode": mode,
    }
    if object_name:
        stream["destination_object_name"] = object_name
    return ConfiguredAirbyteCatalogSerializer.load({"streams": [stream]})


def test_destination_catalog_message_shape():
    msg = destination_catalog_message(OPS)
    assert msg == {
        "type": "DESTINATION_CATALOG",
        "destination_catalog": {
            "operations": [
                {
                    "object_name": "users",
                    "sync_mode": "append_dedup",
                    "json_schema": OPS[0].json_schema,
                    "matching_keys": [["email"]],
                }
            ]
        },
    }


def test_resolve_single_object_and_named_object():
    assert resolve_streams(catalog(), OPS)["customers"].object_name == "users"
    assert resolve_streams(catalog(object_name="users"), OPS)["customers"].sync_mode == "append_dedup"


@pytest.mark.parametrize("kwargs,needle", [({"mode": "overwrite"}, "supports only: append_dedup"), ({"object_name": "orders"}, "Set destination_object_name")])
def test_resolve_refuses_unsupported(kwargs, needle):
    with pytest.raises(AirbyteTracedException) as err:
        resolve_streams(catalog(**kwargs), OPS)
    assert err.value.failure_type == FailureType.config_error and needle in err.value.message


DEST = '''
import sys
from destination_common import DiscoverableDestination, Operation
class D(DiscoverableDestination):
    def spec(self, logger):
        from airbyte_cdk.models import ConnectorSpecification
        return ConnectorSpecification(connectionSpecification={"type": "object", "required": ["b2b"],
            "properties": {"b2b": {"type": "boolean"}, "password": {"type": "string", "airbyte_secret": True}}})
    def operations(self, config):
        props = {"email": {"type": "string"}}
        if config["b2b"]:
            props["company"] = {"type": "string"}
        return [Operation("users", "append_dedup", {"type": "object", "properties": props}, [["email"]])]
    def check(self, logger, config): ...
    def write(self, config, catalog, messages): ...
D().run(sys.argv[1:])
'''


def test_discover_command_prints_one_destination_catalog(tmp_path):
    script = tmp_path / "d.py"
    script.write_text(DEST)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"b2b": True, "password": "hunter2"}))
    out = subprocess.run([sys.executable, str(script), "discover", "--config", str(cfg)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(l) for l in out.stdout.splitlines() if l.strip()]
    assert [l["type"] for l in lines] == ["DESTINATION_CATALOG"]
    assert set(lines[0]["destination_catalog"]["operations"][0]["json_schema"]["properties"]) == {"email", "company"}
    # spec/check/write still work through the CDK
    spec = subprocess.run([sys.executable, str(script), "spec"], capture_output=True, text=True)
    assert json.loads(spec.stdout.splitlines()[-1])["type"] == "SPEC"
    # an invalid config gives a config error trace, without the secret
    cfg.write_text(json.dumps({"password": "hunter2"}))
    bad = subprocess.run([sys.executable, str(script), "discover", "--config", str(cfg)], capture_output=True, text=True)
    assert bad.returncode != 0 and "hunter2" not in bad.stdout + bad.stderr
    assert any(json.loads(l).get("type") == "TRACE" for l in bad.stdout.splitlines() if l.startswith("{"))


def test_connection_failed_reports_traced_and_other_exceptions_with_secrets_masked():
    from airbyte_cdk.models import FailureType, Status
    from airbyte_cdk.utils.traced_exception import AirbyteTracedException

    from destination_common import add_secret, connection_failed

    add_secret("s3cr3t-token-value")
    traced = AirbyteTracedException(message="bad login s3cr3t-token-value", failure_type=FailureType.config_error)
    status = connection_failed(traced)
    assert status.status == Status.FAILED and status.message == "bad login ****"
    assert connection_failed(KeyError("x")).message == "KeyError: 'x'"
