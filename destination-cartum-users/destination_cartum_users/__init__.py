from destination_cartum_users.version import __version__
from destination_cartum_users.destination import DestinationCartumUsers

__all__ = ["DestinationCartumUsers", "__version__"]
