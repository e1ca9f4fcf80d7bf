from destination_upgates_customers.version import __version__
from destination_upgates_customers.destination import DestinationUpgatesCustomers

__all__ = ["DestinationUpgatesCustomers", "__version__"]
