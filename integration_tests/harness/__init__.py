"""Test harness: runs connectors as the platform does (runner, pipeline), pytest fixtures that start
the emulators, and the secrets scan. Test equipment; connectors never import it."""
