"""Cartum users/import: to be written by the destination-cartum-users work."""
