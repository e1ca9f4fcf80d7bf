import sys

from destination_upgates_customers.destination import DestinationUpgatesCustomers


def run() -> None:
    DestinationUpgatesCustomers().run(sys.argv[1:])


if __name__ == "__main__":
    run()
