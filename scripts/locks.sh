#!/usr/bin/env bash
# The lock files: each connector's exact dependencies, and the dev virtualenv's.
#
#   bash scripts/locks.sh check     (make check-locks; bootstrap runs it) fails when a lock is
#                                   missing or stale: a pyproject.toml or requirements-dev.txt
#                                   changed without `make lock`. Offline, a second or two.
#   bash scripts/locks.sh update    (make lock) regenerates every lock. Versions already locked
#                                   stay (uv keeps them while they satisfy the pyproject); to
#                                   move one: UPGRADE="airbyte-cdk requests" make lock.
#
# Files (docs/images.md, "Lock files"):
#   <connector>/uv.lock                 uv's lock of the connector (universal, hashed), from its
#                                       pyproject.toml; destinations resolve destination-common
#                                       from ../destination-common ([tool.uv.sources]).
#   <connector>/requirements.lock.txt   the same pins exported with their hashes, without the
#                                       connector itself and without destination-common (local):
#                                       what the Dockerfile installs (--require-hashes --no-deps).
#   requirements-dev.lock.txt           the dev virtualenv (scripts/bootstrap.sh): requirements-dev.txt
#                                       plus every package of the repository, with hashes, pinned to
#                                       the connectors' locks (one CDK for tests and images).
#
# Uses uv (in .venv after bootstrap: PyAirbyte depends on it; or UV=/path/to/uv).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
CONNECTORS=(source-upgates-customers source-cartum destination-cartum-users destination-loyalty-batch destination-upgates-customers)
LOCAL=(destination-common "${CONNECTORS[@]}" integration_tests)
DEV_LOCK="$ROOT/requirements-dev.lock.txt"
PY="$VENV/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
UV="${UV:-}"
if [ -z "$UV" ]; then
  if [ -x "$VENV/bin/uv" ]; then UV="$VENV/bin/uv"
  elif [ -x "$ROOT/build/uv/bin/uv" ]; then UV="$ROOT/build/uv/bin/uv"
  elif [ -f "$DEV_LOCK" ]; then
    # No dev virtualenv yet: the uv that the dev lock pins, hash-checked, in a venv of its own.
    echo "locks: installing the locked uv into build/uv" >&2
    "$PY" -m venv "$ROOT/build/uv" >&2
    "$PY" - "$DEV_LOCK" >"$ROOT/build/uv/uv.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
m = re.search(r"^uv==.*?(?=^\S|\Z)", text, re.M | re.S)
print(m.group(0) if m else "uv")
EOF
    "$ROOT/build/uv/bin/python" -m pip --disable-pip-version-check install --quiet --require-hashes --no-deps \
      -r "$ROOT/build/uv/uv.txt" >&2 || { rm -rf "$ROOT/build/uv"; echo "locks: could not install uv" >&2; exit 1; }
    UV="$ROOT/build/uv/bin/uv"
  fi
fi
[ -n "$UV" ] || { echo "locks: uv not found (set UV=/path/to/uv)" >&2; exit 1; }
export UV_PYTHON="${UV_PYTHON:-$PY}" UV_NO_PROGRESS=1
mode="${1:-check}"

present=()
for c in "${CONNECTORS[@]}"; do [ -f "$ROOT/$c/pyproject.toml" ] && present+=("$c"); done

exported() { # exported <connector>: the hashed requirements the Dockerfile installs, on stdout
  echo "# Exported from uv.lock by \`make lock\` (scripts/locks.sh): every dependency of $1, pinned and"
  echo "# hashed, without $1 itself and without destination-common (local). Its Dockerfile installs"
  echo "# this file with pip --require-hashes --no-deps. Do not edit by hand."
  (cd "$ROOT/$1" && "$UV" export --quiet --frozen --format requirements.txt --no-dev --no-header \
     --no-emit-project --no-emit-local)
}

# Hash of what the dev lock is made from: requirements-dev.txt, the dependency-relevant parts of
# every local pyproject.toml (as poetry's content-hash: not the version or description) and the
# connectors' locks.
dev_inputs_hash() {
  "$PY" - "$ROOT" "${LOCAL[@]}" <<'EOF'
import hashlib, json, sys, tomllib
from pathlib import Path
root, names = Path(sys.argv[1]), sys.argv[2:]
reqs = [l.split("#", 1)[0].strip() for l in (root / "requirements-dev.txt").read_text().splitlines()]
h = hashlib.sha256("\n".join(r for r in reqs if r).encode())  # comments do not count
for n in names:
    p = root / n / "pyproject.toml"
    if not p.exists():
        continue
    t = tomllib.loads(p.read_text())
    proj = t.get("project", {})
    rel = {k: proj.get(k) for k in ("name", "dependencies", "optional-dependencies", "requires-python")}
    rel["sources"] = t.get("tool", {}).get("uv", {}).get("sources")
    rel["build"] = t.get("build-system")
    h.update(json.dumps(rel, sort_keys=True).encode())
    lock = root / n / "requirements.lock.txt"
    if lock.exists():
        h.update(lock.read_bytes())
print(h.hexdigest())
EOF
}

