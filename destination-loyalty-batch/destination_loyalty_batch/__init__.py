"""Airbyte destination for the loyalty platform's customers_batch call."""

from destination_loyalty_batch.destination import DestinationLoyaltyBatch

__all__ = ["DestinationLoyaltyBatch"]
