"""The test modules of this folder share the console-script helpers of `upgates_console.py`
(the repository runs pytest with --import-mode=importlib, which puts no test folder on sys.path)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