update() {
  local tmp; tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' RETURN
  local up=()
  for p in ${UPGRADE:-}; do up+=(--upgrade-package "$p"); done
  for c in "${present[@]}"; do
    echo "locks: $c/uv.lock" >&2
    (cd "$ROOT/$c" && "$UV" lock --quiet "${up[@]}")
    exported "$c" >"$ROOT/$c/requirements.lock.txt"
  done
  # The dev lock: pinned to the connectors' locks (constraints), other packages keep the pins of
  # the previous dev lock (uv reads it as preferences) unless named in UPGRADE.
  local cons="$tmp/constraints.txt" in="$tmp/requirements.in"
  : >"$cons"
  for c in "${present[@]}"; do
    grep -E '^[A-Za-z0-9]' "$ROOT/$c/requirements.lock.txt" | sed 's/ *\\$//' >>"$cons"
  done
  { cat "$ROOT/requirements-dev.txt"
    for n in "${LOCAL[@]}"; do [ -f "$ROOT/$n/pyproject.toml" ] && echo "-e ./$n"; done
  } >"$in"
  local no_emit=()
  for n in "${LOCAL[@]}"; do
    [ -f "$ROOT/$n/pyproject.toml" ] || continue
    no_emit+=(--no-emit-package "$("$PY" -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["name"])' "$ROOT/$n/pyproject.toml")")
  done
  echo "locks: requirements-dev.lock.txt" >&2
  [ -f "$DEV_LOCK" ] && cp "$DEV_LOCK" "$tmp/out.txt"
  (cd "$ROOT" && cp "$in" ./.requirements-dev.in && trap 'rm -f ./.requirements-dev.in' EXIT \
    && "$UV" pip compile --quiet --python-platform x86_64-unknown-linux-gnu --python-version 3.11 --generate-hashes --no-sources --no-header \
         --no-annotate "${no_emit[@]}" "${up[@]}" ${SEED:+-c "$SEED"} \
         -c "$cons" -o "$tmp/out.txt" ./.requirements-dev.in) 2>&1 | grep -v '^$' >&2 || true
  [ -s "$tmp/out.txt" ] || { echo "locks: uv pip compile failed" >&2; return 1; }
  { echo "# The dev virtualenv, exactly (scripts/bootstrap.sh installs it with --require-hashes --no-deps,"
    echo "# then the repository's own packages with --no-deps -e). Generated by \`make lock\`"
    echo "# (scripts/locks.sh): requirements-dev.txt + every local pyproject.toml, pinned to the"
    echo "# connectors' requirements.lock.txt. Do not edit by hand."
    echo "# inputs-sha256: $(dev_inputs_hash)"
    grep -v '^#' "$tmp/out.txt"
  } >"$DEV_LOCK"
  check
}

check() {
  local bad=0
  for c in "${present[@]}"; do
    if [ ! -f "$ROOT/$c/uv.lock" ] || [ ! -f "$ROOT/$c/requirements.lock.txt" ]; then
      echo "locks: $c has no uv.lock / requirements.lock.txt: run \`make lock\`" >&2; bad=1; continue
    fi
    if ! (cd "$ROOT/$c" && "$UV" lock --check --offline --quiet) >/dev/null 2>&1; then
      echo "locks: $c/uv.lock is stale (its pyproject.toml changed): run \`make lock\` and commit the locks" >&2
      bad=1; continue
    fi
    if ! diff -q <(exported "$c") "$ROOT/$c/requirements.lock.txt" >/dev/null; then
      echo "locks: $c/requirements.lock.txt differs from its uv.lock: run \`make lock\`" >&2; bad=1
    fi
  done
  if [ ! -f "$DEV_LOCK" ]; then
    echo "locks: requirements-dev.lock.txt is missing: run \`make lock\`" >&2; bad=1
  elif [ "$(sed -n 's/^# inputs-sha256: //p' "$DEV_LOCK")" != "$(dev_inputs_hash)" ]; then
    echo "locks: requirements-dev.lock.txt is stale (requirements-dev.txt, a pyproject.toml or a connector lock changed): run \`make lock\`" >&2
    bad=1
  else
    # One CDK for tests and images: every pin of a connector's lock is the dev lock's pin.
    "$PY" - "$DEV_LOCK" "${present[@]/#/$ROOT/}" <<'EOF' || bad=1
import re, sys
from pathlib import Path
from packaging.markers import Marker
# The dev lock is resolved for Linux x86_64, CPython 3.11 (CI); a connector's lock is universal.
ENV = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "platform_python_implementation": "CPython", "implementation_name": "cpython",
       "python_version": "3.11", "python_full_version": "3.11.0"}
def pins(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;\\]+)\s*(?:;([^\\]*))?", line)
        if m and (not m.group(3) or Marker(m.group(3).strip()).evaluate(ENV)):
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out
dev = pins(sys.argv[1])
bad = [f"{Path(d).name}: {n}=={v} (dev lock: {dev.get(n)})"
       for d in sys.argv[2:] for n, v in pins(Path(d) / "requirements.lock.txt").items() if dev.get(n) != v]
if bad:
    print("locks: the dev lock disagrees with a connector's lock (run `make lock`):\n  " + "\n  ".join(bad), file=sys.stderr)
    sys.exit(1)
EOF
  fi
  [ "$bad" = 0 ] && echo "locks: all up to date" >&2
  return "$bad"
}

case "$mode" in
  check) check ;;
  update) update ;;
  *) echo "usage: $0 check|update" >&2; exit 2 ;;
esac
