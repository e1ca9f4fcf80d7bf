from source_upgates_customers.source import SourceUpgatesCustomers

__all__ = ["SourceUpgatesCustomers"]
