from destination_upgates_customers.destination import DestinationUpgatesCustomers

__all__ = ["DestinationUpgatesCustomers"]
