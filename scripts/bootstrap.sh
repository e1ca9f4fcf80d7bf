#!/usr/bin/env bash
# Creates .venv (Python 3.11) if missing and installs the project into it, exactly as locked:
#   1. requirements-dev.lock.txt: every third-party package of the dev virtualenv (test tools,
#      the CDK and each connector's dependencies), pinned and hashed (pip --require-hashes
#      --no-deps). It agrees with each connector's own lock (<connector>/requirements.lock.txt,
#      which its Dockerfile installs): one CDK for the tests and the images.
#   2. the lock check (scripts/locks.sh check): fails when a pyproject.toml or requirements-dev.txt
#      changed without `make lock`.
#   3. the repository's own packages, editable and without dependencies: destination-common,
#      each connector folder, the emulators and harness (integration_tests); then `pip check`.
# Re-runs only when a lock or a pyproject.toml changed since the last install (a stamp in .venv).
# VENV=/path/to/venv installs elsewhere (the default is the repository's .venv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
LOCK="$ROOT/requirements-dev.lock.txt"

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
# emulators and harness.
mapfile -t PKGS < <(cd "$ROOT" && for d in destination-common source-* destination-* integration_tests; do
  [ -f "$d/pyproject.toml" ] && echo "$d"; done | awk '!seen[$0]++')

stamp_src="$(cd "$ROOT" && cat requirements-dev.lock.txt "${PKGS[@]/%//pyproject.toml}" \
  $(for p in "${PKGS[@]}"; do [ -f "$p/requirements.lock.txt" ] && echo "$p/requirements.lock.txt"; done) | sha256sum | cut -d' ' -f1)"
stamp_file="$VENV/.project-stamp"
if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp_src" ]; then
  exit 0
fi

log="$VENV/bootstrap.log"
: >"$log"
fail() {
  tail -n 40 "$log" >&2
  echo "bootstrap: $1 (whole log: $log)" >&2
  exit 1
}
pip=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)
t0=$SECONDS
echo "bootstrap: installing requirements-dev.lock.txt, then ${PKGS[*]} into $VENV (a few minutes the first time; log: $log)"

# 1. The locked third-party packages. The lock is resolved for Linux x86_64 / CPython 3.11 (CI);
#    elsewhere the same pins are used as constraints and pip picks the platform's own extras.
local_opts=(--no-deps)
if "$VENV/bin/python" -c 'import sys, platform; sys.exit(not (sys.platform == "linux" and platform.machine() == "x86_64"))'; then
  "${pip[@]}" install --require-hashes --no-deps -r "$LOCK" >>"$log" 2>&1 || fail "pip failed on requirements-dev.lock.txt"
else
  pins="$VENV/.dev-pins.txt"
  sed -n 's/^\([A-Za-z0-9][^ ;\\]*==[^ ;\\]*\).*/\1/p' "$LOCK" >"$pins"
  "${pip[@]}" install -c "$pins" -r "$ROOT/requirements-dev.txt" >>"$log" 2>&1 || fail "pip failed on requirements-dev.txt with the locked pins"
  local_opts=(-c "$pins")
fi

# 2. The locks are current (offline: uv, from the lock above, compares each uv.lock with its
#    pyproject.toml).
VENV="$VENV" bash "$ROOT/scripts/locks.sh" check || { echo "bootstrap: stale lock files (see above)" >&2; exit 1; }

# 3. The repository's packages, editable. Their build backend (setuptools) is in the lock, so no
#    build isolation: nothing else is downloaded.
args=()
for p in "${PKGS[@]}"; do args+=(-e "$ROOT/$p"); done
"${pip[@]}" install "${local_opts[@]}" --no-build-isolation "${args[@]}" >>"$log" 2>&1 || fail "pip failed on the local packages"
"${pip[@]}" check >>"$log" 2>&1 || fail "pip check: the virtualenv's requirements do not fit together"

echo "$stamp_src" > "$stamp_file"
echo "bootstrap: done in $((SECONDS - t0)) s"
