"""Airbyte source for Cartum B2B shops (the B2B edition of Horoshop)."""

from source_cartum.source import SourceCartum

__all__ = ["SourceCartum"]
