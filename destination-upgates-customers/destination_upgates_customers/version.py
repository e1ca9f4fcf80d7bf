"""The package's version: equal to pyproject.toml's `version` (a unit test checks it). The
User-Agent of every request carries it."""

__version__ = "0.1.3"
