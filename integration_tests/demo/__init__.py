"""The demo: every connection of the project, full then incremental, against the bundled emulators
(`make demo`; the code is in demo/run.py)."""
