#!/usr/bin/env bash
# The benchmarks: figures measured in one run on this machine against the emulators, each beside
# its ideal, its ratio and, where issues 13/16 set one, the goal on that ratio and whether this run
# met it (see docs/performance.md). Prints a Markdown table and writes .bench/results.json (+ .md).
# Default: the full run (100,000 / 1,000,000 records, medians of 3 runs, about 20 minutes).
# Extra arguments go to the bench: --quick (small sizes, one run each: about 6 minutes on a busy
# 2-core machine), --only 1 3 (items 1-7), --reps 5.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
# Peak memory comes from GNU time's report (Debian package `time`); install it when missing
# and we may (root with apt-get), otherwise the bench runs and reports memory as unknown.
if [ ! -x /usr/bin/time ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "bench: installing GNU time (apt-get install time)"
  { apt-get update -qq && apt-get install -y -qq time; } >/dev/null 2>&1 || echo "bench: could not install GNU time; peak memory will be unknown" >&2
fi
cd "$ROOT"
PYTHONPATH="$ROOT/integration_tests${PYTHONPATH:+:$PYTHONPATH}" exec "$ROOT/.venv/bin/python" -m bench "$@"
