"""The console script `destination-cartum-users` (start-up shared by the destinations: destination_common.console)."""

from destination_common import run_destination

from destination_cartum_users.destination import DestinationCartumUsers


def run() -> None:
    run_destination(DestinationCartumUsers)


if __name__ == "__main__":
    run()
