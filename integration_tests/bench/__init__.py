"""Benchmarks of the connector set against the emulators: `python -m bench` (see bench/run.py).
The emulators are the tests' own, with their fast paths for benchmark sizes on (bench/worlds.py)."""
