"""The console script `destination-loyalty-batch` (start-up shared by the destinations: destination_common.console)."""

from destination_common import run_destination

from destination_loyalty_batch.destination import DestinationLoyaltyBatch


def run() -> None:
    run_destination(DestinationLoyaltyBatch)


if __name__ == "__main__":
    run()
