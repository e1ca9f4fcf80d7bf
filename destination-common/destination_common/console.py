"""The destinations' console script: one start-up for all three (`run.py` calls
`run_destination(DestinationX)`)."""

from __future__ import annotations

import gc
import logging
import sys
from typing import Optional, Sequence

from airbyte_cdk.logger import is_platform_debug_log_enabled


# the garbage collector's thresholds during a run (Python's default: 700, 10, 10)
GC_THRESHOLD = (10_000, 20, 10)


def run_destination(destination_cls: type, argv: Optional[Sequence[str]] = None) -> None:
    """Run `destination_cls().run(args)` with the command line (default `sys.argv[1:]`).

    `--debug` (anywhere in the arguments) or the platform's LOG_LEVEL=debug turns on DEBUG logs,
    as for the CDK's sources; secrets stay masked. The ~110,000 objects of the start-up (the CDK,
    its models) live as long as the process: `gc.freeze()` keeps them out of the garbage
    collector's full passes, which otherwise stop the sync for ~65-80 ms each (issue 16: one
    such pause is more than a request's time at 50 ms per answer). The youngest generation is
    collected every `GC_THRESHOLD[0]` allocations instead of 700: a sync's objects mostly die
    young by reference counting, and the default collected about once every 120 records and
    the older generations (the buffered batches) every ~1,200 (measured: ~0.5 s of collections per 160,000
    loyalty records, ~0.07 s with these thresholds; issue 16 item 1)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or is_platform_debug_log_enabled()
    args = [a for a in args if a != "--debug"]
    if debug:
        # as the CDK's entrypoint does for `--debug`: debug lines as "DEBUG" messages (with
        # LOG_LEVEL=debug from the platform the CDK prints them as LOG messages instead)
        logging.getLogger("airbyte").setLevel(logging.DEBUG)
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
    destination_cls().run(args)
