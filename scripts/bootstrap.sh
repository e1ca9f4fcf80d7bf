#!/usr/bin/env bash
# Creates .venv (Python 3.11) if missing and installs every package of the project into it:
# each connector folder that has a pyproject.toml, the shared destination package, the
# emulators and the test tools. Re-runs pip only when a pyproject.toml or
# requirements-dev.txt changed since the last install (a stamp in .venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"

find_python() {
  for c in "${PYTHON:-}" python3.11 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
      echo "$c"; return 0
    fi
  done
  echo "bootstrap: Python 3.11 is required (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

if [ ! -x "$VENV/bin/python" ]; then
  PY="$(find_python)"
  echo "bootstrap: creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi

# Every folder with a pyproject.toml: the shared destination-common, the connectors, the
# emulators. They go to pip in one command, so a destination's dependency on
# destination-common resolves to this folder (it is not on PyPI).
mapfile -t PKGS < <(cd "$ROOT" && for d in destination-common source-* destination-* integration_tests; do
  [ -f "$d/pyproject.toml" ] && echo "$d"; done | awk '!seen[$0]++')

stamp_src="$(cd "$ROOT" && cat requirements-dev.txt "${PKGS[@]/%//pyproject.toml}" | sha256sum | cut -d' ' -f1)"
stamp_file="$VENV/.project-stamp"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_src" ]; then
  exit 0
fi

log="$VENV/bootstrap.log"
echo "bootstrap: installing ${PKGS[*]} and the test tools into $VENV (a few minutes the first time; log: $log)"
args=(-r "$ROOT/requirements-dev.txt")
for p in "${PKGS[@]}"; do args+=(-e "$ROOT/$p"); done
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip setuptools wheel \
       && "$VENV/bin/python" -m pip install --disable-pip-version-check "${args[@]}"; } >"$log" 2>&1; then
  tail -n 40 "$log" >&2
  echo "bootstrap: pip failed (whole log: $log)" >&2
  exit 1
fi
echo "$stamp_src" > "$stamp_file"
echo "bootstrap: done"
