"""Airbyte destination for the loyalty platform customers_batch call."""
