import sys
from typing import List, Optional

import orjson

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_upgates_customers.source import SourceUpgatesCustomers


def _get_source(args: List[str]) -> Optional[SourceUpgatesCustomers]:
    """The source built from `--config/--catalog/--state` (a declarative source needs them in its
    constructor); on a bad file, a TRACE error on stdout and None."""
    config_path = AirbyteEntrypoint.extract_config(args)
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    try:
        return SourceUpgatesCustomers(
            catalog=SourceUpgatesCustomers.read_catalog(catalog_path) if catalog_path else None,
            config=SourceUpgatesCustomers.read_config(config_path) if config_path else None,
            state=SourceUpgatesCustomers.read_state(state_path) if state_path else None,
        )
    except Exception as error:  # the platform needs a TRACE message, not a traceback
        traced = AirbyteTracedException.from_exception(
            error,
            message=f"source-upgates-customers could not start: {error}",
            failure_type=FailureType.config_error,
        )
        print(orjson.dumps(AirbyteMessageSerializer.dump(traced.as_airbyte_message())).decode(), flush=True)
        return None


def run() -> None:
    args = sys.argv[1:]
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    launch(source, args)


if __name__ == "__main__":
    run()
