#!/usr/bin/env bash
# The whole test suite: unit, standard (CDK) and end-to-end tests of every connector against
# the emulators. Extra arguments go to pytest (e.g. -k cartum, -m "not slow").
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
# Two workers (the machine kind has 2 cores); each top-level folder stays in one worker
# (see conftest.py). PYTEST_WORKERS=0 runs in one process.
workers="${PYTEST_WORKERS:-2}"
xdist=()
if [ "$workers" != "0" ]; then xdist=(-n "$workers" --dist loadgroup); fi
set +e
"$ROOT/.venv/bin/python" -m pytest "${xdist[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "test: pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
