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
    DestinationLoyaltyBatch().run(args)


if __name__ == "__main__":
    run()
