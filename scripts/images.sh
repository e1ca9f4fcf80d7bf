#!/usr/bin/env bash
# Builds the connector images: `bash scripts/images.sh [connector ...]` (default: all five).
# Each image is tagged <dockerRepository>:<version> and <dockerRepository>:dev, where
# dockerRepository comes from the connector's metadata.yaml (namespace commerceconnectors/) and
# version from its pyproject.toml.
# stdout: one `<connector>=<image>:<version>` line per built image; progress on stderr.
# `bash scripts/images.sh --wheels-only` (make wheels) only does step 1 below.
#
# Build context: the connector folder alone, as Airbyte's tooling builds connectors (what a user
# types is in docs/images.md). Each Dockerfile installs the folder's requirements.lock.txt (its
# locked dependencies, --require-hashes --no-deps), then the connector itself.
#   1. destinations: destination-common (this repository's shared package, not on PyPI) reaches
#      the build as a wheel in <destination>/vendor/ (git-ignored), built here from
#      destination-common/ and refreshed whenever its sources change (same sources, same bytes).
#
# Speed (the test tier builds all five on a 2-core box):
#   - with podman (machines without docker, whose build containers reach PyPI only through a
#     slow proxy) the locked dependencies are first downloaded on the host with the host's pip,
#     hash-checked against the locks, into build/images/wheels; the builds install from there
#     with --no-index;
#   - then every Dockerfile installs the pins that all five locks share (the CDK and its
#     dependencies) first, in a layer of its own (build arg PRE_INSTALL, each pin with the hash of
#     its file in the wheelhouse); the five builds pass the same value, so that layer is built
#     once and shared;
#   - the engine keeps the layers between runs: a rebuild with no change takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ALL=(source-upgates-customers source-cartum destination-cartum-users destination-loyalty-batch destination-upgates-customers)
WORK="$ROOT/build/images"
mkdir -p "$WORK"

# One build at a time (a test run and `make images` side by side share the wheelhouse and tags).
exec 8>"$WORK/.images.lock"
flock 8 2>/dev/null || true

: >"$WORK/images.log"
say() { echo "images: [${SECONDS}s] $*" | tee -a "$WORK/images.log" >&2; }
die() { echo "images: ERROR: $*" >&2; exit 1; }

HOST_PY="$ROOT/.venv/bin/python"
[ -x "$HOST_PY" ] || HOST_PY="$(command -v python3)"

WHEELS_ONLY=0
if [ "${1:-}" = --wheels-only ]; then WHEELS_ONLY=1; shift; fi
if [ "$#" -gt 0 ]; then WANT=("$@"); else WANT=("${ALL[@]}"); fi

