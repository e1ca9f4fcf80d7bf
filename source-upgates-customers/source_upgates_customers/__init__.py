"""source-upgates-customers. `SourceUpgatesCustomers` is imported on first use, so the console
script's `spec` does not pay for the CDK's declarative machinery."""

from typing import Any

__all__ = ["SourceUpgatesCustomers"]


def __getattr__(name: str) -> Any:
    if name == "SourceUpgatesCustomers":
        from source_upgates_customers.source import SourceUpgatesCustomers

        return SourceUpgatesCustomers
    raise AttributeError(name)
