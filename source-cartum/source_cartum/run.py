"""Console script `source-cartum`: spec, check, discover, read (as the Airbyte platform calls it)."""

from __future__ import annotations

import sys
import traceback
from datetime import datetime, timezone
from typing import List, Optional

import orjson

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.models import (
    AirbyteErrorTraceMessage,
    AirbyteMessage,
    AirbyteMessageSerializer,
    AirbyteTraceMessage,
    FailureType,
    TraceType,
    Type,
)

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
    except AirbyteTracedException as error:  # keeps its failure type (config_error...) and message
        print(orjson.dumps(AirbyteMessageSerializer.dump(error.as_airbyte_message())).decode(), flush=True)
        return None
    except Exception as error:  # the platform needs a TRACE message, not a bare traceback
        print(
            orjson.dumps(
                AirbyteMessageSerializer.dump(
                    AirbyteMessage(
                        type=Type.TRACE,
                        trace=AirbyteTraceMessage(
                            type=TraceType.ERROR,
                            emitted_at=int(datetime.now(timezone.utc).timestamp() * 1000),
                            error=AirbyteErrorTraceMessage(
                                message=f"source-cartum could not start: {error}",
                                internal_message=str(error),
                                stack_trace=traceback.format_exc(),
                                failure_type=FailureType.system_error,
                            ),
                        ),
                    )
                )
            ).decode(),
            flush=True,
        )
        return None


def run() -> None:
    args = sys.argv[1:]
    source = _get_source(args)
    if source is None:
        sys.exit(1)
    launch(source, args)


if __name__ == "__main__":
    run()