# 1. The destination-common wheel in each destination's vendor/ folder. Built from a clean copy of
#    its sources (no build/ leftovers, caches or tests), with a fixed SOURCE_DATE_EPOCH: the same
#    sources give the same bytes, so the images' layer cache holds.
common_wheel() {
  local src="$ROOT/destination-common" out="$WORK/common"
  [ -f "$src/pyproject.toml" ] || die "destination-common/ is missing"
  local stamp
  stamp="$(cd "$src" && find . -path ./build -prune -o -path ./unit_tests -prune -o -name __pycache__ -prune \
      -o -name '*.egg-info' -prune -o -type f ! -name '*.pyc' -print | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)"
  if [ ! -f "$out/.stamp" ] || [ "$(cat "$out/.stamp")" != "$stamp" ] || ! ls "$out"/dist/*.whl >/dev/null 2>&1; then
    rm -rf "$out"; mkdir -p "$out/src" "$out/dist"
    tar -C "$src" --exclude=./build --exclude=./unit_tests --exclude=__pycache__ --exclude='*.pyc' \
      --exclude='*.egg-info' --exclude=./secrets -cf - . | tar -C "$out/src" -xf -
    local iso=()
    "$HOST_PY" -c 'import setuptools, sys; sys.exit(int(setuptools.__version__.split(".")[0]) < 77)' 2>/dev/null && iso=(--no-build-isolation)
    SOURCE_DATE_EPOCH=315532800 "$HOST_PY" -m pip wheel --quiet --disable-pip-version-check --no-deps "${iso[@]}" \
      -w "$out/dist" "$out/src" >"$WORK/common-wheel.log" 2>&1 || { tail -20 "$WORK/common-wheel.log" >&2; die "building the destination-common wheel failed"; }
    echo "$stamp" >"$out/.stamp"
    say "built $(basename "$out"/dist/*.whl)"
  fi
  local whl; whl="$(ls "$out"/dist/*.whl)"
  for d in "${ALL[@]}"; do
    case "$d" in destination-*) ;; *) continue ;; esac
    [ -d "$ROOT/$d" ] || continue
    mkdir -p "$ROOT/$d/vendor"
    [ -f "$ROOT/$d/vendor/.gitignore" ] || printf '# Built by `make wheels` (scripts/images.sh): never committed.\n*\n!.gitignore\n' >"$ROOT/$d/vendor/.gitignore"
    if ! cmp -s "$whl" "$ROOT/$d/vendor/$(basename "$whl")"; then
      rm -f "$ROOT/$d/vendor"/destination_common-*.whl
      cp "$whl" "$ROOT/$d/vendor/"
    fi
  done
}
common_wheel
if [ "$WHEELS_ONLY" = 1 ]; then say "destination-common wheel in each destination's vendor/"; exit 0; fi
CONNECTORS=()
for c in "${WANT[@]}"; do
  c="${c%/}"
  if [ ! -d "$ROOT/$c" ]; then say "$c: no folder yet, skipped"; continue; fi
  if [ ! -f "$ROOT/$c/Dockerfile" ] || [ ! -f "$ROOT/$c/pyproject.toml" ] || [ ! -f "$ROOT/$c/requirements.lock.txt" ]; then
    say "FAILED: $c has no Dockerfile, pyproject.toml or requirements.lock.txt"; MISSING=1; continue
  fi
  CONNECTORS+=("$c")
done
[ "${#CONNECTORS[@]}" -gt 0 ] || { say "nothing to build"; exit "${MISSING:-0}"; }

# Facts from pyproject.toml / metadata.yaml, read with Python's tomllib (3.11+).
info() { # info <connector> -> lines: version, repository
  "$HOST_PY" - "$ROOT/$1" <<'EOF'
import re, sys, tomllib
from pathlib import Path
d = Path(sys.argv[1])
p = tomllib.loads((d / "pyproject.toml").read_text())["project"]
repo = f"commerceconnectors/{d.name}"
meta = d / "metadata.yaml"
if meta.exists():
    m = re.search(r"^\s*dockerRepository:\s*['\"]?([^'\"\s]+)", meta.read_text(), re.M)
    if m:
        repo = m.group(1)
print(p["version"]); print(repo)
EOF
}

# From the connectors' locks (requirements.lock.txt, pins with hashes), for this platform (the
# images: Linux x86_64, CPython 3.11):
#   locks union <folders...>         every pin of any connector once, with its hashes, plus the
#                                    build backend of the connectors (setuptools, from the dev lock)
#   locks shared <wheelhouse> <folders...>   the pins that every connector shares, each with the
#                                    sha256 of its file in the wheelhouse (that hash is one of the
#                                    lock's): the value of PRE_INSTALL
locks() {
  "$HOST_PY" - "$ROOT" "$@" <<'EOF'
import hashlib, re, sys
from pathlib import Path
root, mode, args = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
ENV = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "platform_python_implementation": "CPython", "implementation_name": "cpython",
       "python_version": "3.11", "python_full_version": "3.11.0"}
def evaluate(marker):
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:  # a host without packaging: only the usual Windows-only marker is dropped
        return "win32" not in marker
    return Marker(marker).evaluate(ENV)
def norm(n):
    return re.sub(r"[-_.]+", "-", n).lower()
def entries(path):
    """{name: (pin line, [hashes])} of a requirements file with hashes."""
    out = {}
    text = Path(path).read_text().replace("\\\n", " ")
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*([^-][^\n]*?))?\s*((?:--hash=\S+\s*)*)$", line.strip())
        if m and evaluate((m.group(3) or "").strip()):
            out[norm(m.group(1))] = (f"{m.group(1)}=={m.group(2)}", re.findall(r"--hash=(\S+)", m.group(4)))
    return out
if mode == "union":
    union = {}
    for f in args:
        union.update(entries(Path(f) / "requirements.lock.txt"))
    dev = entries(root / "requirements-dev.lock.txt")
    for backend in ("setuptools",):
        if backend in dev:
            union.setdefault(backend, dev[backend])
    for name in sorted(union):
        pin, hashes = union[name]
        print(" ".join([pin] + [f"--hash={h}" for h in hashes]))
elif mode == "shared":
    wheelhouse, folders = Path(args[0]), args[1:]
    locks = [entries(Path(f) / "requirements.lock.txt") for f in folders]
    files = {hashlib.sha256(p.read_bytes()).hexdigest(): p for p in wheelhouse.iterdir() if p.is_file()}
    out = []
    for name in sorted(set.intersection(*(set(l) for l in locks))):
        if len({l[name] for l in [{k: (v[0], tuple(v[1])) for k, v in lk.items()} for lk in locks]}) != 1:
            continue  # not the same pin everywhere: each image installs its own
        pin, hashes = locks[0][name]
        mine = [h for h in hashes if h.split(":", 1)[-1] in files]
        if not mine:
            sys.exit(f"images: no file of {pin} in the wheelhouse")
        out.append(" ".join([pin] + [f"--hash={h}" for h in mine]))
    print(" ".join(out))
EOF
}

folders=()
for c in "${ALL[@]}"; do [ -f "$ROOT/$c/requirements.lock.txt" ] && folders+=("$ROOT/$c"); done

# The wheelhouse (podman path only: docker builds use PyPI, each image its own layers) is
# collected in the background while the engine is set up, which may mean building the base image.
# Over every connector present, whichever are built now: the shared layer and the wheelhouse
# stay the same from one call to the next.
WH="$WORK/wheels"
wheel_pid=""
want_wheels=0
if [ "${IMAGES_WHEELHOUSE:-1}" = 1 ] \
   && { [ "${CONTAINER_ENGINE:-}" = podman ] || { [ -z "${CONTAINER_ENGINE:-}" ] && ! docker info >/dev/null 2>&1; }; } \
   && "$HOST_PY" -c 'import sys, platform; sys.exit(not (sys.version_info[:2] == (3, 11) and sys.platform == "linux" and platform.machine() == "x86_64"))'; then
  want_wheels=1
  locks union "${folders[@]}" >"$WORK/union.txt"
  stamp="$(sha256sum "$WORK/union.txt" | cut -d' ' -f1)"
  if [ ! -f "$WH/.stamp" ] || [ "$(cat "$WH/.stamp")" != "$stamp" ]; then
    say "downloading the locked dependencies ($(wc -l <"$WORK/union.txt") pins) into $WH (in the background)"
    rm -rf "$WH"; mkdir -p "$WH"
    (
      t0=$SECONDS
      "$HOST_PY" -m pip download --quiet --disable-pip-version-check --require-hashes --no-deps \
        --dest "$WH" -r "$WORK/union.txt" >"$WORK/wheels.log" 2>&1 || exit 1
      echo "$stamp" >"$WH/.stamp"
      say "wheelhouse ready ($(ls "$WH" | wc -l) files, $((SECONDS - t0)) s)"
    ) &
    wheel_pid=$!
  fi
fi

engine_env="$(bash "$ROOT/scripts/container-engine.sh")" || { [ -n "$wheel_pid" ] && kill "$wheel_pid" 2>/dev/null; die "no container engine (see above)"; }
eval "$engine_env"
read -r -a ENGINE <<<"$CONTAINER_ENGINE"
read -r -a BUILD_FLAGS <<<"$CONTAINER_BUILD_FLAGS"

if [ -n "$wheel_pid" ]; then
  wait "$wheel_pid" || { tail -20 "$WORK/wheels.log" >&2; die "pip download failed (log: $WORK/wheels.log)"; }
fi
EXTRA=()
if [ "$want_wheels" = 1 ] && [ "${CONTAINER_WHEELHOUSE:-0}" = 1 ]; then
  EXTRA+=(-v "$WH:/wheels:ro" --build-arg PIP_FIND_LINKS=/wheels --build-arg PIP_NO_INDEX=1)
  PRE_INSTALL="$(locks shared "$WH" "${folders[@]}")" || die "the shared layer: see above"
  [ -n "$PRE_INSTALL" ] && EXTRA+=(--build-arg "PRE_INSTALL=$PRE_INSTALL")
fi

[ -n "$CONTAINER_BASE_IMAGE" ] && EXTRA+=(--build-arg "BASE_IMAGE=$CONTAINER_BASE_IMAGE")

status="${MISSING:-0}"
for c in "${CONNECTORS[@]}"; do
  mapfile -t I < <(info "$c")
  version="${I[0]}" repo="${I[1]}"
  old="$("${ENGINE[@]}" image inspect --format '{{.Id}}' "$repo:$version" 2>/dev/null || true)"
  say "building $repo:$version (log: build/images/$c.build.log)"
  t0=$SECONDS
  if "${ENGINE[@]}" build "${BUILD_FLAGS[@]}" "${EXTRA[@]}" \
      --build-arg "CONNECTOR_VERSION=$version" \
      -t "$repo:$version" -t "$repo:dev" -f "$ROOT/$c/Dockerfile" "$ROOT/$c" 8>&- \
      >"$WORK/$c.build.log" 2>&1; then
    say "built $repo:$version in $((SECONDS - t0)) s"
    echo "$c=$repo:$version"
    new="$("${ENGINE[@]}" image inspect --format '{{.Id}}' "$repo:$version" 2>/dev/null || true)"
    # Drop the image this build replaced (untagged now), so rebuilds do not fill the disk.
    if [ -n "$old" ] && [ "$old" != "$new" ]; then "${ENGINE[@]}" rmi "$old" >/dev/null 2>&1 || true; fi
  else
    tail -30 "$WORK/$c.build.log" >&2
    say "FAILED to build $c (full log: $WORK/$c.build.log)"
    status=1
  fi
done
exit "$status"
