"""Cartum read functions (users/export, customer-groups/export, price-levels/export,
orders/get): to be written by the source-cartum work."""
