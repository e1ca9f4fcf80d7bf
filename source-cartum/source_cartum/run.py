"""Console script `source-cartum`: spec, check, discover, read (as the Airbyte platform calls it)."""

from __future__ import annotations

import sys
from typing import List, Optional

import orjson

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import AirbyteMessageSerializer, FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException
from source_cartum.source import SourceCartum


def _get_source(args: List[str]) -> Optional[SourceCartum]:
    catalog_path = AirbyteEntrypoint.extract_catalog(args)
    config_path = AirbyteEntrypoint.extract_config(args)
    state_path = AirbyteEntrypoint.extract_state(args)
    try:
        return SourceCartum(
            catalog=SourceCartum.read_catalog(catalog_path) if catalog_path else None,
            config=SourceCartum.read_config(config_path) if config_path else None,
            state=SourceCartum.read_state(state_path) if state_path else None,
        )
    except Exception as error:  # the platform needs a TRACE message, not a bare traceback
        # A traced error keeps its failure type (config_error...) and message.
        traced = (
            error
            if isinstance(error, AirbyteTracedException)
            else AirbyteTracedException.from_exception(
                error, message=f"source-cartum could not start: {error}", failure_type=FailureType.system_error
            )
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
