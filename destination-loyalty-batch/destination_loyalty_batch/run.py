import sys

from destination_loyalty_batch.destination import DestinationLoyaltyBatch


def run() -> None:
    DestinationLoyaltyBatch().run(sys.argv[1:])


if __name__ == "__main__":
    run()
