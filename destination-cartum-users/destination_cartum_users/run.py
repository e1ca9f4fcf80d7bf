import sys

from destination_cartum_users.destination import DestinationCartumUsers


def run() -> None:
    DestinationCartumUsers().run(sys.argv[1:])


if __name__ == "__main__":
    run()
