import gc
import logging
import sys

from airbyte_cdk.logger import is_platform_debug_log_enabled

from destination_loyalty_batch.destination import DestinationLoyaltyBatch


def run() -> None:
    """The console script. `--debug` (anywhere in the arguments) or the platform's
    LOG_LEVEL=debug turns on DEBUG logs, as for the CDK's sources; secrets stay masked."""
    args = sys.argv[1:]
    debug = "--debug" in args or is_platform_debug_log_enabled()
    args = [a for a in args if a != "--debug"]
    if debug:
        logging.getLogger("airbyte").setLevel(logging.DEBUG)
    # The ~110,000 objects of the start-up (the CDK, its models) live as long as the process: kept
    # out of the garbage collector's full passes, which otherwise stop the sync for ~65-80 ms each
    # (issue 16: one such pause is more than a request's time at 50 ms per answer).
    gc.freeze()
    DestinationLoyaltyBatch().run(args)


if __name__ == "__main__":
    run()
