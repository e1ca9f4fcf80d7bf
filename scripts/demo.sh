#!/usr/bin/env bash
# The demo: the main job (UPgates → Cartum → loyalty, full then incremental) against the bundled
# emulators, with a report per run. Extra arguments go to the demo (e.g. --customers 5000).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
cd "$ROOT"
exec "$ROOT/.venv/bin/python" -m demo.run "$@"
