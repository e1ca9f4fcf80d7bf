"""Test harness: runs connectors as the platform does (runner, pipeline), pytest fixtures that start
the emulators (fixtures/), the one way a CDK standard suite is pointed at an emulator (standard),
shared test data (loyalty_data) and the secrets scan. Test equipment; connectors never import it."""
