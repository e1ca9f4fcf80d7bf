"""Airbyte source for Cartum B2B shops (the B2B edition of Horoshop).

`SourceCartum` is imported on first use, so `source-cartum spec` does not load the CDK's
declarative machinery."""

from typing import Any

__all__ = ["SourceCartum"]


def __getattr__(name: str) -> Any:
    if name == "SourceCartum":
        from source_cartum.source import SourceCartum

        return SourceCartum
    raise AttributeError(f"module 'source_cartum' has no attribute {name!r}")
