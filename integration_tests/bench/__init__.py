"""Benchmarks of the connector set against the emulators: `python -m bench` (see bench/run.py)."""
