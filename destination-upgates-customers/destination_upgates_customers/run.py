import gc
import sys

from destination_upgates_customers.destination import DestinationUpgatesCustomers


def run() -> None:
    # The start-up's objects (the CDK, its models) live as long as the process: kept out of the
    # garbage collector's full passes, which otherwise pause the sync for ~65-80 ms each.
    gc.freeze()
    DestinationUpgatesCustomers().run(sys.argv[1:])


if __name__ == "__main__":
    run()
