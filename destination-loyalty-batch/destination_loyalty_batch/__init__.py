"""Airbyte destination for the loyalty platform's customers_batch call."""

__version__ = "0.2.3"  # keep equal to pyproject.toml and metadata.yaml's dockerImageTag

from destination_loyalty_batch.destination import DestinationLoyaltyBatch  # noqa: E402

__all__ = ["DestinationLoyaltyBatch", "__version__"]
