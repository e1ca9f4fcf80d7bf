import sys
from pathlib import Path

import pytest
from airbyte_cdk.utils import airbyte_secrets_utils

sys.path.insert(0, str(Path(__file__).parent))

_SECRETS = "__SECRETS_FROM_CONFIG"


@pytest.fixture(autouse=True)
def _fresh_secret_filter():
    """Each in-process write registers its secrets with the CDK's process-wide filter; give
    every test the list it started with, so tests do not depend on each other's secrets."""
    saved = list(vars(airbyte_secrets_utils).get(_SECRETS, []))
    yield
    airbyte_secrets_utils.update_secrets(saved)
