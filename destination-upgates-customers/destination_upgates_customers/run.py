"""The console script `destination-upgates-customers` (start-up shared by the destinations: destination_common.console)."""

from destination_common import run_destination

from destination_upgates_customers.destination import DestinationUpgatesCustomers


def run() -> None:
    run_destination(DestinationUpgatesCustomers)


if __name__ == "__main__":
    run()
